package bullmq

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"
)

var extendLocksScript = loadScript("extend_locks")

// lockSet tracks the jobs a worker is processing, with their lock tokens, so the renewer
// can extend their locks and cancel a job whose lock was lost.
type lockSet struct {
	mu   sync.Mutex
	jobs map[string]trackedLock
}

type trackedLock struct {
	token  string
	cancel context.CancelCauseFunc
}

func newLockSet() *lockSet { return &lockSet{jobs: map[string]trackedLock{}} }

func (s *lockSet) add(id, token string, cancel context.CancelCauseFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id] = trackedLock{token: token, cancel: cancel}
}

func (s *lockSet) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, id)
}

func (s *lockSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// snapshot returns the tracked ids, sorted, with their tokens.
func (s *lockSet) snapshot() ([]string, map[string]trackedLock) {
	s.mu.Lock()
	defer s.mu.Unlock()

	ids := make([]string, 0, len(s.jobs))
	copied := make(map[string]trackedLock, len(s.jobs))
	for id, l := range s.jobs {
		ids = append(ids, id)
		copied[id] = l
	}
	sort.Strings(ids)
	return ids, copied
}

// runLockRenewer extends the locks of running jobs every LockRenewTime/2, so each lock is
// renewed well before LockDuration runs out, until ctx ends.
func (w *Worker) runLockRenewer(ctx context.Context) {
	ticker := time.NewTicker(max(w.opts.LockRenewTime/2, time.Millisecond))
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}

		if err := w.extendLocks(ctx); err != nil && ctx.Err() == nil {
			w.reportError(ctx, "Renewing job locks failed", err)
		}
	}
}

// extendLocks renews every tracked lock in one script call and cancels the processor
// context of each job whose lock is missing or owned by another token.
func (w *Worker) extendLocks(ctx context.Context) error {
	ids, locks := w.locks.snapshot()
	if len(ids) == 0 {
		return nil
	}

	args := []any{w.keys.base + ":", strconv.FormatInt(w.opts.LockDuration.Milliseconds(), 10)}
	for _, id := range ids {
		args = append(args, id, locks[id].token)
	}
	failed, err := runScript(ctx, w.client, extendLocksScript, []string{w.keys.stalled()},
		args...).StringSlice()
	if err != nil {
		return fmt.Errorf("running extendLocks for %d jobs: %w", len(ids), err)
	}

	for _, id := range failed {
		w.logger.WarnContext(ctx, "Job lock lost", slog.String("job_id", id))
		if l, ok := locks[id]; ok {
			l.cancel(ErrLockLost)
		}
	}
	w.logger.DebugContext(ctx, "Job locks renewed", slog.Int("jobs", len(ids)-len(failed)))
	return nil
}
