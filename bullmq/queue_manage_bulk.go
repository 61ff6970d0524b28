package bullmq

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

var (
	moveJobsToWaitScript = loadScript("move_jobs_to_wait")
	cleanJobsInSetScript = loadScript("clean_jobs_in_set")
	drainScript          = loadScript("drain")
	obliterateScript     = loadScript("obliterate")
)

const (
	// defaultBatchSize is how many jobs PromoteJobs, RetryJobs and Obliterate handle per
	// script call by default, as in Node.
	defaultBatchSize = 1000
	// maxCleanBatchSize caps the jobs one clean script call deletes, as in Node.
	maxCleanBatchSize = 10000
)

// PromoteJobs moves every delayed job to the back of the wait list, count per script call
// (default 1000), writing a "waiting" event with prev "delayed" for each. As in Node,
// priorities are ignored and the jobs' "delay" field is left as it was.
func (q *Queue) PromoteJobs(ctx context.Context, count int) error {
	return q.moveJobsToWait(ctx, StateDelayed, count, "+inf")
}

// RetryJobs moves the jobs of state ("failed", the default, or "completed") that finished
// at or before timestamp (zero: now) back to the wait list, count per script call
// (default 1000), until none is left. Each job loses its finishedOn, processedOn and
// result fields and keeps its attempt counters; a child goes back among its parent's
// pending dependencies. As in Node, priorities are ignored.
func (q *Queue) RetryJobs(ctx context.Context, state string, count int,
	timestamp time.Time) error {
	if state == "" {
		state = StateFailed
	}
	if state != StateCompleted && state != StateFailed {
		return fmt.Errorf("bullmq: invalid state %q to retry jobs: use %q or %q", state,
			StateCompleted, StateFailed)
	}
	if timestamp.IsZero() {
		timestamp = time.Now()
	}
	return q.moveJobsToWait(ctx, state, count, unixMillis(timestamp))
}

func (q *Queue) moveJobsToWait(ctx context.Context, state string, count int,
	maxScore string) error {
	if count <= 0 {
		count = defaultBatchSize
	}

	k := q.keys
	keys := []string{k.events(), k.key(state), k.wait(), k.paused(), k.meta(), k.active(),
		k.marker()}
	for {
		more, err := moveJobsToWaitScript.Run(ctx, q.client, keys, k.base+":",
			strconv.Itoa(count), maxScore, state, q.opts.PauseCompat.luaArg()).Int64()
		if err != nil {
			return fmt.Errorf("bullmq: move %s jobs of queue %s to wait: %w", state, q.name, err)
		}
		if more == 0 {
			return nil
		}
	}
}

// Clean deletes the jobs of one state that are older than grace, at most limit of them
// (0: no limit), and returns their ids. The states are "completed", "failed", "delayed",
// "prioritized", "wait" (or "waiting"), "paused" and "active". Age is measured from
// finishedOn for finished jobs, from processedOn or else the creation timestamp for
// delayed jobs, from the timestamp for prioritized jobs, and from the newest of those that
// is set for the lists. Locked active jobs and pending scheduler iterations are kept.
//
// Each script call handles at most 10000 jobs and writes one "cleaned" event with its
// count; Clean calls again while a call deleted a full batch. In the lists only the limit
// oldest entries are examined, as in Node.
func (q *Queue) Clean(ctx context.Context, grace time.Duration, limit int,
	state string) ([]string, error) {
	if state == StateWaiting {
		state = "wait"
	}
	switch state {
	case StateCompleted, StateFailed, StateDelayed, StatePrioritized, "wait", StatePaused,
		StateActive:
	default:
		return nil, fmt.Errorf("bullmq: invalid state %q to clean: use completed, failed, "+
			"delayed, prioritized, wait, paused or active", state)
	}
	if limit < 0 {
		return nil, fmt.Errorf("bullmq: invalid clean limit %d: must not be negative", limit)
	}

	batch := maxCleanBatchSize
	if limit > 0 {
		batch = min(limit, maxCleanBatchSize)
	}
	cutoff := unixMillis(time.Now().Add(-grace))

	k := q.keys
	keys := []string{k.key(state), k.events(), k.repeat()}
	var deleted []string
	for limit == 0 || len(deleted) < limit {
		ids, err := cleanJobsInSetScript.Run(ctx, q.client, keys, k.base+":", cutoff,
			strconv.Itoa(batch), state, q.opts.PauseCompat.luaArg()).StringSlice()
		if err != nil {
			return deleted, fmt.Errorf("bullmq: clean %s jobs of queue %s: %w", state, q.name,
				err)
		}
		deleted = append(deleted, ids...)
		if len(ids) < batch {
			break
		}
	}

	q.logger.DebugContext(ctx, "Cleaned jobs", slog.String("state", state),
		slog.Int("count", len(deleted)))
	return deleted, nil
}

// Drain deletes every job waiting to run, in wait, the 5.x paused list and prioritized,
// and also the delayed jobs with includeDelayed. Active, finished and waiting-children
// jobs stay, and so do the pending iterations of job schedulers. No event is written, as
// in Node.
//
// It returns the number of jobs deleted per state, under the keys "waiting", "paused"
// (the 5.x paused list), "delayed" and "prioritized".
func (q *Queue) Drain(ctx context.Context, includeDelayed bool) (map[string]int64, error) {
	k := q.keys
	keys := []string{k.wait(), k.paused(), k.delayed(), k.prioritized(), k.repeat()}
	counts, err := drainScript.Run(ctx, q.client, keys, k.base+":", boolArg(includeDelayed),
		q.opts.PauseCompat.luaArg()).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("bullmq: drain queue %s: %w", q.name, err)
	}
	if len(counts) != 4 {
		return nil, fmt.Errorf("bullmq: drain queue %s: script returned %d counts instead of 4",
			q.name, len(counts))
	}
	return map[string]int64{StateWaiting: counts[0], StatePaused: counts[1],
		StateDelayed: counts[2], StatePrioritized: counts[3]}, nil
}

// Obliterate pauses the queue and deletes it with every job, job scheduler, event and
// setting, count jobs per script call (default 1000) so other clients are not blocked for
// long. Without force it returns ErrQueueHasActiveJobs while a job is active; with force
// active jobs are deleted too, and their workers fail to store the outcome.
//
// Unlike Node bullmq 6.7.6 it also deletes waiting-children parents and the limiter key.
// NOTE: deduplication keys whose owner already finished are left to expire by their TTL,
// because finding them would need a key scan.
func (q *Queue) Obliterate(ctx context.Context, force bool, count int) error {
	if count <= 0 {
		count = defaultBatchSize
	}
	if err := q.Pause(ctx); err != nil {
		return err
	}

	k := q.keys
	keys := []string{
		k.meta(), k.active(), k.delayed(), k.repeat(), k.completed(), k.wait(), k.paused(),
		k.prioritized(), k.failed(), k.waitingChildren(),
		k.events(), k.key("delay"), k.stalledCheck(), k.stalled(), k.id(), k.pc(), k.marker(),
		k.limiter(), k.key("metrics:completed"), k.key("metrics:completed:data"),
		k.key("metrics:failed"), k.key("metrics:failed:data"), k.meta(),
	}
	for {
		code, err := obliterateScript.Run(ctx, q.client, keys, k.base+":", strconv.Itoa(count),
			boolArg(force), q.opts.PauseCompat.luaArg()).Int64()
		if err != nil {
			return fmt.Errorf("bullmq: obliterate queue %s: %w", q.name, err)
		}

		switch code {
		case 0:
			q.forgetMeta()
			q.logger.InfoContext(ctx, "Queue obliterated")
			return nil
		case 1:
			continue
		case -1:
			return fmt.Errorf("bullmq: obliterate queue %s: queue was resumed while it was "+
				"being deleted", q.name)
		case -2:
			return fmt.Errorf("bullmq: obliterate queue %s: %w (use force to delete them)",
				q.name, ErrQueueHasActiveJobs)
		}
		return fmt.Errorf("bullmq: obliterate queue %s: unexpected script result %d", q.name,
			code)
	}
}

// forgetMeta makes the next add write the queue's meta hash again, after obliterate
// deleted it.
func (q *Queue) forgetMeta() {
	q.metaMu.Lock()
	defer q.metaMu.Unlock()

	q.metaWritten = false
}
