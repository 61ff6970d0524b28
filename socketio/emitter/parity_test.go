package emitter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

type nestedFlags struct {
	OK   bool `json:"ok"`
	None *int `json:"none"`
}

// berth has the keys of the JS object literal in interop/js/sio-emitter-calls.mjs, in the
// same order. The "2" key moves to the front in both, as in any JS object.
type berth struct {
	ID     int         `json:"id"`
	Status string      `json:"status"`
	Ratio  float64     `json:"ratio"`
	Tags   []string    `json:"tags"`
	Nested nestedFlags `json:"nested"`
	Two    string      `json:"2"`
	B      int         `json:"b"`
}

// parityCalls repeats, in order, the calls of interop/js/sio-emitter-calls.mjs.
func parityCalls(e *emitter.Emitter) []func(context.Context) error {
	keys16 := map[string]int{}
	for i := range 16 {
		keys16[fmt.Sprintf("k%02d", i)] = i
	}
	list16 := make([]int, 16)
	for i := range list16 {
		list16[i] = i
	}
	return []func(context.Context) error{
		func(ctx context.Context) error {
			return e.To("port:7").Emit(ctx, "berth:statusChanged", struct {
				ID int `json:"id"`
			}{7})
		},
		func(ctx context.Context) error {
			return e.To("a", "b").To("a").Except("x").Except("y", "x").Emit(ctx, "rooms", 1)
		},
		func(ctx context.Context) error { return e.Of("admin").To("r").Emit(ctx, "nsp", "s") },
		func(ctx context.Context) error { return e.Volatile().Compress(false).Emit(ctx, "flags") },
		func(ctx context.Context) error {
			return e.Compress(true).Volatile().Compress(false).Emit(ctx, "flags")
		},
		func(ctx context.Context) error { return e.Emit(ctx, "ping") },
		func(ctx context.Context) error {
			return e.Emit(ctx, "nums", 0, uint8(1), int8(127), 128, uint16(255), int16(256),
				65535, int32(65536), uint32(math.MaxUint32), int64(1<<32), uint64(1<<40),
				int64(1<<53), -1, int8(-32), -33, -128, int16(-129), -32768, -32769,
				int32(math.MinInt32), int64(math.MinInt32)-1, int64(-(1 << 40)),
				1.5, 0.1, float32(-0.25), 1e20, -1e20, 1e300, math.NaN(), math.Inf(1),
				math.Inf(-1), math.Copysign(0, -1), 3.0)
		},
		func(ctx context.Context) error {
			return e.Emit(ctx, "strs", "", strings.Repeat("a", 31), strings.Repeat("a", 32),
				strings.Repeat("b", 255), strings.Repeat("c", 256), strings.Repeat("d", 65535),
				strings.Repeat("e", 65536), "Ω≈ç😀", "line\nbreak \"q\"")
		},
		func(ctx context.Context) error {
			sevens := make([]byte, 256)
			for i := range sevens {
				sevens[i] = 7
			}
			return e.Emit(ctx, "bin", []byte{1, 2, 3}, sevens, []byte{},
				map[string][]byte{"file": {9, 8}})
		},
		func(ctx context.Context) error {
			return e.To("port:7").Emit(ctx, "obj", berth{ID: 7, Status: "docked", Ratio: 0.25,
				Tags: []string{"a", "b"}, Nested: nestedFlags{OK: true}, Two: "two", B: 1})
		},
		func(ctx context.Context) error { return e.Emit(ctx, "big", keys16, list16) },
		func(ctx context.Context) error {
			return e.Emit(ctx, "raw", json.RawMessage(`{"z":1,"a":[1.0,2.5]}`))
		},
		func(ctx context.Context) error {
			return e.ServerSideEmit(ctx, "cache:flush", 1, map[string]string{"a": "<&>"},
				[]byte{1, 2})
		},
		func(ctx context.Context) error {
			return e.In("port:7").Except("u").SocketsJoin(ctx, "r2", "r3")
		},
		func(ctx context.Context) error { return e.Of("/admin").SocketsLeave(ctx, "r2") },
		func(ctx context.Context) error { return e.To("a").DisconnectSockets(ctx, true) },
		func(ctx context.Context) error { return e.DisconnectSockets(ctx, false) },
	}
}

func TestEmitter_ByteParityWithNode(t *testing.T) {
	t.Parallel()
	e, key, sub := newSubscribedEmitter(t)
	calls := parityCalls(e)

	node := startNode(t, "js/sio-emitter-calls.mjs", "REDIS_URL="+siotest.RedisURL(), "SIO_KEY="+key)
	var summary struct{ Calls int }
	line := node.nextLine(t, 20*time.Second)
	if err := json.Unmarshal([]byte(line), &summary); err != nil {
		t.Fatalf("node printed %q: %v", line, err)
	}
	if summary.Calls != len(calls) {
		t.Fatalf("node made %d calls, the Go list has %d", summary.Calls, len(calls))
	}
	fromNode := receive(t, sub, len(calls), 10*time.Second)

	ctx := context.Background()
	for i, call := range calls {
		if err := call(ctx); err != nil {
			t.Fatalf("Go call %d: %v", i, err)
		}
	}
	fromGo := receive(t, sub, len(calls), 10*time.Second)

	for i := range calls {
		if fromGo[i].Channel != fromNode[i].Channel {
			t.Errorf("call %d: channel %q, Node used %q", i, fromGo[i].Channel,
				fromNode[i].Channel)
		}
		if string(fromGo[i].Payload) != string(fromNode[i].Payload) {
			t.Errorf("call %d on %s:\n  go %s\nnode %s", i, fromNode[i].Channel,
				shorten(fromGo[i].Payload), shorten(fromNode[i].Payload))
		}
	}
}

// shorten returns payload as hex, cut to a readable length.
func shorten(payload []byte) string {
	const limit = 300
	if len(payload) > limit {
		return fmt.Sprintf("%x... (%d bytes)", payload[:limit], len(payload))
	}
	return fmt.Sprintf("%x", payload)
}
