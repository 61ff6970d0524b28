package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// addWaitingParent adds a job and moves it to waiting-children, as a flow parent starts.
func addWaitingParent(t *testing.T, q *Queue, name string) *Job {
	t.Helper()

	ctx := testContext(t)
	parent := mustAdd(t, q, name, nil, JobOpts{})
	if err := q.client.LRem(ctx, q.keys.wait(), 0, parent.ID).Err(); err != nil {
		t.Fatalf("LREM parent: %v", err)
	}
	if err := q.client.ZAdd(ctx, q.keys.waitingChildren(),
		redisZ(float64(time.Now().UnixMilli()), parent.ID)).Err(); err != nil {
		t.Fatalf("ZADD waiting-children: %v", err)
	}
	return parent
}

func TestWorker_CompletedChildReleasesParent(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	parent := addWaitingParent(t, q, "parent")
	child := mustAdd(t, q, "child", nil, JobOpts{
		Parent: &ParentRef{ID: parent.ID, Queue: q.Key()}})

	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		return map[string]string{"from": j.Name}, nil
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.completed(), parent.ID)
	processed, _ := client.HGetAll(context.Background(),
		q.keys.job(parent.ID)+":processed").Result()
	childKey := q.keys.job(child.ID)
	if processed[childKey] != `{"from":"child"}` {
		t.Errorf("parent :processed = %v, want %s mapped to the child's return value",
			processed, childKey)
	}

	events := streamEvents(t, client, q)
	released := indexOf(events, "waiting jobId="+parent.ID+" prev=waiting-children")
	completed := indexOf(events, `completed jobId=`+child.ID+
		` returnvalue={"from":"child"} prev=active`)
	if released < 0 || completed < 0 || released > completed {
		t.Errorf("events %q: want the parent's release before the child's completion", events)
	}
}

func TestWorker_FailParentOnFailure(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	parent := addWaitingParent(t, q, "parent")
	child := mustAdd(t, q, "child", nil, JobOpts{
		Parent: &ParentRef{ID: parent.ID, Queue: q.Key()},
		Extra:  map[string]json.RawMessage{"fpof": json.RawMessage("true")}})
	pending := mustAdd(t, q, "pending-child", nil, JobOpts{
		Parent: &ParentRef{ID: parent.ID, Queue: q.Key()}})
	if err := client.LRem(context.Background(), q.keys.wait(), 0, pending.ID).Err(); err != nil {
		t.Fatalf("LREM: %v", err)
	}

	var parentRan atomic.Bool
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		if j.Name == "parent" {
			parentRan.Store(true)
		}
		return nil, errors.New("child broke")
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.failed(), parent.ID)
	childKey := q.keys.job(child.ID)
	want := "child " + childKey + " failed"
	requireField(t, jobHash(t, client, q, parent.ID), "failedReason", want)
	if parentRan.Load() {
		t.Errorf("processor ran for the parent of a failed fpof child")
	}
	if _, err := client.ZScore(context.Background(), q.keys.job(parent.ID)+":unsuccessful",
		childKey).Result(); err != nil {
		t.Errorf("parent :unsuccessful lacks %s: %v", childKey, err)
	}
}

func TestWorker_IgnoreDependencyOnFailure(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	parent := addWaitingParent(t, q, "parent")
	child := mustAdd(t, q, "child", nil, JobOpts{
		Parent: &ParentRef{ID: parent.ID, Queue: q.Key()},
		Extra:  map[string]json.RawMessage{"idof": json.RawMessage("true")}})

	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		if j.Name == "child" {
			return nil, errors.New("ignored failure")
		}
		return "parent done", nil
	}, WorkerOpts{})

	waitInSet(t, client, q.keys.completed(), parent.ID)
	failed, _ := client.HGetAll(context.Background(), q.keys.job(parent.ID)+":failed").Result()
	if failed[q.keys.job(child.ID)] != "ignored failure" {
		t.Errorf("parent :failed = %v, want the child's message", failed)
	}
}

func TestWorker_KeepLastIfActiveRequeue(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	dedup := &Deduplication{ID: "dk", KeepLastIfActive: true}
	first := mustAdd(t, q, "d", map[string]int{"v": 1}, JobOpts{Deduplication: dedup})

	started := make(chan struct{}, 4)
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		mu.Lock()
		seen = append(seen, string(j.Data))
		mu.Unlock()
		started <- struct{}{}
		if j.ID == first.ID {
			<-release
		}
		return nil, nil
	}, WorkerOpts{})

	<-started
	for _, v := range []int{2, 3} {
		again := mustAdd(t, q, "d", map[string]int{"v": v}, JobOpts{Deduplication: dedup})
		if again.ID != first.ID {
			t.Errorf("add while active returned %s, want the owner %s", again.ID, first.ID)
		}
	}
	close(release)

	waitFor(t, 10*time.Second, "the requeued job to complete", func() bool {
		return client.ZCard(context.Background(), q.keys.completed()).Val() == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[1] != `{"v":3}` {
		t.Errorf("processed data = %v, want the last deduplicated data {\"v\":3} second", seen)
	}
	if n := client.Exists(context.Background(), q.keys.key("dn:dk")).Val(); n != 0 {
		t.Errorf("dn:dk still exists after the requeue")
	}
}
