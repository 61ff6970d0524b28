// Command gopeer is the Go side of the BullMQ benchmark. The harness in bench/bullmq starts
// it as a process of its own, so its peak RSS is not mixed with the harness's memory.
//
// It runs one scenario, selected by --mode:
//
//	add   adds --jobs jobs with Queue.AddBulk in batches of --batch, each with --data
//	work  processes --jobs jobs already in the queue with --concurrency
//
// It speaks the same line protocol as nodepeer/peer.mjs. On stdout it writes
// {"event":"ready"} once connected. It then waits for the line "start" on stdin, runs the
// scenario and writes {"event":"done","elapsed_ms":<float>,"jobs":<n>}. It stops and exits
// 0 when stdin reaches EOF, so the harness can read /proc/<pid>/status before that.
// Errors go to stderr and end the process with status 1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
)

type config struct {
	mode        string
	redisURL    string
	prefix      string
	queue       string
	jobs        int
	concurrency int
	batch       int
	data        string
	poolSize    int
	cpuProfile  string
	memProfile  string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.mode, "mode", "", "scenario to run: add or work")
	flag.StringVar(&cfg.redisURL, "redis", "redis://127.0.0.1:6379", "Redis URL")
	flag.StringVar(&cfg.prefix, "prefix", "", "BullMQ key prefix")
	flag.StringVar(&cfg.queue, "queue", "", "queue name")
	flag.IntVar(&cfg.jobs, "jobs", 0, "number of jobs to add or process")
	flag.IntVar(&cfg.concurrency, "concurrency", 1, "worker concurrency (work mode)")
	flag.IntVar(&cfg.batch, "batch", 100, "jobs per AddBulk call (add mode)")
	flag.StringVar(&cfg.data, "data", "{}", "job data as a JSON object (add mode)")
	flag.IntVar(&cfg.poolSize, "pool-size", 0,
		"go-redis connection pool size (0: --concurrency plus 10)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "",
		"write a CPU profile of the measured interval to this file")
	flag.StringVar(&cfg.memProfile, "memprofile", "",
		"write an allocation profile to this file when the scenario is done")
	flag.Parse()

	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "gopeer: %v\n", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}

	opts, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("invalid --redis %q: %w", cfg.redisURL, err)
	}
	// A pool larger than the concurrency, as the WorkerOpts.Concurrency docs ask, so the
	// peer measures the setting that cmd/nimara uses.
	opts.PoolSize = cfg.concurrency + 10
	if cfg.poolSize > 0 {
		opts.PoolSize = cfg.poolSize
	}
	client := redis.NewClient(opts)
	defer client.Close()

	ctx := context.Background()
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping Redis at %s: %w", opts.Addr, err)
	}

	stdin := bufio.NewScanner(os.Stdin)
	if cfg.mode == "add" {
		return runAdd(ctx, client, cfg, stdin)
	}
	return runWork(ctx, client, cfg, stdin)
}

func (c config) validate() error {
	switch {
	case c.mode != "add" && c.mode != "work":
		return fmt.Errorf("invalid --mode %q: use add or work", c.mode)
	case c.prefix == "" || c.queue == "":
		return errors.New("missing --prefix or --queue")
	case c.jobs <= 0:
		return fmt.Errorf("invalid --jobs %d: must be positive", c.jobs)
	case c.concurrency <= 0:
		return fmt.Errorf("invalid --concurrency %d: must be positive", c.concurrency)
	case c.batch <= 0:
		return fmt.Errorf("invalid --batch %d: must be positive", c.batch)
	case !json.Valid([]byte(c.data)):
		return fmt.Errorf("invalid --data %q: not JSON", c.data)
	}
	return nil
}

// runAdd adds cfg.jobs jobs in batches and reports the time the AddBulk calls took.
func runAdd(ctx context.Context, client *redis.Client, cfg config, stdin *bufio.Scanner) error {
	queue := bullmq.NewQueue(client, cfg.queue, bullmq.QueueOpts{
		Prefix: cfg.prefix,
		Logger: slog.New(slog.DiscardHandler),
	})
	batch := make([]bullmq.BulkJob, 0, cfg.batch)
	data := json.RawMessage(cfg.data)

	if err := handshake(stdin); err != nil {
		return err
	}
	stopProfile, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}

	start := time.Now()
	for added := 0; added < cfg.jobs; added += len(batch) {
		batch = batch[:0]
		for i := added; i < cfg.jobs && len(batch) < cfg.batch; i++ {
			batch = append(batch, bullmq.BulkJob{Name: "bench", Data: data})
		}
		if _, err := queue.AddBulk(ctx, batch); err != nil {
			return fmt.Errorf("add jobs %d to %d: %w", added, added+len(batch), err)
		}
	}
	elapsed := time.Since(start)

	stopProfile()
	if err := writeMemProfile(cfg.memProfile); err != nil {
		return err
	}
	return finish(elapsed, cfg.jobs, stdin)
}

// runWork processes cfg.jobs jobs and reports the time from Worker.Run to the last
// completion.
func runWork(ctx context.Context, client *redis.Client, cfg config, stdin *bufio.Scanner) error {
	var completed, failed atomic.Int64
	allDone := make(chan struct{})
	jobFailed := make(chan error, 1)

	process := func(context.Context, *bullmq.Job) (any, error) {
		return map[string]bool{"ok": true}, nil
	}
	worker := bullmq.NewWorker(client, cfg.queue, process, bullmq.WorkerOpts{
		Prefix:      cfg.prefix,
		Concurrency: cfg.concurrency,
		OnCompleted: func(*bullmq.Job, json.RawMessage) {
			if completed.Add(1) == int64(cfg.jobs) {
				close(allDone)
			}
		},
		OnFailed: func(job *bullmq.Job, err error, _ bool) {
			if failed.Add(1) == 1 {
				jobFailed <- fmt.Errorf("job %s failed: %w", job.ID, err)
			}
		},
	})

	if err := handshake(stdin); err != nil {
		return err
	}
	stopProfile, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}

	runCtx, stopWorker := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	start := time.Now()
	go func() { runErr <- worker.Run(runCtx) }()

	select {
	case <-allDone:
	case err := <-jobFailed:
		stopWorker()
		return err
	case err := <-runErr:
		stopWorker()
		return fmt.Errorf("worker stopped before the last job: %w", err)
	}
	elapsed := time.Since(start)
	stopProfile()
	if err := writeMemProfile(cfg.memProfile); err != nil {
		stopWorker()
		return err
	}

	if err := finish(elapsed, cfg.jobs, stdin); err != nil {
		stopWorker()
		return err
	}
	stopWorker()
	return <-runErr
}

// handshake reports readiness and waits for the harness's "start" line.
func handshake(stdin *bufio.Scanner) error {
	if err := writeEvent(map[string]any{"event": "ready"}); err != nil {
		return err
	}
	if !stdin.Scan() {
		return fmt.Errorf("stdin closed before start: %w", stdin.Err())
	}
	if line := stdin.Text(); line != "start" {
		return fmt.Errorf("unexpected line %q on stdin: want start", line)
	}
	return nil
}

// finish reports the result, then waits for stdin EOF, so the process and its peak RSS
// stay readable until the harness has read them.
func finish(elapsed time.Duration, jobs int, stdin *bufio.Scanner) error {
	err := writeEvent(map[string]any{
		"event":      "done",
		"elapsed_ms": float64(elapsed.Nanoseconds()) / 1e6,
		"jobs":       jobs,
	})
	if err != nil {
		return err
	}
	for stdin.Scan() {
	}
	return stdin.Err()
}

func writeEvent(ev map[string]any) error {
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

// startProfile starts a CPU profile when path is set and returns the function that stops
// it and closes the file.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// writeMemProfile writes the allocation profile to path when path is set.
func writeMemProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create memory profile: %w", err)
	}
	defer f.Close()

	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Errorf("write memory profile: %w", err)
	}
	return nil
}
