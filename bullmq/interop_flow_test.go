package bullmq

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redisdump"
	"github.com/portnimara/nimara/internal/redistest"
)

// flowEnv is three queues under one prefix and a Node peer.
type flowEnv struct {
	peer   *nodepeer.Peer
	client *redis.Client
	prefix string
	// top, mid and leaf are the queues of the three flow levels.
	top, mid, leaf *Queue
}

func newFlowEnv(t *testing.T, major int) flowEnv {
	t.Helper()

	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	name := redistest.QueueName(t)
	q := func(suffix string) *Queue {
		return NewQueue(client, name+suffix, QueueOpts{Prefix: prefix})
	}
	return flowEnv{peer: nodepeer.Start(t, major), client: client, prefix: prefix,
		top: q("top"), mid: q("mid"), leaf: q("leaf")}
}

func (e flowEnv) args() map[string]any {
	return map[string]any{"prefix": e.prefix, "top": e.top.Name(), "mid": e.mid.Name(),
		"leaf": e.leaf.Name()}
}

// threeLevelFlow is the flow of the interop tests, in Go.
func (e flowEnv) threeLevelFlow() FlowJob {
	return FlowJob{Name: "root", QueueName: e.top.Name(), Data: map[string]int{"level": 0},
		Opts: JobOpts{JobID: "R"},
		Children: []FlowJob{{Name: "mid", QueueName: e.mid.Name(),
			Data: map[string]int{"level": 1}, Opts: JobOpts{JobID: "M"},
			Children: []FlowJob{
				{Name: "leaf", QueueName: e.leaf.Name(), Data: map[string]int{"level": 2},
					Opts: JobOpts{JobID: "L1"}},
				{Name: "leaf", QueueName: e.leaf.Name(), Data: map[string]int{"level": 2},
					Opts: JobOpts{JobID: "L2", Priority: 2}},
			}}}}
}

// nodeThreeLevelFlowJS adds the same flow with Node's FlowProducer.
const nodeThreeLevelFlowJS = `
const fp = new bullmq.FlowProducer({ connection: redisOpts, prefix: args.prefix });
onClose(() => fp.close());
const tree = await fp.add({ name: 'root', queueName: args.top, data: { level: 0 },
  opts: { jobId: 'R' },
  children: [{ name: 'mid', queueName: args.mid, data: { level: 1 }, opts: { jobId: 'M' },
    children: [
      { name: 'leaf', queueName: args.leaf, data: { level: 2 }, opts: { jobId: 'L1' } },
      { name: 'leaf', queueName: args.leaf, data: { level: 2 },
        opts: { jobId: 'L2', priority: 2 } },
    ] }] });
return tree.job.id;
`

func TestInterop_FlowStorageMatchesNode(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			nodeEnv := newFlowEnv(t, major)
			goEnv := newFlowEnv(t, major)
			goEnv.peer = nodeEnv.peer

			nodeEnv.peer.MustEval(t, nodeThreeLevelFlowJS, nodeEnv.args())
			fp := NewFlowProducer(goEnv.client, FlowProducerOpts{Prefix: goEnv.prefix})
			if _, err := fp.Add(testContext(t), goEnv.threeLevelFlow()); err != nil {
				t.Fatalf("Add: %v", err)
			}

			dump := func(e flowEnv) redisdump.Snapshot {
				return redisdump.MustDump(t, e.client, e.prefix, &redisdump.Opts{
					Replace: map[string]string{e.top.Name(): "<top>", e.mid.Name(): "<mid>",
						e.leaf.Name(): "<leaf>"}})
			}
			if diff := redisdump.Diff(dump(nodeEnv), dump(goEnv)); diff != "" {
				t.Errorf("Redis after the Node (-) and Go (+) flow differs:\n%s", diff)
			}
		})
	}
}

func TestInterop_NodeFlowOnGoWorkers(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			env := newFlowEnv(t, major)
			env.peer.MustEval(t, nodeThreeLevelFlowJS, env.args())
			ctx := testContext(t)

			waitInSet(t, env.client, env.top.keys.waitingChildren(), "R")
			deps := env.client.SMembers(ctx, env.mid.keys.job("M")+":dependencies").Val()
			sort.Strings(deps)
			if want := []string{env.leaf.keys.job("L1"), env.leaf.keys.job("L2")}; !equalStrings(
				deps, want) {
				t.Errorf("M dependencies = %v, want %v", deps, want)
			}

			seen := make(chan map[string]json.RawMessage, 1)
			for _, q := range []*Queue{env.top, env.mid, env.leaf} {
				startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
					values, err := j.GetChildrenValues(ctx)
					if err != nil {
						return nil, err
					}
					if j.ID == "R" {
						seen <- values
					}
					return map[string]any{"id": j.ID, "children": len(values)}, nil
				}, WorkerOpts{})
			}

			var rootValues map[string]json.RawMessage
			select {
			case rootValues = <-seen:
			case <-time.After(20 * time.Second):
				t.Fatalf("the root never ran")
			}
			if got := string(rootValues[env.mid.keys.job("M")]); got !=
				`{"children":2,"id":"M"}` {
				t.Errorf("root saw %v, want M's value", rootValues)
			}
			waitInSet(t, env.client, env.top.keys.completed(), "R")

			nodeValues := nodepeer.MustEvalAs[map[string]any](t, env.peer, `
const q = new bullmq.Queue(args.mid, { connection: redisOpts, prefix: args.prefix });
onClose(() => q.close());
return await (await q.getJob('M')).getChildrenValues();`, env.args())
			mid, err := env.mid.GetJob(ctx, "M")
			if err != nil {
				t.Fatalf("GetJob: %v", err)
			}
			goValues, err := mid.GetChildrenValues(ctx)
			if err != nil {
				t.Fatalf("GetChildrenValues: %v", err)
			}
			for key, v := range goValues {
				var decoded any
				if err := json.Unmarshal(v, &decoded); err != nil {
					t.Fatalf("value of %s: %v", key, err)
				}
				if fmt.Sprint(decoded) != fmt.Sprint(nodeValues[key]) {
					t.Errorf("child %s: Go %s, Node %v", key, v, nodeValues[key])
				}
			}
			if len(goValues) != 2 || len(nodeValues) != 2 {
				t.Errorf("Go values %v, Node values %v, want two each", goValues, nodeValues)
			}

			events := streamEvents(t, env.client, env.mid)
			if !contains(events, "waiting jobId=M prev=waiting-children") {
				t.Errorf("mid events %q lack the release of M", events)
			}
		})
	}
}

// nodeFlowWorkersJS starts Node workers on the three queues. Each returns its id and
// its children's values, and the root emits "root" with its result.
const nodeFlowWorkersJS = `
for (const name of [args.top, args.mid, args.leaf]) {
  const w = new bullmq.Worker(name, async job => {
    const children = await job.getChildrenValues();
    const result = { id: job.id, children };
    if (job.id === 'R') emit('root', result);
    return result;
  }, { connection: redisOpts, prefix: args.prefix, drainDelay: 1 });
  onClose(() => w.close());
  await w.waitUntilReady();
}
`

func TestInterop_GoFlowOnNodeWorkers(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			env := newFlowEnv(t, major)
			fp := NewFlowProducer(env.client, FlowProducerOpts{Prefix: env.prefix})
			if _, err := fp.Add(testContext(t), env.threeLevelFlow()); err != nil {
				t.Fatalf("Add: %v", err)
			}
			env.peer.MustEval(t, nodeFlowWorkersJS, env.args())

			var root struct {
				ID       string `json:"id"`
				Children map[string]struct {
					ID       string                     `json:"id"`
					Children map[string]json.RawMessage `json:"children"`
				} `json:"children"`
			}
			if err := json.Unmarshal(env.peer.MustNext(t, "root"), &root); err != nil {
				t.Fatalf("root result: %v", err)
			}
			mid, ok := root.Children[env.mid.keys.job("M")]
			if !ok || mid.ID != "M" || len(mid.Children) != 2 {
				t.Errorf("root saw children %+v, want M with two leaves", root.Children)
			}

			waitInSet(t, env.client, env.top.keys.completed(), "R")
			top, err := env.top.GetJob(testContext(t), "R")
			if err != nil {
				t.Fatalf("GetJob: %v", err)
			}
			deps, err := top.GetDependencies(testContext(t))
			if err != nil {
				t.Fatalf("GetDependencies: %v", err)
			}
			if len(deps.Processed) != 1 || len(deps.Unprocessed) != 0 {
				t.Errorf("root dependencies = %+v", deps)
			}
		})
	}
}

func TestInterop_NodeFlowFailurePoliciesOnGoWorkers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		policy   string // Node option name
		released bool
		failed   bool
		ignored  bool
	}{
		{"", false, false, false},
		{"failParentOnFailure", true, true, false},
		{"ignoreDependencyOnFailure", true, false, true},
		{"continueParentOnFailure", true, false, true},
		{"removeDependencyOnFailure", true, false, false},
	}
	for _, tt := range tests {
		name := tt.policy
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			env := newFlowEnv(t, 6)
			args := env.args()
			args["policy"] = tt.policy
			env.peer.MustEval(t, `
const fp = new bullmq.FlowProducer({ connection: redisOpts, prefix: args.prefix });
onClose(() => fp.close());
const bad = { jobId: 'bad' };
if (args.policy) bad[args.policy] = true;
await fp.add({ name: 'parent', queueName: args.top, opts: { jobId: 'P', attempts: 3 },
  children: [
    { name: 'good', queueName: args.leaf, opts: { jobId: 'good' } },
    { name: 'bad', queueName: args.leaf, opts: bad },
  ] });`, args)

			startWorker(t, env.leaf, func(ctx context.Context, j *Job) (any, error) {
				if j.ID == "bad" {
					return nil, fmt.Errorf("boom")
				}
				return "ok", nil
			}, WorkerOpts{})
			startWorker(t, env.top, func(ctx context.Context, j *Job) (any, error) {
				return "parent ran", nil
			}, WorkerOpts{})

			waitInSet(t, env.client, env.leaf.keys.failed(), "bad")
			waitInSet(t, env.client, env.leaf.keys.completed(), "good")
			ctx := testContext(t)
			parentKey := env.top.keys.job("P")
			badKey := env.leaf.keys.job("bad")
			switch {
			case tt.failed:
				waitInSet(t, env.client, env.top.keys.failed(), "P")
				h := jobHash(t, env.client, env.top, "P")
				requireField(t, h, "failedReason", "child "+badKey+" failed")
				requireNoField(t, h, "returnvalue")
				if env.client.ZScore(ctx, parentKey+":unsuccessful", badKey).Err() != nil {
					t.Errorf(":unsuccessful lacks %s", badKey)
				}
				if contains(streamEvents(t, env.client, env.top),
					"retries-exhausted jobId=P attemptsMade=1") {
					t.Errorf("parent with attempts 3 got retries-exhausted")
				}
			case tt.released:
				waitInSet(t, env.client, env.top.keys.completed(), "P")
			default:
				time.Sleep(300 * time.Millisecond)
				if env.client.ZScore(ctx, env.top.keys.waitingChildren(), "P").Err() != nil {
					t.Errorf("parent left waiting-children without a policy")
				}
				if !env.client.SIsMember(ctx, parentKey+":dependencies", badKey).Val() {
					t.Errorf("failed child left the parent's dependencies")
				}
			}

			ignored := env.client.HGet(ctx, parentKey+":failed", badKey).Val()
			if tt.ignored != (ignored == "boom") {
				t.Errorf(":failed entry = %q, want present %v", ignored, tt.ignored)
			}
		})
	}
}

func TestInterop_GoMoveToWaitingChildren(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		parentID := env.nodeAdd(t, "parent", map[string]int{"p": 1}, nil)

		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			if j.Name == "child" {
				return "from child", nil
			}
			values, err := j.GetChildrenValues(ctx)
			if err != nil {
				return nil, err
			}
			if len(values) > 0 {
				return values, nil
			}

			// The processor has Node add a child at run time, then waits for it.
			_, err = env.peer.Eval(ctx, `
await state.q.add('child', {}, { jobId: 'kid', parent: { id: args.id,
  queue: args.prefix + ':' + args.queue } });`, env.args(map[string]any{"id": j.ID}))
			if err != nil {
				return nil, err
			}
			moved, err := j.MoveToWaitingChildren(ctx, j.Token())
			if err != nil || !moved {
				return nil, fmt.Errorf("moved %v: %w", moved, err)
			}
			return nil, ErrWaitingChildren
		}, WorkerOpts{})

		got, err := env.nodeWait(t, parentID)
		if err != nil {
			t.Fatalf("Node waitUntilFinished: %v", err)
		}
		want := `{"` + env.q.keys.job("kid") + `":"from child"}`
		if string(got) != want {
			t.Errorf("parent result = %s, want %s", got, want)
		}
		events := streamEvents(t, env.client, env.q)
		if !contains(events, "waiting-children jobId="+parentID+" prev=active") {
			t.Errorf("events %q lack waiting-children(prev active)", events)
		}
		if !contains(events, "waiting jobId="+parentID+" prev=waiting-children") {
			t.Errorf("events %q lack the parent's release", events)
		}
	})
}
