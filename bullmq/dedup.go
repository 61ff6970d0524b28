package bullmq

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

var removeDedupKeyScript = loadScript("remove_dedup_key")

// GetDeduplicationJobID returns the id of the job that owns the deduplication id, or ""
// when no job owns it (the key "<prefix>:<queue>:de:<id>" is absent).
func (q *Queue) GetDeduplicationJobID(ctx context.Context, dedupID string) (string, error) {
	id, err := q.client.Get(ctx, q.keys.key("de:"+dedupID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("bullmq: read deduplication id %q of queue %s: %w", dedupID,
			q.name, err)
	}
	return id, nil
}

// RemoveDeduplicationKey deletes the deduplication key of dedupID whatever job owns it,
// so the next add with that id creates a job, and reports whether a key existed.
func (q *Queue) RemoveDeduplicationKey(ctx context.Context, dedupID string) (bool, error) {
	n, err := q.client.Del(ctx, q.keys.key("de:"+dedupID)).Result()
	if err != nil {
		return false, fmt.Errorf("bullmq: delete deduplication id %q of queue %s: %w",
			dedupID, q.name, err)
	}
	return n > 0, nil
}

// RemoveDeduplicationKey deletes the deduplication key of the job's deduplication id only
// while it still names this job, so a key that a newer job took over is kept. It reports
// whether the key was deleted; a job without a deduplication id deletes nothing.
func (j *Job) RemoveDeduplicationKey(ctx context.Context) (bool, error) {
	if j.queue == nil {
		return false, errNoQueue
	}
	if j.DeduplicationID == "" {
		return false, nil
	}

	q := j.queue
	n, err := removeDedupKeyScript.Run(ctx, q.client,
		[]string{q.keys.key("de:" + j.DeduplicationID)}, j.ID).Int64()
	if err != nil {
		return false, fmt.Errorf("bullmq: delete deduplication id %q of job %s: %w",
			j.DeduplicationID, j.ID, err)
	}
	return n > 0, nil
}
