package bullmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNoQueue is returned by Job methods called on a Job that was built by hand.
var errNoQueue = errors.New("bullmq: job has no queue: use a Job returned by a Queue or Worker")

// Promote moves the delayed job to the ready states at once (see Queue.Promote) and sets
// j.Delay to 0.
func (j *Job) Promote(ctx context.Context) error {
	if j.queue == nil {
		return errNoQueue
	}
	if err := j.queue.Promote(ctx, j.ID); err != nil {
		return err
	}
	j.Delay = 0
	return nil
}

// Retry runs a completed or failed job again, as Node's Job.retry does. State names the set
// the job must be in ("completed" or "failed"). The job loses its finishedOn, processedOn
// and result fields and is queued like a new job (at the front with LIFO options, in
// prioritized with a priority). It goes back among its parent's pending dependencies, and a
// "waiting" event with prev state is written. A job not in that state yields a
// *ScriptError with code -3.
func (j *Job) Retry(ctx context.Context, state string, opts RetryOpts) error {
	if j.queue == nil {
		return errNoQueue
	}
	if err := j.queue.retryJob(ctx, j.ID, state, j.Opts.LIFO, opts); err != nil {
		return err
	}

	j.FinishedOn, j.ProcessedOn = 0, 0
	j.ReturnValue, j.FailedReason = nil, ""
	if opts.ResetAttemptsMade {
		j.AttemptsMade = 0
	}
	if opts.ResetAttemptsStarted {
		j.AttemptsStarted = 0
	}
	return nil
}

// Remove deletes the job (see Queue.Remove). Node's Job.remove removes children by default.
func (j *Job) Remove(ctx context.Context, removeChildren bool) error {
	if j.queue == nil {
		return errNoQueue
	}
	return j.queue.Remove(ctx, j.ID, removeChildren)
}

// ChangePriority sets the job's priority (see Queue.ChangePriority) and j.Priority.
func (j *Job) ChangePriority(ctx context.Context, priority int, lifo bool) error {
	if j.queue == nil {
		return errNoQueue
	}
	if err := j.queue.ChangePriority(ctx, j.ID, priority, lifo); err != nil {
		return err
	}
	j.Priority = priority
	return nil
}

// ChangeDelay reschedules the delayed job to delay from now (see Queue.ChangeDelay) and
// sets j.Delay.
func (j *Job) ChangeDelay(ctx context.Context, delay time.Duration) error {
	if j.queue == nil {
		return errNoQueue
	}
	if err := j.queue.ChangeDelay(ctx, j.ID, delay); err != nil {
		return err
	}
	j.Delay = delay.Milliseconds()
	return nil
}

// GetState returns the job's current state (see Queue.GetJobState).
func (j *Job) GetState(ctx context.Context) (string, error) {
	if j.queue == nil {
		return "", errNoQueue
	}
	return j.queue.GetJobState(ctx, j.ID)
}

// IsCompleted reports whether the job is in the completed set.
func (j *Job) IsCompleted(ctx context.Context) (bool, error) {
	return j.inSet(ctx, StateCompleted)
}

// IsFailed reports whether the job is in the failed set.
func (j *Job) IsFailed(ctx context.Context) (bool, error) {
	return j.inSet(ctx, StateFailed)
}

// IsDelayed reports whether the job is in the delayed set.
func (j *Job) IsDelayed(ctx context.Context) (bool, error) {
	return j.inSet(ctx, StateDelayed)
}

func (j *Job) inSet(ctx context.Context, state string) (bool, error) {
	if j.queue == nil {
		return false, errNoQueue
	}
	q := j.queue
	_, err := q.client.ZScore(ctx, q.keys.key(state), j.ID).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bullmq: read %s set of queue %s for job %s: %w", state,
			q.name, j.ID, err)
	}
	return true, nil
}
