package bullmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

var getRateLimitTTLScript = loadScript("get_rate_limit_ttl")

// manualRateLimitCount is the limiter counter a manual rate limit stores: JavaScript's
// Number.MAX_SAFE_INTEGER, as Node's rateLimit writes it. It exceeds every max, so every
// worker that has a max (its own Limiter or the queue's global rate limit) stops fetching
// until the key expires.
const manualRateLimitCount = "9007199254740991"

// Limiter caps how many jobs the workers of a queue start per Duration. Every worker with
// a limiter counts its starts in the queue's shared limiter key, which expires Duration
// after the first start of a window, so Max is a per-queue limit, not a per-worker one.
type Limiter struct {
	// Max is the number of jobs started per window. The queue's global rate limit, when
	// set, replaces it.
	Max int
	// Duration is the window length, in whole milliseconds. It wins over the duration of
	// the queue's global rate limit.
	Duration time.Duration
}

func (l *Limiter) validate() error {
	if l == nil {
		return nil
	}
	if l.Max <= 0 {
		return fmt.Errorf("bullmq: invalid Limiter.Max %d: must be positive", l.Max)
	}
	if l.Duration < time.Millisecond {
		return fmt.Errorf("bullmq: invalid Limiter.Duration %s: must be at least 1ms",
			l.Duration)
	}
	return nil
}

// ErrRateLimitExceeded is the error a ProcessFunc returns, directly or wrapped, to put its
// job back in the queue without counting an attempt, as Node's Worker.RateLimitError does.
// Its text equals Node's rate limit message, and a processor error with exactly that text
// is handled the same way. See RateLimitError.
var ErrRateLimitExceeded = errors.New("bullmq:rateLimitExceeded")

// rateLimitError is ErrRateLimitExceeded with the rate limit the worker sets first.
type rateLimitError struct{ delay time.Duration }

func (e *rateLimitError) Error() string        { return ErrRateLimitExceeded.Error() }
func (e *rateLimitError) Is(target error) bool { return target == ErrRateLimitExceeded }

// RateLimitError returns an error for a ProcessFunc to return when the service it calls
// requests that it slow down. The worker then rate limits the queue for delay (as Queue.RateLimit
// does; skipped when delay is under 1ms, for a processor that called Worker.RateLimit
// itself) and moves the job back to wait, ahead of the other waiting jobs, or to the head
// of its priority in prioritized. The attempt is not counted and no failure is stored.
// The worker then pauses fetching until the limit expires (at most 30s at a time); other
// workers pause only when they have a max (their own Limiter or a global rate limit).
func RateLimitError(delay time.Duration) error {
	return &rateLimitError{delay: delay}
}

// rateLimitRequest reports whether a processor error requests a rate limit, and the
// limit to set first (0: none).
func rateLimitRequest(err error) (time.Duration, bool) {
	var rl *rateLimitError
	if errors.As(err, &rl) {
		return rl.delay, true
	}
	if errors.Is(err, ErrRateLimitExceeded) || err.Error() == ErrRateLimitExceeded.Error() {
		return 0, true
	}
	return 0, false
}

// SetGlobalRateLimit limits the queue to maxJobs job starts per duration for every worker
// (fields "max" and "duration" of the meta hash, as Node's setGlobalRateLimit writes them).
// maxJobs replaces the Limiter.Max of workers, and a worker's Limiter.Duration wins over
// duration.
func (q *Queue) SetGlobalRateLimit(ctx context.Context, maxJobs int,
	duration time.Duration) error {
	if maxJobs <= 0 {
		return fmt.Errorf("bullmq: invalid global rate limit max %d: must be positive", maxJobs)
	}
	if duration < time.Millisecond {
		return fmt.Errorf("bullmq: invalid global rate limit duration %s: must be at least 1ms",
			duration)
	}
	if err := q.ensureMeta(ctx); err != nil {
		return err
	}

	err := q.client.HSet(ctx, q.keys.meta(), "max", maxJobs,
		"duration", duration.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("bullmq: set global rate limit of queue %s: %w", q.name, err)
	}
	return nil
}

// RemoveGlobalRateLimit deletes the queue's global rate limit. Workers keep their own
// Limiter.
func (q *Queue) RemoveGlobalRateLimit(ctx context.Context) error {
	if err := q.client.HDel(ctx, q.keys.meta(), "max", "duration").Err(); err != nil {
		return fmt.Errorf("bullmq: remove global rate limit of queue %s: %w", q.name, err)
	}
	return nil
}

// GetGlobalRateLimit returns the queue's global rate limit, or nil when none is set (both
// fields are needed, as in Node's getGlobalRateLimit).
func (q *Queue) GetGlobalRateLimit(ctx context.Context) (*Limiter, error) {
	values, err := q.client.HMGet(ctx, q.keys.meta(), "max", "duration").Result()
	if err != nil {
		return nil, fmt.Errorf("bullmq: read global rate limit of queue %s: %w", q.name, err)
	}

	maxText, _ := values[0].(string)
	durationText, _ := values[1].(string)
	if maxText == "" || durationText == "" {
		return nil, nil
	}

	maxJobs, err := strconv.Atoi(maxText)
	if err != nil {
		return nil, fmt.Errorf("bullmq: invalid global rate limit max %q in queue %s: %w",
			maxText, q.name, err)
	}
	ms, err := strconv.ParseInt(durationText, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bullmq: invalid global rate limit duration %q in queue %s: %w",
			durationText, q.name, err)
	}
	return &Limiter{Max: maxJobs, Duration: time.Duration(ms) * time.Millisecond}, nil
}

// RateLimit rate limits the queue for d (at least 1ms), as Node's Queue.rateLimit does: it
// stores Number.MAX_SAFE_INTEGER in the limiter key with a TTL of d. Only workers with a
// max (their own Limiter or a global rate limit) stop fetching because of it.
func (q *Queue) RateLimit(ctx context.Context, d time.Duration) error {
	if d < time.Millisecond {
		return fmt.Errorf("bullmq: invalid rate limit %s: must be at least 1ms", d)
	}

	err := q.client.Set(ctx, q.keys.limiter(), manualRateLimitCount, d).Err()
	if err != nil {
		return fmt.Errorf("bullmq: rate limit queue %s: %w", q.name, err)
	}
	return nil
}

// RemoveRateLimitKey deletes the limiter key, which ends a manual rate limit and restarts
// the current window of the Limiter and global limits.
func (q *Queue) RemoveRateLimitKey(ctx context.Context) error {
	if err := q.client.Del(ctx, q.keys.limiter()).Err(); err != nil {
		return fmt.Errorf("bullmq: delete rate limit key of queue %s: %w", q.name, err)
	}
	return nil
}

// GetRateLimitTTL returns how long the queue stays rate limited for a worker whose max is
// maxJobs, and 0 when it is not limited. With maxJobs 0 the queue's global max is used,
// and when the queue has none, the limiter key's TTL is returned whatever its count, with
// Redis PTTL's values for a missing key (-2ms) or a key without expiry (-1ms). Like Node's
// getRateLimitTtl, it deletes a limiter key whose TTL has run out.
func (q *Queue) GetRateLimitTTL(ctx context.Context, maxJobs int) (time.Duration, error) {
	if maxJobs < 0 {
		return 0, fmt.Errorf("bullmq: invalid maxJobs %d: must not be negative", maxJobs)
	}

	keys := []string{q.keys.limiter(), q.keys.meta()}
	ms, err := getRateLimitTTLScript.Run(ctx, q.client, keys, maxJobs).Int64()
	if err != nil {
		return 0, fmt.Errorf("bullmq: read rate limit of queue %s: %w", q.name, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// RateLimit rate limits the worker's queue for d; see Queue.RateLimit. A processor calls
// it before returning ErrRateLimitExceeded, or returns RateLimitError(d) instead.
func (w *Worker) RateLimit(ctx context.Context, d time.Duration) error {
	return w.queue.RateLimit(ctx, d)
}
