package emitter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// deliveryLine is one JSON line printed by interop/js/sio-delivery-server.mjs.
type deliveryLine struct {
	Ready  bool            `json:"ready"`
	Client string          `json:"client"`
	Server string          `json:"server"`
	Event  string          `json:"event"`
	Args   json.RawMessage `json:"args"`
	Reason string          `json:"reason"`
	Room   string          `json:"room"`
}

type deliveryBundle struct {
	node    *nodeProcess
	emitter *emitter.Emitter
	ctx     context.Context
	syncs   int
}

func setupDelivery(t *testing.T) *deliveryBundle {
	t.Helper()
	client := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	b := &deliveryBundle{
		node: startNode(t, "js/sio-delivery-server.mjs",
			"REDIS_URL="+siotest.RedisURL(), "SIO_KEY="+key),
		emitter: emitter.New(client, emitter.Options{Key: key}),
		ctx:     context.Background(),
	}
	// The initial room joins are printed before the ready line.
	b.waitFor(t, func(l deliveryLine) bool { return l.Ready })
	return b
}

func (b *deliveryBundle) next(t *testing.T) deliveryLine {
	t.Helper()
	raw := b.node.nextLine(t, 15*time.Second)
	var line deliveryLine
	if err := json.Unmarshal([]byte(raw), &line); err != nil {
		t.Fatalf("server printed %q: %v", raw, err)
	}
	return line
}

// waitFor reads lines until match returns true and returns the lines read before it.
func (b *deliveryBundle) waitFor(t *testing.T, match func(deliveryLine) bool) []deliveryLine {
	t.Helper()
	var before []deliveryLine
	for {
		line := b.next(t)
		if match(line) {
			return before
		}
		before = append(before, line)
	}
}

// sync emits a marker to every client of clients' namespaces and returns the lines that
// arrived before each of clients saw it. Delivery order per client follows publish order, so
// an event missing from those lines was not delivered.
func (b *deliveryBundle) sync(t *testing.T, clients ...string) []deliveryLine {
	t.Helper()
	b.syncs++
	marker := fmt.Sprintf("sync-%d", b.syncs)
	for _, nsp := range []string{"/", "/admin"} {
		if err := b.emitter.Of(nsp).Emit(b.ctx, marker); err != nil {
			t.Fatalf("emit %s: %v", marker, err)
		}
	}
	waiting := map[string]bool{}
	for _, c := range clients {
		waiting[c] = true
	}
	var before []deliveryLine
	for len(waiting) > 0 {
		line := b.next(t)
		if line.Event == marker {
			delete(waiting, line.Client)
			continue
		}
		before = append(before, line)
	}
	return before
}

func mustEmit(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("emitter call: %v", err)
	}
}

// eventsOf returns the lines of one client.
func eventsOf(lines []deliveryLine, client string) []deliveryLine {
	var out []deliveryLine
	for _, l := range lines {
		if l.Client == client {
			out = append(out, l)
		}
	}
	return out
}

func requireOneEvent(t *testing.T, lines []deliveryLine, client, event, wantArgs string) {
	t.Helper()
	got := eventsOf(lines, client)
	if len(got) != 1 || got[0].Event != event {
		t.Fatalf("%s received %+v, want exactly one %q", client, got, event)
	}
	var have, want any
	if err := json.Unmarshal(got[0].Args, &have); err != nil {
		t.Fatalf("args of %s: %v", client, err)
	}
	if err := json.Unmarshal([]byte(wantArgs), &want); err != nil {
		t.Fatalf("expected args: %v", err)
	}
	if !equalJSON(have, want) {
		t.Errorf("%s got %s %s, want %s", client, event, got[0].Args, wantArgs)
	}
}

func requireNoEvent(t *testing.T, lines []deliveryLine, client string) {
	t.Helper()
	if got := eventsOf(lines, client); len(got) != 0 {
		t.Errorf("%s received %+v, want nothing", client, got)
	}
}

type statusChanged struct {
	ID     int     `json:"id"`
	Status string  `json:"status"`
	Draft  float64 `json:"draft"`
}

func TestEmitter_DeliveryToNodeClients(t *testing.T) {
	t.Parallel()
	b := setupDelivery(t)
	e := b.emitter

	mustEmit(t, e.To("user:1").Emit(b.ctx, "berth:statusChanged",
		statusChanged{ID: 7, Status: "docked", Draft: 4.5}, "x"))
	lines := b.sync(t, "c1", "c2", "a1")
	requireOneEvent(t, lines, "c1", "berth:statusChanged",
		`[{"id":7,"status":"docked","draft":4.5},"x"]`)
	requireNoEvent(t, lines, "c2")
	requireNoEvent(t, lines, "a1")

	mustEmit(t, e.Except("user:2").Emit(b.ctx, "news", map[string]any{"n": 1}))
	lines = b.sync(t, "c1", "c2", "a1")
	requireOneEvent(t, lines, "c1", "news", `[{"n":1}]`)
	requireNoEvent(t, lines, "c2")
	requireNoEvent(t, lines, "a1")

	mustEmit(t, e.Of("admin").To("user:1").Emit(b.ctx, "admin:notice", "hi"))
	lines = b.sync(t, "c1", "c2", "a1")
	requireOneEvent(t, lines, "a1", "admin:notice", `["hi"]`)
	requireNoEvent(t, lines, "c1")
	requireNoEvent(t, lines, "c2")

	mustEmit(t, e.To("user:2").Volatile().Compress(false).Emit(b.ctx, "file",
		map[string]any{"name": "a.bin", "data": []byte{0, 1, 255}}, []byte("raw")))
	lines = b.sync(t, "c1", "c2", "a1")
	requireOneEvent(t, lines, "c2", "file",
		`[{"data":{"$binary":"0001ff"},"name":"a.bin"},{"$binary":"726177"}]`)
	requireNoEvent(t, lines, "c1")

	mustEmit(t, e.ServerSideEmit(b.ctx, "greet", "hello", 42))
	b.waitFor(t, func(l deliveryLine) bool {
		return l.Server == "/" && l.Event == "greet" && string(l.Args) == `["hello",42]`
	})

	mustEmit(t, e.In("user:1").SocketsJoin(b.ctx, "vip"))
	b.waitFor(t, func(l deliveryLine) bool {
		return l.Event == "$join" && l.Room == "vip" && l.Client == "c1"
	})
	mustEmit(t, e.To("vip").Emit(b.ctx, "vip:offer", 1))
	lines = b.sync(t, "c1", "c2", "a1")
	requireOneEvent(t, lines, "c1", "vip:offer", `[1]`)
	requireNoEvent(t, lines, "c2")

	mustEmit(t, e.In("user:1").SocketsLeave(b.ctx, "vip"))
	b.waitFor(t, func(l deliveryLine) bool {
		return l.Event == "$leave" && l.Room == "vip" && l.Client == "c1"
	})
	mustEmit(t, e.To("vip").Emit(b.ctx, "vip:offer", 2))
	lines = b.sync(t, "c1", "c2", "a1")
	requireNoEvent(t, lines, "c1")

	mustEmit(t, e.In("user:2").DisconnectSockets(b.ctx, false))
	b.waitFor(t, func(l deliveryLine) bool {
		return l.Client == "c2" && l.Event == "$disconnect" && l.Reason == "io server disconnect"
	})
	lines = b.sync(t, "c1", "a1")
	requireNoEvent(t, lines, "c1")

	mustEmit(t, e.Of("/admin").DisconnectSockets(b.ctx, true))
	b.waitFor(t, func(l deliveryLine) bool { return l.Client == "a1" && l.Event == "$disconnect" })
}
