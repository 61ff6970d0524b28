package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/adapter"
	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/notepack"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

const (
	droppedMessage = "Malformed message dropped"
	ignoredMessage = "Message for another namespace ignored"
)

// smallBundle is one or two Go servers and their clients, without Node servers.
type smallBundle struct {
	peer *nodePeer
	ids  map[string]string
}

func (s *smallBundle) connect(t *testing.T, name, url string, rooms ...string) {
	t.Helper()
	var id string
	s.peer.evalInto(t, &id, `return h.connect(args.name, args.url, "/", {rooms: args.rooms})`,
		map[string]any{"name": name, "url": url, "rooms": rooms})
	s.ids[name] = id
}

// until returns the client events before client received event, and that event last.
func (s *smallBundle) until(t *testing.T, client, event string) []clientEvent {
	t.Helper()
	var out []clientEvent
	for {
		ev := s.peer.next(t)
		if ev.Name != "client" {
			continue
		}
		ce := clientEvents(t, []peerEvent{ev})[0]
		out = append(out, ce)
		if ce.Client == client && ce.Event == event {
			return out
		}
	}
}

// waitLogs waits until at least n records with message were logged at level or above.
func waitLogs(t *testing.T, rec *recordHandler, level slog.Level, message string, n int) {
	t.Helper()
	timeout := timeAfter(t)
	for {
		got := 0
		for _, m := range rec.messages(level) {
			if m == message {
				got++
			}
		}
		if got >= n {
			return
		}
		select {
		case <-timeout:
			t.Fatalf("%d log records %q within %s, want %d", got, message, deadline, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func countLogs(rec *recordHandler, message string) int {
	n := 0
	for _, m := range rec.messages(slog.LevelDebug) {
		if m == message {
			n++
		}
	}
	return n
}

func TestRedisAdapter_DropsMalformedMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, rec := newRecorder(t)
	builder, err := adapter.New(adapter.Options{Client: rdb, Key: key, Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := startGoServer(t, builder)
	s := &smallBundle{peer: startPeer(t), ids: map[string]string{}}
	s.connect(t, "c", g.url, "r")

	otherNamespace, err := notepack.Encode([]any{"someone", notepack.Map{
		{Key: "type", Value: 2}, {Key: "data", Value: []any{"wrong-nsp"}},
		{Key: "nsp", Value: "/other"},
	}, notepack.Map{{Key: "rooms", Value: []any{}}, {Key: "except", Value: []any{}}}})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	missingOpts, _ := notepack.Encode([]any{"someone", notepack.Map{
		{Key: "type", Value: 2}, {Key: "data", Value: []any{"no-opts"}},
	}})
	notList, _ := notepack.Encode(notepack.Map{{Key: "type", Value: 2}})

	malformed := []struct {
		channel string
		payload string
	}{
		{key + "#/#", "\xc1\xff"},
		{key + "#/#", string(notList)},
		{key + "#/#", string(missingOpts)},
		{key + "-request#/#", "not json"},
		{key + "-request#/#", `{"uid":"x","type":99}`},
		{key + "-request#/#", `{"uid":"x","type":5,"requestId":"q"}`},
		{key + "-response#/#", "{bad json"},
	}
	for _, m := range malformed {
		if err := rdb.Publish(ctx, m.channel, m.payload).Err(); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	ignored := []struct {
		channel string
		payload []byte
	}{
		{key + "#/#", otherNamespace},
		{key + "#/#unknown-room#", missingOpts},
		{key + "-response#/#", []byte(`{"requestId":"not-mine","sockets":[]}`)},
	}
	for _, m := range ignored {
		if err := rdb.Publish(ctx, m.channel, m.payload).Err(); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	e := emitter.New(rdb, emitter.Options{Key: key})
	if err := e.To("r").Emit(ctx, "after", 1); err != nil {
		t.Fatalf("emit: %v", err)
	}
	events := s.until(t, "c", "after")
	if len(events) != 1 {
		t.Errorf("client received %+v, want only the event after the bad messages", events)
	}
	if got := countLogs(rec, droppedMessage); got != len(malformed) {
		t.Errorf("logged %d dropped messages, want %d: %v", got, len(malformed),
			rec.messages(slog.LevelDebug))
	}
	if got := countLogs(rec, ignoredMessage); got != 1 {
		t.Errorf("logged %d ignored messages, want 1 for the other namespace", got)
	}
}

func TestShardedRedisAdapter_DropsMalformedMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, rec := newRecorder(t)
	builder, err := adapter.NewSharded(adapter.ShardedOptions{
		Client: rdb, ChannelPrefix: key, Logger: logger,
	})
	if err != nil {
		t.Fatalf("NewSharded: %v", err)
	}
	g1 := startGoServer(t, builder)
	g2 := startGoServer(t, builder)
	s := &smallBundle{peer: startPeer(t), ids: map[string]string{}}
	s.connect(t, "c", g2.url, "r")
	a, _ := adapter.OfSharded(g2.io.Of("/", nil))

	malformed := []struct {
		channel string
		payload string
	}{
		{key + "#/#", "\xc1\xff"},
		{key + "#/#", `{"type":3,"uid":"x","nsp":"/"}`},
		{key + "#/#", `{"type":99,"data":{},"uid":"x","nsp":"/"}`},
		{key + "#/#", `{"type":3,"data":{"packet":{"type":2,"data":["x"]}},"uid":"x","nsp":"/"}`},
		{key + "#/#" + a.Uid() + "#", "[1,2]"},
	}
	for _, m := range malformed {
		if err := rdb.SPublish(ctx, m.channel, m.payload).Err(); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	other := `{"type":3,"data":{"packet":{"type":2,"data":["wrong-nsp"]},` +
		`"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"x","nsp":"/other"}`
	if err := rdb.SPublish(ctx, key+"#/#", other).Err(); err != nil {
		t.Fatalf("publish: %v", err)
	}

	g1.io.To("r").Emit("after", 1)
	events := s.until(t, "c", "after")
	if len(events) != 1 {
		t.Errorf("client received %+v, want only the event after the bad messages", events)
	}
	// Both servers read the main channel; only g2 reads its own response channel.
	if got, want := countLogs(rec, droppedMessage), 2*len(malformed)-1; got != want {
		t.Errorf("logged %d dropped messages, want %d: %v", got, want,
			rec.messages(slog.LevelDebug))
	}
	if got := countLogs(rec, ignoredMessage); got != 2 {
		t.Errorf("logged %d ignored messages, want 2 for the other namespace", got)
	}
}

// deadServer subscribes like a server that stopped responding, so PUBSUB NUMSUB counts it.
func deadServer(t *testing.T, rdb *redis.Client, channel string, sharded bool) {
	t.Helper()
	ctx := context.Background()
	ps := rdb.Subscribe(ctx, channel)
	if sharded {
		_ = ps.Close()
		ps = rdb.SSubscribe(ctx, channel)
	}
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	t.Cleanup(func() { _ = ps.Close() })
}

func TestRedisAdapter_DeadServerTimeout(t *testing.T) {
	t.Parallel()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, _ := newRecorder(t)
	builder, err := adapter.New(adapter.Options{
		Client: rdb, Key: key, Logger: logger, RequestsTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := startGoServer(t, builder)
	deadServer(t, rdb, key+"-request#/#", false)
	requireDeadServerTimeouts(t, g)

	a, _ := adapter.Of(g.io.Of("/", nil))
	if _, err := a.AllRooms(context.Background()); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("AllRooms returned %v, want ErrTimeout", err)
	}
}

func TestShardedRedisAdapter_DeadServerTimeout(t *testing.T) {
	t.Parallel()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, _ := newRecorder(t)
	builder, err := adapter.NewSharded(adapter.ShardedOptions{
		Client: rdb, ChannelPrefix: key, Logger: logger, RequestsTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewSharded: %v", err)
	}
	g := startGoServer(t, builder)
	deadServer(t, rdb, key+"#/#", true)
	requireDeadServerTimeouts(t, g)
}

func requireDeadServerTimeouts(t *testing.T, g *goServer) {
	t.Helper()
	done := make(chan error, 1)
	go g.io.FetchSockets()(func(_ []*socket.RemoteSocket, err error) { done <- err })
	if err := waitResult(t, done); !errors.Is(err, adapter.ErrTimeout) {
		t.Errorf("FetchSockets returned %v, want ErrTimeout", err)
	}

	type result struct {
		args []any
		err  error
	}
	acked := make(chan result, 1)
	err := g.io.ServerSideEmitWithAck("ping")(func(args []any, err error) {
		acked <- result{args, err}
	})
	if err != nil {
		t.Fatalf("ServerSideEmitWithAck: %v", err)
	}
	r := waitResult(t, acked)
	if !errors.Is(r.err, adapter.ErrTimeout) || len(r.args) != 0 {
		t.Errorf("ack got %v, %v; want no responses and ErrTimeout", r.args, r.err)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedisServer runs a private redis-server on port and returns a function that stops
// it. The shared server on 6379 is never touched.
func startRedisServer(t *testing.T, port int) (stop func()) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("redis-server not installed: %v", err)
	}
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)

	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer client.Close()
	timeout := timeAfter(t)
	for client.Ping(context.Background()).Err() != nil {
		select {
		case <-timeout:
			t.Fatalf("redis-server on port %d not ready within %s", port, deadline)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return stop
}

func TestRedisAdapter_SurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	stop := startRedisServer(t, port)
	rdb := siotest.ConnectRedis(t, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	logger, rec := newRecorder(t)
	builder, err := adapter.New(adapter.Options{Client: rdb, Key: siotest.UniqueKey(t), Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g1 := startGoServer(t, builder)
	g2 := startGoServer(t, builder)
	s := &smallBundle{peer: startPeer(t), ids: map[string]string{}}
	s.connect(t, "c2", g2.url, "r")

	g1.io.To("r").Emit("before", 1)
	s.until(t, "c2", "before")

	stop()
	waitLogs(t, rec, slog.LevelWarn, "Redis subscription lost, reconnecting", 2)
	startRedisServer(t, port)
	waitLogs(t, rec, slog.LevelInfo, "Redis subscription restored", 2)

	// The first publish after the restart may still meet a pooled connection that died.
	g1.io.To("r").Emit("after", 1)
	g1.io.To("r").Emit("after", 2)
	events := s.until(t, "c2", "after")
	if events[len(events)-1].Event != "after" {
		t.Errorf("client received %+v after the restart", events)
	}
}

func TestRedisAdapter_KeySeparatesClusters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := siotest.Redis(t)
	key, otherKey := siotest.UniqueKey(t), siotest.UniqueKey(t)
	logger, _ := newRecorder(t)
	builder, _ := adapter.New(adapter.Options{Client: rdb, Key: key, Logger: logger})
	otherBuilder, _ := adapter.New(adapter.Options{Client: rdb, Key: otherKey, Logger: logger})

	s := &smallBundle{peer: startPeer(t), ids: map[string]string{}}
	var n struct{ URL string }
	s.peer.evalInto(t, &n, `return await h.startServer("n", {key: args})`, key)
	g := startGoServer(t, builder)
	other := startGoServer(t, otherBuilder)
	s.connect(t, "cN", n.URL, "r")
	s.connect(t, "cG", g.url, "r")
	s.connect(t, "cOther", other.url, "r")

	g.io.To("r").Emit("same-key", 1)
	e := emitter.New(rdb, emitter.Options{Key: key})
	if err := e.To("r").Emit(ctx, "same-key", 2); err != nil {
		t.Fatalf("emit: %v", err)
	}
	received := map[string]int{}
	for received["cN"] < 2 || received["cG"] < 2 {
		ev := s.peer.next(t)
		if ev.Name == "client" {
			received[clientEvents(t, []peerEvent{ev})[0].Client]++
		}
	}
	// A marker on the other key follows the messages above in Redis order; had the other
	// server subscribed to the first key, their delivery would precede the marker.
	other.io.Emit("other-key", 3)
	for _, e := range s.until(t, "cOther", "other-key") {
		received[e.Client]++
	}
	if received["cOther"] != 1 {
		t.Errorf("client of the other key received %d events, want only its own marker",
			received["cOther"])
	}

	count, err := rdb.PubSubNumSub(ctx, key+"-request#/#").Result()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB: %v", err)
	}
	if count[key+"-request#/#"] != 2 {
		t.Errorf("NUMSUB of the request channel is %d, want 2", count[key+"-request#/#"])
	}
}

func TestRedisAdapter_SpecificResponseChannel(t *testing.T) {
	t.Parallel()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, _ := newRecorder(t)
	builder, _ := adapter.New(adapter.Options{Client: rdb, Key: key, Logger: logger})
	specificBuilder, _ := adapter.New(adapter.Options{
		Client: rdb, Key: key, Logger: logger, PublishOnSpecificResponseChannel: true,
	})

	s := &smallBundle{peer: startPeer(t), ids: map[string]string{}}
	var n struct{ URL string }
	s.peer.evalInto(t, &n, `return await h.startServer("n", {key: args,
		publishOnSpecificResponseChannel: true})`, key)
	g := startGoServer(t, builder)
	gs := startGoServer(t, specificBuilder)
	s.connect(t, "cN", n.URL, "r")
	s.connect(t, "cG", g.url, "r")
	s.connect(t, "cGS", gs.url, "r")

	ps := rdb.PSubscribe(context.Background(), key+"-response#*")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}

	sockets := fetchGo(t, g.io.In("r"))
	if len(sockets) != 3 {
		t.Errorf("FetchSockets returned %v, want 3 sockets", socketIDs(sockets))
	}
	a, _ := adapter.Of(g.io.Of("/", nil))
	rooms, err := a.AllRooms(context.Background())
	if err != nil || !slices.Contains(rooms, s.ids["cN"]) {
		t.Errorf("AllRooms returned %v, %v; want the room of cN", rooms, err)
	}

	var ids []string
	s.peer.evalInto(t, &ids, `return (await h.state.n.io.in("r").fetchSockets()).map((s) => s.id)`,
		nil)
	if len(ids) != 3 {
		t.Errorf("Node fetchSockets returned %v, want 3 sockets", ids)
	}

	var nodeUID string
	s.peer.evalInto(t, &nodeUID, `return h.state.n.io.of("/").adapter.uid`, nil)
	// n responds to g on g's own channel, and gs responds to n on n's own channel.
	wanted := []string{
		key + "-response#/#" + a.Uid() + "#", key + "-response#/#" + nodeUID + "#",
	}
	seen := map[string]bool{}
	timeout := timeAfter(t)
	for !seen[wanted[0]] || !seen[wanted[1]] {
		select {
		case m := <-ps.Channel():
			seen[m.Channel] = true
		case <-timeout:
			t.Fatalf("responses seen on %v, want on %v", seen, wanted)
		}
	}
}

// TestRedisAdapter_BurstReachesClient sends bursts faster than a client reads. The base
// adapter of zishang520/socket.io v2.5.0 loses all but the first packet of each websocket
// write batch in that case; the Redis adapter must deliver every packet, in order.
func TestRedisAdapter_BurstReachesClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	logger, _ := newRecorder(t)
	builder, _ := adapter.New(adapter.Options{Client: rdb, Key: key, Logger: logger})
	g := startGoServer(t, builder)
	s := &smallBundle{peer: startPeer(t), ids: map[string]string{}}
	s.connect(t, "c", g.url)

	const burst = 1000
	requireBurst := func(t *testing.T, marker string) {
		t.Helper()
		var seqs []int
		for _, e := range s.until(t, "c", marker) {
			if e.Event != "burst" {
				continue
			}
			var args []int
			mustUnmarshal(t, e.Args, &args)
			seqs = append(seqs, args[0])
		}
		if len(seqs) != burst {
			t.Fatalf("client received %d of %d burst events", len(seqs), burst)
		}
		for i, seq := range seqs {
			if seq != i {
				t.Fatalf("event %d carries %d, want the burst order", i, seq)
			}
		}
	}

	for i := range burst {
		g.io.Emit("burst", i)
	}
	g.io.Emit("end-local")
	requireBurst(t, "end-local")

	e := emitter.New(rdb, emitter.Options{Key: key})
	for i := range burst {
		mustEmit(t, e.Emit(ctx, "burst", i))
	}
	mustEmit(t, e.Emit(ctx, "end-remote"))
	requireBurst(t, "end-remote")
}
