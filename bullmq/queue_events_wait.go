package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// JobFailedError is the error of WaitUntilFinished for a job that failed for good.
type JobFailedError struct {
	JobID string
	// Reason is the job's failedReason, the processor's error message.
	Reason string
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("bullmq: job %s failed: %s", e.JobID, e.Reason)
}

// WaitUntilFinished waits until the job completes or fails for good and returns its return
// value JSON, or a *JobFailedError with its failedReason. It subscribes to qe, which must
// be running (see QueueEvents.Run) and read this job's queue, waits until qe is ready and
// then reads the job's state, so a job that finished before the call returns at once,
// as Node's Job.waitUntilFinished does. It returns ErrJobNotFound (wrapped) when the job
// does not exist, for example because it was removed on completion before the call, and
// ctx's error when ctx ends first.
func (j *Job) WaitUntilFinished(ctx context.Context, qe *QueueEvents) (json.RawMessage,
	error) {
	if j.queue == nil {
		return nil, errNoQueue
	}
	if qe.keys.base != j.queue.keys.base {
		return nil, fmt.Errorf("bullmq: events reader of %s cannot wait for job %s of %s",
			qe.keys.base, j.ID, j.queue.keys.base)
	}

	sub := qe.subscribe(func(e *Event) bool {
		return e.JobID == j.ID && (e.Name == EventCompleted || e.Name == EventFailed)
	}, 1)
	defer sub.Close()

	if err := qe.WaitReady(ctx); err != nil {
		return nil, err
	}

	value, done, err := j.queue.finishedResult(ctx, j.ID)
	if done || err != nil {
		return value, err
	}

	select {
	case ev := <-sub.Events():
		if ev.Name == EventFailed {
			return nil, &JobFailedError{JobID: j.ID, Reason: ev.FailedReason}
		}
		return ev.ReturnValue, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("bullmq: waiting for job %s of queue %s: %w", j.ID, j.queue.name,
			ctx.Err())
	}
}

// finishedResult reads whether a job has finished: its return value when completed, a
// *JobFailedError when failed, done false otherwise, and ErrJobNotFound when its hash is
// gone.
func (q *Queue) finishedResult(ctx context.Context, id string) (json.RawMessage, bool,
	error) {
	var completed, failed *redis.FloatCmd
	var fields *redis.SliceCmd
	_, err := q.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		completed = pipe.ZScore(ctx, q.keys.completed(), id)
		failed = pipe.ZScore(ctx, q.keys.failed(), id)
		fields = pipe.HMGet(ctx, q.keys.job(id), "name", "returnvalue", "failedReason")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, fmt.Errorf("bullmq: read state of job %s of queue %s: %w", id,
			q.name, err)
	}

	values := fields.Val()
	if values[0] == nil {
		return nil, true, fmt.Errorf("bullmq: job %s of queue %s: %w", id, q.name,
			ErrJobNotFound)
	}
	if completed.Err() == nil {
		value, _ := values[1].(string)
		if value == "" {
			value = "null"
		}
		return json.RawMessage(value), true, nil
	}
	if failed.Err() == nil {
		reason, _ := values[2].(string)
		return nil, true, &JobFailedError{JobID: id, Reason: reason}
	}
	return nil, false, nil
}
