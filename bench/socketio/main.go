// Command socketio benchmarks the Go Socket.IO emitter and Redis adapter of package
// socketio against @socket.io/redis-emitter 5.1.0 and @socket.io/redis-adapter 8.3.0 (with
// socket.io 4.8.3), in one run against one Redis server.
//
// It measures two things for each of four publishers (the Go emitter, the Node emitter, a Go
// server with the classic adapter, a Node server with the classic adapter):
//
//   - publish rate: messages per second that the publisher gets into Redis, with no client
//     connected anywhere. The Go publishers run -concurrency goroutines. The Node publishers
//     issue every message without waiting, so ioredis pipelines them, and then wait for a
//     PING on the same connection.
//   - delivery latency: -clients socket.io-client 4.8.3 websocket clients, in a Node process
//     of their own, connect to a receiving server (a Go server, then a Node server); each
//     publisher sends -latency-messages broadcasts at -rate per second, stamped with the
//     wall clock, and every client records the delay to arrival. The table shows the 50th
//     and 99th percentiles over all deliveries.
//
// Run it from the repository root, with the Node packages installed in interop/:
//
//	go run ./bench/socketio
//
// Every run uses a fresh channel prefix and never FLUSHDB. Other load on the machine and the
// Redis server shows in the numbers.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

type config struct {
	messages        int
	concurrency     int
	clients         int
	latencyMessages int
	rate            int
	redisURL        string
	root            string
	nodeBin         string
	cpuProfile      string
}

func main() {
	cfg := config{}
	fs := flag.NewFlagSet("socketio", flag.ExitOnError)
	fs.IntVar(&cfg.messages, "messages", 20000, "messages per publish-rate measurement")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "goroutines publishing for the Go side")
	fs.IntVar(&cfg.clients, "clients", 1000, "connected clients in the latency measurement")
	fs.IntVar(&cfg.latencyMessages, "latency-messages", 200, "broadcasts per latency run")
	fs.IntVar(&cfg.rate, "rate", 50, "broadcasts per second in the latency measurement")
	fs.StringVar(&cfg.redisURL, "redis", defaultRedisURL(), "Redis URL (default $REDIS_URL)")
	fs.StringVar(&cfg.root, "root", ".", "repository root, which contains interop/")
	fs.StringVar(&cfg.nodeBin, "node", "node", "Node.js executable")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the Go side to this file")
	_ = fs.Parse(os.Args[1:])

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func defaultRedisURL() string {
	if url := os.Getenv("REDIS_URL"); url != "" {
		return url
	}
	return "redis://127.0.0.1:6379/15"
}

func run(ctx context.Context, cfg config) error {
	opts, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("parsing Redis URL: %w", err)
	}
	opts.PoolSize = max(opts.PoolSize, cfg.concurrency+4)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connecting to Redis: %w", err)
	}

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	key := "nimara-bench-" + hex.EncodeToString(suffix)

	c, err := newCluster(ctx, cfg, rdb, key)
	if err != nil {
		return err
	}
	defer c.close()

	fmt.Printf("Socket.IO benchmark: key %s, %d messages per publish-rate run, %d clients, "+
		"%d broadcasts at %d/s per latency run\n\n", key, cfg.messages, cfg.clients,
		cfg.latencyMessages, cfg.rate)

	// Latency first: the publish-rate runs leave every receiving server with a backlog of
	// messages to read, which would delay the first probes.
	publishers := c.publishers()
	latencies := map[string]map[string]latency{}
	for _, receiver := range []string{"Go", "Node"} {
		if err := c.connectClients(receiver); err != nil {
			return err
		}
		// A first, unreported run warms up the connections and both runtimes.
		if _, err := c.measureLatency(publishers[0]); err != nil {
			return fmt.Errorf("warm-up run to the %s server: %w", receiver, err)
		}
		latencies[receiver] = map[string]latency{}
		for _, p := range publishers {
			l, err := c.measureLatency(p)
			if err != nil {
				return fmt.Errorf("latency of %s to the %s server: %w", p.name, receiver, err)
			}
			latencies[receiver][p.name] = l
		}
		if err := c.disconnectClients(); err != nil {
			return err
		}
	}

	rates := map[string]float64{}
	for _, p := range publishers {
		elapsed, err := p.publishMany(cfg.messages)
		if err != nil {
			return fmt.Errorf("publish rate of %s: %w", p.name, err)
		}
		rates[p.name] = float64(cfg.messages) / elapsed.Seconds()
	}

	printReport(cfg, publishers, rates, latencies)
	return nil
}

// latency is the result of one latency run.
type latency struct {
	Received int      `json:"received"`
	P50      *float64 `json:"p50"`
	P99      *float64 `json:"p99"`
}

func printReport(cfg config, publishers []*publisher, rates map[string]float64,
	latencies map[string]map[string]latency,
) {
	fmt.Println("| Publisher | Published msg/s | Go server p50 / p99 (ms) | " +
		"Node server p50 / p99 (ms) |")
	fmt.Println("|---|---:|---:|---:|")
	expected := cfg.clients * cfg.latencyMessages
	for _, p := range publishers {
		fmt.Printf("| %s | %.0f | %s | %s |\n", p.name, rates[p.name],
			formatLatency(latencies["Go"][p.name], expected),
			formatLatency(latencies["Node"][p.name], expected))
	}
}

func formatLatency(l latency, expected int) string {
	if l.P50 == nil || l.P99 == nil {
		return "no delivery"
	}
	out := fmt.Sprintf("%.1f / %.1f", *l.P50, *l.P99)
	if l.Received != expected {
		out += fmt.Sprintf(" (%d of %d delivered)", l.Received, expected)
	}
	return out
}

// publisher sends benchmark messages through one of the four paths.
type publisher struct {
	name string

	// publishMany publishes n messages as fast as the path allows and returns the time
	// until the last one reached Redis.
	publishMany func(n int) (time.Duration, error)

	// send publishes one latency probe stamped with the current wall clock.
	send func(seq int) error

	// sendAll, when set, replaces the send loop: it runs in the Node peer, so the probes
	// do not cross the pipe to Node one by one.
	sendAll func(count, rate int) error
}

// concurrently calls fn n times from workers goroutines and returns the elapsed time.
func concurrently(n, workers int, fn func(i int) error) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// nowMillis returns the wall clock in milliseconds, the unit the clients compare with.
func nowMillis() float64 {
	return float64(time.Now().UnixNano()) / 1e6
}
