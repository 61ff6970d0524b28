package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/adapter"
	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// flavor selects the protocol of every server in a cluster test: "classic", or a sharded
// subscription mode.
type flavor string

const classic flavor = "classic"

func (f flavor) sharded() bool { return f != classic }

// clusterBundle is a mixed cluster on one Redis key: Node servers n1 and n2 in the peer, Go
// servers g1 and g2 in the test process, and socket.io-client clients on each of them.
//
//	client  server  namespace  rooms
//	cN      n1      /          port:7
//	cN2     n2      /          vip, a, b
//	cG      g1      /          port:7
//	cG2     g2      /          vip, a, b
//	oN      n1      /orders    -
//	oG      g1      /orders    -
//
// /orders exists on n1 and g1 only.
type clusterBundle struct {
	flavor  flavor
	key     string
	rdb     *redis.Client
	peer    *nodePeer
	g1, g2  *goServer
	n1, n2  string // URLs
	emit    *emitter.Emitter
	ids     map[string]string // client name to socket id
	monitor <-chan *redis.Message
	syncs   int

	// lastMarker is the event name of the last sync marker.
	lastMarker string

	mu         sync.Mutex
	goEvents   []serverEvent
	goNotified chan struct{}
}

// serverEvent is a server-side event that a Go server's listener received.
type serverEvent struct {
	Server string
	Event  string
	Args   []any
}

func (f flavor) builder(t *testing.T, rdb *redis.Client, key string) socket.AdapterConstructor {
	t.Helper()
	logger, _ := newRecorder(t)
	if f.sharded() {
		b, err := adapter.NewSharded(adapter.ShardedOptions{
			Client: rdb, ChannelPrefix: key, SubscriptionMode: adapter.SubscriptionMode(f),
			Logger: logger,
		})
		if err != nil {
			t.Fatalf("NewSharded: %v", err)
		}
		return b
	}
	b, err := adapter.New(adapter.Options{Client: rdb, Key: key, Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func setupCluster(t *testing.T, f flavor) *clusterBundle {
	t.Helper()
	rdb := siotest.Redis(t)
	b := &clusterBundle{
		flavor: f, key: siotest.UniqueKey(t), rdb: rdb, peer: startPeer(t), ids: map[string]string{},
		goNotified: make(chan struct{}, 1),
	}
	b.emit = emitter.New(rdb, emitter.Options{Key: b.key})
	b.monitor = b.watch(t)

	b.g1 = startGoServer(t, f.builder(t, rdb, b.key), "/orders")
	b.g2 = startGoServer(t, f.builder(t, rdb, b.key))
	for name, srv := range map[string]*goServer{"g1": b.g1, "g2": b.g2} {
		b.listenGo(name, srv)
	}

	sharded := ""
	if f.sharded() {
		sharded = string(f)
	}
	var urls struct{ N1, N2 string }
	b.peer.evalInto(t, &urls, `
		const n1 = await h.startServer("n1", {key: args.key, sharded: args.sharded || undefined,
			nsps: ["/", "/orders"]});
		const n2 = await h.startServer("n2", {key: args.key, sharded: args.sharded || undefined});
		h.state.emitter = h.emitter(args.key);
		for (const name of ["n1", "n2"]) {
			const io = h.state[name].io;
			for (const ev of ["cache:flush", "greet", "sync"]) {
				io.on(ev, (...args) => h.emit("server", {server: name, event: ev, args}));
			}
			io.on("ping", (...args) => args[args.length - 1]("pong-" + name));
			io.on("ping-silent", (...args) => args[args.length - 1]("pong-" + name));
		}
		return {n1: n1.url, n2: n2.url};
	`, map[string]any{"key": b.key, "sharded": sharded})
	b.n1, b.n2 = urls.N1, urls.N2

	b.connect(t, "cN", b.n1, "/", "port:7")
	b.connect(t, "cN2", b.n2, "/", "vip", "a", "b")
	b.connect(t, "cG", b.g1.url, "/", "port:7")
	b.connect(t, "cG2", b.g2.url, "/", "vip", "a", "b")
	b.connect(t, "oN", b.n1, "/orders")
	b.connect(t, "oG", b.g1.url, "/orders")
	return b
}

// listenGo records the server-side events of a Go server and answers "ping" (but never
// "ping-silent") with "pong-<name>".
func (b *clusterBundle) listenGo(name string, srv *goServer) {
	for _, ev := range []string{"cache:flush", "greet", "sync", "ping", "ping-silent"} {
		srv.io.On(ev, func(args ...any) {
			if ev == "ping" {
				if ack, ok := args[len(args)-1].(socket.Ack); ok {
					ack([]any{"pong-" + name}, nil)
				}
			}
			b.mu.Lock()
			b.goEvents = append(b.goEvents, serverEvent{Server: name, Event: ev, Args: args})
			b.mu.Unlock()
			select {
			case b.goNotified <- struct{}{}:
			default:
			}
		})
	}
}

// connect opens a client in the peer and records its socket id.
func (b *clusterBundle) connect(t *testing.T, name, url, nsp string, rooms ...string) {
	t.Helper()
	if rooms == nil {
		rooms = []string{}
	}
	var id string
	b.peer.evalInto(t, &id, `return h.connect(args.name, args.url, args.nsp,
		{rooms: args.rooms, data: {name: args.name}})`,
		map[string]any{"name": name, "url": url, "nsp": nsp, "rooms": rooms})
	b.ids[name] = id
}

// watch subscribes to every channel of the cluster's key with a pattern, which PUBSUB NUMSUB
// does not count, and returns the messages of the classic protocol. Sharded messages are not
// seen by pattern subscriptions; watchSharded covers them.
func (b *clusterBundle) watch(t *testing.T) <-chan *redis.Message {
	t.Helper()
	ctx := context.Background()
	ps := b.rdb.PSubscribe(ctx, b.key+"*")
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return ps.ChannelSize(10000)
}

// drainMonitor returns the messages the monitor received so far.
func (b *clusterBundle) drainMonitor() []*redis.Message {
	var out []*redis.Message
	for {
		select {
		case m := <-b.monitor:
			out = append(out, m)
		default:
			return out
		}
	}
}

func (b *clusterBundle) fromNodeEmitter(t *testing.T, marker string) {
	t.Helper()
	b.peer.eval(t, `h.state.emitter.emit(args); h.state.emitter.of("/orders").emit(args)`,
		marker)
}

// monitored returns the monitored messages up to the last sync marker's publication on
// the namespace "/". The monitor has its own connection and may lag behind the clients, but
// it sees each publisher's messages in order, so it has seen everything the marker followed.
func (b *clusterBundle) monitored(t *testing.T) []*redis.Message {
	t.Helper()
	var out []*redis.Message
	timeout := timeAfter(t)
	for {
		select {
		case m := <-b.monitor:
			out = append(out, m)
			if m.Channel == b.key+"#/#" && strings.Contains(m.Payload, b.lastMarker) {
				return out
			}
		case <-timeout:
			t.Fatalf("monitor did not see %s within %s", b.lastMarker, deadline)
		}
	}
}

// origin publishes a marker event to every client of "/" and "/orders".
type origin func(t *testing.T, marker string)

func (b *clusterBundle) fromEmitter(t *testing.T, marker string) {
	t.Helper()
	if err := b.emit.Emit(context.Background(), marker); err != nil {
		t.Fatalf("emit %s: %v", marker, err)
	}
	if err := b.emit.Of("/orders").Emit(context.Background(), marker); err != nil {
		t.Fatalf("emit %s: %v", marker, err)
	}
}

func (b *clusterBundle) fromGo(t *testing.T, marker string) {
	t.Helper()
	b.g1.io.Emit(marker)
	if err := b.g1.io.Of("/orders", nil).Emit(marker); err != nil {
		t.Fatalf("emit %s: %v", marker, err)
	}
}

func (b *clusterBundle) fromNode(t *testing.T, marker string) {
	t.Helper()
	b.peer.eval(t, `const io = h.state.n1.io; io.emit(args); io.of("/orders").emit(args)`,
		marker)
}

var allClients = []string{"cN", "cN2", "cG", "cG2", "oN", "oG"}

// sync publishes a marker through from, which already published the events under test,
// and returns the client events that arrived before each client saw the marker. Each
// publisher's messages reach a client in publish order, so an event that is not in the
// result was not delivered.
func (b *clusterBundle) sync(t *testing.T, from origin, clients ...string) []clientEvent {
	t.Helper()
	if clients == nil {
		clients = allClients
	}
	b.syncs++
	marker := fmt.Sprintf("sync-%04d", b.syncs)
	b.lastMarker = marker
	from(t, marker)

	waiting := map[string]bool{}
	for _, c := range clients {
		waiting[c] = true
	}
	var before []clientEvent
	for len(waiting) > 0 {
		ev := b.peer.next(t)
		if ev.Name != "client" {
			continue
		}
		ce := clientEvents(t, []peerEvent{ev})[0]
		if ce.Event == marker {
			delete(waiting, ce.Client)
			continue
		}
		if !strings.HasPrefix(ce.Event, "sync-") {
			before = append(before, ce)
		}
	}
	return before
}

// requireDelivery checks that each client in want received event exactly once with args
// equal to wantArgs, and that every other client of allClients received nothing.
func requireDelivery(t *testing.T, events []clientEvent, event, wantArgs string,
	want ...string,
) {
	t.Helper()
	for _, c := range allClients {
		var got []clientEvent
		for _, e := range events {
			if e.Client == c {
				got = append(got, e)
			}
		}
		if !slices.Contains(want, c) {
			if len(got) != 0 {
				t.Errorf("%s received %+v, want nothing", c, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Event != event {
			t.Errorf("%s received %+v, want exactly one %q", c, got, event)
			continue
		}
		if !equalJSON(t, got[0].Args, wantArgs) {
			t.Errorf("%s got args %s, want %s", c, got[0].Args, wantArgs)
		}
	}
}

// waitGoEvents waits until the Go servers' listeners recorded n events matching match.
func (b *clusterBundle) waitGoEvents(t *testing.T, n int, match func(serverEvent) bool,
) []serverEvent {
	t.Helper()
	timeout := timeAfter(t)
	for {
		b.mu.Lock()
		var got []serverEvent
		for _, e := range b.goEvents {
			if match(e) {
				got = append(got, e)
			}
		}
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-b.goNotified:
		case <-timeout:
			t.Fatalf("Go servers recorded %d matching events within %s, want %d", len(got),
				deadline, n)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return string(b)
}
