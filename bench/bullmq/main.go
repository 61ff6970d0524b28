// Command bullmq benchmarks the Go BullMQ worker of package bullmq against the Node bullmq
// worker pinned in interop/package.json, in one run against one Redis server.
//
// Each side runs in a process of its own (gopeer, built from ./gopeer, and
// nodepeer/peer.mjs), on identical job sets: same job count, same JSON payload, same
// default job options. For every side it measures:
//
//   - queue.addBulk / Queue.AddBulk jobs/s;
//   - jobs/s at each concurrency, from the start of consumption to the last completion,
//     with the queue filled beforehand;
//   - Redis CPU time per job, from INFO cpu, and the Redis commands per job, from INFO
//     commandstats;
//   - CPU time per job and peak RSS (VmHWM) of each peer process.
//
// It prints the medians over the runs with the Go/Node ratio.
//
// Run it from the repository root, with the Node packages installed in interop/:
//
//	go run ./bench/bullmq -jobs 20000
//
// Every run uses a fresh key prefix and deletes its keys at the end, and never FLUSHDB.
// Other clients of the same Redis server add to the CPU and command counts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	cfg := config{out: os.Stdout}
	fs := flag.NewFlagSet("bullmq", flag.ContinueOnError)
	fs.IntVar(&cfg.jobs, "jobs", 20000, "jobs per scenario")
	fs.IntVar(&cfg.runs, "runs", 3, "repetitions of every scenario; the table shows medians")
	fs.IntVar(&cfg.batch, "batch", 100, "jobs per addBulk call")
	fs.IntVar(&cfg.payloadBytes, "payload", 200, "size in bytes of each job's JSON data")
	concurrency := fs.String("concurrency", "1,50", "comma-separated worker concurrencies")
	fs.StringVar(&cfg.redisURL, "redis", defaultRedisURL(), "Redis URL (default $REDIS_URL)")
	fs.StringVar(&cfg.root, "root", ".", "repository root, which contains interop/")
	fs.StringVar(&cfg.nodeBin, "node", "node", "Node.js executable")
	fs.StringVar(&cfg.goBin, "go", "go", "Go executable that builds gopeer")
	fs.IntVar(&cfg.goPoolSize, "go-pool-size", 0,
		"go-redis pool size of gopeer (0: the concurrency plus 10)")
	fs.StringVar(&cfg.goOverlay, "go-overlay", "",
		"JSON file passed to go build -overlay when building gopeer")
	fs.StringVar(&cfg.goCPUProfile, "go-cpuprofile", "",
		"write a CPU profile of gopeer's processing at the highest concurrency to this file")
	fs.DurationVar(&cfg.scenarioTimeout, "scenario-timeout", 10*time.Minute,
		"maximum time for one peer process, from start to exit")
	fs.BoolVar(&cfg.verbose, "v", false, "print every run's numbers, not only the medians")
	fs.BoolVar(&cfg.peerStderr, "peer-stderr", false,
		"copy the peer processes' stderr to stderr, for GODEBUG=gctrace=1 and the like")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}

	levels, err := parseConcurrency(*concurrency)
	if err != nil {
		return config{}, err
	}
	cfg.concurrency = levels

	switch {
	case cfg.jobs <= 0:
		return config{}, fmt.Errorf("invalid -jobs %d: must be positive", cfg.jobs)
	case cfg.runs <= 0:
		return config{}, fmt.Errorf("invalid -runs %d: must be positive", cfg.runs)
	case cfg.batch <= 0:
		return config{}, fmt.Errorf("invalid -batch %d: must be positive", cfg.batch)
	case cfg.payloadBytes < minPayloadBytes:
		return config{}, fmt.Errorf("invalid -payload %d: must be at least %d bytes",
			cfg.payloadBytes, minPayloadBytes)
	}
	return cfg, nil
}

func parseConcurrency(list string) ([]int, error) {
	var levels []int
	for field := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid -concurrency %q: want positive integers, such as 1,50",
				list)
		}
		levels = append(levels, n)
	}
	return levels, nil
}

func defaultRedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}
