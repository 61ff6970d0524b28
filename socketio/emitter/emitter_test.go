package emitter_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/notepack"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// goldenStatusChanged is what @socket.io/redis-emitter 5.1.0 publishes for
// to("port:7").emit("berth:statusChanged", {id: 7}).
const goldenStatusChanged = "93a7656d697474657283a47479706502a46461746192b3626572746" +
	"83a7374617475734368616e67656481a2696407a36e7370a12f83a5726f6f6d7391a6706f72743a37" +
	"a5666c61677380a665786365707490"

func TestEmitter_GoldenBytes(t *testing.T) {
	t.Parallel()
	e, key, sub := newSubscribedEmitter(t)

	payload := map[string]int{"id": 7}
	err := e.To("port:7").Emit(context.Background(), "berth:statusChanged", payload)
	if err != nil {
		t.Fatalf("emit: %v", err)
	}

	got := receive(t, sub, 1, 5*time.Second)[0]
	if want := key + "#/#port:7#"; got.Channel != want {
		t.Errorf("channel = %q, want %q", got.Channel, want)
	}
	if hex.EncodeToString(got.Payload) != goldenStatusChanged {
		t.Errorf("payload\n got %x\nwant %s", got.Payload, goldenStatusChanged)
	}
}

// decodeBroadcast decodes a broadcast and returns its packet and opts maps.
func decodeBroadcast(t *testing.T, payload []byte) (map[string]any, map[string]any) {
	t.Helper()
	v, err := notepack.Decode(payload)
	if err != nil {
		t.Fatalf("decode %x: %v", payload, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 3 || arr[0] != "emitter" {
		t.Fatalf("broadcast is not [\"emitter\", packet, opts]: %#v", v)
	}
	return arr[1].(map[string]any), arr[2].(map[string]any)
}

func TestEmitter_Channels(t *testing.T) {
	t.Parallel()
	e, key, sub := newSubscribedEmitter(t)
	ctx := context.Background()

	tests := []struct {
		name    string
		emit    func() error
		channel string
		rooms   []any
		except  []any
		nsp     string
	}{
		{"NoRoom", func() error { return e.Emit(ctx, "a") }, "#/#", []any{}, []any{}, "/"},
		{"OneRoom", func() error { return e.In("r1").Emit(ctx, "a") },
			"#/#r1#", []any{"r1"}, []any{}, "/"},
		{"TwoRoomsUseBase", func() error { return e.To("r1").To("r2", "r1").Emit(ctx, "a") },
			"#/#", []any{"r1", "r2"}, []any{}, "/"},
		{"DuplicateRoomIsOneRoom", func() error { return e.To("r1", "r1").Emit(ctx, "a") },
			"#/#r1#", []any{"r1"}, []any{}, "/"},
		{"ExceptKeepsChannel", func() error {
			return e.To("r1").Except("x", "y", "x").Emit(ctx, "a")
		}, "#/#r1#", []any{"r1"}, []any{"x", "y"}, "/"},
		{"NamespaceWithoutSlash", func() error { return e.Of("admin").Emit(ctx, "a") },
			"#/admin#", []any{}, []any{}, "/admin"},
		{"EmptyNamespaceIsMain", func() error { return e.Of("").To("r").Emit(ctx, "a") },
			"#/#r#", []any{"r"}, []any{}, "/"},
	}
	// Subtests run in order because they share one subscription.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.emit(); err != nil {
				t.Fatalf("emit: %v", err)
			}
			got := receive(t, sub, 1, 5*time.Second)[0]
			if want := key + tt.channel; got.Channel != want {
				t.Errorf("channel = %q, want %q", got.Channel, want)
			}
			packet, opts := decodeBroadcast(t, got.Payload)
			if packet["nsp"] != tt.nsp {
				t.Errorf("nsp = %v, want %s", packet["nsp"], tt.nsp)
			}
			if !equalJSON(opts["rooms"], tt.rooms) {
				t.Errorf("rooms = %#v, want %#v", opts["rooms"], tt.rooms)
			}
			if !equalJSON(opts["except"], tt.except) {
				t.Errorf("except = %#v, want %#v", opts["except"], tt.except)
			}
		})
	}
}

func TestBroadcastOperator_Immutable(t *testing.T) {
	t.Parallel()
	e, key, sub := newSubscribedEmitter(t)
	ctx := context.Background()

	base := e.To("a")
	_ = base.To("b").Except("c").Volatile()
	if err := base.Emit(ctx, "ev"); err != nil {
		t.Fatalf("emit: %v", err)
	}

	got := receive(t, sub, 1, 5*time.Second)[0]
	if got.Channel != key+"#/#a#" {
		t.Errorf("channel = %q, want the single room a", got.Channel)
	}
	_, opts := decodeBroadcast(t, got.Payload)
	if !equalJSON(opts["except"], []any{}) {
		t.Errorf("except = %#v, want []", opts["except"])
	}
	if !equalJSON(opts["flags"], map[string]any{}) {
		t.Errorf("flags = %#v, want {}", opts["flags"])
	}
}

func TestBroadcastOperator_FlagOrder(t *testing.T) {
	t.Parallel()
	e, _, sub := newSubscribedEmitter(t)
	ctx := context.Background()

	// Setting compress again keeps its first position, as Object.assign does.
	if err := e.Compress(true).Volatile().Compress(false).Emit(ctx, "ev"); err != nil {
		t.Fatalf("emit: %v", err)
	}

	got := receive(t, sub, 1, 5*time.Second)[0]
	flags := "a5666c61677382a8636f6d7072657373c2a8766f6c6174696c65c3"
	if !strings.Contains(hex.EncodeToString(got.Payload), flags) {
		t.Errorf("payload %x lacks flags {compress:false, volatile:true} (%s)", got.Payload, flags)
	}
}

func TestEmitter_RejectsBeforePublishing(t *testing.T) {
	t.Parallel()
	e, _, sub := newSubscribedEmitter(t)
	ctx := context.Background()

	for _, ev := range []string{"connect", "connect_error", "disconnect", "disconnecting",
		"newListener", "removeListener"} {
		if err := e.To("r").Emit(ctx, ev); !errors.Is(err, emitter.ErrReservedEvent) {
			t.Errorf("Emit(%q) error = %v, want ErrReservedEvent", ev, err)
		}
	}
	if err := e.Emit(ctx, "ev", func() {}); err == nil {
		t.Error("Emit with a function argument returned no error")
	}
	if err := e.Emit(ctx, "ev", make(chan int)); err == nil {
		t.Error("Emit with a channel argument returned no error")
	}
	err := e.ServerSideEmit(ctx, "ev", 1, func(error, []any) {})
	if !errors.Is(err, emitter.ErrAckNotSupported) {
		t.Errorf("ServerSideEmit with an ack error = %v, want ErrAckNotSupported", err)
	}
	expectNone(t, sub, 200*time.Millisecond)
}

func TestEmitter_Requests(t *testing.T) {
	t.Parallel()
	e, key, sub := newSubscribedEmitter(t)
	ctx := context.Background()

	steps := []func() error{
		func() error { return e.ServerSideEmit(ctx, "cache:flush", 1, "<a&b>", []byte{1, 2}) },
		func() error { return e.In("port:7").Except("u").SocketsJoin(ctx, "r2") },
		func() error { return e.Of("admin").SocketsLeave(ctx) },
		func() error { return e.Volatile().DisconnectSockets(ctx, true) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	got := receive(t, sub, len(steps), 5*time.Second)
	want := []message{
		{key + "-request#/#", []byte(`{"uid":"emitter","type":6,"data":["cache:flush",1,` +
			`"<a&b>",{"type":"Buffer","data":[1,2]}]}`)},
		{key + "-request#/#", []byte(`{"type":2,"opts":{"rooms":["port:7"],` +
			`"except":["u"]},"rooms":["r2"]}`)},
		{key + "-request#/admin#", []byte(`{"type":3,"opts":{"rooms":[],"except":[]},` +
			`"rooms":[]}`)},
		{key + "-request#/#", []byte(`{"type":4,"opts":{"rooms":[],"except":[]},` +
			`"close":true}`)},
	}
	for i := range want {
		if got[i].Channel != want[i].Channel {
			t.Errorf("request %d channel = %q, want %q", i, got[i].Channel, want[i].Channel)
		}
		if string(got[i].Payload) != string(want[i].Payload) {
			t.Errorf("request %d\n got %s\nwant %s", i, got[i].Payload, want[i].Payload)
		}
	}
}

func TestNew_DefaultKey(t *testing.T) {
	t.Parallel()
	client := siotest.Redis(t)
	e := emitter.New(client, emitter.Options{})
	if e.Namespace() != "/" {
		t.Errorf("Namespace() = %q, want /", e.Namespace())
	}
	if got := e.Of("orders").Namespace(); got != "/orders" {
		t.Errorf("Of(orders).Namespace() = %q, want /orders", got)
	}
}
