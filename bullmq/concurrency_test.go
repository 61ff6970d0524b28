package bullmq

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestQueue_GlobalConcurrency(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	if n, err := q.GetGlobalConcurrency(ctx); err != nil || n != 0 {
		t.Fatalf("GetGlobalConcurrency before set = %d, %v, want 0, nil", n, err)
	}
	if err := q.SetGlobalConcurrency(ctx, 3); err != nil {
		t.Fatalf("SetGlobalConcurrency: %v", err)
	}
	requireField(t, client.HGetAll(ctx, q.keys.meta()).Val(), "concurrency", "3")
	if n, err := q.GetGlobalConcurrency(ctx); err != nil || n != 3 {
		t.Errorf("GetGlobalConcurrency = %d, %v, want 3", n, err)
	}

	if err := q.RemoveGlobalConcurrency(ctx); err != nil {
		t.Fatalf("RemoveGlobalConcurrency: %v", err)
	}
	requireNoField(t, client.HGetAll(ctx, q.keys.meta()).Val(), "concurrency")

	if err := q.SetGlobalConcurrency(ctx, 0); err == nil {
		t.Errorf("SetGlobalConcurrency(0) returned nil, want an error")
	}
}

// TestWorker_FetchAtGlobalConcurrency checks the fetch script at meta concurrency 1: while
// one job is active, a fetch returns nothing and adds no wake-up marker.
func TestWorker_FetchAtGlobalConcurrency(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	mustAdd(t, q, "a", nil, JobOpts{})
	mustAdd(t, q, "b", nil, JobOpts{})
	if err := q.SetGlobalConcurrency(ctx, 1); err != nil {
		t.Fatalf("SetGlobalConcurrency: %v", err)
	}

	w := newTestWorker(t, q, nil, WorkerOpts{})
	if res, err := w.moveToActive(ctx); err != nil || res.job == nil {
		t.Fatalf("fetch 1 = %+v, %v, want a job", res, err)
	}
	client.Del(ctx, q.keys.marker())

	res, err := w.moveToActive(ctx)
	if err != nil {
		t.Fatalf("fetch 2: %v", err)
	}
	if res.job != nil || res.rateLimit != 0 || res.nextDelayed != 0 {
		t.Errorf("fetch 2 = %+v, want nothing", res)
	}
	if n := client.LLen(ctx, q.keys.active()).Val(); n != 1 {
		t.Errorf("active length = %d, want 1", n)
	}

	mustAdd(t, q, "c", nil, JobOpts{})
	if n := client.Exists(ctx, q.keys.marker()).Val(); n != 0 {
		t.Errorf("an add while maxed wrote a marker: %v",
			client.ZRangeWithScores(ctx, q.keys.marker(), 0, -1).Val())
	}
}

// TestWorker_GlobalConcurrencyAcrossWorkers runs two Go workers of concurrency 3 under a
// global concurrency of 1 and checks that no two processors ever overlap.
func TestWorker_GlobalConcurrencyAcrossWorkers(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	if err := q.SetGlobalConcurrency(ctx, 1); err != nil {
		t.Fatalf("SetGlobalConcurrency: %v", err)
	}

	var mu sync.Mutex
	running, maxRunning, done := 0, 0, 0
	process := func(ctx context.Context, job *Job) (any, error) {
		mu.Lock()
		running++
		maxRunning = max(maxRunning, running)
		mu.Unlock()

		time.Sleep(2 * time.Millisecond)

		mu.Lock()
		running--
		done++
		mu.Unlock()
		return nil, nil
	}
	startWorker(t, q, process, WorkerOpts{Concurrency: 3})
	startWorker(t, q, process, WorkerOpts{Concurrency: 3})

	const jobs = 60
	for i := range jobs {
		mustAdd(t, q, fmt.Sprintf("j%d", i), nil, JobOpts{})
	}
	waitFor(t, 30*time.Second, "all jobs completed", func() bool {
		return client.ZCard(ctx, q.keys.completed()).Val() == jobs
	})

	mu.Lock()
	defer mu.Unlock()
	if maxRunning != 1 {
		t.Errorf("up to %d processors ran at once, want 1", maxRunning)
	}
	if done != jobs {
		t.Errorf("processed %d jobs, want %d", done, jobs)
	}
	checkOneActiveAtATime(t, readStream(t, client, q.keys.events()))
}

// checkOneActiveAtATime fails when the stream shows a job becoming active while another
// one is active: between "active" of a job and its "completed" or "failed" (or its return
// to waiting or delayed) no other "active" may appear.
func checkOneActiveAtATime(t *testing.T, entries []streamEntry) {
	t.Helper()

	current := ""
	starts := 0
	for i, e := range entries {
		id := e.fields["jobId"]
		switch {
		case e.event == "active":
			if current != "" {
				t.Fatalf("entry %d: job %s became active while job %s was active", i, id,
					current)
			}
			current = id
			starts++
		case e.event == "completed" || e.event == "failed" || e.event == "delayed" ||
			(e.event == "waiting" && e.fields["prev"] == "active"):
			if id == current {
				current = ""
			}
		}
	}
	if starts == 0 {
		t.Errorf("the stream has no active event")
	}
}
