package bullmq

import (
	"context"
	"log/slog"
	"time"
)

var moveJobToWaitScript = loadScript("move_job_to_wait")

// handleRateLimited puts a job whose processor requested a rate limit back in the queue
// without counting the attempt, as Node's worker does for its rate limit error. It sets
// the requested limit (if any), moves the job back, and pauses this worker's fetching
// until the limiter key expires. It fetches no next job.
func (w *Worker) handleRateLimited(ctx, procCtx context.Context, job *Job,
	delay time.Duration) {
	if delay >= time.Millisecond {
		if err := w.queue.RateLimit(procCtx, delay); err != nil {
			w.reportError(ctx, "Setting rate limit failed", err, slog.String("job_id", job.ID))
		}
	}

	k := w.keys
	keys := []string{k.active(), k.wait(), k.stalled(), k.paused(), k.meta(), k.limiter(),
		k.prioritized(), k.marker(), k.events(), k.job(job.ID)}
	reply, err := w.runWithRetry(ctx, procCtx, "moveJobFromActiveToWait", job,
		moveJobToWaitScript, keys, func() []any {
			return []any{job.ID, job.token, w.opts.PauseCompat.luaArg()}
		})
	if err != nil {
		w.reportError(ctx, "Moving rate limited job back to wait failed", err,
			slog.String("job_id", job.ID))
		return
	}

	ttl := time.Duration(toInt64(reply)) * time.Millisecond
	w.setRateLimit(ttl)
	w.logger.DebugContext(ctx, "Job moved back to wait by a rate limit",
		slog.String("job_id", job.ID), slog.Duration("delay", ttl))
}

// setRateLimit pauses fetching for d from now; d <= 0 lifts the pause. Like Node, every
// fetch reply sets it, so the latest reply wins.
func (w *Worker) setRateLimit(d time.Duration) {
	if d <= 0 {
		w.limitUntil.Store(0)
		return
	}
	w.limitUntil.Store(time.Now().Add(d).UnixMilli())
}

// waitForRateLimit sleeps while fetching is paused by a rate limit, at most
// maxRateLimitDelay, so due delayed jobs keep being promoted by the next fetch.
func (w *Worker) waitForRateLimit(ctx context.Context) {
	until := w.limitUntil.Load()
	if until == 0 {
		return
	}

	if wait := time.Until(time.UnixMilli(until)); wait > 0 {
		w.logger.DebugContext(ctx, "Worker rate limited", slog.Duration("delay", wait))
		sleepCtx(ctx, min(wait, maxRateLimitDelay))
	}
	w.limitUntil.CompareAndSwap(until, 0)
}
