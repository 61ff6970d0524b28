package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/adapter"
	"github.com/portnimara/nimara/socketio/emitter"
)

// cluster is the benchmark's Socket.IO cluster: a receiving and a publishing server on each
// side, a Node peer for the Node servers and emitter, and another for the clients.
type cluster struct {
	cfg     config
	key     string
	servers *nodePeer
	clients *nodePeer

	goRecv, goPub *socket.Server
	goRecvURL     string
	nodeRecvURL   string
	emitter       *emitter.Emitter
	closers       []func()
}

func newCluster(ctx context.Context, cfg config, rdb *redis.Client, key string,
) (*cluster, error) {
	c := &cluster{cfg: cfg, key: key, emitter: emitter.New(rdb, emitter.Options{Key: key})}

	var err error
	if c.servers, err = startPeer(cfg.root, cfg.nodeBin, cfg.redisURL); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, c.servers.close)
	if c.clients, err = startPeer(cfg.root, cfg.nodeBin, cfg.redisURL); err != nil {
		c.close()
		return nil, err
	}
	c.closers = append(c.closers, c.clients.close)

	builder, err := adapter.New(adapter.Options{
		Client: rdb, Key: key, Logger: slog.New(slog.NewTextHandler(errWriter{}, nil)),
	})
	if err != nil {
		c.close()
		return nil, err
	}
	var srvURL string
	c.goRecv, srvURL = c.startGoServer(builder)
	c.goRecvURL = srvURL
	c.goPub, _ = c.startGoServer(builder)

	var urls struct{ Recv, Pub string }
	err = c.servers.eval(&urls, `
		const recv = await h.startServer("recv", {key: args});
		const pub = await h.startServer("pub", {key: args});
		h.state.emitter = h.emitter(args);
		return {recv: recv.url, pub: pub.url};`, key)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("starting the Node servers: %w", err)
	}
	c.nodeRecvURL = urls.Recv
	_ = ctx
	return c, nil
}

type errWriter struct{}

func (errWriter) Write(p []byte) (int, error) { return len(p), nil }

func (c *cluster) startGoServer(builder socket.AdapterConstructor) (*socket.Server, string) {
	opts := socket.DefaultServerOptions()
	opts.SetAdapter(builder)
	io := socket.NewServer(nil, opts)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io.ServeHandler(nil))
	srv := httptest.NewServer(mux)
	c.closers = append(c.closers, func() {
		io.Close(nil)
		srv.Close()
	})
	return io, srv.URL
}

func (c *cluster) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

func (c *cluster) publishers() []*publisher {
	ctx := context.Background()
	probe := func(seq int) map[string]any { return map[string]any{"t": nowMillis(), "seq": seq} }
	return []*publisher{
		{
			name: "Go emitter",
			publishMany: func(n int) (time.Duration, error) {
				return concurrently(n, c.cfg.concurrency, func(i int) error {
					return c.emitter.Emit(ctx, "tp", i)
				})
			},
			send: func(seq int) error { return c.emitter.Emit(ctx, "lat", probe(seq)) },
		},
		{
			name: "Node emitter",
			publishMany: c.nodePublishMany(`h.state.emitter.emit("tp", i)`,
				"h.state.emitter.redisClient"),
			sendAll: c.nodeSendAll(`h.state.emitter.emit("lat", {t: h.now(), seq: i})`),
		},
		{
			name: "Go server (adapter)",
			publishMany: func(n int) (time.Duration, error) {
				return concurrently(n, c.cfg.concurrency, func(i int) error {
					c.goPub.Emit("tp", i)
					return nil
				})
			},
			send: func(seq int) error {
				c.goPub.Emit("lat", probe(seq))
				return nil
			},
		},
		{
			name:        "Node server (adapter)",
			publishMany: c.nodePublishMany(`h.state.pub.io.emit("tp", i)`, "h.state.pub.pub"),
			sendAll:     c.nodeSendAll(`h.state.pub.io.emit("lat", {t: h.now(), seq: i})`),
		},
	}
}

// nodePublishMany issues n calls of statement (with i bound) without waiting, then waits
// for a PING on client, the connection that carries the publications.
func (c *cluster) nodePublishMany(statement, client string) func(int) (time.Duration, error) {
	return func(n int) (time.Duration, error) {
		var ms float64
		err := c.servers.eval(&ms, `
			const start = h.now();
			for (let i = 0; i < args; i++) { `+statement+` }
			await `+client+`.ping();
			return h.now() - start;`, n)
		return time.Duration(ms * float64(time.Millisecond)), err
	}
}

// nodeSendAll sends count probes at rate per second from the Node peer.
func (c *cluster) nodeSendAll(statement string) func(count, rate int) error {
	return func(count, rate int) error {
		return c.servers.eval(nil, `
			const interval = 1000 / args.rate;
			const start = h.now();
			for (let i = 0; i < args.count; i++) {
				`+statement+`;
				const wait = start + (i + 1) * interval - h.now();
				if (wait > 0) await h.sleep(wait);
			}`, map[string]int{"count": count, "rate": rate})
	}
}

func (c *cluster) connectClients(receiver string) error {
	url := c.goRecvURL
	if receiver == "Node" {
		url = c.nodeRecvURL
	}
	err := c.clients.eval(nil, `h.state.many = await h.connectMany(args.url, args.count)`,
		map[string]any{"url": url, "count": c.cfg.clients})
	if err != nil {
		return fmt.Errorf("connecting %d clients to the %s server: %w", c.cfg.clients,
			receiver, err)
	}
	return nil
}

func (c *cluster) disconnectClients() error {
	return c.clients.eval(nil, `h.state.many.forEach((s) => s.disconnect()); h.state.many = []`,
		nil)
}

// measureLatency sends the probes of one publisher and collects the delays.
func (c *cluster) measureLatency(p *publisher) (latency, error) {
	count, rate := c.cfg.latencyMessages, c.cfg.rate
	if p.sendAll != nil {
		if err := p.sendAll(count, rate); err != nil {
			return latency{}, err
		}
	} else {
		interval := time.Second / time.Duration(rate)
		start := time.Now()
		for i := range count {
			if err := p.send(i); err != nil {
				return latency{}, err
			}
			time.Sleep(time.Until(start.Add(time.Duration(i+1) * interval)))
		}
	}

	var l latency
	err := c.clients.eval(&l, `return await h.waitLatencies(args, 30000)`,
		count*c.cfg.clients)
	if err == nil && l.P50 == nil {
		err = errors.New("no probe arrived")
	}
	return l, err
}
