// Command flows measures job scheduler and flow throughput of package bullmq against the
// Node bullmq pinned in interop/package.json, in one run against one Redis server.
//
// Scenarios, each run once per side on a fresh key prefix:
//
//   - upsert: n UpsertJobScheduler calls (every 1h, distinct ids), inFlight at a time;
//   - schedWork: a worker at the given concurrency runs the n first iterations of n
//     schedulers; each activation also creates the scheduler's next iteration (delayed);
//   - flowAdd: n FlowProducer.Add calls, each a parent with k children in another queue;
//   - flowWork: workers on both queues run n such flows until every parent completes.
//
// The stored jobs of schedWork and flowWork are written by Go for both sides, so both
// workers get identical data. The Node side runs bench/flows/node.mjs in its own process;
// the Go side runs in this process. Run from the repository root:
//
//	go run ./bench/flows -n 2000 -children 10 -runs 3
//
// Every run uses a fresh key prefix, deletes its keys at the end, and never runs FLUSHDB.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
)

type config struct {
	n, children, concurrency, inFlight, runs int
	redisURL                                 string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 2000, "schedulers or flows per scenario")
	flag.IntVar(&cfg.children, "children", 10, "children per flow")
	flag.IntVar(&cfg.concurrency, "concurrency", 50, "worker concurrency")
	flag.IntVar(&cfg.inFlight, "in-flight", 50, "upsert and flow add calls pending at a time")
	flag.IntVar(&cfg.runs, "runs", 3, "repetitions; the median is reported")
	flag.StringVar(&cfg.redisURL, "redis", envOr("REDIS_URL", "redis://127.0.0.1:6379"),
		"Redis URL")
	flag.Parse()

	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "flows:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// scenario measures one side and returns the elapsed seconds.
type scenario struct {
	name  string
	unit  func(cfg config) float64 // items per run, for the rate
	label string
	setup func(ctx context.Context, b *bench) error
	goRun func(ctx context.Context, b *bench) (float64, error)
}

// bench is one run of one scenario on one side.
type bench struct {
	cfg                     config
	client                  *redis.Client
	prefix                  string
	parentName, childName   string
	parentQueue, childQueue *bullmq.Queue
}

func run(ctx context.Context, cfg config) error {
	opts, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("parse Redis URL: %w", err)
	}
	opts.PoolSize = 100
	client := redis.NewClient(opts)
	defer client.Close()

	scenarios := []scenario{
		{name: "upsert", label: "upsertJobScheduler calls/s",
			unit: func(c config) float64 { return float64(c.n) }, goRun: goUpsert},
		{name: "schedWork", label: "scheduler iterations run/s",
			unit:  func(c config) float64 { return float64(c.n) },
			setup: func(ctx context.Context, b *bench) error { _, err := goUpsert(ctx, b); return err },
			goRun: goSchedWork},
		{name: "flowAdd", label: "flows added/s",
			unit: func(c config) float64 { return float64(c.n) }, goRun: goFlowAdd},
		{name: "flowWork", label: "flow jobs run/s",
			unit:  func(c config) float64 { return float64(c.n * (c.children + 1)) },
			setup: func(ctx context.Context, b *bench) error { _, err := goFlowAdd(ctx, b); return err },
			goRun: goFlowWork},
	}

	fmt.Printf("n=%d children=%d concurrency=%d in-flight=%d runs=%d\n\n", cfg.n,
		cfg.children, cfg.concurrency, cfg.inFlight, cfg.runs)
	fmt.Println("| Scenario | Node | Go | Go/Node |")
	fmt.Println("|---|---:|---:|---:|")
	for _, sc := range scenarios {
		var nodeRates, goRates []float64
		for r := range cfg.runs {
			sides := []string{"node", "go"}
			if r%2 == 1 {
				sides = []string{"go", "node"}
			}
			for _, side := range sides {
				secs, err := measure(ctx, cfg, client, sc, side)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", sc.name, side, err)
				}
				rate := sc.unit(cfg) / secs
				if side == "go" {
					goRates = append(goRates, rate)
				} else {
					nodeRates = append(nodeRates, rate)
				}
			}
		}
		n, g := median(nodeRates), median(goRates)
		fmt.Printf("| %s | %.0f | %.0f | %.2f |\n", sc.label, n, g, g/n)
	}
	return nil
}

// measure runs one scenario on one side with a fresh prefix and deletes its keys after.
func measure(ctx context.Context, cfg config, client *redis.Client, sc scenario,
	side string) (float64, error) {
	b := &bench{cfg: cfg, client: client, prefix: "bench{" + randomHex() + "}",
		parentName: "flowsbench", childName: "flowsbenchchild"}
	b.parentQueue = bullmq.NewQueue(client, b.parentName, bullmq.QueueOpts{Prefix: b.prefix})
	b.childQueue = bullmq.NewQueue(client, b.childName, bullmq.QueueOpts{Prefix: b.prefix})
	defer deleteKeys(ctx, client, b.prefix)

	if sc.setup != nil {
		if err := sc.setup(ctx, b); err != nil {
			return 0, fmt.Errorf("setup: %w", err)
		}
	}
	if side == "go" {
		return sc.goRun(ctx, b)
	}
	return runNode(ctx, b, sc.name)
}

func runNode(ctx context.Context, b *bench, name string) (float64, error) {
	arg, err := json.Marshal(map[string]any{"scenario": name, "prefix": b.prefix,
		"queue": b.parentName, "childQueue": b.childName, "n": b.cfg.n,
		"children": b.cfg.children, "concurrency": b.cfg.concurrency,
		"inFlight": b.cfg.inFlight})
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, "node", "bench/flows/node.mjs", string(arg))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("node: %w", err)
	}
	var res struct {
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, fmt.Errorf("node output %q: %w", out, err)
	}
	return res.Seconds, nil
}

// pooled runs fn(i) for i in [0, n) on inFlight goroutines and returns the first error.
func pooled(n, inFlight int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(inFlight, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func goUpsert(ctx context.Context, b *bench) (float64, error) {
	start := time.Now()
	err := pooled(b.cfg.n, b.cfg.inFlight, func(i int) error {
		_, err := b.parentQueue.UpsertJobScheduler(ctx, fmt.Sprintf("s%d", i),
			bullmq.RepeatOpts{Every: time.Hour},
			bullmq.JobTemplate{Name: "tick", Data: map[string]int{"i": i}})
		return err
	})
	return time.Since(start).Seconds(), err
}

func goFlowAdd(ctx context.Context, b *bench) (float64, error) {
	fp := bullmq.NewFlowProducer(b.client, bullmq.FlowProducerOpts{Prefix: b.prefix})
	start := time.Now()
	err := pooled(b.cfg.n, b.cfg.inFlight, func(i int) error {
		children := make([]bullmq.FlowJob, b.cfg.children)
		for c := range children {
			children[c] = bullmq.FlowJob{Name: "child", QueueName: b.childName,
				Data: map[string]int{"i": i, "c": c}}
		}
		_, err := fp.Add(ctx, bullmq.FlowJob{Name: "parent", QueueName: b.parentName,
			Data: map[string]int{"i": i}, Children: children})
		return err
	})
	return time.Since(start).Seconds(), err
}

func goSchedWork(ctx context.Context, b *bench) (float64, error) {
	return goWork(ctx, b, []*bullmq.Queue{b.parentQueue}, b.cfg.n)
}

func goFlowWork(ctx context.Context, b *bench) (float64, error) {
	return goWork(ctx, b, []*bullmq.Queue{b.childQueue, b.parentQueue}, b.cfg.n)
}

// goWork runs a worker per queue until the last queue's worker completed want jobs.
func goWork(ctx context.Context, b *bench, queues []*bullmq.Queue, want int) (float64,
	error) {
	var done atomic.Int64
	finished := make(chan struct{})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	start := time.Now()
	var wg sync.WaitGroup
	for i, q := range queues {
		opts := bullmq.WorkerOpts{Prefix: b.prefix, Concurrency: b.cfg.concurrency}
		if i == len(queues)-1 {
			opts.OnCompleted = func(*bullmq.Job, json.RawMessage) {
				if done.Add(1) == int64(want) {
					close(finished)
				}
			}
		}
		w := bullmq.NewWorker(b.client, q.Name(), func(context.Context, *bullmq.Job) (any,
			error) {
			return map[string]bool{"ok": true}, nil
		}, opts)
		wg.Go(func() { _ = w.Run(runCtx) })
	}

	select {
	case <-finished:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("timed out after %d of %d completions", done.Load(), want)
	}
	secs := time.Since(start).Seconds()
	cancel()
	wg.Wait()
	return secs, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// deleteKeys unlinks every key under the prefix with SCAN.
func deleteKeys(ctx context.Context, client *redis.Client, prefix string) {
	iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			client.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		client.Unlink(ctx, batch...)
	}
}
