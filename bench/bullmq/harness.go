package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
)

// config is the parsed command line.
type config struct {
	jobs         int
	runs         int
	batch        int
	payloadBytes int
	concurrency  []int
	redisURL     string
	root         string
	nodeBin      string
	goBin        string
	goPoolSize   int
	goCPUProfile string
	// goOverlay is passed to go build -overlay, to measure a changed bullmq without
	// editing the checkout.
	goOverlay string
	// scenarioTimeout bounds one peer process, from start to exit.
	scenarioTimeout time.Duration
	verbose         bool
	// peerStderr copies the peers' stderr to the harness's stderr as it is written.
	peerStderr bool
	out        io.Writer
}

// side names the implementation a peer process runs.
type side string

const (
	sideNode side = "node"
	sideGo   side = "go"
)

// scenario is one measured workload: adding jobs, or processing them at a concurrency.
type scenario struct {
	add         bool
	concurrency int
}

func (s scenario) String() string {
	if s.add {
		return "add"
	}
	return fmt.Sprintf("c%d", s.concurrency)
}

// measurement is the result of one scenario on one side.
type measurement struct {
	side     side
	scenario scenario
	run      int
	jobs     int
	elapsed  time.Duration
	// redisCPU is the server's CPU time (user+sys) spent during the measured interval.
	redisCPU time.Duration
	// peerCPU is the peer process's CPU time (user+sys) during the measured interval, in
	// steps of 10ms.
	peerCPU time.Duration
	// peakRSSKiB is VmHWM of the peer process, read once the scenario is done.
	peakRSSKiB int64
	commands   map[string]commandStat
}

// bench holds what every measurement of one invocation shares.
type bench struct {
	cfg    config
	client *redis.Client
	prefix string
	data   string
	gopeer string
	// goProfiled is set once the Go CPU profile was written, so only one run writes it.
	goProfiled bool
}

// run measures every scenario cfg.runs times on both sides and prints the report.
func run(ctx context.Context, cfg config) error {
	b, cleanup, err := newBench(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()

	info, err := describeMachine(ctx, cfg, b.client)
	if err != nil {
		return err
	}
	fmt.Fprint(cfg.out, info)

	var results []measurement
	for r := range cfg.runs {
		for _, sc := range b.scenarios() {
			for _, s := range sideOrder(r) {
				m, err := b.measure(ctx, s, sc, r)
				if err != nil {
					return fmt.Errorf("run %d, %s, %s side: %w", r+1, sc, s, err)
				}
				if cfg.verbose {
					printMeasurement(cfg.out, m)
				}
				results = append(results, m)
			}
		}
	}

	fmt.Fprintf(cfg.out, "load average at end: %s\n\n", loadAverage())
	printReport(cfg.out, cfg, results)
	return nil
}

// newBench connects to Redis, builds gopeer and picks a fresh key prefix. The returned
// cleanup deletes every key under that prefix and removes the build directory.
func newBench(ctx context.Context, cfg config) (*bench, func(), error) {
	opts, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid Redis URL %q: %w", cfg.redisURL, err)
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("ping Redis at %s: %w", opts.Addr, err)
	}

	buildDir, err := os.MkdirTemp("", "nimara-bench-")
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("create build directory: %w", err)
	}

	b := &bench{
		cfg:    cfg,
		client: client,
		prefix: "bench{" + randomHex() + "}",
		data:   payload(cfg.payloadBytes),
		gopeer: filepath.Join(buildDir, "gopeer"),
	}
	cleanup := func() {
		// The run context may be cancelled already, so deleting keys gets its own.
		delCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := deleteKeys(delCtx, client, b.prefix+":*"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: deleting keys under %s: %v\n", b.prefix, err)
		}
		_ = client.Close()
		_ = os.RemoveAll(buildDir)
	}

	if err := b.buildGoPeer(ctx); err != nil {
		cleanup()
		return nil, nil, err
	}
	return b, cleanup, nil
}

func (b *bench) buildGoPeer(ctx context.Context) error {
	args := []string{"build", "-o", b.gopeer}
	if b.cfg.goOverlay != "" {
		args = append(args, "-overlay", b.cfg.goOverlay)
	}
	cmd := exec.CommandContext(ctx, b.cfg.goBin, append(args, "./bench/bullmq/gopeer")...)
	cmd.Dir = b.cfg.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build gopeer in %s: %w\n%s", b.cfg.root, err, out)
	}
	return nil
}

func (b *bench) scenarios() []scenario {
	list := []scenario{{add: true}}
	for _, c := range b.cfg.concurrency {
		list = append(list, scenario{concurrency: c})
	}
	return list
}

// sideOrder alternates which side goes first, so a drift in machine load does not always
// favour the same side.
func sideOrder(run int) []side {
	if run%2 == 0 {
		return []side{sideNode, sideGo}
	}
	return []side{sideGo, sideNode}
}

// measure runs one scenario on one side in a fresh queue and deletes that queue's keys.
func (b *bench) measure(ctx context.Context, s side, sc scenario, run int) (measurement, error) {
	queue := fmt.Sprintf("%s-%s-r%d", sc, s, run+1)
	defer func() {
		if err := deleteKeys(context.WithoutCancel(ctx), b.client,
			b.prefix+":"+queue+":*"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: deleting keys of queue %s: %v\n", queue, err)
		}
	}()

	if !sc.add {
		if err := b.fill(ctx, queue); err != nil {
			return measurement{}, err
		}
	}

	m, err := b.runPeer(ctx, s, sc, queue)
	if err != nil {
		return measurement{}, err
	}
	m.run = run

	if !sc.add {
		if err := b.checkCompleted(ctx, queue); err != nil {
			return measurement{}, err
		}
	}
	return m, nil
}

// fill adds the scenario's jobs with the Go producer, so both workers get the same stored
// jobs whichever side is measured.
func (b *bench) fill(ctx context.Context, queue string) error {
	const fillBatch = 1000

	q := bullmq.NewQueue(b.client, queue, bullmq.QueueOpts{Prefix: b.prefix})
	data := []byte(b.data)
	batch := make([]bullmq.BulkJob, 0, fillBatch)
	for added := 0; added < b.cfg.jobs; added += len(batch) {
		batch = batch[:0]
		for i := added; i < b.cfg.jobs && len(batch) < fillBatch; i++ {
			batch = append(batch, bullmq.BulkJob{Name: "bench", Data: json.RawMessage(data)})
		}
		if _, err := q.AddBulk(ctx, batch); err != nil {
			return fmt.Errorf("fill queue %s: %w", queue, err)
		}
	}
	return nil
}

// checkCompleted verifies that every job of the queue ended in the completed set.
func (b *bench) checkCompleted(ctx context.Context, queue string) error {
	q := bullmq.NewQueue(b.client, queue, bullmq.QueueOpts{Prefix: b.prefix})
	counts, err := q.GetJobCounts(ctx, "completed")
	if err != nil {
		return fmt.Errorf("count completed jobs of %s: %w", queue, err)
	}
	if got := counts["completed"]; got != int64(b.cfg.jobs) {
		return fmt.Errorf("queue %s has %d completed jobs, want %d", queue, got, b.cfg.jobs)
	}
	return nil
}

func randomHex() string {
	var buf [4]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

var errPeerProtocol = errors.New("unexpected peer output")
