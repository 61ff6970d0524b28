package queues

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// sweepBatch is how many failed jobs one sweep step reads from a failed set.
const sweepBatch = 500

// sweepLookback is how far before the newest failure seen in the last sweep the next sweep
// starts reading, so failures stored late or with a clock behind this host's are not
// skipped.
const sweepLookback = 5 * time.Minute

// fullSweepEvery is how many incremental sweeps run between two full ones.
const fullSweepEvery = 300

// Sweeper reconciles the failed sets with the dead-letter queue: it records every failed
// job that has no entry yet. Run it on one elected process (see Elector).
type Sweeper struct {
	dl *DeadLetter
	// since holds, by queue, the failure time from which the next incremental sweep reads.
	since map[string]int64
	runs  int
}

// NewSweeper returns a Sweeper for dl. Its first sweep reads the failed sets whole.
func NewSweeper(dl *DeadLetter) *Sweeper {
	return &Sweeper{dl: dl, since: map[string]int64{}}
}

// Sweep reads the failed jobs of every queue and records those without an entry. It
// returns how many it recorded. Every fullSweepEvery calls, and on the first, it reads each
// failed set whole; otherwise it reads the failures since the last sweep, minus
// sweepLookback.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	full := s.runs%fullSweepEvery == 0
	s.runs++

	total := 0
	for _, name := range s.dl.names {
		from := int64(0)
		if !full {
			from = s.since[name] - sweepLookback.Milliseconds()
		}
		n, newest, err := s.sweepQueue(ctx, name, from)
		total += n
		if err != nil {
			return total, err
		}
		if newest > s.since[name] {
			s.since[name] = newest
		}
	}
	return total, nil
}

// sweepQueue records the failed jobs of queue with a failure time of at least from. It
// returns how many it recorded and the newest failure time it saw.
func (s *Sweeper) sweepQueue(ctx context.Context, queue string, from int64) (int, int64,
	error) {
	key := s.dl.bullQueue(queue).Key()
	recorded := 0
	newest := int64(0)
	offset := int64(0)

	for {
		page, err := s.dl.client.ZRangeByScoreWithScores(ctx, key+":failed", &redis.ZRangeBy{
			Min: strconv.FormatInt(from, 10), Max: "+inf", Offset: offset, Count: sweepBatch,
		}).Result()
		if err != nil {
			return recorded, newest, fmt.Errorf("read failed set of queue %s: %w", queue, err)
		}

		marks, err := s.readMarks(ctx, queue, key, page)
		if err != nil {
			return recorded, newest, fmt.Errorf("read failed jobs of queue %s: %w", queue, err)
		}
		for i, z := range page {
			id, _ := z.Member.(string)
			newest = max(newest, int64(z.Score))
			if marks[i] {
				continue
			}
			ok, err := s.dl.Record(ctx, queue, id, nil)
			if err != nil {
				return recorded, newest, err
			}
			if ok {
				recorded++
			}
		}

		if len(page) < sweepBatch {
			return recorded, newest, nil
		}
		offset += sweepBatch
	}
}

// readMarks reports, for each failed job of page, whether its hash carries the mark of its
// current failure.
func (s *Sweeper) readMarks(ctx context.Context, queue, key string,
	page []redis.Z) ([]bool, error) {
	pipe := s.dl.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(page))
	for i, z := range page {
		id, _ := z.Member.(string)
		cmds[i] = pipe.HMGet(ctx, key+":"+id, deadLetterField, "finishedOn")
	}
	if len(page) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}

	marked := make([]bool, len(page))
	for i, z := range page {
		id, _ := z.Member.(string)
		values := cmds[i].Val()
		mark, _ := values[0].(string)
		finished, _ := values[1].(string)
		failedAt, err := strconv.ParseInt(finished, 10, 64)
		if err != nil || failedAt == 0 {
			failedAt = int64(z.Score)
		}
		marked[i] = mark != "" && mark == EntryID(queue, id, failedAt)
	}
	return marked, nil
}

// RunSweeper sweeps every interval until ctx ends, but only while isLeader returns true,
// so one process of the fleet does the work. Errors are logged and the next tick retries.
func (s *Sweeper) RunSweeper(ctx context.Context, interval time.Duration,
	isLeader func() bool) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		if isLeader == nil || isLeader() {
			n, err := s.Sweep(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.dl.logger.ErrorContext(ctx, "Dead-letter sweep failed", slog.Any("err", err))
			case n > 0:
				s.dl.logger.WarnContext(ctx, "Dead-letter sweep recorded missed failures",
					slog.Int("count", n))
			}
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
