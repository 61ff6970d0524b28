package adapter_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/adapter"
	"github.com/portnimara/nimara/socketio/internal/notepack"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// TestRedisAdapter_MessagesMatchNode publishes the same operations from a Node server and
// a Go server and compares what reaches Redis: the bytes of a broadcast except the 6
// characters of the sender uid, and the decoded layout of requests, ids aside.
func TestRedisAdapter_MessagesMatchNode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, _ := newRecorder(t)
	builder, _ := adapter.New(adapter.Options{Client: rdb, Key: key, Logger: logger})

	ps := rdb.PSubscribe(ctx, key+"*")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}
	messages := ps.Channel()
	var held []*redis.Message
	// take returns the first publication that match accepts, keeping the others for later
	// calls, because answers of one server interleave with the requests of the other.
	take := func(match func(*redis.Message, map[string]any) bool) *redis.Message {
		t.Helper()
		for i, m := range held {
			if match(m, decodeAny(t, m.Payload)) {
				held = append(held[:i], held[i+1:]...)
				return m
			}
		}
		for {
			select {
			case m := <-messages:
				var fields map[string]any
				if !strings.HasPrefix(m.Channel, key+"#") {
					fields = decodeAny(t, m.Payload)
				}
				if match(m, fields) {
					return m
				}
				held = append(held, m)
			case <-timeAfter(t):
				t.Fatalf("no matching publication within %s", deadline)
			}
		}
	}
	request := func(uid string, typ int64) func(*redis.Message, map[string]any) bool {
		return func(m *redis.Message, fields map[string]any) bool {
			return m.Channel == key+"-request#/#" && fields["uid"] == uid &&
				fields["type"] == typ
		}
	}
	answer := func(req *redis.Message) func(*redis.Message, map[string]any) bool {
		id := decodeAny(t, req.Payload)["requestId"]
		return func(m *redis.Message, fields map[string]any) bool {
			return strings.HasPrefix(m.Channel, key+"-response#") && fields["requestId"] == id
		}
	}
	broadcast := func(*redis.Message, map[string]any) bool { return true }

	p := startPeer(t)
	p.eval(t, `await h.startServer("n", {key: args})`, key)
	var nodeUID string
	p.evalInto(t, &nodeUID, `return h.state.n.io.of("/").adapter.uid`, nil)
	g := startGoServer(t, builder)
	a, _ := adapter.Of(g.io.Of("/", nil))
	goUID := a.Uid()

	// Broadcast to one room: identical bytes apart from the uid.
	p.eval(t, `h.state.n.io.to("port:7").emit("berth:statusChanged", {id: 42, status: "docked"})`,
		nil)
	nodeMsg := take(broadcast)
	g.io.To("port:7").Emit("berth:statusChanged", map[string]any{"id": 42, "status": "docked"})
	goMsg := take(broadcast)
	if nodeMsg.Channel != key+"#/#port:7#" || goMsg.Channel != nodeMsg.Channel {
		t.Errorf("channels %s (Node) and %s (Go), want %s#/#port:7#", nodeMsg.Channel,
			goMsg.Channel, key)
	}
	const uidEnd = 8 // 93, a6 and the 6-character uid
	if !bytes.Equal([]byte(nodeMsg.Payload[uidEnd:]), []byte(goMsg.Payload[uidEnd:])) {
		t.Errorf("broadcast bytes differ after the uid:\nNode %s\nGo   %s",
			hex.EncodeToString([]byte(nodeMsg.Payload)), hex.EncodeToString([]byte(goMsg.Payload)))
	}

	// Broadcast with acknowledgement (type 7, MessagePack). No client is connected, so the
	// requests complete at once.
	p.eval(t, `h.state.n.io.timeout(1000).emit("ackme", 5, () => {})`, nil)
	nodeReq := take(request(nodeUID, 7))
	g.io.Timeout(time.Second).Emit("ackme", 5, socket.Ack(func([]any, error) {}))
	goReq := take(request(goUID, 7))
	requireSameLayout(t, nodeReq, goReq, "uid", "requestId")
	requireSameLayout(t, take(answer(goReq)), take(answer(nodeReq)), "requestId")

	// fetchSockets (type 5, JSON): each server answers the other's request first.
	p.eval(t, `h.state.n.fetch = h.state.n.io.in("port:7").except("x").fetchSockets()`, nil)
	nodeFetch := take(request(nodeUID, 5))
	goAnswer := take(answer(nodeFetch))
	fetchGo(t, g.io.In("port:7").Except("x"))
	goFetch := take(request(goUID, 5))
	nodeAnswer := take(answer(goFetch))
	p.eval(t, `await h.state.n.fetch`, nil)
	requireSameLayout(t, nodeFetch, goFetch, "uid", "requestId")
	requireSameLayout(t, nodeAnswer, goAnswer, "requestId")

	// socketsJoin, socketsLeave and disconnectSockets (types 2, 3, 4, JSON).
	p.eval(t, `h.state.n.io.in("a").except("b").socketsJoin(["c", "d"])`, nil)
	nodeJoin := take(request(nodeUID, 2))
	g.io.In("a").Except("b").SocketsJoin("c", "d")
	goJoin := take(request(goUID, 2))
	requireSameLayout(t, nodeJoin, goJoin, "uid")

	p.eval(t, `h.state.n.io.in("a").disconnectSockets(true)`, nil)
	nodeDisconnect := take(request(nodeUID, 4))
	g.io.In("a").DisconnectSockets(true)
	goDisconnect := take(request(goUID, 4))
	requireSameLayout(t, nodeDisconnect, goDisconnect, "uid")
}

// requireSameLayout checks that two messages use the same encoding, channel and decoded
// content, ignoring the values (not the presence) of the keys in ignore.
func requireSameLayout(t *testing.T, node, goMsg *redis.Message, ignore ...string) {
	t.Helper()
	if node.Channel != goMsg.Channel && !strings.Contains(node.Channel, "-response#") {
		t.Errorf("channels %s (Node) and %s (Go) differ", node.Channel, goMsg.Channel)
	}
	if (node.Payload[0] == '{') != (goMsg.Payload[0] == '{') {
		t.Errorf("encodings differ: Node %q, Go %q", node.Payload, goMsg.Payload)
	}
	n, g := decodeAny(t, node.Payload), decodeAny(t, goMsg.Payload)
	for _, k := range ignore {
		if _, ok := n[k]; ok {
			n[k] = "ignored"
		}
		if _, ok := g[k]; ok {
			g[k] = "ignored"
		}
	}
	if !reflect.DeepEqual(plainTree(n), plainTree(g)) {
		t.Errorf("messages differ:\nNode %q\nGo   %q", node.Payload, goMsg.Payload)
	}
}

// plainTree turns the ordered maps of parsed JSON into plain maps for comparison.
func plainTree(v any) any {
	switch x := v.(type) {
	case notepack.Map:
		m := map[string]any{}
		for _, p := range x {
			m[p.Key] = plainTree(p.Value)
		}
		return m
	case map[string]any:
		m := map[string]any{}
		for k, item := range x {
			m[k] = plainTree(item)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = plainTree(item)
		}
		return out
	}
	return v
}
