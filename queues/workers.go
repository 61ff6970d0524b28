package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
)

// WorkerConfig configures the workers that NewWorkers builds.
type WorkerConfig struct {
	// Prefix is the BullMQ key prefix. Default "bull".
	Prefix string
	// Concurrency overrides the catalog concurrency of some queues, by queue name.
	Concurrency map[string]int
	// ShutdownTimeout bounds the wait for active jobs once the run context ends.
	// Default 0: wait until they finish.
	ShutdownTimeout time.Duration
	// LockDuration is how long a job's lock lives without renewal. Default 30s (bullmq's).
	LockDuration time.Duration
	// StalledInterval is the period of the stalled-job check. Default 30s (bullmq's).
	StalledInterval time.Duration
	// Name is stored as the processed-by field of the jobs. Default empty.
	Name string
	// Logger receives the workers' logs, which include one line per failed job attempt.
	// Nil discards them.
	Logger *slog.Logger
	// BackoffUnit scales the CRM backoff (1, 10, 100 units). Default BackoffBase (1s);
	// tests shorten it.
	BackoffUnit time.Duration
	// Metrics, when set, receives the workers' job metrics.
	Metrics *Metrics
	// DeadLetter, when set, records each job that fails for good as soon as its worker
	// stored the failure.
	DeadLetter *DeadLetter
}

// NewWorkers builds one bullmq worker per queue in names, with the catalog concurrency
// unless cfg overrides it, and the queue's retry policy for jobs stored without attempts or
// backoff (as Node stores a job added without options). It fails for a name outside the
// catalog, for a queue without handlers, for a concurrency override of a queue that is not
// in names, and for a concurrency below 1.
func (r *Registry) NewWorkers(client redis.UniversalClient, names []string, cfg WorkerConfig,
) ([]*bullmq.Worker, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	selected := map[string]bool{}
	for _, name := range names {
		if _, ok := Lookup(name); !ok {
			return nil, &UnknownQueueError{Name: name}
		}
		if len(r.handlers[name]) == 0 {
			return nil, fmt.Errorf("queue %q has no handlers in this build: use one of %v",
				name, r.Queues())
		}
		selected[name] = true
	}
	for name, n := range cfg.Concurrency {
		if !selected[name] {
			return nil, fmt.Errorf("concurrency set for queue %q, which this worker does "+
				"not run", name)
		}
		if n < 1 {
			return nil, fmt.Errorf("invalid concurrency %d for queue %s: must be at least 1",
				n, name)
		}
	}

	workers := make([]*bullmq.Worker, 0, len(names))
	for _, name := range names {
		q, _ := Lookup(name)
		concurrency := q.Concurrency
		if n, ok := cfg.Concurrency[name]; ok {
			concurrency = n
		}

		opts := bullmq.WorkerOpts{
			Prefix:            cfg.Prefix,
			Concurrency:       concurrency,
			LockDuration:      cfg.LockDuration,
			StalledInterval:   cfg.StalledInterval,
			ShutdownTimeout:   cfg.ShutdownTimeout,
			Name:              cfg.Name,
			Logger:            logger,
			DefaultAttempts:   q.MaxAttempts,
			DefaultBackoff:    DefaultBackoff(),
			BackoffStrategies: BackoffStrategies(cfg.BackoffUnit),
		}
		process := r.Processor(name)
		if cfg.Metrics != nil {
			process = cfg.Metrics.instrument(name, r.handlerCheck(name), process)
		}
		r.addHooks(&opts, name, cfg, logger)

		workers = append(workers, bullmq.NewWorker(client, name, process, opts))
	}
	return workers, nil
}

// addHooks sets the worker callbacks that feed the metrics and the dead-letter queue.
func (r *Registry) addHooks(opts *bullmq.WorkerOpts, queue string, cfg WorkerConfig,
	logger *slog.Logger) {
	m, dl := cfg.Metrics, cfg.DeadLetter
	known := r.handlerCheck(queue)

	if m != nil {
		opts.OnCompleted = func(job *bullmq.Job, _ json.RawMessage) {
			m.observeCompleted(queue, jobNameLabel(job.Name, known))
		}
		opts.OnStalled = func(string) { m.observeStalled(queue) }
	}
	opts.OnFailed = func(job *bullmq.Job, jobErr error, final bool) {
		if m != nil {
			m.observeFailed(queue, jobNameLabel(job.Name, known), final)
		}
		if !final || dl == nil {
			return
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The fallback describes the failure if removeOnFail deleted the job already.
		fallback := *job
		fallback.FailedReason = jobErr.Error()
		fallback.AttemptsMade = job.AttemptsMade + 1
		recorded, err := dl.Record(ctx, queue, job.ID, &fallback)
		if err != nil {
			// The sweeper records the job later.
			logger.ErrorContext(ctx, "Recording a dead-letter entry failed",
				slog.String("job_id", job.ID), slog.Any("err", err))
			return
		}
		if recorded && m != nil {
			m.ObserveRecorded()
		}
	}
}

// Run runs every worker until ctx ends and each has drained its active jobs. When one
// worker returns an error, Run stops the others and returns the errors joined.
func Run(ctx context.Context, workers []*bullmq.Worker) error {
	return NewRunner(workers).Run(ctx)
}

// Runner runs a set of workers and reports whether all of them are running, for a
// readiness check.
type Runner struct {
	workers []*bullmq.Worker
	running atomic.Int64
	stopped atomic.Bool
}

// NewRunner returns a Runner for workers.
func NewRunner(workers []*bullmq.Worker) *Runner {
	return &Runner{workers: workers}
}

// Running reports whether every worker is inside its Run and shutdown has not begun.
func (r *Runner) Running() bool {
	return !r.stopped.Load() && len(r.workers) > 0 &&
		r.running.Load() == int64(len(r.workers))
}

// Run is the function Run, for the runner's workers.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopWatch := context.AfterFunc(ctx, func() { r.stopped.Store(true) })
	defer stopWatch()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, w := range r.workers {
		wg.Go(func() {
			r.running.Add(1)
			defer r.running.Add(-1)
			if err := w.Run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("worker for queue %s: %w", w.Queue().Name(), err))
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()

	return errors.Join(errs...)
}
