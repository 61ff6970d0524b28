package bullmq

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

var moveStalledJobsScript = loadScript("move_stalled_jobs")

// runStalledChecker recovers stalled jobs once at start and then every StalledInterval,
// until ctx ends. The script skips the check while the stalled-check key written by the
// last check (of any worker, with that worker's interval as TTL) exists.
func (w *Worker) runStalledChecker(ctx context.Context) {
	ticker := time.NewTicker(w.opts.StalledInterval)
	defer ticker.Stop()

	for {
		if _, err := w.checkStalled(ctx); err != nil && ctx.Err() == nil {
			w.reportError(ctx, "Checking stalled jobs failed", err)
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// checkStalled runs one stalled check and returns the ids moved back to wait.
func (w *Worker) checkStalled(ctx context.Context) ([]string, error) {
	k := w.keys
	keys := []string{k.stalled(), k.wait(), k.active(), k.stalledCheck(), k.meta(),
		k.paused(), k.marker(), k.events(), k.repeat()}
	ids, err := runScript(ctx, w.client, moveStalledJobsScript, keys,
		strconv.Itoa(w.opts.MaxStalledCount), k.base+":", nowMillis(),
		strconv.FormatInt(w.opts.StalledInterval.Milliseconds(), 10),
		w.opts.PauseCompat.luaArg()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("running moveStalledJobsToWait: %w", err)
	}

	for _, id := range ids {
		w.logger.WarnContext(ctx, "Stalled job moved back to wait", slog.String("job_id", id))
		if w.opts.OnStalled != nil {
			w.opts.OnStalled(id)
		}
	}
	return ids, nil
}
