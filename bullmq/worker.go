package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// ProcessFunc processes one job. Its result is stored as the job's return value, encoded
// like JSON.stringify (nil becomes null). A returned error fails the attempt, and an error
// wrapped with Unrecoverable also skips the remaining attempts. The context is cancelled
// when the worker loses the job's lock or when ShutdownTimeout runs out.
type ProcessFunc func(ctx context.Context, job *Job) (any, error)

// BackoffFunc computes the delay before retrying a job whose backoff type is a custom name.
// attemptsMade counts the attempt that just failed (1 for the first). A negative delay
// fails the job for good, and zero retries at once.
type BackoffFunc func(attemptsMade int, typ string, err error, job *Job) time.Duration

// WorkerOpts configures a Worker. Durations are rounded to milliseconds, the unit BullMQ
// stores.
type WorkerOpts struct {
	// Prefix is the first part of every key. Default "bull".
	Prefix string
	// Concurrency is how many jobs the worker processes at the same time. Default 1.
	// Give the client a connection pool (go-redis PoolSize, by default 10 per GOMAXPROCS)
	// larger than Concurrency when processors use the same client. The worker itself
	// needs 2 connections for the pipelined finishing scripts of its jobs, and one each
	// for fetching, lock renewal and the stalled check.
	Concurrency int
	// LockDuration is how long a job's lock lives without renewal. A job whose lock expires
	// is recovered by a stalled check. Default 30s.
	LockDuration time.Duration
	// LockRenewTime is the longest time between two renewals of a job's lock.
	// Default LockDuration/2.
	LockRenewTime time.Duration
	// StalledInterval is the period of the stalled-job check, which also runs once at
	// start. Default 30s.
	StalledInterval time.Duration
	// MaxStalledCount is how many times a job may be recovered after stalling before the
	// next fetch fails it. Default 1.
	MaxStalledCount int
	// SkipStalledCheck disables this worker's stalled-job check (other workers may run it).
	SkipStalledCheck bool
	// SkipLockRenewal disables lock renewal, so jobs running longer than LockDuration are
	// recovered as stalled while they run.
	SkipLockRenewal bool
	// DrainDelay is how long the worker blocks waiting for a job when the queue is empty and
	// no delayed job is due, before it fetches again. Default 5s.
	DrainDelay time.Duration
	// Name is stored in the "pb" (processed by) field of every job the worker fetches and in
	// the name of its blocking connection. Default empty: no "pb" field.
	Name string
	// Logger receives the worker's logs. Default: logs are discarded.
	Logger *slog.Logger
	// Metrics, when set, records per-minute counts of finished jobs.
	Metrics *MetricsOpts
	// RemoveOnComplete applies to completed jobs whose options have no removeOnComplete.
	// Default nil: keep every completed job (Node's default).
	RemoveOnComplete *Retention
	// RemoveOnFail applies to failed jobs whose options have no removeOnFail.
	// Default nil: keep every failed job.
	RemoveOnFail *Retention
	// MaxStartedAttempts, when positive, fails a job at once (without running it) once it
	// has been started more than this many times, and stops retrying a job that has been
	// started this many times. Default 0: no limit.
	MaxStartedAttempts int
	// BackoffStrategies maps custom backoff type names to their delay functions.
	BackoffStrategies map[string]BackoffFunc
	// ShutdownTimeout is how long Run waits for active jobs after its context ends. After
	// it, processor contexts are cancelled and unfinished jobs stay active, to be recovered
	// by a stalled check. Default 0: wait until every job finishes.
	ShutdownTimeout time.Duration
	// PauseCompat selects where ready jobs go while a 5.x-style pause is in effect.
	// Default PauseAuto.
	PauseCompat PauseCompat
	// Limiter, when set, caps the job starts of every worker with a limiter on this queue
	// (see Limiter). A rate-limited worker pauses fetching until the limit expires, at most
	// 30s at a time. Default nil: only the queue's global rate limit applies.
	Limiter *Limiter

	// DefaultAttempts applies to jobs whose stored options have no attempts (or 0, which
	// Node stores when the producer set none): before the processor runs, the job's
	// Opts.Attempts is set to it, so retries and the final failure follow it. Default 0:
	// such jobs run once, as on a Node worker.
	DefaultAttempts int
	// DefaultBackoff applies in the same way to jobs whose stored options have no backoff.
	// Default nil: such jobs are retried at once.
	DefaultBackoff *Backoff

	// OnCompleted is called after a job was stored as completed, with its return value.
	OnCompleted func(job *Job, result json.RawMessage)
	// OnFailed is called after a failed attempt was stored. final is true when the job
	// will not be retried.
	OnFailed func(job *Job, err error, final bool)
	// OnError is called with worker-level errors: Redis unavailable, a lost lock, a
	// script that rejected a state change.
	OnError func(err error)
	// OnStalled is called with the id of each job that this worker's stalled check moved
	// back to wait.
	OnStalled func(jobID string)
}

const (
	defaultLockDuration    = 30 * time.Second
	defaultStalledInterval = 30 * time.Second
	defaultDrainDelay      = 5 * time.Second
	// maxBlockTimeout caps one BZPOPMIN wait, as Node does, so a dropped connection is
	// noticed within this time.
	maxBlockTimeout = 10 * time.Second
	// minBlockTimeout is the shortest BZPOPMIN wait for a delayed job that is almost due.
	minBlockTimeout = time.Millisecond
	// maxRateLimitDelay caps the sleep after a rate-limited fetch (Node's
	// maximumRateLimitDelay), so due delayed jobs keep being promoted.
	maxRateLimitDelay = 30 * time.Second
)

// ErrLockLost is the cause of a processor context cancelled because the job's lock could
// not be renewed: another worker may already be running the job.
var ErrLockLost = errors.New("bullmq: job lock lost")

// Worker fetches jobs from one queue and runs a ProcessFunc on each. It stores results,
// retries and failures with the keys, fields and events that Node bullmq 6.7.6 and 5.81.5
// workers write.
type Worker struct {
	queue  *Queue
	keys   queueKeys
	client redis.UniversalClient
	fn     ProcessFunc
	opts   WorkerOpts
	logger *slog.Logger

	// id prefixes lock tokens: "<id>:<n>".
	id       string
	tokenSeq atomic.Int64
	locks    *lockSet

	running atomic.Bool
	// limitUntil is the Unix ms time until which a rate limit pauses fetching, 0 for none.
	limitUntil atomic.Int64
	// storedOpts decodes the opts field of fetched jobs.
	storedOpts *optsCache
	// fetchScript and finishScript are the script keys and arguments that do not change
	// after NewWorker.
	fetchScript  fetchScriptArgs
	finishScript finishScriptArgs
	// batcher pipelines the finishing scripts of concurrent jobs while Run is active with
	// a Concurrency above 1. It is nil otherwise, and each script then runs on its own.
	batcher atomic.Pointer[scriptBatcher]
}

// NewWorker returns a worker for queue that calls fn for each job. The client is shared
// and never closed by the worker; blocking waits use a separate connection (see Run).
func NewWorker(client redis.UniversalClient, queue string, fn ProcessFunc,
	opts WorkerOpts) *Worker {
	opts = opts.withDefaults()
	logger := opts.Logger.With(slog.String("component", "worker"), slog.String("queue", queue))
	q := NewQueue(client, queue, QueueOpts{
		Prefix:         opts.Prefix,
		PauseCompat:    opts.PauseCompat,
		SkipMetaUpdate: true,
		Logger:         logger,
	})
	return &Worker{
		queue:        q,
		keys:         q.keys,
		client:       client,
		fn:           withJobDefaults(fn, opts),
		opts:         opts,
		logger:       logger,
		id:           uuid.NewString(),
		locks:        newLockSet(),
		storedOpts:   newOptsCache(),
		fetchScript:  newFetchScriptArgs(q.keys, opts),
		finishScript: newFinishScriptArgs(q.keys, opts),
	}
}

func (o WorkerOpts) withDefaults() WorkerOpts {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.LockDuration <= 0 {
		o.LockDuration = defaultLockDuration
	}
	if o.LockRenewTime <= 0 {
		o.LockRenewTime = o.LockDuration / 2
	}
	if o.StalledInterval <= 0 {
		o.StalledInterval = defaultStalledInterval
	}
	if o.MaxStalledCount <= 0 {
		o.MaxStalledCount = 1
	}
	if o.DrainDelay <= 0 {
		o.DrainDelay = defaultDrainDelay
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// withJobDefaults wraps fn so that it first fills the job options that opts.DefaultAttempts
// and opts.DefaultBackoff supply. It returns fn itself when there is nothing to fill.
func withJobDefaults(fn ProcessFunc, opts WorkerOpts) ProcessFunc {
	if fn == nil || (opts.DefaultAttempts <= 0 && opts.DefaultBackoff == nil) {
		return fn
	}

	return func(ctx context.Context, job *Job) (any, error) {
		if job.Opts.Attempts <= 0 && opts.DefaultAttempts > 0 {
			job.Opts.Attempts = opts.DefaultAttempts
		}
		if job.Opts.Backoff == nil && opts.DefaultBackoff != nil {
			b := *opts.DefaultBackoff
			job.Opts.Backoff = &b
		}
		return fn(ctx, job)
	}
}

// Queue returns the queue the worker consumes.
func (w *Worker) Queue() *Queue { return w.queue }

// Run processes jobs until ctx ends, then stops fetching, waits for active jobs (bounded
// by ShutdownTimeout) and returns nil. Redis errors are logged and retried with backoff.
// Run returns an error only for an invalid configuration, a second concurrent call, or
// ErrShutdownTimeout when the timeout left jobs unfinished.
//
// While the queue is empty, Run blocks with BZPOPMIN on a connection of its own, named
// "<prefix>:<base64(queue)>[:w:<Name>]" so Node's Queue.getWorkers lists the worker. That
// connection comes from a copy of a *redis.Client or *redis.ClusterClient. Other client
// types block on the shared client without a name, and shutdown then waits up to
// DrainDelay for the blocked call to return.
func (w *Worker) Run(ctx context.Context) error {
	if err := validateQueueName(w.queue.name); err != nil {
		return err
	}
	if w.fn == nil {
		return fmt.Errorf("bullmq: worker for queue %q has no process function", w.queue.name)
	}
	if m := w.opts.Metrics; m != nil && m.MaxDataPoints <= 0 {
		return fmt.Errorf("bullmq: invalid Metrics.MaxDataPoints %d: must be positive",
			m.MaxDataPoints)
	}
	if err := w.opts.Limiter.validate(); err != nil {
		return err
	}
	if !w.running.CompareAndSwap(false, true) {
		return fmt.Errorf("bullmq: worker for queue %q is already running", w.queue.name)
	}
	defer w.running.Store(false)

	w.logger.InfoContext(ctx, "Worker starting",
		slog.Int("concurrency", w.opts.Concurrency),
		slog.Duration("lock_duration", w.opts.LockDuration),
		slog.String("worker_id", w.id))

	blocking := newBlockingClient(w.client, w.connectionName())
	stopBlocking := context.AfterFunc(ctx, func() { _ = blocking.close() })
	defer func() {
		stopBlocking()
		_ = blocking.close()
	}()
	if err := blocking.connect(ctx, w.keys.marker()); err != nil {
		// The fetch loop retries and reports Redis errors; this one only delays the name.
		w.logger.DebugContext(ctx, "Blocking connection not open yet", slog.Any("err", err))
	}

	// Processor contexts outlive ctx until the shutdown timeout, so running jobs can finish.
	procCtx, cancelProc := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelProc()

	var background sync.WaitGroup
	if w.opts.Concurrency > 1 {
		batcher := newScriptBatcher(w.client)
		for range scriptBatchers {
			background.Go(func() { batcher.run(procCtx) })
		}
		w.batcher.Store(batcher)
		defer w.batcher.Store(nil)
	}
	if !w.opts.SkipStalledCheck {
		background.Go(func() { w.runStalledChecker(ctx) })
	}
	if !w.opts.SkipLockRenewal {
		background.Go(func() { w.runLockRenewer(procCtx) })
	}

	var jobs sync.WaitGroup
	w.runFetchLoop(ctx, procCtx, blocking, &jobs)

	timedOut := w.waitForJobs(ctx, &jobs, cancelProc)
	cancelProc()
	background.Wait()

	w.logger.InfoContext(ctx, "Worker stopped", slog.String("worker_id", w.id))
	if timedOut {
		return ErrShutdownTimeout
	}
	return nil
}

// ErrShutdownTimeout is returned by Run when ShutdownTimeout passed before every running job
// finished. Those jobs stay active and the stalled-job checker of a live worker recovers them.
var ErrShutdownTimeout = errors.New("bullmq: shutdown timeout passed with jobs still running")

// waitForJobs waits for running jobs after shutdown began, cancelling their contexts once
// ShutdownTimeout has passed. It reports whether the timeout cut jobs short.
func (w *Worker) waitForJobs(ctx context.Context, jobs *sync.WaitGroup, cancel func()) bool {
	done := make(chan struct{})
	go func() {
		jobs.Wait()
		close(done)
	}()

	if w.opts.ShutdownTimeout <= 0 {
		<-done
		return false
	}

	timer := time.NewTimer(w.opts.ShutdownTimeout)
	defer timer.Stop()

	select {
	case <-done:
		return false
	case <-timer.C:
		w.logger.WarnContext(ctx, "Shutdown timeout reached, leaving jobs active",
			slog.Duration("timeout", w.opts.ShutdownTimeout),
			slog.Int("jobs", w.locks.len()))
		cancel()
		<-done
		return true
	}
}

// nextToken returns a new lock token "<worker uuid>:<n>".
func (w *Worker) nextToken() string {
	return fmt.Sprintf("%s:%d", w.id, w.tokenSeq.Add(1))
}

// reportError logs a worker-level error and passes it to OnError.
func (w *Worker) reportError(ctx context.Context, msg string, err error, attrs ...slog.Attr) {
	attrs = append(attrs, slog.Any("err", err))
	w.logger.LogAttrs(ctx, slog.LevelError, msg, attrs...)
	if w.opts.OnError != nil {
		w.opts.OnError(err)
	}
}

// sleepCtx sleeps for d or until ctx ends, and reports whether the full time passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retryBackoff is the delay after n consecutive Redis errors: 100ms doubling to 15s.
func retryBackoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 15*time.Second; i++ {
		d *= 2
	}
	return min(d, 15*time.Second)
}
