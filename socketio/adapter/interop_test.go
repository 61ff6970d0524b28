package adapter_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/zishang520/socket.io/v2/socket"
)

// The subtests of a cluster suite share one cluster and run in order, so they do not call
// t.Parallel; the suites themselves run in parallel.

func TestCluster_Classic(t *testing.T) {
	t.Parallel()
	b := setupCluster(t, classic)

	t.Run("GoServerBroadcastReachesAll", func(t *testing.T) {
		b.g1.io.To("port:7").Emit("berth", map[string]any{
			"id": 7, "file": []byte{1, 2, 3}, "nested": map[string]any{"a": []any{1, "x"}},
		})
		events := b.sync(t, b.fromGo)
		requireDelivery(t, events, "berth",
			`[{"id":7,"file":{"$binary":"010203"},"nested":{"a":[1,"x"]}}]`, "cN", "cG")
	})

	t.Run("NodeServerBroadcastReachesGo", func(t *testing.T) {
		b.peer.eval(t, `h.state.n1.io.to("port:7").emit("berth", {id: 7, status: "docked"})`, nil)
		events := b.sync(t, b.fromNode)
		requireDelivery(t, events, "berth", `[{"id":7,"status":"docked"}]`, "cN", "cG")
	})

	t.Run("EmitterReachesGoAndNode", func(t *testing.T) {
		err := b.emit.To("port:7").Emit(context.Background(), "berth:statusChanged",
			map[string]any{"id": 7, "status": "docked"})
		if err != nil {
			t.Fatalf("emit: %v", err)
		}
		events := b.sync(t, b.fromEmitter)
		requireDelivery(t, events, "berth:statusChanged", `[{"id":7,"status":"docked"}]`,
			"cN", "cG")
	})

	t.Run("NodeFetchSocketsIncludesGo", func(t *testing.T) {
		var sockets []struct {
			ID        string         `json:"id"`
			Rooms     []string       `json:"rooms"`
			Data      map[string]any `json:"data"`
			Handshake map[string]any `json:"handshake"`
		}
		b.peer.evalInto(t, &sockets, `
			const sockets = await h.state.n1.io.in("port:7").fetchSockets();
			return sockets.map((s) => ({id: s.id, rooms: [...s.rooms], data: s.data,
				handshake: s.handshake}));`, nil)
		if len(sockets) != 2 {
			t.Fatalf("fetchSockets returned %d sockets, want 2: %+v", len(sockets), sockets)
		}
		t.Logf("%+v", sockets)
	})

	t.Run("GoFetchSocketsIncludesNode", func(t *testing.T) {
		done := make(chan []*socket.RemoteSocket, 1)
		b.g1.io.In("port:7").FetchSockets()(func(sockets []*socket.RemoteSocket, err error) {
			if err != nil {
				t.Errorf("FetchSockets: %v", err)
			}
			done <- sockets
		})
		sockets := <-done
		if len(sockets) != 2 {
			t.Fatalf("FetchSockets returned %d sockets, want 2", len(sockets))
		}
		_ = json.Marshal
		_ = time.Second
	})
}
