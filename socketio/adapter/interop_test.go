package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/adapter"
	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// The cluster suites follow the interop checklist of the Redis protocol document: two Node
// servers (socket.io 4.8.3 with @socket.io/redis-adapter 8.3.0) and two Go servers share one
// Redis key, with socket.io-client 4.8.3 clients on each. The subtests of one suite share
// that cluster and run in order, so they do not call t.Parallel; the suites run in
// parallel with each other.

func TestCluster_Classic(t *testing.T) {
	t.Parallel()
	b := setupCluster(t, classic)
	runEmitterSuite(t, b)
	runServerSuite(t, b)
}

func TestCluster_ShardedDynamic(t *testing.T) {
	t.Parallel()
	runServerSuite(t, setupCluster(t, flavor(adapter.SubscriptionDynamic)))
}

func TestCluster_ShardedStatic(t *testing.T) {
	t.Parallel()
	runServerSuite(t, setupCluster(t, flavor(adapter.SubscriptionStatic)))
}

func TestCluster_ShardedDynamicPrivate(t *testing.T) {
	t.Parallel()
	runServerSuite(t, setupCluster(t, flavor(adapter.SubscriptionDynamicPrivate)))
}

func mustEmit(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("emitter call: %v", err)
	}
}

// decodeBroadcast decodes a classic broadcast [uid, packet, opts].
func decodeBroadcast(t *testing.T, payload string) []any {
	t.Helper()
	tree, err := notepack.Decode([]byte(payload))
	if err != nil {
		t.Fatalf("decode broadcast %x: %v", payload, err)
	}
	parts, ok := tree.([]any)
	if !ok || len(parts) != 3 {
		t.Fatalf("broadcast is %#v, want [uid, packet, opts]", tree)
	}
	return parts
}

// channelsOf returns the channels of the monitored messages whose payload contains marker.
func channelsOf(t *testing.T, b *clusterBundle, marker string) []string {
	t.Helper()
	var out []string
	for _, m := range b.monitored(t) {
		if strings.Contains(m.Payload, marker) {
			out = append(out, m.Channel)
		}
	}
	return out
}

// runEmitterSuite covers the emitter rows of the checklist (1 to 13): the Go emitter reaches
// clients of Node and Go servers alike.
func runEmitterSuite(t *testing.T, b *clusterBundle) {
	ctx := context.Background()
	e := b.emit

	t.Run("EmitterToRoom", func(t *testing.T) {
		b.drainMonitor()
		mustEmit(t, e.To("port:7").Emit(ctx, "berth:statusChanged",
			map[string]any{"id": 7, "status": "docked"}))
		events := b.sync(t, b.fromEmitter)
		requireDelivery(t, events, "berth:statusChanged", `[{"id":7,"status":"docked"}]`,
			"cN", "cG")
		channels := channelsOf(t, b, "berth:statusChanged")
		if !slices.Equal(channels, []string{b.key + "#/#port:7#"}) {
			t.Errorf("published on %v, want the room channel only", channels)
		}
	})

	t.Run("EmitterToTwoRooms", func(t *testing.T) {
		b.drainMonitor()
		mustEmit(t, e.To("a", "b").Emit(ctx, "two", 1))
		events := b.sync(t, b.fromEmitter)
		requireDelivery(t, events, "two", `[1]`, "cN2", "cG2")
		channels := channelsOf(t, b, "two")
		if !slices.Equal(channels, []string{b.key + "#/#"}) {
			t.Errorf("published on %v, want the namespace channel", channels)
		}
	})

	t.Run("EmitterExcept", func(t *testing.T) {
		mustEmit(t, e.Except("vip").Emit(ctx, "not-vip", "x"))
		requireDelivery(t, b.sync(t, b.fromEmitter), "not-vip", `["x"]`, "cN", "cG")
	})

	t.Run("EmitterExceptWins", func(t *testing.T) {
		mustEmit(t, e.To("a").Except("b").Emit(ctx, "nobody", 1))
		requireDelivery(t, b.sync(t, b.fromEmitter), "nobody", `[1]`)
	})

	t.Run("EmitterToSocketID", func(t *testing.T) {
		mustEmit(t, e.To(b.ids["cN"]).Emit(ctx, "direct", "n"))
		requireDelivery(t, b.sync(t, b.fromEmitter), "direct", `["n"]`, "cN")
		mustEmit(t, e.To(b.ids["cG"]).Emit(ctx, "direct", "g"))
		requireDelivery(t, b.sync(t, b.fromEmitter), "direct", `["g"]`, "cG")
	})

	t.Run("EmitterNamespace", func(t *testing.T) {
		b.drainMonitor()
		mustEmit(t, e.Of("orders").Emit(ctx, "order", map[string]any{"n": 1}))
		requireDelivery(t, b.sync(t, b.fromEmitter), "order", `[{"n":1}]`, "oN", "oG")
		for _, m := range b.monitored(t) {
			if !strings.Contains(m.Payload, "order") || strings.Contains(m.Payload, "sync-") {
				continue
			}
			if m.Channel != b.key+"#/orders#" {
				t.Errorf("published on %s, want %s#/orders#", m.Channel, b.key)
			}
			packet, _ := decodeBroadcast(t, m.Payload)[1].(map[string]any)
			if packet["nsp"] != "/orders" {
				t.Errorf("packet nsp is %v, want /orders", packet["nsp"])
			}
		}
	})

	t.Run("EmitterBinary", func(t *testing.T) {
		mustEmit(t, e.To("port:7").Emit(ctx, "file", map[string]any{"file": []byte{1, 2, 3}}))
		requireDelivery(t, b.sync(t, b.fromEmitter), "file", `[{"file":{"$binary":"010203"}}]`,
			"cN", "cG")
	})

	t.Run("EmitterVolatileCompress", func(t *testing.T) {
		b.drainMonitor()
		mustEmit(t, e.Volatile().Compress(false).Emit(ctx, "volatile", 1))
		requireDelivery(t, b.sync(t, b.fromEmitter), "volatile", `[1]`,
			"cN", "cN2", "cG", "cG2")
		for _, m := range b.monitored(t) {
			if !strings.Contains(m.Payload, "volatile") || strings.Contains(m.Payload, "sync-") {
				continue
			}
			opts, _ := decodeBroadcast(t, m.Payload)[2].(map[string]any)
			flags, _ := opts["flags"].(map[string]any)
			if flags["volatile"] != true || flags["compress"] != false {
				t.Errorf("flags are %v, want volatile true and compress false", flags)
			}
		}
	})

	t.Run("EmitterServerSideEmit", func(t *testing.T) {
		mustEmit(t, e.ServerSideEmit(ctx, "cache:flush", 1))
		mustEmit(t, e.ServerSideEmit(ctx, "sync", "after-flush"))
		b.requireServerEvents(t, "cache:flush", `[1]`)
	})

	t.Run("EmitterSocketsJoinLeave", func(t *testing.T) {
		mustEmit(t, e.In("port:7").SocketsJoin(ctx, "r2"))
		mustEmit(t, e.To("r2").Emit(ctx, "in-r2", 1))
		requireDelivery(t, b.sync(t, b.fromEmitter), "in-r2", `[1]`, "cN", "cG")

		mustEmit(t, e.In("port:7").SocketsLeave(ctx, "r2"))
		mustEmit(t, e.To("r2").Emit(ctx, "in-r2", 2))
		requireDelivery(t, b.sync(t, b.fromEmitter), "in-r2", `[2]`)
	})

	t.Run("EmitterDisconnectSockets", func(t *testing.T) {
		b.connect(t, "dN", b.n1, "/", "kick")
		b.connect(t, "dG", b.g1.url, "/", "kick")
		mustEmit(t, e.In("kick").DisconnectSockets(ctx, true))
		reasons := b.waitDisconnects(t, "dN", "dG")
		t.Logf("client disconnect reasons: %v", reasons)
	})

	t.Run("NodeEmitterToRoomBinary", func(t *testing.T) {
		b.peer.eval(t, `h.state.emitter.to("port:7").emit("berth",
			{id: 7, file: Buffer.from([1, 2, 3])})`, nil)
		requireDelivery(t, b.sync(t, b.fromNodeEmitter), "berth",
			`[{"id":7,"file":{"$binary":"010203"}}]`, "cN", "cG")
	})

	t.Run("NodeEmitterExceptVolatile", func(t *testing.T) {
		b.peer.eval(t, `h.state.emitter.except("vip").volatile.compress(false).emit("nv", 1)`,
			nil)
		requireDelivery(t, b.sync(t, b.fromNodeEmitter), "nv", `[1]`, "cN", "cG")
	})

	t.Run("NodeEmitterNamespace", func(t *testing.T) {
		b.peer.eval(t, `h.state.emitter.of("orders").emit("order", 2)`, nil)
		requireDelivery(t, b.sync(t, b.fromNodeEmitter), "order", `[2]`, "oN", "oG")
	})

	t.Run("NodeEmitterServerSideEmit", func(t *testing.T) {
		b.peer.eval(t, `h.state.emitter.serverSideEmit("greet", "hi", {n: 1});
			h.state.emitter.serverSideEmit("sync", "after-greet")`, nil)
		b.requireServerEvents(t, "greet", `["hi",{"n":1}]`)
	})

	t.Run("NodeEmitterSocketsJoinLeaveDisconnect", func(t *testing.T) {
		b.peer.eval(t, `h.state.emitter.in("port:7").socketsJoin("r5");
			h.state.emitter.to("r5").emit("in-r5", 1)`, nil)
		requireDelivery(t, b.sync(t, b.fromNodeEmitter), "in-r5", `[1]`, "cN", "cG")

		b.peer.eval(t, `h.state.emitter.in("port:7").socketsLeave("r5");
			h.state.emitter.to("r5").emit("in-r5", 2)`, nil)
		requireDelivery(t, b.sync(t, b.fromNodeEmitter), "in-r5", `[2]`)

		b.connect(t, "kG3", b.g2.url, "/", "kick3")
		b.peer.eval(t, `h.state.emitter.in("kick3").disconnectSockets()`, nil)
		reasons := b.waitDisconnects(t, "kG3")
		if reasons["kG3"] != "io server disconnect" {
			t.Errorf("kG3 disconnected with %q, want io server disconnect", reasons["kG3"])
		}
	})

	t.Run("EmitterReservedEvent", func(t *testing.T) {
		b.drainMonitor()
		err := e.Emit(ctx, "disconnect")
		if !errors.Is(err, emitter.ErrReservedEvent) {
			t.Errorf("Emit(disconnect) returned %v, want ErrReservedEvent", err)
		}
		b.sync(t, b.fromEmitter)
		for _, m := range b.monitored(t) {
			if !strings.Contains(m.Payload, "sync-") {
				t.Errorf("unexpected publication on %s: %q", m.Channel, m.Payload)
			}
		}
	})
}

// requireServerEvents waits for the "sync" server-side event on all four servers, which
// the test sent after the event under test, then checks that every server received event
// exactly once with args.
func (b *clusterBundle) requireServerEvents(t *testing.T, event, wantArgs string) {
	t.Helper()
	nodeEvents := map[string][]serverEvent{}
	seen := map[string]bool{}
	for len(seen) < 2 {
		ev := b.peer.next(t)
		if ev.Name != "server" {
			continue
		}
		var se struct {
			Server, Event string
			Args          jsonRaw
		}
		mustUnmarshal(t, ev.Payload, &se)
		if se.Event == "sync" {
			seen[se.Server] = true
			continue
		}
		nodeEvents[se.Server] = append(nodeEvents[se.Server],
			serverEvent{Server: se.Server, Event: se.Event, Args: []any{string(se.Args)}})
	}
	for _, server := range []string{"n1", "n2"} {
		got := nodeEvents[server]
		if len(got) != 1 || got[0].Event != event ||
			!equalJSON(t, []byte(got[0].Args[0].(string)), wantArgs) {
			t.Errorf("%s received %+v, want one %s %s", server, got, event, wantArgs)
		}
	}

	b.waitGoEvents(t, 2, func(e serverEvent) bool { return e.Event == "sync" })
	for _, server := range []string{"g1", "g2"} {
		got := b.takeGoEvents(server, event)
		if len(got) != 1 || !equalJSON(t, []byte(mustJSON(t, got[0].Args)), wantArgs) {
			t.Errorf("%s received %+v, want one %s %s", server, got, event, wantArgs)
		}
	}
	b.takeGoEvents("g1", "sync")
	b.takeGoEvents("g2", "sync")
}

// takeGoEvents removes and returns the recorded events of server named event.
func (b *clusterBundle) takeGoEvents(server, event string) []serverEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var got, rest []serverEvent
	for _, e := range b.goEvents {
		if e.Server == server && e.Event == event {
			got = append(got, e)
		} else {
			rest = append(rest, e)
		}
	}
	b.goEvents = rest
	return got
}

// waitDisconnects waits until each client reported its disconnection and returns the reasons.
func (b *clusterBundle) waitDisconnects(t *testing.T, clients ...string) map[string]string {
	t.Helper()
	reasons := map[string]string{}
	for len(reasons) < len(clients) {
		ev := b.peer.next(t)
		if ev.Name != "client" {
			continue
		}
		ce := clientEvents(t, []peerEvent{ev})[0]
		if ce.Event == "$disconnect" && slices.Contains(clients, ce.Client) {
			var args []string
			mustUnmarshal(t, ce.Args, &args)
			reasons[ce.Client] = strings.Join(args, ",")
		}
	}
	return reasons
}

// runServerSuite covers the server rows of the checklist (14 to 30, and 34 for the sharded
// adapter): broadcasts and requests between Node and Go servers, both ways.
func runServerSuite(t *testing.T, b *clusterBundle) {
	t.Run("NodeBroadcastToRoom", func(t *testing.T) {
		b.peer.eval(t, `h.state.n1.io.to("port:7").emit("berth", {id: 7, status: "docked"})`, nil)
		requireDelivery(t, b.sync(t, b.fromNode), "berth", `[{"id":7,"status":"docked"}]`,
			"cN", "cG")
	})

	t.Run("NodeSocketBroadcast", func(t *testing.T) {
		b.peer.eval(t, `h.state.n1.io.of("/").sockets.get(args).broadcast.emit("hello", 1)`,
			b.ids["cN"])
		requireDelivery(t, b.sync(t, b.fromNode), "hello", `[1]`, "cN2", "cG", "cG2")
	})

	t.Run("GoBroadcastBinary", func(t *testing.T) {
		b.g1.io.To("port:7").Emit("berth", map[string]any{
			"id": 7, "file": []byte{1, 2, 3}, "nested": map[string]any{"a": []any{1, "x"}},
		})
		requireDelivery(t, b.sync(t, b.fromGo), "berth",
			`[{"id":7,"file":{"$binary":"010203"},"nested":{"a":[1,"x"]}}]`, "cN", "cG")
	})

	t.Run("GoExceptAndVolatile", func(t *testing.T) {
		b.g1.io.Except("vip").Emit("not-vip", 1)
		requireDelivery(t, b.sync(t, b.fromGo), "not-vip", `[1]`, "cN", "cG")

		// A server drops a volatile message for a client whose connection is still busy
		// writing, which is what volatile means, so under load one emit may miss a client.
		// Emit until every client has one, and check that none arrived twice.
		b.drainMonitor()
		seen := map[string][]string{}
		for attempt := 1; attempt <= 10 && len(seen) < 4; attempt++ {
			b.g1.io.Volatile().Emit("volatile", attempt)
			for _, e := range b.sync(t, b.fromGo) {
				if e.Event != "volatile" {
					t.Errorf("%s received %+v, want only volatile events", e.Client, e)
					continue
				}
				seen[e.Client] = append(seen[e.Client], string(e.Args))
			}
		}
		for _, c := range []string{"cN", "cN2", "cG", "cG2"} {
			args := seen[c]
			if len(args) == 0 {
				t.Errorf("%s received no volatile event in 10 emits", c)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(args)))) != len(args) {
				t.Errorf("%s received a volatile event twice: %v", c, args)
			}
		}
		if b.flavor.sharded() {
			return // pattern subscriptions do not see sharded messages
		}
		for _, m := range b.monitored(t) {
			if strings.Contains(m.Payload, "volatile") && !strings.Contains(m.Payload, "sync-") {
				opts, _ := decodeBroadcast(t, m.Payload)[2].(map[string]any)
				flags, _ := opts["flags"].(map[string]any)
				if flags["volatile"] != true {
					t.Errorf("flags are %v, want volatile true", flags)
				}
			}
		}
	})

	t.Run("NodeFetchSocketsIncludesGo", func(t *testing.T) {
		type nodeSocket struct {
			ID        string         `json:"id"`
			Rooms     []string       `json:"rooms"`
			Data      map[string]any `json:"data"`
			Handshake struct {
				Headers map[string]any `json:"headers"`
				Query   map[string]any `json:"query"`
				Auth    map[string]any `json:"auth"`
				Issued  float64        `json:"issued"`
			} `json:"handshake"`
		}
		var sockets []nodeSocket
		b.peer.evalInto(t, &sockets, `
			const sockets = await h.state.n1.io.in("port:7").fetchSockets();
			return sockets.map((s) => ({id: s.id, rooms: [...s.rooms], data: s.data,
				handshake: s.handshake}));`, nil)
		if len(sockets) != 2 {
			t.Fatalf("fetchSockets returned %d sockets, want 2: %+v", len(sockets), sockets)
		}
		i := slices.IndexFunc(sockets, func(s nodeSocket) bool {
			return s.ID == b.ids["cG"]
		})
		if i < 0 {
			t.Fatalf("fetchSockets returned %+v, want the socket of cG", sockets)
		}
		g := sockets[i]
		wantRooms := []string{g.ID, "port:7"}
		sort.Strings(g.Rooms)
		sort.Strings(wantRooms)
		if !slices.Equal(g.Rooms, wantRooms) {
			t.Errorf("rooms of cG are %v", g.Rooms)
		}
		if g.Data["name"] != "cG" {
			t.Errorf("data of cG is %v", g.Data)
		}
		if _, ok := g.Handshake.Headers["host"].(string); !ok {
			t.Errorf("headers of cG are %v, want a host header as Node sockets have",
				g.Handshake.Headers)
		}
		if _, ok := g.Handshake.Headers["upgrade"].(string); !ok {
			t.Errorf("headers of cG are %v, want lower-case names with string values",
				g.Handshake.Headers)
		}
		if g.Handshake.Query["EIO"] != "4" {
			t.Errorf("query of cG is %v, want EIO as the string 4", g.Handshake.Query)
		}
		if g.Handshake.Issued <= 0 {
			t.Errorf("issued of cG is %v", g.Handshake.Issued)
		}
	})

	t.Run("GoFetchSocketsIncludesNode", func(t *testing.T) {
		sockets := fetchGo(t, b.g1.io.In("port:7"))
		ids := socketIDs(sockets)
		want := []string{b.ids["cN"], b.ids["cG"]}
		sort.Strings(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("FetchSockets returned %v, want %v", ids, want)
		}
		var cN *socket.RemoteSocket
		for _, s := range sockets {
			if string(s.Id()) == b.ids["cN"] {
				cN = s
			}
		}
		if data, _ := cN.Data().(map[string]any); data["name"] != "cN" {
			t.Errorf("data of cN is %v", cN.Data())
		}
		if !cN.Rooms().Has("port:7") {
			t.Errorf("rooms of cN are %v", cN.Rooms().Keys())
		}
		if cN.Handshake().Headers["upgrade"] == nil {
			t.Errorf("headers of cN are %v", cN.Handshake().Headers)
		}

		if err := cN.Emit("remote-emit", 1); err != nil {
			t.Fatalf("RemoteSocket.Emit: %v", err)
		}
		requireDelivery(t, b.sync(t, b.fromGo), "remote-emit", `[1]`, "cN")

		// n1 applies the join when the request arrives; a marker from g1 arrives after it.
		cN.Join("x")
		b.sync(t, b.fromGo)
		b.waitRoomChannel(t, "x", 1)
		b.peer.eval(t, `h.state.n1.io.to("x").emit("in-x", 1)`, nil)
		requireDelivery(t, b.sync(t, b.fromNode), "in-x", `[1]`, "cN")
	})

	t.Run("NodeFetchSocketsEmpty", func(t *testing.T) {
		var sockets []any
		b.peer.evalInto(t, &sockets, `return (await h.state.n1.io.in("nobody").fetchSockets())
			.map((s) => s.id)`, nil)
		if len(sockets) != 0 {
			t.Errorf("fetchSockets returned %v, want none", sockets)
		}
	})

	t.Run("NodeServerSideEmitWithAck", func(t *testing.T) {
		b.drainMonitor()
		var responses []string
		b.peer.evalInto(t, &responses, `return await h.state.n1.io.serverSideEmitWithAck("ping")`,
			nil)
		sort.Strings(responses)
		if want := []string{"pong-g1", "pong-g2", "pong-n2"}; !slices.Equal(responses, want) {
			t.Errorf("serverSideEmitWithAck resolved %v, want %v", responses, want)
		}
		if b.flavor.sharded() {
			return
		}
		answers := 0
		timeout := timeAfter(t)
		for answers < 2 {
			select {
			case m := <-b.monitor:
				if !strings.Contains(m.Payload, "pong-g") {
					continue
				}
				answers++
				if m.Channel != b.key+"-response#/#" {
					t.Errorf("Go answered on %s, want the shared response channel", m.Channel)
				}
			case <-timeout:
				t.Fatalf("monitor saw %d Go answers within %s, want 2", answers, deadline)
			}
		}
	})

	t.Run("NodeServerSideEmitTimeout", func(t *testing.T) {
		var message string
		b.peer.evalInto(t, &message, `
			try {
				await h.state.n1.io.serverSideEmitWithAck("ping-silent");
				return "resolved";
			} catch (err) {
				return err.message;
			}`, nil)
		if message != "timeout reached: only 1 responses received out of 3" {
			t.Errorf("serverSideEmitWithAck failed with %q", message)
		}
	})

	t.Run("GoServerSideEmitWithAck", func(t *testing.T) {
		type result struct {
			args []any
			err  error
		}
		done := make(chan result, 1)
		err := b.g1.io.ServerSideEmitWithAck("ping")(func(args []any, err error) {
			done <- result{args, err}
		})
		if err != nil {
			t.Fatalf("ServerSideEmitWithAck: %v", err)
		}
		r := waitResult(t, done)
		if r.err != nil {
			t.Fatalf("ack error: %v", r.err)
		}
		var got []string
		for _, a := range r.args {
			got = append(got, fmt.Sprint(a))
		}
		sort.Strings(got)
		if want := []string{"pong-g2", "pong-n1", "pong-n2"}; !slices.Equal(got, want) {
			t.Errorf("ack got %v, want %v", got, want)
		}
	})

	t.Run("NodeEmitWithAck", func(t *testing.T) {
		b.drainMonitor()
		var result struct {
			Err       string           `json:"err"`
			Responses []map[string]any `json:"responses"`
		}
		b.peer.evalInto(t, &result, `
			try {
				const responses = await h.state.n1.io.to("port:7").timeout(3000)
					.emitWithAck("confirm", 1);
				return {responses};
			} catch (err) {
				return {err: err.message};
			}`, nil)
		if result.Err != "" {
			t.Fatalf("emitWithAck failed: %s", result.Err)
		}
		var clients []string
		for _, r := range result.Responses {
			clients = append(clients, fmt.Sprint(r["client"]))
		}
		sort.Strings(clients)
		if !slices.Equal(clients, []string{"cG", "cN"}) {
			t.Errorf("responses %v, want one from cG and one from cN", result.Responses)
		}
		b.drainClientEvents(t, "confirm", "cN", "cG")
		if b.flavor.sharded() {
			return
		}
		// The monitor has its own connection, so it may lag behind the Node peer.
		var counts, acks int
		timeout := timeAfter(t)
		for counts < 3 || acks < 1 {
			var m *redis.Message
			select {
			case m = <-b.monitor:
			case <-timeout:
				t.Fatalf("saw %d JSON client counts and %d MessagePack acks within %s, "+
					"want 3 and 1", counts, acks, deadline)
			}
			if !strings.HasPrefix(m.Channel, b.key+"-response#") {
				continue
			}
			msg := decodeAny(t, m.Payload)
			switch {
			case m.Payload[0] == '{' && msg["type"] == int64(8):
				counts++
			case m.Payload[0] != '{' && msg["type"] == int64(9):
				acks++
			}
		}
	})

	t.Run("NodeEmitWithAckNoGoClient", func(t *testing.T) {
		var result struct {
			Err       string `json:"err"`
			Responses []any  `json:"responses"`
		}
		b.peer.evalInto(t, &result, `
			try {
				return {responses: await h.state.n1.io.to(args).timeout(3000)
					.emitWithAck("confirm", 2)};
			} catch (err) {
				return {err: err.message};
			}`, b.ids["cN"])
		if result.Err != "" || len(result.Responses) != 1 {
			t.Errorf("emitWithAck returned %+v, want one response and no error", result)
		}
		b.drainClientEvents(t, "confirm", "cN")
	})

	t.Run("GoEmitWithAck", func(t *testing.T) {
		type result struct {
			args []any
			err  error
		}
		done := make(chan result, 1)
		err := b.g1.io.To("port:7").Timeout(3*time.Second).Emit("confirm", 3,
			socket.Ack(func(args []any, err error) { done <- result{args, err} }))
		if err != nil {
			t.Fatalf("Emit: %v", err)
		}
		r := waitResult(t, done)
		if r.err != nil {
			t.Fatalf("ack error: %v (responses %v)", r.err, r.args)
		}
		var clients []string
		for _, a := range r.args {
			m, _ := a.(map[string]any)
			clients = append(clients, fmt.Sprint(m["client"]))
		}
		sort.Strings(clients)
		if !slices.Equal(clients, []string{"cG", "cN"}) {
			t.Errorf("responses %v, want one from cG and one from cN", r.args)
		}
		b.drainClientEvents(t, "confirm", "cN", "cG")
	})

	t.Run("NodeSocketsJoinLeaveDisconnect", func(t *testing.T) {
		// A Node sender applies its own join, leave or disconnect request only when it comes
		// back from Redis, so a sync marker from n1 waits for that.
		b.peer.eval(t, `h.state.n1.io.in("port:7").socketsJoin("r3")`, nil)
		b.sync(t, b.fromNode)
		b.waitRoomChannel(t, "r3", 2)
		b.peer.eval(t, `h.state.n1.io.to("r3").emit("in-r3", 1)`, nil)
		requireDelivery(t, b.sync(t, b.fromNode), "in-r3", `[1]`, "cN", "cG")

		b.peer.eval(t, `h.state.n1.io.in("port:7").socketsLeave("r3")`, nil)
		b.sync(t, b.fromNode)
		b.peer.eval(t, `h.state.n1.io.to("r3").emit("in-r3", 2)`, nil)
		requireDelivery(t, b.sync(t, b.fromNode), "in-r3", `[2]`)

		b.connect(t, "kG", b.g2.url, "/", "kick2")
		b.peer.eval(t, `h.state.n1.io.in("kick2").disconnectSockets()`, nil)
		reasons := b.waitDisconnects(t, "kG")
		if reasons["kG"] != "io server disconnect" {
			t.Errorf("kG disconnected with %q, want io server disconnect", reasons["kG"])
		}
	})

	t.Run("AllRooms", func(t *testing.T) {
		if b.flavor.sharded() {
			t.Skip("the sharded protocol has no allRooms request")
		}
		var rooms []string
		b.peer.evalInto(t, &rooms, `return [...await h.state.n1.io.of("/").adapter.allRooms()]`,
			nil)
		for _, want := range []string{"port:7", "vip", b.ids["cG"], b.ids["cG2"]} {
			if !slices.Contains(rooms, want) {
				t.Errorf("allRooms returned %v, want %s in it", rooms, want)
			}
		}

		a, ok := adapter.Of(b.g1.io.Of("/", nil))
		if !ok {
			t.Fatal("namespace / of g1 has no classic Redis adapter")
		}
		goRooms, err := a.AllRooms(context.Background())
		if err != nil {
			t.Fatalf("AllRooms: %v", err)
		}
		for _, want := range []string{"port:7", "vip", "a", b.ids["cN"], b.ids["cG2"]} {
			if !slices.Contains(goRooms, want) {
				t.Errorf("AllRooms returned %v, want %s in it", goRooms, want)
			}
		}
	})

	t.Run("ServerCount", func(t *testing.T) {
		if got := b.g1.io.Of("/", nil).Adapter().ServerCount(); got != 4 {
			t.Errorf("ServerCount of / is %d, want 4", got)
		}
		if got := b.g1.io.Of("/orders", nil).Adapter().ServerCount(); got != 2 {
			t.Errorf("ServerCount of /orders is %d, want 2", got)
		}
		var count int
		b.peer.evalInto(t, &count, `return await h.state.n1.io.of("/").adapter.serverCount()`,
			nil)
		if count != 4 {
			t.Errorf("Node serverCount is %d, want 4", count)
		}
	})

	t.Run("NamespaceOnSomeServers", func(t *testing.T) {
		b.peer.eval(t, `h.state.n1.io.of("/orders").emit("order", 5)`, nil)
		requireDelivery(t, b.sync(t, b.fromNode), "order", `[5]`, "oN", "oG")

		var ids []string
		b.peer.evalInto(t, &ids, `return (await h.state.n1.io.of("/orders").fetchSockets())
			.map((s) => s.id)`, nil)
		sort.Strings(ids)
		want := []string{b.ids["oN"], b.ids["oG"]}
		sort.Strings(want)
		if !slices.Equal(ids, want) {
			t.Errorf("fetchSockets of /orders returned %v, want %v", ids, want)
		}
	})

	t.Run("RoomChannelSubscriptions", func(t *testing.T) {
		if !b.flavor.sharded() {
			t.Skip("the classic adapter subscribes to one pattern for every room")
		}
		channels, err := b.rdb.PubSubShardChannels(context.Background(), b.key+"#/#*").Result()
		if err != nil {
			t.Fatalf("PUBSUB SHARDCHANNELS: %v", err)
		}
		room := func(name string) string { return b.key + "#/#" + name + "#" }
		want := map[string]bool{
			room("port:7"):    b.flavor != flavor(adapter.SubscriptionStatic),
			room(b.ids["cG"]): b.flavor != flavor(adapter.SubscriptionStatic),
			room(b.ids["cN"]): b.flavor == flavor(adapter.SubscriptionDynamicPrivate),
		}
		for channel, subscribed := range want {
			if slices.Contains(channels, channel) != subscribed {
				t.Errorf("subscribed to %s: %v, want %v (channels %v)", channel, !subscribed,
					subscribed, channels)
			}
		}
	})

	t.Run("NodeRemoteSocketEmitToGo", func(t *testing.T) {
		b.peer.eval(t, `const [s] = await h.state.n1.io.in(args).fetchSockets();
			s.emit("remote", 34)`, b.ids["cG"])
		requireDelivery(t, b.sync(t, b.fromNode), "remote", `[34]`, "cG")
	})
}

// fetchGo runs a Go FetchSockets and returns its sockets sorted by id.
func fetchGo(t *testing.T, op *socket.BroadcastOperator) []*socket.RemoteSocket {
	t.Helper()
	type result struct {
		sockets []*socket.RemoteSocket
		err     error
	}
	done := make(chan result, 1)
	go op.FetchSockets()(func(sockets []*socket.RemoteSocket, err error) {
		done <- result{sockets, err}
	})
	r := waitResult(t, done)
	if r.err != nil {
		t.Fatalf("FetchSockets: %v", r.err)
	}
	sort.Slice(r.sockets, func(i, j int) bool { return r.sockets[i].Id() < r.sockets[j].Id() })
	return r.sockets
}

func socketIDs(sockets []*socket.RemoteSocket) []string {
	out := []string{}
	for _, s := range sockets {
		out = append(out, string(s.Id()))
	}
	return out
}

// waitResult returns the value sent on ch, failing the test after deadline.
func waitResult[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-timeAfter(t):
		t.Fatalf("no result within %s", deadline)
	}
	var zero T
	return zero
}

// drainClientEvents consumes the delivery of event to each of clients.
func (b *clusterBundle) drainClientEvents(t *testing.T, event string, clients ...string) {
	t.Helper()
	waiting := map[string]bool{}
	for _, c := range clients {
		waiting[c] = true
	}
	for len(waiting) > 0 {
		ev := b.peer.next(t)
		if ev.Name != "client" {
			continue
		}
		ce := clientEvents(t, []peerEvent{ev})[0]
		if ce.Event == event {
			delete(waiting, ce.Client)
		}
	}
}

// waitRoomChannel waits, with the sharded dynamic modes, until n servers subscribed to the
// channel of room: a server subscribes only after it applied a join, and a broadcast sent
// to the channel before that is lost, with Node servers as well.
func (b *clusterBundle) waitRoomChannel(t *testing.T, room string, n int64) {
	t.Helper()
	if b.flavor != flavor(adapter.SubscriptionDynamic) &&
		b.flavor != flavor(adapter.SubscriptionDynamicPrivate) {
		return
	}
	channel := b.key + "#/#" + room + "#"
	timeout := timeAfter(t)
	for {
		counts, err := b.rdb.PubSubShardNumSub(context.Background(), channel).Result()
		if err != nil {
			t.Fatalf("PUBSUB SHARDNUMSUB: %v", err)
		}
		if counts[channel] >= n {
			return
		}
		select {
		case <-timeout:
			t.Fatalf("%s has %d subscribers after %s, want %d", channel, counts[channel],
				deadline, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func decodeAny(t *testing.T, payload string) map[string]any {
	t.Helper()
	var tree any
	var err error
	if payload[0] == '{' {
		tree, err = notepack.ParseJSON([]byte(payload))
		if m, ok := tree.(notepack.Map); ok {
			out := map[string]any{}
			for _, p := range m {
				out[p.Key] = p.Value
			}
			return out
		}
	} else {
		tree, err = notepack.Decode([]byte(payload))
	}
	if err != nil {
		t.Fatalf("decode %q: %v", payload, err)
	}
	m, _ := tree.(map[string]any)
	return m
}
