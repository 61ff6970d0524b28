package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var moveToWaitingChildrenScript = loadScript("move_to_waiting_children")

// Dependencies are the children of a parent job, by state. Keys are full child job keys,
// "<prefix>:<queue>:<id>".
type Dependencies struct {
	// Processed maps completed children to their return value JSON.
	Processed map[string]json.RawMessage
	// Unprocessed lists the children that have not finished.
	Unprocessed []string
	// Ignored maps children that failed with ignoreDependencyOnFailure or
	// continueParentOnFailure to their failure message.
	Ignored map[string]string
	// Failed lists the children that failed with failParentOnFailure.
	Failed []string
}

// GetChildrenValues returns the return values of the job's completed children, by full
// child key, as Node's getChildrenValues does.
func (j *Job) GetChildrenValues(ctx context.Context) (map[string]json.RawMessage, error) {
	if j.queue == nil {
		return nil, errors.New("bullmq: job has no queue: use a Job returned by a Queue or Worker")
	}

	values, err := j.queue.client.HGetAll(ctx, j.queue.keys.job(j.ID)+":processed").Result()
	if err != nil {
		return nil, fmt.Errorf("bullmq: children values of job %s: %w", j.ID, err)
	}
	out := make(map[string]json.RawMessage, len(values))
	for k, v := range values {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

// GetDependencies returns the job's children by state, read in one transaction.
func (j *Job) GetDependencies(ctx context.Context) (*Dependencies, error) {
	if j.queue == nil {
		return nil, errors.New("bullmq: job has no queue: use a Job returned by a Queue or Worker")
	}

	key := j.queue.keys.job(j.ID)
	var processed, ignored *redis.MapStringStringCmd
	var unprocessed *redis.StringSliceCmd
	var failed *redis.StringSliceCmd
	_, err := j.queue.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		processed = pipe.HGetAll(ctx, key+":processed")
		unprocessed = pipe.SMembers(ctx, key+":dependencies")
		ignored = pipe.HGetAll(ctx, key+":failed")
		failed = pipe.ZRange(ctx, key+":unsuccessful", 0, -1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bullmq: dependencies of job %s: %w", j.ID, err)
	}

	deps := &Dependencies{
		Processed:   make(map[string]json.RawMessage, len(processed.Val())),
		Unprocessed: unprocessed.Val(),
		Ignored:     ignored.Val(),
		Failed:      failed.Val(),
	}
	for k, v := range processed.Val() {
		deps.Processed[k] = json.RawMessage(v)
	}
	return deps, nil
}

// MoveToWaitingChildren moves the active job to waiting-children while it has pending
// children, such as children its processor just added with JobOpts.Parent. token is the
// job's lock token (Job.Token inside a processor). It reports whether the job moved; when
// it did, the processor must return ErrWaitingChildren so the worker leaves the job alone.
// The job runs again, from the start, once its last child completes.
//
// It fails with a *ScriptError of code -9 when a child with failParentOnFailure failed.
func (j *Job) MoveToWaitingChildren(ctx context.Context, token string) (bool, error) {
	if j.queue == nil {
		return false, errors.New("bullmq: job has no queue: use a Job returned by a Queue " +
			"or Worker")
	}

	k := j.queue.keys
	keys := []string{k.active(), k.waitingChildren(), k.job(j.ID), k.stalled(), k.events()}
	code, err := moveToWaitingChildrenScript.Run(ctx, j.queue.client, keys, token,
		strconv.FormatInt(time.Now().UnixMilli(), 10), j.ID).Int64()
	if err != nil {
		return false, fmt.Errorf("bullmq: move job %s to waiting-children: %w", j.ID, err)
	}
	switch {
	case code == 0:
		return true, nil
	case code == 1:
		return false, nil
	}
	return false, &ScriptError{Code: int(code), JobID: j.ID, Command: "moveToWaitingChildren"}
}
