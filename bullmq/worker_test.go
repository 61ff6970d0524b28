package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

func TestWorkerScripts_Load(t *testing.T) {
	t.Parallel()

	client := redistest.Client(t)
	scripts := map[string]*redis.Script{
		"move_to_active": moveToActiveScript, "move_to_finished": moveToFinishedScript,
		"move_to_delayed": moveToDelayedScript, "retry_job": retryJobScript,
		"move_stalled_jobs": moveStalledJobsScript, "extend_locks": extendLocksScript,
		"update_progress": updateProgressScript, "add_log": addLogScript,
	}
	for name, s := range scripts {
		if err := s.Load(context.Background(), client).Err(); err != nil {
			t.Errorf("SCRIPT LOAD %s: %v", name, err)
		}
	}
}

func TestWorker_CompletesJob(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "mail", map[string]any{"to": "a"}, JobOpts{})

	var gotResult json.RawMessage
	var mu sync.Mutex
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		return map[string]any{"sent": true, "to": "<a&b>"}, nil
	}, WorkerOpts{Name: "w1", OnCompleted: func(j *Job, result json.RawMessage) {
		mu.Lock()
		defer mu.Unlock()
		gotResult = result
	}})

	score := waitInSet(t, client, q.keys.completed(), job.ID)
	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "returnvalue", `{"sent":true,"to":"<a&b>"}`)
	requireField(t, h, "atm", "1")
	requireField(t, h, "ats", "1")
	requireField(t, h, "pb", "w1")
	requireField(t, h, "finishedOn", strconv.FormatInt(int64(score), 10))
	if h["processedOn"] == "" {
		t.Errorf("processedOn is missing")
	}

	if n := client.Exists(context.Background(), q.keys.job(job.ID)+":lock").Val(); n != 0 {
		t.Errorf("lock key still exists after completion")
	}
	waitFor(t, 5*time.Second, "OnCompleted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return gotResult != nil
	})
	mu.Lock()
	if string(gotResult) != `{"sent":true,"to":"<a&b>"}` {
		t.Errorf("OnCompleted result = %s", gotResult)
	}
	mu.Unlock()

	events := streamEvents(t, client, q)
	want := []string{
		"added jobId=" + job.ID + " name=mail",
		"waiting jobId=" + job.ID,
		"active jobId=" + job.ID + " prev=waiting",
		`completed jobId=` + job.ID + ` returnvalue={"sent":true,"to":"<a&b>"} prev=active`,
		"drained",
	}
	if !equalStrings(events, want) {
		t.Errorf("events = %q\nwant %q", events, want)
	}
}

func TestWorker_NilResultIsNull(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{})
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) { return nil, nil },
		WorkerOpts{})

	waitInSet(t, client, q.keys.completed(), job.ID)
	requireField(t, jobHash(t, client, q, job.ID), "returnvalue", "null")
	requireNoField(t, jobHash(t, client, q, job.ID), "pb")
}

func TestWorker_RetriesWithExponentialBackoff(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", map[string]int{"n": 1}, JobOpts{Attempts: 3,
		Backoff: &Backoff{Type: BackoffExponential, Delay: 100 * time.Millisecond}})

	var delays []string
	var mu sync.Mutex
	startWorker(t, q, failN(2, map[string]bool{"ok": true}), WorkerOpts{
		OnFailed: func(j *Job, err error, final bool) {
			if final {
				t.Errorf("OnFailed final for attempt error %v", err)
			}
			h := jobHash(t, client, q, j.ID)
			mu.Lock()
			defer mu.Unlock()
			delays = append(delays, h["delay"]+"/"+h["atm"])
		}})

	waitInSet(t, client, q.keys.completed(), job.ID)
	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "atm", "3")
	requireField(t, h, "ats", "3")
	requireField(t, h, "delay", "0")
	requireField(t, h, "failedReason", "fail 2")
	requireField(t, h, "returnvalue", `{"ok":true}`)

	var stack []string
	if err := json.Unmarshal([]byte(h["stacktrace"]), &stack); err != nil || len(stack) != 2 {
		t.Errorf("stacktrace = %s, want a JSON array of 2", h["stacktrace"])
	}
	mu.Lock()
	if !equalStrings(delays, []string{"100/1", "200/2"}) {
		t.Errorf("delay/atm after each failure = %v, want [100/1 200/2]", delays)
	}
	mu.Unlock()

	got := eventNames(streamEvents(t, client, q))
	want := []string{"added", "waiting", "active", "delayed", "waiting", "active", "delayed",
		"waiting", "active", "completed", "drained"}
	if !equalStrings(got, want) {
		t.Errorf("events = %v\nwant %v", got, want)
	}
}

func TestWorker_ImmediateRetryThenFinalFailure(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{Attempts: 2})

	var finals atomic.Int32
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		return nil, errors.New("always")
	}, WorkerOpts{OnFailed: func(j *Job, err error, final bool) {
		if final {
			finals.Add(1)
		}
	}})

	score := waitInSet(t, client, q.keys.failed(), job.ID)
	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "atm", "2")
	requireField(t, h, "failedReason", "always")
	requireField(t, h, "finishedOn", strconv.FormatInt(int64(score), 10))
	requireNoField(t, h, "defa")

	events := streamEvents(t, client, q)
	want := []string{
		"added jobId=" + job.ID + " name=x",
		"waiting jobId=" + job.ID,
		"active jobId=" + job.ID + " prev=waiting",
		"waiting jobId=" + job.ID + " prev=active",
		"active jobId=" + job.ID + " prev=waiting",
		"failed jobId=" + job.ID + " failedReason=always prev=active",
		"retries-exhausted jobId=" + job.ID + " attemptsMade=2",
		"drained",
	}
	if !equalStrings(events, want) {
		t.Errorf("events = %q\nwant %q", events, want)
	}
	waitFor(t, 5*time.Second, "OnFailed final", func() bool { return finals.Load() == 1 })
}

func TestWorker_UnrecoverableSkipsRetries(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{Attempts: 5})
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		return nil, Unrecoverable(errors.New("bad input"))
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.failed(), job.ID)
	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "atm", "1")
	requireField(t, h, "failedReason", "bad input")

	got := eventNames(streamEvents(t, client, q))
	for _, e := range got {
		if e == "retries-exhausted" {
			t.Errorf("events %v contain retries-exhausted for an early unrecoverable failure", got)
		}
	}
}

func TestWorker_DefaultAttemptsFailOnce(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{})
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		return nil, errors.New("nope")
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.failed(), job.ID)
	events := streamEvents(t, client, q)
	if !contains(events, "retries-exhausted jobId="+job.ID+" attemptsMade=1") {
		t.Errorf("events %q lack retries-exhausted with attemptsMade=1", events)
	}
}

func TestWorker_PanicBecomesFailure(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{})
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		panic("boom")
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.failed(), job.ID)
	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "failedReason", "panic: boom")

	var stack []string
	if err := json.Unmarshal([]byte(h["stacktrace"]), &stack); err != nil || len(stack) != 1 {
		t.Fatalf("stacktrace = %s, want one entry", h["stacktrace"])
	}
	if !strings.Contains(stack[0], "goroutine") {
		t.Errorf("stacktrace entry %q lacks the goroutine stack", stack[0])
	}
}

func TestWorker_MalformedJobsFail(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	hashes := map[string]map[string]any{
		"no-data": {"name": "x", "opts": `{"attempts":3}`, "timestamp": "1", "delay": "0",
			"priority": "0"},
		"bad-data": {"name": "x", "data": "{not json", "opts": `{"attempts":3}`,
			"timestamp": "1", "delay": "0", "priority": "0"},
		"no-name": {"data": "{}", "opts": `{"attempts":3}`, "timestamp": "1", "delay": "0",
			"priority": "0"},
	}
	wantReason := map[string]string{
		"no-data":  "field data is missing",
		"bad-data": "field data is not valid JSON",
		"no-name":  "field name is missing",
	}
	for id, h := range hashes {
		if err := client.HSet(ctx, q.keys.job(id), h).Err(); err != nil {
			t.Fatalf("HSET %s: %v", id, err)
		}
		if err := client.LPush(ctx, q.keys.wait(), id).Err(); err != nil {
			t.Fatalf("LPUSH %s: %v", id, err)
		}
	}
	good := mustAdd(t, q, "good", nil, JobOpts{})

	var calls atomic.Int32
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		calls.Add(1)
		return "ok", nil
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.completed(), good.ID)
	for id, reason := range wantReason {
		waitInSet(t, client, q.keys.failed(), id)
		h := jobHash(t, client, q, id)
		if !strings.Contains(h["failedReason"], reason) {
			t.Errorf("job %s failedReason = %q, want it to contain %q", id, h["failedReason"],
				reason)
		}
		requireField(t, h, "atm", "1")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("processor ran %d times, want 1 (only the good job)", n)
	}
}

func TestWorker_ThousandJobsConcurrency50(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	const total = 1000
	bulk := make([]BulkJob, total)
	for i := range bulk {
		bulk[i] = BulkJob{Name: "n", Data: map[string]int{"i": i}}
	}
	if _, err := q.AddBulk(testContext(t), bulk); err != nil {
		t.Fatalf("AddBulk: %v", err)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var running, maxRunning atomic.Int32
	start := time.Now()
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		seen[j.ID]++
		mu.Unlock()
		return nil, nil
	}, WorkerOpts{Concurrency: 50})

	waitFor(t, 60*time.Second, "1000 completions", func() bool {
		return client.ZCard(context.Background(), q.keys.completed()).Val() == total
	})
	t.Logf("1000 jobs of 2ms at concurrency 50 took %s, max running %d", time.Since(start),
		maxRunning.Load())

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != total {
		t.Errorf("processed %d distinct jobs, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %s processed %d times", id, n)
		}
	}
	if m := maxRunning.Load(); m > 50 {
		t.Errorf("max concurrent processors = %d, want at most 50", m)
	}
	if n := client.LLen(context.Background(), q.keys.active()).Val(); n != 0 {
		t.Errorf("active list holds %d jobs after all completed", n)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestWorker_RunRejectsInvalidOptions(t *testing.T) {
	t.Parallel()

	client := redistest.Client(t)
	w := NewWorker(client, "a:b", func(ctx context.Context, j *Job) (any, error) {
		return nil, nil
	}, WorkerOpts{})
	if err := w.Run(context.Background()); err == nil {
		t.Errorf("Run with queue name %q returned nil, want an error", "a:b")
	}

	w = NewWorker(client, "ok", func(ctx context.Context, j *Job) (any, error) {
		return nil, nil
	}, WorkerOpts{Metrics: &MetricsOpts{}})
	if err := w.Run(context.Background()); err == nil {
		t.Errorf("Run with MaxDataPoints 0 returned nil, want an error")
	}
}

// A worker that never runs out of jobs never blocks on the marker, and must still be listed
// by GetWorkers (and Node's getWorkers) from the start.
func TestWorker_ListedWhileBusyFromStart(t *testing.T) {
	t.Parallel()

	ctx := testContext(t)
	client := redistest.Client(t)
	q := NewQueue(client, redistest.QueueName(t), QueueOpts{Prefix: redistest.Prefix(t)})
	if _, err := q.Add(ctx, "hold", nil, JobOpts{}); err != nil {
		t.Fatalf("Add: %v", err)
	}

	started := make(chan struct{})
	release := make(chan struct{})
	fn := func(ctx context.Context, job *Job) (any, error) {
		close(started)
		<-release
		return nil, nil
	}
	stop := runWorker(t, newTestWorker(t, q, fn, WorkerOpts{Name: "busy"}))
	defer stop()
	defer close(release)

	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the job did not start within 20 s")
	}

	workers, err := q.GetWorkers(ctx)
	if err != nil {
		t.Fatalf("GetWorkers: %v", err)
	}
	listed := false
	for _, w := range workers {
		if strings.HasSuffix(w.RawName, ":w:busy") {
			listed = true
		}
	}
	if !listed {
		t.Errorf("GetWorkers = %+v while the first job runs, want the worker busy listed",
			workers)
	}
}

// The finish script checks the job and its child sets with one EXISTS, so these cases pin
// which of the keys decides each reply code.
func TestWorkerFinish_ExistenceChecks(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	q, client := newTestQueue(t, QueueOpts{})
	w := newTestWorker(t, q, func(context.Context, *Job) (any, error) { return nil, nil },
		WorkerOpts{})

	fetch := func() *Job {
		t.Helper()
		mustAdd(t, q, "check", map[string]any{}, JobOpts{})
		res, err := w.moveToActive(ctx)
		if err != nil {
			t.Fatalf("moveToActive: %v", err)
		}
		if res.job == nil {
			t.Fatal("moveToActive returned no job")
		}
		return res.job
	}
	finish := func(job *Job, target finishTarget) error {
		t.Helper()
		_, err := w.finish(ctx, ctx, job, target, `"done"`, nil)
		return err
	}

	job := fetch()
	jobKey := w.keys.job(job.ID)
	client.SAdd(ctx, jobKey+":dependencies", "child")
	if err := finish(job, finishCompleted); !errScript(err, -4) {
		t.Errorf("completing with a pending child returned %v, want script code -4", err)
	}
	client.Del(ctx, jobKey+":dependencies")
	client.ZAdd(ctx, jobKey+":unsuccessful", redis.Z{Score: 1, Member: "child"})
	if err := finish(job, finishCompleted); !errScript(err, -9) {
		t.Errorf("completing with a failed child returned %v, want script code -9", err)
	}
	// Failing does not look at the children.
	if err := finish(job, finishFailed); err != nil {
		t.Errorf("failing with a failed child returned %v, want nil", err)
	}
	client.Del(ctx, jobKey+":unsuccessful")

	job = fetch()
	jobKey = w.keys.job(job.ID)
	client.SAdd(ctx, jobKey+":dependencies", "child")
	client.ZAdd(ctx, jobKey+":unsuccessful", redis.Z{Score: 1, Member: "child"})
	client.Del(ctx, jobKey)
	if err := finish(job, finishCompleted); !errScript(err, -1) {
		t.Errorf("completing a missing job with child sets returned %v, want script code -1",
			err)
	}
	if err := finish(job, finishFailed); !errScript(err, -1) {
		t.Errorf("failing a missing job returned %v, want script code -1", err)
	}
	client.Del(ctx, jobKey+":dependencies", jobKey+":unsuccessful")

	job = fetch()
	if err := finish(job, finishCompleted); err != nil {
		t.Errorf("completing a job without children returned %v, want nil", err)
	}
}
