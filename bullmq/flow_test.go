package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

// flowQueues returns a flow producer and queues that share one unique prefix.
func flowQueues(t *testing.T, names ...string) (*FlowProducer, []*Queue, *redis.Client) {
	t.Helper()

	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	queues := make([]*Queue, len(names))
	for i := range names {
		queues[i] = NewQueue(client, redistest.QueueName(t)+names[i], QueueOpts{Prefix: prefix})
	}
	return NewFlowProducer(client, FlowProducerOpts{Prefix: prefix}), queues, client
}

func TestFlowProducer_AddStoresTree(t *testing.T) {
	t.Parallel()

	fp, qs, client := flowQueues(t, "p", "c")
	pq, cq := qs[0], qs[1]
	ctx := testContext(t)

	node, err := fp.Add(ctx, FlowJob{Name: "parent", QueueName: pq.Name(),
		Data: map[string]int{"p": 1}, Opts: JobOpts{JobID: "P1"},
		Children: []FlowJob{
			{Name: "c1", QueueName: cq.Name(), Data: map[string]int{"c": 1}},
			{Name: "c2", QueueName: cq.Name(), Opts: JobOpts{JobID: "C2", Priority: 3}},
		}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if node.Job.ID != "P1" || len(node.Children) != 2 {
		t.Fatalf("node = %+v, want P1 with two children", node)
	}
	c1 := node.Children[0].Job.ID
	if _, err := uuidParse(c1); err != nil {
		t.Errorf("child without jobId got id %q, want a UUID", c1)
	}

	waitInSet(t, client, pq.keys.waitingChildren(), "P1")
	deps := client.SMembers(ctx, pq.keys.job("P1")+":dependencies").Val()
	sort.Strings(deps)
	want := []string{cq.keys.job("C2"), cq.keys.job(c1)}
	sort.Strings(want)
	if !equalStrings(deps, want) {
		t.Errorf("P1 dependencies = %v, want %v", deps, want)
	}

	h := jobHash(t, client, cq, c1)
	requireField(t, h, "parentKey", pq.keys.job("P1"))
	requireField(t, h, "parent", `{"id":"P1","queueKey":"`+pq.Key()+`"}`)
	opts := storedOptsOf(t, h)
	if _, ok := opts["jobId"]; ok {
		t.Errorf("child opts %v: a generated id must not be stored as jobId", opts)
	}
	if ids := listRange(t, client, cq.keys.wait()); !equalStrings(ids, []string{c1}) {
		t.Errorf("child wait = %v, want [%s]", ids, c1)
	}
	if n := client.ZCard(ctx, cq.keys.prioritized()).Val(); n != 1 {
		t.Errorf("prioritized has %d jobs, want C2", n)
	}

	events := streamEvents(t, client, pq)
	if !contains(events, "waiting-children jobId=P1") {
		t.Errorf("parent events %q lack waiting-children", events)
	}
	if got := client.Get(ctx, pq.keys.id()).Val(); got != "1" {
		t.Errorf("parent queue counter = %q, want 1", got)
	}
}

func uuidParse(s string) (string, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", errors.New("not a UUID")
	}
	return s, nil
}

func TestFlowProducer_ThreeLevelsOnGoWorkers(t *testing.T) {
	t.Parallel()

	fp, qs, client := flowQueues(t, "top", "mid", "leaf")
	ctx := testContext(t)

	var mu sync.Mutex
	values := map[string]map[string]json.RawMessage{}
	for _, q := range qs {
		startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
			children, err := j.GetChildrenValues(ctx)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			values[j.ID] = children
			mu.Unlock()
			return map[string]any{"name": j.Name, "children": len(children)}, nil
		}, WorkerOpts{})
	}

	_, err := fp.Add(ctx, FlowJob{Name: "root", QueueName: qs[0].Name(),
		Opts: JobOpts{JobID: "R"},
		Children: []FlowJob{{Name: "mid", QueueName: qs[1].Name(), Opts: JobOpts{JobID: "M"},
			Children: []FlowJob{
				{Name: "leaf1", QueueName: qs[2].Name(), Opts: JobOpts{JobID: "L1"}},
				{Name: "leaf2", QueueName: qs[2].Name(), Opts: JobOpts{JobID: "L2"}},
			}}}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}

	waitInSet(t, client, qs[0].keys.completed(), "R")
	mu.Lock()
	defer mu.Unlock()
	if got := string(values["R"][qs[1].keys.job("M")]); got != `{"children":2,"name":"mid"}` {
		t.Errorf("root saw child value %s", got)
	}
	if got := string(values["M"][qs[2].keys.job("L2")]); got != `{"children":0,"name":"leaf2"}` {
		t.Errorf("mid saw leaf2 value %s", got)
	}

	root, err := qs[0].GetJob(ctx, "R")
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	deps, err := root.GetDependencies(ctx)
	if err != nil {
		t.Fatalf("GetDependencies: %v", err)
	}
	if len(deps.Processed) != 1 || len(deps.Unprocessed) != 0 {
		t.Errorf("root dependencies = %+v, want one processed child", deps)
	}
	events := streamEvents(t, client, qs[1])
	if !contains(events, "waiting jobId=M prev=waiting-children") {
		t.Errorf("mid events %q lack the release of M", events)
	}
}

func TestFlowProducer_FailurePolicies(t *testing.T) {
	t.Parallel()

	tests := []struct {
		policy       string
		wantReleased bool
		wantFailed   bool // parent fails with the child's failure
		wantIgnored  bool // :failed hash holds the child
	}{
		{"", false, false, false},
		{"fpof", true, true, false},
		{"idof", true, false, true},
		{"cpof", true, false, true},
		{"rdof", true, false, false},
	}
	for _, tt := range tests {
		name := tt.policy
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			fp, qs, client := flowQueues(t, "p", "c")
			pq, cq := qs[0], qs[1]
			ctx := testContext(t)

			bad := JobOpts{JobID: "bad"}
			if tt.policy != "" {
				bad.Extra = map[string]json.RawMessage{tt.policy: json.RawMessage("true")}
			}
			_, err := fp.Add(ctx, FlowJob{Name: "parent", QueueName: pq.Name(),
				Opts: JobOpts{JobID: "P", Attempts: 3},
				Children: []FlowJob{
					{Name: "good", QueueName: cq.Name(), Opts: JobOpts{JobID: "good"}},
					{Name: "bad", QueueName: cq.Name(), Opts: bad},
				}})
			if err != nil {
				t.Fatalf("Add: %v", err)
			}

			var parentRuns atomic.Int32
			startWorker(t, cq, func(ctx context.Context, j *Job) (any, error) {
				if j.ID == "bad" {
					return nil, errors.New("boom")
				}
				return "ok", nil
			}, WorkerOpts{})
			startWorker(t, pq, func(ctx context.Context, j *Job) (any, error) {
				parentRuns.Add(1)
				return "parent done", nil
			}, WorkerOpts{})

			waitInSet(t, client, cq.keys.failed(), "bad")
			waitInSet(t, client, cq.keys.completed(), "good")
			parent := pq.keys.job("P")
			switch {
			case tt.wantFailed:
				waitInSet(t, client, pq.keys.failed(), "P")
				requireField(t, jobHash(t, client, pq, "P"), "failedReason",
					"child "+cq.keys.job("bad")+" failed")
				if parentRuns.Load() != 0 {
					t.Errorf("the parent's processor ran %d times", parentRuns.Load())
				}
			case tt.wantReleased:
				waitInSet(t, client, pq.keys.completed(), "P")
			default:
				time.Sleep(300 * time.Millisecond)
				if _, err := client.ZScore(ctx, pq.keys.waitingChildren(),
					"P").Result(); err != nil {
					t.Errorf("parent left waiting-children: %v", err)
				}
				if !client.SIsMember(ctx, parent+":dependencies",
					cq.keys.job("bad")).Val() {
					t.Errorf("failed child left the parent's dependencies")
				}
			}

			ignored := client.HGet(ctx, parent+":failed", cq.keys.job("bad")).Val()
			if tt.wantIgnored != (ignored == "boom") {
				t.Errorf(":failed entry = %q, want present %v", ignored, tt.wantIgnored)
			}
		})
	}
}

func TestJob_MoveToWaitingChildren(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})

	var runs atomic.Int32
	var noChildMoved atomic.Bool
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		if j.Name == "child" {
			return "child value", nil
		}
		if runs.Add(1) > 1 {
			values, err := j.GetChildrenValues(ctx)
			if err != nil {
				return nil, err
			}
			return len(values), nil
		}

		moved, err := j.MoveToWaitingChildren(ctx, j.Token())
		if err != nil {
			return nil, err
		}
		noChildMoved.Store(moved)

		if _, err := q.Add(ctx, "child", nil, JobOpts{JobID: "kid",
			Parent: &ParentRef{ID: j.ID, Queue: q.Key()}}); err != nil {
			return nil, err
		}
		moved, err = j.MoveToWaitingChildren(ctx, j.Token())
		if err != nil {
			return nil, err
		}
		if !moved {
			return nil, errors.New("job did not move to waiting-children")
		}
		return nil, ErrWaitingChildren
	}, WorkerOpts{})

	parent := mustAdd(t, q, "parent", nil, JobOpts{})
	waitInSet(t, client, q.keys.completed(), parent.ID)

	if noChildMoved.Load() {
		t.Errorf("MoveToWaitingChildren without children reported a move")
	}
	h := jobHash(t, client, q, parent.ID)
	requireField(t, h, "returnvalue", "1")
	requireField(t, h, "ats", "2")
	events := streamEvents(t, client, q)
	if !contains(events, "waiting-children jobId="+parent.ID+" prev=active") {
		t.Errorf("events %q lack waiting-children(prev active)", events)
	}
	if contains(events, "failed jobId="+parent.ID) {
		t.Errorf("events %q: the worker failed the moved parent", events)
	}
}

func TestJob_MoveToWaitingChildrenFailedChild(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	job := mustAdd(t, q, "parent", nil, JobOpts{})
	if err := client.ZAdd(ctx, q.keys.job(job.ID)+":unsuccessful",
		redisZ(1, q.keys.job("x"))).Err(); err != nil {
		t.Fatalf("ZADD: %v", err)
	}
	if _, err := job.MoveToWaitingChildren(ctx, "tok"); !errScript(err, -9) {
		t.Errorf("err = %v, want code -9", err)
	}

	missing := &Job{ID: "nope", queue: q}
	if _, err := missing.MoveToWaitingChildren(ctx, "tok"); !errScript(err, -1) {
		t.Errorf("missing job: err = %v, want code -1", err)
	}
}

func TestFlowProducer_ExistingCompletedChild(t *testing.T) {
	t.Parallel()

	fp, qs, client := flowQueues(t, "p", "c")
	pq, cq := qs[0], qs[1]
	ctx := testContext(t)

	startWorker(t, cq, func(ctx context.Context, j *Job) (any, error) {
		return "first", nil
	}, WorkerOpts{})
	done := mustAdd(t, cq, "done", nil, JobOpts{JobID: "done"})
	waitInSet(t, client, cq.keys.completed(), done.ID)

	// Both children exist already and completed, so the flow's release step must move the
	// parent out of waiting-children at the end of the transaction.
	if _, err := fp.Add(ctx, FlowJob{Name: "parent", QueueName: pq.Name(),
		Opts:     JobOpts{JobID: "P"},
		Children: []FlowJob{{Name: "done", QueueName: cq.Name(), Opts: JobOpts{JobID: "done"}}},
	}); err != nil {
		t.Fatalf("Add: %v", err)
	}

	if ids := listRange(t, client, pq.keys.wait()); !equalStrings(ids, []string{"P"}) {
		t.Errorf("parent wait = %v, want [P]", ids)
	}
	got := client.HGet(ctx, pq.keys.job("P")+":processed", cq.keys.job("done")).Val()
	if got != `"first"` {
		t.Errorf("processed value = %q, want the stored return value", got)
	}
}
