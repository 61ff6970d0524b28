package bullmq

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// fetchOne fetches a job through the worker's fetch script, failing when none is ready.
func fetchOne(t *testing.T, w *Worker) *Job {
	t.Helper()

	res, err := w.moveToActive(testContext(t))
	if err != nil {
		t.Fatalf("moveToActive: %v", err)
	}
	if res.job == nil {
		t.Fatalf("moveToActive fetched no job: %+v", res)
	}
	return res.job
}

func TestWorker_FinishChecksLockOwnership(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "x", nil, JobOpts{})
	w := newTestWorker(t, q, nil, WorkerOpts{})

	fetched := fetchOne(t, w)
	if fetched.ID != job.ID {
		t.Fatalf("fetched job %s, want %s", fetched.ID, job.ID)
	}
	if got := client.Get(ctx, q.keys.job(job.ID)+":lock").Val(); got != fetched.token {
		t.Errorf("lock = %q, want the fetch token %q", got, fetched.token)
	}
	before := len(streamEvents(t, client, q))

	wrong := *fetched
	wrong.token = "other:1"
	_, err := w.finish(ctx, ctx, &wrong, finishCompleted, "1", nil)
	if !errScript(err, -6) {
		t.Errorf("finish with a wrong token: err = %v, want script code -6", err)
	}
	if ids := listRange(t, client, q.keys.active()); !equalStrings(ids, []string{job.ID}) {
		t.Errorf("active = %v after a rejected finish, want [%s]", ids, job.ID)
	}
	if n := len(streamEvents(t, client, q)); n != before {
		t.Errorf("a rejected finish wrote %d events", n-before)
	}

	client.Del(ctx, q.keys.job(job.ID)+":lock")
	_, err = w.finish(ctx, ctx, fetched, finishCompleted, "1", nil)
	if !errScript(err, -2) {
		t.Errorf("finish without a lock: err = %v, want script code -2", err)
	}

	client.Del(ctx, q.keys.job(job.ID))
	_, err = w.finish(ctx, ctx, fetched, finishCompleted, "1", nil)
	if !errScript(err, -1) {
		t.Errorf("finish of a deleted job: err = %v, want script code -1", err)
	}
}

func TestWorker_RenewsLock(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{})

	const lockDuration = 300 * time.Millisecond
	release := make(chan struct{})
	started := make(chan struct{})
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		close(started)
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}, WorkerOpts{LockDuration: lockDuration, StalledInterval: lockDuration})

	<-started
	// A second worker's stalled checks run every 300ms while the job runs for 3 lock
	// durations; the renewed lock keeps them from recovering the job.
	checker := newTestWorker(t, q, nil, WorkerOpts{StalledInterval: lockDuration})
	lockKey := q.keys.job(job.ID) + ":lock"
	deadline := time.Now().Add(3 * lockDuration)
	for time.Now().Before(deadline) {
		if _, err := checker.checkStalled(testContext(t)); err != nil {
			t.Fatalf("checkStalled: %v", err)
		}
		if pttl := client.PTTL(context.Background(), lockKey).Val(); pttl <= 0 {
			t.Fatalf("lock PTTL = %s while the job runs, want positive", pttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)

	waitInSet(t, client, q.keys.completed(), job.ID)
	h := jobHash(t, client, q, job.ID)
	requireNoField(t, h, "stc")
	for _, e := range eventNames(streamEvents(t, client, q)) {
		if e == "stalled" {
			t.Errorf("job was reported stalled although its lock was renewed")
		}
	}
}

func TestWorker_StalledJobRecovery(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "x", nil, JobOpts{Attempts: 5})
	other := mustAdd(t, q, "y", nil, JobOpts{})
	w := newTestWorker(t, q, nil, WorkerOpts{MaxStalledCount: 1})

	// A worker that died: the job is active and its lock is gone.
	stall := func() {
		t.Helper()

		fetched := fetchOne(t, w)
		if fetched.ID != job.ID {
			t.Fatalf("fetched %s, want %s", fetched.ID, job.ID)
		}
		client.Del(ctx, q.keys.job(job.ID)+":lock")
		for range 2 {
			client.Del(ctx, q.keys.stalledCheck())
			if _, err := w.checkStalled(ctx); err != nil {
				t.Fatalf("checkStalled: %v", err)
			}
		}
	}

	// The first fetch takes the oldest job; move the other job out of the way first.
	if err := client.LRem(ctx, q.keys.wait(), 0, other.ID).Err(); err != nil {
		t.Fatalf("LREM: %v", err)
	}
	stall()
	if ids := listRange(t, client, q.keys.wait()); len(ids) == 0 || ids[len(ids)-1] != job.ID {
		t.Fatalf("wait = %v, want %s at the front (tail)", ids, job.ID)
	}
	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "stc", "1")
	requireNoField(t, h, "defa")
	if n := client.SCard(ctx, q.keys.stalled()).Val(); n != 0 {
		t.Errorf("stalled set holds %d ids, want 0", n)
	}
	events := streamEvents(t, client, q)
	tail := events[len(events)-2:]
	want := []string{"waiting jobId=" + job.ID + " prev=active", "stalled jobId=" + job.ID}
	if !equalStrings(tail, want) {
		t.Errorf("last events = %q, want %q", tail, want)
	}

	stall()
	h = jobHash(t, client, q, job.ID)
	requireField(t, h, "stc", "2")
	requireField(t, h, "defa", stalledFailure)

	var ran atomic.Bool
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		ran.Store(true)
		return nil, nil
	}, WorkerOpts{})
	waitInSet(t, client, q.keys.failed(), job.ID)
	h = jobHash(t, client, q, job.ID)
	requireField(t, h, "failedReason", stalledFailure)
	requireField(t, h, "atm", "1")
	requireNoField(t, h, "defa")
	if ran.Load() {
		t.Errorf("processor ran for a job with a deferred failure")
	}
}

func TestWorker_ShutdownTimeoutLeavesJobActive(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{})
	started := make(chan struct{})
	w := newTestWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, errors.New("cancelled")
	}, WorkerOpts{ShutdownTimeout: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrShutdownTimeout) {
			t.Errorf("Run = %v after the shutdown timeout, want ErrShutdownTimeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of cancellation")
	}

	if ids := listRange(t, client, q.keys.active()); !equalStrings(ids, []string{job.ID}) {
		t.Errorf("active = %v after shutdown timeout, want [%s]", ids, job.ID)
	}
	h := jobHash(t, client, q, job.ID)
	requireNoField(t, h, "failedReason")
	requireNoField(t, h, "finishedOn")
}

func TestWorker_ShutdownWaitsForJobs(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{})
	started := make(chan struct{})
	w := newTestWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		close(started)
		time.Sleep(100 * time.Millisecond)
		return ctx.Err() == nil, nil
	}, WorkerOpts{})
	stop := runWorker(t, w)

	<-started
	stop()

	score, err := client.ZScore(context.Background(), q.keys.completed(), job.ID).Result()
	if err != nil || score == 0 {
		t.Fatalf("job not completed when Run returned: score %v, err %v", score, err)
	}
	requireField(t, jobHash(t, client, q, job.ID), "returnvalue", "true")
}

func TestJob_UpdateProgressAndLog(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{KeepLogs: 2})

	var counts []int
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		if err := j.UpdateProgress(ctx, map[string]int{"p": 50}); err != nil {
			return nil, err
		}
		for _, line := range []string{"one", "two", "three"} {
			n, err := j.Log(ctx, line)
			if err != nil {
				return nil, err
			}
			counts = append(counts, n)
		}
		return nil, nil
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.completed(), job.ID)
	requireField(t, jobHash(t, client, q, job.ID), "progress", `{"p":50}`)
	if !contains(streamEvents(t, client, q), "progress jobId="+job.ID+` data={"p":50}`) {
		t.Errorf("events lack the progress event")
	}
	if logs := listRange(t, client, q.keys.job(job.ID)+":logs"); !equalStrings(logs,
		[]string{"two", "three"}) {
		t.Errorf("logs = %v, want [two three]", logs)
	}
	if len(counts) != 3 || counts[2] != 2 {
		t.Errorf("Log returned %v, want the last call to return 2", counts)
	}

	missing := &Job{ID: "missing", queue: q}
	if err := missing.UpdateProgress(testContext(t), 1); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("UpdateProgress of a missing job: err = %v, want ErrJobNotFound", err)
	}
}
