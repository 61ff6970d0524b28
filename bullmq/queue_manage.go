package bullmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Job states, as Node's Job.getState names them, plus the list names some calls accept.
const (
	StateCompleted       = "completed"
	StateFailed          = "failed"
	StateDelayed         = "delayed"
	StatePrioritized     = "prioritized"
	StateActive          = "active"
	StateWaiting         = "waiting"
	StateWaitingChildren = "waiting-children"
	// StatePaused is the list in which a Node bullmq 5.x pause keeps ready jobs.
	StatePaused = "paused"
)

var (
	// ErrJobLocked is returned when a job, or one of the children removed with it, is
	// locked by a worker that is processing it.
	ErrJobLocked = errors.New("bullmq: job is locked by a worker")
	// ErrQueueHasActiveJobs is returned by Obliterate without force while jobs are active.
	ErrQueueHasActiveJobs = errors.New("bullmq: queue has active jobs")
)

var (
	promoteScript        = loadScript("promote")
	reprocessJobScript   = loadScript("reprocess_job")
	removeJobScript      = loadScript("remove_job")
	changePriorityScript = loadScript("change_priority")
	changeDelayScript    = loadScript("change_delay")
)

// Promote moves a delayed job to the ready states at once: priority 0 to the back of the
// wait list, other priorities to prioritized. It writes a "waiting" event with prev
// "delayed". A job that is not delayed yields a *ScriptError with code -3.
func (q *Queue) Promote(ctx context.Context, id string) error {
	k := q.keys
	keys := []string{
		k.delayed(), k.wait(), k.paused(), k.meta(), k.prioritized(), k.active(), k.pc(),
		k.events(), k.marker(), k.job(id),
	}
	code, err := promoteScript.Run(ctx, q.client, keys, id, q.opts.PauseCompat.luaArg()).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: promote job %s of queue %s: %w", id, q.name, err)
	}
	return q.scriptResult("promote", id, code)
}

// Remove deletes a job, whatever its state, with its logs and its flow bookkeeping, and
// writes a "removed" event. With removeChildren, the job's children (pending, completed
// and failed) are removed too, depth first, in whatever queue they live. Removing a job
// that does not exist is not an error, as in Node.
//
// It returns ErrJobLocked when the job or one of those children is being processed, and
// a *ScriptError with code -8 when the job is the pending iteration of a job scheduler
// (remove the scheduler instead).
func (q *Queue) Remove(ctx context.Context, id string, removeChildren bool) error {
	k := q.keys
	keys := []string{k.job(id), k.repeat(), k.events(), k.meta()}
	code, err := removeJobScript.Run(ctx, q.client, keys, k.base+":", id,
		boolArg(removeChildren), q.opts.PauseCompat.luaArg()).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: remove job %s of queue %s: %w", id, q.name, err)
	}

	switch code {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("bullmq: remove job %s of queue %s: %w", id, q.name, ErrJobLocked)
	}
	return q.scriptResult("remove", id, code)
}

// ChangePriority sets a job's priority (0 to MaxPriority). A job waiting to run is queued
// again at once. With priority 0 it goes to the back of the wait list, or to its front with
// lifo. With a positive priority it goes behind the other jobs of that priority, or ahead of
// them with lifo.
// Delayed and active jobs keep their place and use the new priority when they next become
// ready. No event is written, as in Node.
func (q *Queue) ChangePriority(ctx context.Context, id string, priority int, lifo bool) error {
	if priority < 0 || priority > MaxPriority {
		return fmt.Errorf("bullmq: invalid priority %d for job %s: must be 0 to %d", priority,
			id, MaxPriority)
	}

	k := q.keys
	keys := []string{
		k.wait(), k.paused(), k.meta(), k.prioritized(), k.active(), k.pc(), k.marker(),
		k.job(id),
	}
	code, err := changePriorityScript.Run(ctx, q.client, keys, strconv.Itoa(priority), id,
		boolArg(lifo), q.opts.PauseCompat.luaArg()).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: change priority of job %s of queue %s: %w", id, q.name, err)
	}
	return q.scriptResult("changePriority", id, code)
}

// ChangeDelay reschedules a delayed job to become ready delay from now (not from its
// creation), sets its "delay" field and writes a "delayed" event with the new due time.
// It returns ErrJobNotFound (wrapped) for a missing job and a *ScriptError with code -3
// for a job that is not delayed.
func (q *Queue) ChangeDelay(ctx context.Context, id string, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("bullmq: invalid delay %s for job %s: must not be negative", delay, id)
	}

	k := q.keys
	keys := []string{k.delayed(), k.meta(), k.marker(), k.events(), k.job(id)}
	code, err := changeDelayScript.Run(ctx, q.client, keys,
		strconv.FormatInt(delay.Milliseconds(), 10), unixMillis(time.Now()), id).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: change delay of job %s of queue %s: %w", id, q.name, err)
	}
	return q.scriptResult("changeDelay", id, code)
}

// RetryOpts configures Job.Retry.
type RetryOpts struct {
	// ResetAttemptsMade deletes the attempts-made counter ("atm"), so the job gets its full
	// number of attempts again. Default false.
	ResetAttemptsMade bool
	// ResetAttemptsStarted deletes the attempts-started counter ("ats"). Default false.
	ResetAttemptsStarted bool
}

// retryJob runs reprocess_job.lua for a job in the completed or failed set.
func (q *Queue) retryJob(ctx context.Context, id, state string, lifo bool,
	opts RetryOpts) error {
	field := "returnvalue"
	switch state {
	case StateCompleted:
	case StateFailed:
		field = "failedReason"
	default:
		return fmt.Errorf("bullmq: invalid state %q to retry job %s: use %q or %q", state, id,
			StateCompleted, StateFailed)
	}
	push := "LPUSH"
	if lifo {
		push = "RPUSH"
	}

	k := q.keys
	keys := []string{
		k.job(id), k.events(), k.key(state), k.wait(), k.meta(), k.active(), k.marker(),
		k.prioritized(), k.pc(), k.paused(),
	}
	code, err := reprocessJobScript.Run(ctx, q.client, keys, id, push, field, state,
		boolArg(opts.ResetAttemptsMade), boolArg(opts.ResetAttemptsStarted),
		q.opts.PauseCompat.luaArg()).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: retry job %s of queue %s: %w", id, q.name, err)
	}
	if code == 1 {
		return nil
	}
	return q.scriptResult("retry", id, code)
}

// scriptResult turns a management script's return code into an error: 0 is success, -1
// wraps ErrJobNotFound, other negative codes become a *ScriptError.
func (q *Queue) scriptResult(command, id string, code int64) error {
	switch {
	case code >= 0:
		return nil
	case code == -1:
		return fmt.Errorf("bullmq: %s job %s of queue %s: %w", command, id, q.name,
			ErrJobNotFound)
	}
	return &ScriptError{Code: int(code), JobID: id, Command: command}
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func unixMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
