package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

const (
	// stalledFailure is the deferred failure written by the stalled check, as in Node.
	stalledFailure = "job stalled more than allowable limit"
	// startedFailure fails a job started more than MaxStartedAttempts times, as in Node.
	startedFailure = "job started more than allowable limit"
)

// processChain processes job and then every job that the finishing scripts fetch in the
// same call, until none is returned or the worker stops.
func (w *Worker) processChain(ctx, procCtx context.Context, job *Job) {
	for job != nil {
		job = w.processJob(ctx, procCtx, job)
	}
}

// processJob runs one job and stores its outcome. It returns the next job when the
// finishing script fetched one.
func (w *Worker) processJob(ctx, procCtx context.Context, job *Job) *Job {
	jobCtx, cancel := context.WithCancelCause(procCtx)
	defer cancel(nil)

	w.locks.add(job.ID, job.token, cancel)
	defer w.locks.remove(job.ID)

	w.logger.DebugContext(ctx, "Job started", slog.String("job_id", job.ID),
		slog.String("job_name", job.Name), slog.Int("attempt", job.AttemptsMade+1))

	// As in Node, the next iteration of a scheduler exists before its current one runs,
	// also when the current one is about to fail without running.
	w.scheduleNextIteration(ctx, procCtx, job)

	if reason := w.unrecoverableReason(job); reason != "" {
		return w.handleFailure(ctx, procCtx, job, Unrecoverable(errors.New(reason)), "")
	}

	start := time.Now()
	result, err, stack := w.callProcessor(jobCtx, job)

	if errors.Is(err, ErrWaitingChildren) {
		// The processor moved the job to waiting-children, which released its lock.
		w.logger.DebugContext(ctx, "Job waiting for children", slog.String("job_id", job.ID))
		return nil
	}
	if errors.Is(err, ErrDelayed) {
		// The processor moved the job to delayed, which released its lock.
		w.logger.DebugContext(ctx, "Job moved to delayed", slog.String("job_id", job.ID))
		return nil
	}
	if procCtx.Err() != nil {
		// The shutdown timeout passed: leave the job active for the stalled check.
		w.logger.WarnContext(ctx, "Job left active at shutdown", slog.String("job_id", job.ID),
			slog.Duration("duration", time.Since(start)))
		return nil
	}
	if errors.Is(context.Cause(jobCtx), ErrLockLost) {
		w.reportError(ctx, "Job lock lost while processing", fmt.Errorf("job %s: %w",
			job.ID, ErrLockLost), slog.String("job_id", job.ID))
		return nil
	}
	if err != nil {
		return w.handleFailure(ctx, procCtx, job, err, stack)
	}

	value, encErr := marshalJSON(result)
	if encErr != nil {
		err := fmt.Errorf("encoding return value of job %s: %w", job.ID, encErr)
		return w.handleFailure(ctx, procCtx, job, err, "")
	}
	return w.handleCompleted(ctx, procCtx, job, value, time.Since(start))
}

// unrecoverableReason returns why the job must fail without running: a malformed hash, a
// deferred failure, or too many starts.
func (w *Worker) unrecoverableReason(job *Job) string {
	if err := job.Malformed(); err != nil {
		return err.Error()
	}
	if job.DeferredFailure != "" {
		return job.DeferredFailure
	}
	if max := w.opts.MaxStartedAttempts; max > 0 && max < job.AttemptsStarted {
		return startedFailure
	}
	return ""
}

// callProcessor runs the process function, turning a panic into an error whose stack is
// returned for the job's stacktrace.
func (w *Worker) callProcessor(ctx context.Context, job *Job) (result any, err error,
	stack string) {
	defer func() {
		if r := recover(); r != nil {
			stack = string(debug.Stack())
			err = fmt.Errorf("panic: %v", r)
			w.logger.ErrorContext(ctx, "Processor panicked", slog.String("job_id", job.ID),
				slog.Any("err", err), slog.String("stack", stack))
		}
	}()

	result, err = w.fn(ctx, job)
	return result, err, ""
}

// handleCompleted stores the completion and returns the next job fetched with it.
func (w *Worker) handleCompleted(ctx, procCtx context.Context, job *Job, value []byte,
	took time.Duration) *Job {
	next, err := w.finish(ctx, procCtx, job, finishCompleted, string(value), nil)
	if err != nil {
		w.reportError(ctx, "Storing job completion failed", err, slog.String("job_id", job.ID))
		return nil
	}

	w.logger.DebugContext(ctx, "Job completed", slog.String("job_id", job.ID),
		slog.Duration("duration", took))
	if w.opts.OnCompleted != nil {
		w.opts.OnCompleted(job, json.RawMessage(value))
	}
	return next
}

// handleFailure stores a failed attempt: a retry (at once or delayed by the backoff) when
// attempts remain and the error is recoverable, else a final failure. A rate limit request
// (ErrRateLimitExceeded) is no failure: the job goes back to wait, see handleRateLimited.
func (w *Worker) handleFailure(ctx, procCtx context.Context, job *Job, procErr error,
	stack string) *Job {
	if delay, ok := rateLimitRequest(procErr); ok {
		w.handleRateLimited(ctx, procCtx, job, delay)
		return nil
	}

	reason := procErr.Error()
	delay, retry := w.retryDecision(ctx, job, procErr)

	stacktrace, err := w.updatedStacktrace(job, reason, stack)
	if err != nil {
		w.reportError(ctx, "Encoding job stacktrace failed", err, slog.String("job_id", job.ID))
		return nil
	}
	fields := []string{"failedReason", reason, "stacktrace", stacktrace}

	var next *Job
	switch {
	case retry && delay > 0:
		next, err = w.moveToDelayed(ctx, procCtx, job, delay, fields)
	case retry:
		err = w.retryJob(ctx, procCtx, job, fields)
	default:
		next, err = w.finish(ctx, procCtx, job, finishFailed, reason, fields)
	}
	if err != nil {
		w.reportError(ctx, "Storing job failure failed", err, slog.String("job_id", job.ID))
		return nil
	}

	attrs := []slog.Attr{slog.String("job_id", job.ID), slog.String("job_name", job.Name),
		slog.Int("attempt", job.AttemptsMade+1), slog.Int("max_attempts", job.Opts.Attempts),
		slog.Any("err", procErr)}
	if retry {
		attrs = append(attrs, slog.Duration("delay", delay))
		w.logger.LogAttrs(ctx, slog.LevelInfo, "Job failed, will retry", attrs...)
	} else {
		w.logger.LogAttrs(ctx, slog.LevelWarn, "Job failed for good", attrs...)
	}
	if w.opts.OnFailed != nil {
		w.opts.OnFailed(job, procErr, !retry)
	}
	return next
}

// retryDecision reports whether the job gets another attempt, and after which delay.
func (w *Worker) retryDecision(ctx context.Context, job *Job, err error) (time.Duration,
	bool) {
	if IsUnrecoverable(err) || job.AttemptsMade+1 >= job.Opts.Attempts {
		return 0, false
	}
	if max := w.opts.MaxStartedAttempts; max > 0 && max <= job.AttemptsStarted {
		return 0, false
	}

	delay, retry, berr := backoffDelay(job.Opts.Backoff, job.AttemptsMade+1, err, job,
		w.opts.BackoffStrategies)
	if berr != nil {
		w.reportError(ctx, "Computing retry backoff failed, failing job", berr,
			slog.String("job_id", job.ID))
		return 0, false
	}
	return delay, retry
}

// updatedStacktrace appends this failure to the job's stacktrace array, keeping the newest
// stackTraceLimit entries (an explicit 0 keeps none), and returns it as JSON.
func (w *Worker) updatedStacktrace(job *Job, reason, stack string) (string, error) {
	entry := reason
	if stack != "" {
		entry = reason + "\n" + stack
	}
	traces := append(append([]string{}, job.Stacktrace...), entry)

	if limit, ok := storedStackTraceLimit(job.RawOpts); ok {
		if limit <= 0 {
			traces = []string{}
		} else if len(traces) > limit {
			traces = traces[len(traces)-limit:]
		}
	}
	job.Stacktrace = traces

	b, err := marshalJSON(traces)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// storedStackTraceLimit reads opts.stackTraceLimit, telling an explicit 0 from an absent key.
func storedStackTraceLimit(rawOpts string) (int, bool) {
	var o struct {
		Limit *float64 `json:"stackTraceLimit"`
	}
	if rawOpts == "" || json.Unmarshal([]byte(rawOpts), &o) != nil || o.Limit == nil {
		return 0, false
	}
	return int(*o.Limit), true
}
