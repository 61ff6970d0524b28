package main

import (
	"context"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/jobs/realtime"
	"github.com/portnimara/nimara/queues"
	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/store"
)

// WorkerOptions are the settings of nimara worker.
type WorkerOptions struct {
	Factory *Factory

	// Queues are the queues to consume. Empty means every queue that has handlers.
	Queues []string
	// Concurrency overrides the catalog concurrency of some queues.
	Concurrency     map[string]int
	ShutdownTimeout time.Duration
	LockDuration    time.Duration
	StalledInterval time.Duration
	// MetricsAddr is the listen address of /metrics, /healthz and /readyz. Empty serves
	// none of them.
	MetricsAddr string
	// SweepInterval is the period of the dead-letter sweeper.
	SweepInterval time.Duration
	// SampleInterval is the period of the queue depth sampler.
	SampleInterval time.Duration
}

func newCmdWorker(f *Factory, runF func(context.Context, *WorkerOptions) error) *cobra.Command {
	opts := &WorkerOptions{Factory: f}

	cmd := &cobra.Command{
		Use:   "worker [flags]",
		Short: "Process jobs of the CRM's queues",
		Long: `Run BullMQ workers for the chosen queues until SIGINT or SIGTERM.

Each queue runs with its catalog concurrency unless --concurrency overrides it. On
SIGINT or SIGTERM the workers stop fetching, let active jobs finish within
--shutdown-timeout, and the process exits 0. Jobs still running after the timeout stay
active, and a stalled-job check of another worker runs them again.

Jobs stored without attempts or backoff get their queue's policy. A job that fails for
good gets an entry in the dead-letter queue, a system:jobFailed event in room global
and a notification for every super admin. One elected worker process sweeps the failed
sets of all queues every --dlq-sweep-interval for failures without an entry, and
samples the queue depths for the metrics.

--metrics-addr (env NIMARA_METRICS_ADDR, default :9464) serves /metrics, /healthz and
/readyz; an empty address serves nothing.`,
		Example: `  # Run every queue that has handlers
  $ nimara worker

  # Run only notifications, with 20 jobs at a time
  $ nimara worker --queues notifications --concurrency notifications=20`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateWorkerOptions(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWorker(cmd.Context(), opts)
		},
	}

	cmd.Flags().StringSliceVar(&opts.Queues, "queues", nil,
		"comma-separated queues to consume (default: every queue with handlers)")
	cmd.Flags().StringToIntVar(&opts.Concurrency, "concurrency", nil,
		"jobs run at once per queue, as queue=n,... (default: the catalog's)")
	// pflag prints a map flag's empty default as "(default [])" after the usage, which
	// already names the default. An empty DefValue counts as no default, so it is left out.
	cmd.Flags().Lookup("concurrency").DefValue = ""
	cmd.Flags().DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", 30*time.Second,
		"how long active jobs may run after SIGTERM")
	cmd.Flags().DurationVar(&opts.LockDuration, "lock-duration", 30*time.Second,
		"lifetime of a job lock that is not renewed")
	cmd.Flags().DurationVar(&opts.StalledInterval, "stalled-interval", 30*time.Second,
		"period of the stalled-job check")
	cmd.Flags().StringVar(&opts.MetricsAddr, "metrics-addr", defaultMetricsAddr(f),
		"listen address of /metrics, /healthz and /readyz (env NIMARA_METRICS_ADDR)")
	cmd.Flags().DurationVar(&opts.SweepInterval, "dlq-sweep-interval", time.Second,
		"period of the dead-letter sweep of the failed sets")
	cmd.Flags().DurationVar(&opts.SampleInterval, "depth-sample-interval", 15*time.Second,
		"period of the queue depth sampling for the metrics")
	return cmd
}

// validateWorkerOptions fills the default queues and rejects names that no worker can run.
func validateWorkerOptions(opts *WorkerOptions) error {
	withHandlers := queues.DefaultRegistry(queues.Deps{}).Queues()
	if len(opts.Queues) == 0 {
		opts.Queues = withHandlers
	}

	for _, name := range opts.Queues {
		if _, ok := queues.Lookup(name); !ok {
			return &usageError{err: &queues.UnknownQueueError{Name: name}}
		}
		if !slices.Contains(withHandlers, name) {
			return usageErrorf("queue %q has no handlers in this build: use %s", name,
				strings.Join(withHandlers, ", "))
		}
	}
	for name, n := range opts.Concurrency {
		if !slices.Contains(opts.Queues, name) {
			return usageErrorf("--concurrency names queue %q, which is not in --queues", name)
		}
		if n < 1 {
			return usageErrorf("invalid --concurrency %s=%d: must be at least 1", name, n)
		}
	}
	for flag, d := range map[string]time.Duration{"shutdown-timeout": opts.ShutdownTimeout,
		"lock-duration": opts.LockDuration, "stalled-interval": opts.StalledInterval} {
		if d < 0 {
			return usageErrorf("invalid --%s %s: must not be negative", flag, d)
		}
	}
	for flag, d := range map[string]time.Duration{"dlq-sweep-interval": opts.SweepInterval,
		"depth-sample-interval": opts.SampleInterval} {
		if d <= 0 {
			return usageErrorf("invalid --%s %s: must be positive", flag, d)
		}
	}
	return nil
}

func runWorker(ctx context.Context, opts *WorkerOptions) error {
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	logger := cfg.Logger(opts.Factory.ErrOut)

	rdb, err := openWorkerRedis(ctx, cfg.RedisURL, workerPoolSize(opts))
	if err != nil {
		return err
	}
	defer rdb.Close()

	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	pub := realtime.NewEmitterPublisher(emitter.New(rdb, emitter.Options{Key: cfg.SocketIOKey}))
	registry := queues.DefaultRegistry(queues.Deps{DB: pool, Publisher: pub, Logger: logger})

	reg := prometheus.NewRegistry()
	metrics, err := queues.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	deadLetter := queues.NewDeadLetter(rdb, queues.DeadLetterConfig{
		Prefix: cfg.Prefix, Publisher: pub, Logger: logger})

	hostname, _ := os.Hostname()
	workers, err := registry.NewWorkers(rdb, opts.Queues, queues.WorkerConfig{
		Prefix:          cfg.Prefix,
		Concurrency:     opts.Concurrency,
		ShutdownTimeout: opts.ShutdownTimeout,
		LockDuration:    opts.LockDuration,
		StalledInterval: opts.StalledInterval,
		Name:            fmt.Sprintf("nimara:%s:%d", hostname, os.Getpid()),
		Logger:          logger,
		Metrics:         metrics,
		DeadLetter:      deadLetter,
	})
	if err != nil {
		return err
	}
	runner := queues.NewRunner(workers)

	stopOps, err := startOps(ctx, opsDeps{opts: opts, cfg: cfg, logger: logger, rdb: rdb,
		pool: pool, reg: reg, metrics: metrics, deadLetter: deadLetter, runner: runner})
	if err != nil {
		return err
	}
	defer stopOps()

	logger.InfoContext(ctx, "Worker process starting",
		slog.Any("queues", opts.Queues),
		slog.String("prefix", cfg.Prefix),
		slog.String("socketio_key", cfg.SocketIOKey),
		slog.Duration("shutdown_timeout", opts.ShutdownTimeout))

	// A shutdown timeout that cut jobs short comes back as bullmq.ErrShutdownTimeout, so the
	// process exits 1; those jobs stay active until a live worker's stalled check.
	if err := runner.Run(ctx); err != nil {
		return err
	}

	logger.Info("Worker process stopped", slog.Any("queues", opts.Queues))
	return nil
}

// openRedis connects to url and checks the server with PING.
func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	ropts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("invalid Redis URL: %w", err)
	}
	return dialRedis(ctx, ropts)
}

// openWorkerRedis is openRedis with a connection pool of poolSize, unless the URL sets
// pool_size itself.
func openWorkerRedis(ctx context.Context, url string, poolSize int) (*redis.Client, error) {
	ropts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("invalid Redis URL: %w", err)
	}
	if parsed, err := neturl.Parse(url); err == nil && !parsed.Query().Has("pool_size") {
		ropts.PoolSize = poolSize
	}
	return dialRedis(ctx, ropts)
}

// workerPoolSize returns the Redis pool size of a worker process. It allows one connection
// per job that may run at once, for processors that use Redis. Each queue's worker gets 5
// more: 2 for its pipelined finishing scripts and one each for fetching, lock renewal and
// the stalled check. The last 10 serve the dead-letter sweeper and the depth sampler.
func workerPoolSize(opts *WorkerOptions) int {
	size := 10
	for _, name := range opts.Queues {
		q, _ := queues.Lookup(name)
		concurrency := q.Concurrency
		if n, ok := opts.Concurrency[name]; ok {
			concurrency = n
		}
		size += concurrency + 5
	}
	return size
}

func dialRedis(ctx context.Context, ropts *redis.Options) (*redis.Client, error) {
	rdb := redis.NewClient(ropts)

	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	if err := rdb.Ping(pingCtx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", ropts.Addr, err)
	}
	return rdb, nil
}
