package bullmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

// TestMain stops the local Redis Cluster that the cluster tests start on first use.
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopCluster()
	os.Exit(code)
}

// newClusterQueue returns a queue on the local Redis Cluster under a unique prefix whose
// hash tag puts all of the queue's keys in one slot.
func newClusterQueue(t *testing.T, opts QueueOpts) (*Queue, *redis.ClusterClient) {
	t.Helper()

	client := redistest.Cluster(t)
	opts.Prefix = redistest.ClusterPrefix(t)
	return NewQueue(client, redistest.QueueName(t), opts), client
}

// requireOneSlot fails unless every key of the queue lives in the slot of its base key,
// and returns how many keys there are.
func requireOneSlot(t *testing.T, client *redis.ClusterClient, q *Queue) int {
	t.Helper()

	ctx := testContext(t)
	want, err := client.ClusterKeySlot(ctx, q.keys.base).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %s: %v", q.keys.base, err)
	}

	var mu sync.Mutex
	var keys []string
	err = client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		found, err := node.Keys(ctx, redistest.EscapePattern(q.prefix)+":*").Result()
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatalf("listing keys: %v", err)
	}

	for _, key := range keys {
		slot, err := client.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
		}
		if slot != want {
			t.Errorf("key %s is in slot %d, want %d (the queue's slot)", key, slot, want)
		}
	}
	return len(keys)
}

// clusterEvents returns the stream entries of q as "name field=value ..." strings; field
// order follows the stream, as streamEvents does for a single server.
func clusterEvents(t *testing.T, client redis.UniversalClient, q *Queue) []string {
	t.Helper()

	reply, err := client.Do(context.Background(), "XRANGE", q.keys.events(), "-", "+").Slice()
	if err != nil {
		t.Fatalf("XRANGE events: %v", err)
	}

	out := make([]string, 0, len(reply))
	for _, raw := range reply {
		fields := raw.([]any)[1].([]any)
		parts := make([]string, 0, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			name, value := fields[i].(string), fields[i+1].(string)
			if i == 0 && name == "event" {
				parts = append(parts, value)
				continue
			}
			parts = append(parts, name+"="+value)
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func TestCluster_AddAndAddBulk(t *testing.T) {
	t.Parallel()

	q, client := newClusterQueue(t, QueueOpts{})
	ctx := testContext(t)

	plain := mustAdd(t, q, "plain", map[string]any{"x": 1}, JobOpts{})
	delayed := mustAdd(t, q, "later", nil, JobOpts{Delay: time.Minute})
	prio := mustAdd(t, q, "prio", nil, JobOpts{Priority: 5})
	bulk, err := q.AddBulk(ctx, []BulkJob{
		{Name: "b1", Data: map[string]any{"i": 1}},
		{Name: "b2", Data: map[string]any{"i": 2}, Opts: JobOpts{LIFO: true}},
	})
	if err != nil {
		t.Fatalf("AddBulk: %v", err)
	}

	h := jobHash(t, client, q, plain.ID)
	requireField(t, h, "name", "plain")
	requireField(t, h, "data", `{"x":1}`)
	requireField(t, h, "opts", `{"attempts":0}`)
	requireField(t, h, "delay", "0")
	requireField(t, h, "priority", "0")

	wait := listRange(t, client, q.keys.wait())
	want := []string{bulk[0].ID, plain.ID, bulk[1].ID}
	if !equalStrings(wait, want) {
		t.Errorf("wait = %v, want %v", wait, want)
	}
	score := waitInSet(t, client, q.keys.delayed(), delayed.ID)
	if due := int64(score) / 4096; due != delayed.Timestamp+60000 {
		t.Errorf("delayed due = %d, want timestamp + 60000 = %d", due, delayed.Timestamp+60000)
	}
	if s := waitInSet(t, client, q.keys.prioritized(), prio.ID); s != 5*(1<<32)+1 {
		t.Errorf("prioritized score = %.0f, want 5*2^32+1", s)
	}
	if got := client.Get(ctx, q.keys.id()).Val(); got != "5" {
		t.Errorf("id counter = %q, want \"5\"", got)
	}

	if n := requireOneSlot(t, client, q); n < 8 {
		t.Errorf("found %d keys of the queue, want at least 8", n)
	}
}

func TestCluster_WorkerCoreFlow(t *testing.T) {
	t.Parallel()

	q, client := newClusterQueue(t, QueueOpts{})
	ctx := testContext(t)

	var mu sync.Mutex
	var order []string
	w := startWorker(t, q, func(ctx context.Context, job *Job) (any, error) {
		mu.Lock()
		order = append(order, job.Name)
		mu.Unlock()

		switch job.Name {
		case "retry":
			if job.AttemptsMade < 2 {
				return nil, fmt.Errorf("fail %d", job.AttemptsMade+1)
			}
		case "progress":
			if err := job.UpdateProgress(ctx, map[string]any{"p": 50}); err != nil {
				return nil, err
			}
			for _, line := range []string{"one", "two", "three"} {
				if _, err := job.Log(ctx, line); err != nil {
					return nil, err
				}
			}
		}
		return map[string]any{"name": job.Name}, nil
	}, WorkerOpts{Name: "cluster-w", Metrics: &MetricsOpts{MaxDataPoints: 10}})

	retry := mustAdd(t, q, "retry", nil, JobOpts{Attempts: 3,
		Backoff: &Backoff{Type: BackoffExponential, Delay: 50 * time.Millisecond}})
	progress := mustAdd(t, q, "progress", nil, JobOpts{KeepLogs: 2})
	removed := mustAdd(t, q, "removed", nil, JobOpts{RemoveOnComplete: RemoveJob()})
	delayed := mustAdd(t, q, "delayed", nil, JobOpts{Delay: 300 * time.Millisecond})
	deduped := mustAdd(t, q, "dedup", nil, JobOpts{Delay: 200 * time.Millisecond,
		Deduplication: &Deduplication{ID: "dk"}})
	again := mustAdd(t, q, "dedup", nil, JobOpts{Deduplication: &Deduplication{ID: "dk"}})
	if again.ID != deduped.ID {
		t.Errorf("second dedup add returned %s, want %s", again.ID, deduped.ID)
	}

	for _, id := range []string{retry.ID, progress.ID, delayed.ID, deduped.ID} {
		waitInSet(t, client, q.keys.completed(), id)
	}
	waitFor(t, 10*time.Second, "removed job deleted", func() bool {
		return client.Exists(ctx, q.keys.job(removed.ID)).Val() == 0
	})

	h := jobHash(t, client, q, retry.ID)
	requireField(t, h, "atm", "3")
	requireField(t, h, "ats", "3")
	requireField(t, h, "failedReason", "fail 2")
	requireField(t, h, "returnvalue", `{"name":"retry"}`)
	requireField(t, h, "pb", "cluster-w")

	h = jobHash(t, client, q, progress.ID)
	requireField(t, h, "progress", `{"p":50}`)
	if logs := listRange(t, client, q.keys.job(progress.ID)+":logs"); !equalStrings(logs,
		[]string{"two", "three"}) {
		t.Errorf("logs = %v, want [two three]", logs)
	}

	requireField(t, jobHash(t, client, q, delayed.ID), "delay", "0")
	if n := client.Exists(ctx, q.keys.key("de:dk")).Val(); n != 0 {
		t.Errorf("dedup key still exists after its job completed")
	}
	if got := client.HGet(ctx, q.keys.key("metrics:completed"), "count").Val(); got != "5" {
		t.Errorf("metrics count = %q, want \"5\"", got)
	}

	events := clusterEvents(t, client, q)
	for _, want := range []string{
		"delayed jobId=" + retry.ID,
		"waiting jobId=" + delayed.ID + " prev=delayed",
		"progress jobId=" + progress.ID + ` data={"p":50}`,
		"deduplicated jobId=" + deduped.ID + " deduplicationId=dk deduplicatedJobId=",
		"completed jobId=" + removed.ID + ` returnvalue={"name":"removed"} prev=active`,
	} {
		if indexOfPrefix(events, want) < 0 {
			t.Errorf("events lack %q: %q", want, events)
		}
	}

	// The blocking connection copy carries the worker's name on the cluster too.
	waitFor(t, 10*time.Second, "worker listed by GetWorkers", func() bool {
		workers, err := q.GetWorkers(ctx)
		if err != nil {
			t.Fatalf("GetWorkers: %v", err)
		}
		for _, info := range workers {
			if info.RawName == w.connectionName() {
				return true
			}
		}
		return false
	})
	requireOneSlot(t, client, q)
}

func TestCluster_Priorities(t *testing.T) {
	t.Parallel()

	q, client := newClusterQueue(t, QueueOpts{})
	a := mustAdd(t, q, "p5a", nil, JobOpts{Priority: 5})
	b := mustAdd(t, q, "p1", nil, JobOpts{Priority: 1})
	c := mustAdd(t, q, "p5b", nil, JobOpts{Priority: 5})
	d := mustAdd(t, q, "plain", nil, JobOpts{})

	var mu sync.Mutex
	var order []string
	startWorker(t, q, func(ctx context.Context, job *Job) (any, error) {
		mu.Lock()
		order = append(order, job.ID)
		mu.Unlock()
		return nil, nil
	}, WorkerOpts{})

	waitFor(t, 10*time.Second, "4 completions", func() bool {
		return client.ZCard(context.Background(), q.keys.completed()).Val() == 4
	})
	mu.Lock()
	defer mu.Unlock()
	if want := []string{d.ID, b.ID, a.ID, c.ID}; !equalStrings(order, want) {
		t.Errorf("order = %v, want %v (plain, p1, p5 in add order)", order, want)
	}
}

func TestCluster_PauseResume(t *testing.T) {
	t.Parallel()

	q, client := newClusterQueue(t, QueueOpts{})
	ctx := testContext(t)
	if err := q.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	job := mustAdd(t, q, "held", nil, JobOpts{})

	requireField(t, client.HGetAll(ctx, q.keys.meta()).Val(), "paused", "1")
	if n := client.Exists(ctx, q.keys.marker()).Val(); n != 0 {
		t.Errorf("marker exists while paused")
	}
	w := newTestWorker(t, q, nil, WorkerOpts{})
	if res, err := w.moveToActive(ctx); err != nil || res.job != nil {
		t.Fatalf("fetch while paused = %+v, %v, want nothing", res, err)
	}

	if err := q.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	res, err := w.moveToActive(ctx)
	if err != nil || res.job == nil || res.job.ID != job.ID {
		t.Fatalf("fetch after resume = %+v, %v, want job %s", res, err, job.ID)
	}
	names := eventNames(clusterEvents(t, client, q))
	if indexOf(names, "paused") < 0 || indexOf(names, "resumed") < 0 {
		t.Errorf("events %v lack paused and resumed", names)
	}
}

func TestCluster_StalledRecovery(t *testing.T) {
	t.Parallel()

	q, client := newClusterQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "stalls", nil, JobOpts{Attempts: 5})

	w := newTestWorker(t, q, nil, WorkerOpts{})
	res, err := w.moveToActive(ctx)
	if err != nil || res.job == nil {
		t.Fatalf("fetch = %+v, %v, want a job", res, err)
	}
	client.Del(ctx, q.keys.job(job.ID)+":lock")

	for range 2 {
		client.Del(ctx, q.keys.stalledCheck())
		if _, err := w.checkStalled(ctx); err != nil {
			t.Fatalf("checkStalled: %v", err)
		}
	}
	if wait := listRange(t, client, q.keys.wait()); !equalStrings(wait, []string{job.ID}) {
		t.Errorf("wait = %v, want [%s]", wait, job.ID)
	}
	requireField(t, jobHash(t, client, q, job.ID), "stc", "1")
	events := clusterEvents(t, client, q)
	if indexOf(events, "stalled jobId="+job.ID) < 0 {
		t.Errorf("events %q lack stalled", events)
	}
}

func TestCluster_RateLimitAndConcurrency(t *testing.T) {
	t.Parallel()

	q, client := newClusterQueue(t, QueueOpts{})
	ctx := testContext(t)
	if err := q.SetGlobalConcurrency(ctx, 1); err != nil {
		t.Fatalf("SetGlobalConcurrency: %v", err)
	}
	const jobs = 6
	for i := range jobs {
		mustAdd(t, q, fmt.Sprintf("j%d", i), nil, JobOpts{})
	}

	limiter := &Limiter{Max: 2, Duration: 200 * time.Millisecond}
	limited := false
	var mu sync.Mutex
	process := func(ctx context.Context, job *Job) (any, error) {
		mu.Lock()
		first := !limited
		limited = true
		mu.Unlock()
		if first {
			return nil, RateLimitError(100 * time.Millisecond)
		}
		return nil, nil
	}
	startWorker(t, q, process, WorkerOpts{Concurrency: 2, Limiter: limiter})
	startWorker(t, q, process, WorkerOpts{Concurrency: 2, Limiter: limiter})

	waitFor(t, 20*time.Second, "all jobs completed", func() bool {
		return client.ZCard(ctx, q.keys.completed()).Val() == jobs
	})
	entries := readStream(t, client, q.keys.events())
	checkOneActiveAtATime(t, entries)

	// The manual limit restarts the window, so check the spacing after it only.
	var after []streamEntry
	for i, e := range entries {
		if e.event == "waiting" && e.fields["prev"] == "active" {
			after = entries[i+1:]
		}
	}
	if after == nil {
		t.Fatalf("no waiting(prev active) event from the rate limit")
	}
	checkLimiterSpacing(t, activeTimes(after), limiter.Max, limiter.Duration)
}

func TestCluster_ScriptsReportErrors(t *testing.T) {
	t.Parallel()

	q, _ := newClusterQueue(t, QueueOpts{})
	ctx := testContext(t)

	err := q.Promote(ctx, "missing")
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Errorf("Promote of a missing job = %v, want a *ScriptError", err)
	}
}
