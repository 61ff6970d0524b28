package bullmq

import (
	"context"
	"fmt"
	"log/slog"
)

var (
	pauseScript  = loadScript("pause")
	resumeScript = loadScript("resume")
)

// Pause stops workers from taking jobs of this queue: it sets the meta field "paused",
// deletes the wake-up marker and writes a "paused" event. Ready jobs stay in wait, as with
// Node bullmq 6.x, unless QueueOpts.PauseCompat selects the 5.x form (PauseV5, or PauseAuto
// with a 5.x version in the meta hash), which also moves them to the paused list.
func (q *Queue) Pause(ctx context.Context) error {
	if err := q.ensureMeta(ctx); err != nil {
		return err
	}

	k := q.keys
	keys := []string{k.wait(), k.paused(), k.meta(), k.marker(), k.events()}
	if err := pauseScript.Run(ctx, q.client, keys, q.opts.PauseCompat.luaArg()).Err(); err != nil {
		return fmt.Errorf("bullmq: pause queue %s: %w", q.name, err)
	}

	q.logger.InfoContext(ctx, "bullmq: queue paused")
	return nil
}

// Resume lets workers take jobs again, as Node bullmq 6.x resumes. It deletes the meta
// field "paused" and moves the jobs of a paused list left by a 5.x pause back to wait, where
// they keep their order and run before the jobs already in wait. Then it wakes the workers
// and writes one "resumed" event. Each script call moves at most 7000 jobs, so other
// clients are not blocked for long.
func (q *Queue) Resume(ctx context.Context) error {
	if err := q.ensureMeta(ctx); err != nil {
		return err
	}

	k := q.keys
	keys := []string{
		k.paused(), k.wait(), k.meta(), k.prioritized(), k.events(), k.delayed(), k.marker(),
	}

	emitEvent := "1"
	calls := 0
	for {
		remaining, err := resumeScript.Run(ctx, q.client, keys, emitEvent).Int64()
		if err != nil {
			return fmt.Errorf("bullmq: resume queue %s: %w", q.name, err)
		}
		calls++
		emitEvent = "0"

		if remaining == 0 {
			break
		}
	}

	q.logger.InfoContext(ctx, "bullmq: queue resumed", slog.Int("script_calls", calls))
	return nil
}
