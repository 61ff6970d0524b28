package bullmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// SetGlobalConcurrency limits how many jobs of the queue are active at once across every
// worker, Go or Node (field "concurrency" of the meta hash, as Node's setGlobalConcurrency
// writes it). While the active list holds n jobs, fetches return nothing and ready jobs
// add no wake-up marker. Each worker's own Concurrency still applies.
func (q *Queue) SetGlobalConcurrency(ctx context.Context, n int) error {
	if n <= 0 {
		return fmt.Errorf("bullmq: invalid global concurrency %d: must be positive", n)
	}
	if err := q.ensureMeta(ctx); err != nil {
		return err
	}

	if err := q.client.HSet(ctx, q.keys.meta(), "concurrency", n).Err(); err != nil {
		return fmt.Errorf("bullmq: set global concurrency of queue %s: %w", q.name, err)
	}
	return nil
}

// RemoveGlobalConcurrency deletes the queue's global concurrency. Like Node, it writes no
// wake-up marker, so workers that are blocked waiting notice within their DrainDelay.
func (q *Queue) RemoveGlobalConcurrency(ctx context.Context) error {
	if err := q.client.HDel(ctx, q.keys.meta(), "concurrency").Err(); err != nil {
		return fmt.Errorf("bullmq: remove global concurrency of queue %s: %w", q.name, err)
	}
	return nil
}

// GetGlobalConcurrency returns the queue's global concurrency, or 0 when none is set.
func (q *Queue) GetGlobalConcurrency(ctx context.Context) (int, error) {
	text, err := q.client.HGet(ctx, q.keys.meta(), "concurrency").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bullmq: read global concurrency of queue %s: %w", q.name, err)
	}

	n, err := strconv.Atoi(text)
	if err != nil {
		return 0, fmt.Errorf("bullmq: invalid global concurrency %q in queue %s: %w", text,
			q.name, err)
	}
	return n, nil
}
