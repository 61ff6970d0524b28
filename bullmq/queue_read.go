package bullmq

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

var (
	getJobStateScript = loadScript("get_job_state")
	getCountsScript   = loadScript("get_counts")
)

// defaultCountTypes are the states GetJobCounts reports when given none, as Node bullmq 6.x.
var defaultCountTypes = []string{
	"active", "completed", "delayed", "failed", "prioritized", "waiting", "waiting-children",
}

// GetJob reads the job with this id. It returns ErrJobNotFound when the job hash does not
// exist. A stored job that cannot be decoded is still returned, and its Malformed method
// returns the reason.
func (q *Queue) GetJob(ctx context.Context, id string) (*Job, error) {
	fields, err := q.client.HGetAll(ctx, q.keys.job(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("bullmq: read job %s of queue %s: %w", id, q.name, err)
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("bullmq: job %s of queue %s: %w", id, q.name, ErrJobNotFound)
	}
	return newJobFromHash(q, id, fields), nil
}

// GetJobState returns the state of a job, as Node's Job.getState: "completed", "failed",
// "delayed", "prioritized", "active", "waiting" (also for a 5.x paused list),
// "waiting-children", or "unknown" when no state set or list holds the id.
func (q *Queue) GetJobState(ctx context.Context, id string) (string, error) {
	k := q.keys
	keys := []string{
		k.completed(), k.failed(), k.delayed(), k.prioritized(), k.active(), k.wait(),
		k.paused(), k.waitingChildren(),
	}
	state, err := getJobStateScript.Run(ctx, q.client, keys, id).Text()
	if err != nil {
		return "", fmt.Errorf("bullmq: read state of job %s of queue %s: %w", id, q.name, err)
	}
	return state, nil
}

// GetJobCounts counts the jobs in each of the given states: "active", "completed",
// "delayed", "failed", "prioritized", "waiting" (or "wait"), "paused" (the list a 5.x pause
// keeps), "waiting-children". Without types it counts Node 6.x's default states, and adds
// "paused" when a 5.x paused list holds jobs, so those jobs are not missed.
func (q *Queue) GetJobCounts(ctx context.Context, types ...string) (map[string]int64, error) {
	reportPaused := false
	if len(types) == 0 {
		types = append(append([]string{}, defaultCountTypes...), "paused")
		reportPaused = true
	}

	keys := make([]string, len(types))
	kinds := make([]any, len(types))
	for i, t := range types {
		key, kind, err := q.countKey(t)
		if err != nil {
			return nil, err
		}
		keys[i], kinds[i] = key, kind
	}

	values, err := getCountsScript.Run(ctx, q.client, keys, kinds...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("bullmq: count jobs of queue %s: %w", q.name, err)
	}

	counts := make(map[string]int64, len(types))
	for i, t := range types {
		if reportPaused && t == "paused" && values[i] == 0 {
			continue
		}
		counts[t] = values[i]
	}
	return counts, nil
}

// countKey returns the key of a state and its kind for get_counts.lua.
func (q *Queue) countKey(state string) (string, string, error) {
	k := q.keys
	switch state {
	case "waiting", "wait":
		return k.wait(), "ready-list", nil
	case "paused":
		return k.paused(), "ready-list", nil
	case "active":
		return k.active(), "list", nil
	case "completed", "delayed", "failed", "prioritized", "waiting-children":
		return k.key(state), "zset", nil
	}
	return "", "", fmt.Errorf("bullmq: invalid job state %q for counting", state)
}

// IsPaused reports whether the queue is paused (its meta hash has the field "paused").
func (q *Queue) IsPaused(ctx context.Context) (bool, error) {
	paused, err := q.client.HExists(ctx, q.keys.meta(), "paused").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("bullmq: read pause state of queue %s: %w", q.name, err)
	}
	return paused, nil
}
