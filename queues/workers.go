package queues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
}

// NewWorkers builds one bullmq worker per queue in names, with the catalog concurrency
// unless cfg overrides it. It fails for a name outside the catalog, for a queue without
// handlers, for a concurrency override of a queue that is not in names, and for a
// concurrency below 1.
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

		w := bullmq.NewWorker(client, name, r.Processor(name), bullmq.WorkerOpts{
			Prefix:          cfg.Prefix,
			Concurrency:     concurrency,
			LockDuration:    cfg.LockDuration,
			StalledInterval: cfg.StalledInterval,
			ShutdownTimeout: cfg.ShutdownTimeout,
			Name:            cfg.Name,
			Logger:          logger,
		})
		workers = append(workers, w)
	}
	return workers, nil
}

// Run runs every worker until ctx ends and each has drained its active jobs. When one
// worker returns an error, Run stops the others and returns the errors joined.
func Run(ctx context.Context, workers []*bullmq.Worker) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, w := range workers {
		wg.Go(func() {
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
