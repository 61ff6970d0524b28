package bullmq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
)

// clusterEnv is a peerEnv on the local Redis Cluster, whose Node bullmq objects connect
// through ioredis Cluster connections.
type clusterEnv = peerEnv[*redis.ClusterClient]

// nodeClusterSetupJS defines state.cluster() (a new ioredis Cluster connection; bullmq
// needs one per blocking reader) and creates state.q and state.qe on the queue.
const nodeClusterSetupJS = `
const nodes = args.nodes.map((addr) => {
  const [host, port] = addr.split(':');
  return {host, port: Number(port)};
});
state.cluster = () => new IORedis.Cluster(nodes, {redisOptions: {maxRetriesPerRequest: null}});
state.opts = () => ({connection: state.cluster(), prefix: args.prefix});
state.q = new bullmq.Queue(args.queue, state.opts());
state.qe = new bullmq.QueueEvents(args.queue, state.opts());
await state.q.waitUntilReady();
await state.qe.waitUntilReady();
onClose(async () => { await state.qe.close(); await state.q.close(); });
`

// forEachClusterMajor runs fn as a parallel subtest per BullMQ major on the local cluster.
func forEachClusterMajor(t *testing.T, fn func(t *testing.T, env clusterEnv)) {
	t.Helper()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			q, client := newClusterQueue(t, QueueOpts{})
			peer := nodepeer.Start(t, major)
			env := clusterEnv{peer: peer, q: q, client: client}
			peer.MustEval(t, nodeClusterSetupJS,
				env.args(map[string]any{"nodes": redistest.ClusterAddrs(t)}))
			fn(t, env)
		})
	}
}

// TestInterop_ClusterNodeToGo: Node adds through ioredis Cluster, a Go worker on a
// ClusterClient runs the jobs, and Node reads the results.
func TestInterop_ClusterNodeToGo(t *testing.T) {
	t.Parallel()

	forEachClusterMajor(t, func(t *testing.T, env clusterEnv) {
		ctx := testContext(t)
		plain := env.nodeAdd(t, "plain", map[string]any{"x": 1}, nil)
		p5 := env.nodeAdd(t, "p5", nil, map[string]any{"priority": 5})
		p1 := env.nodeAdd(t, "p1", nil, map[string]any{"priority": 1})
		retry := env.nodeAdd(t, "retry", nil, map[string]any{"attempts": 3,
			"backoff": map[string]any{"type": "exponential", "delay": 100}})
		progress := env.nodeAdd(t, "progress", nil, map[string]any{"keepLogs": 2})
		removed := env.nodeAdd(t, "removed", nil, map[string]any{"removeOnComplete": true})
		delayed := env.nodeAdd(t, "delayed", nil, map[string]any{"delay": 300})
		dedup := env.nodeAdd(t, "dedup", nil, map[string]any{"delay": 200,
			"deduplication": map[string]any{"id": "dk"}})
		if again := env.nodeAdd(t, "dedup", nil, map[string]any{
			"deduplication": map[string]any{"id": "dk"}}); again != dedup {
			t.Errorf("second Node dedup add returned %s, want %s", again, dedup)
		}

		var mu sync.Mutex
		var order []string
		startWorker(t, env.q, func(ctx context.Context, job *Job) (any, error) {
			mu.Lock()
			order = append(order, job.ID)
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
		}, WorkerOpts{Name: "go-cw", Metrics: &MetricsOpts{MaxDataPoints: 10}})

		got, err := env.nodeWait(t, retry)
		if err != nil || string(got) != `{"name":"retry"}` {
			t.Errorf("Node waitUntilFinished(retry) = %s, %v", got, err)
		}
		for _, id := range []string{plain, p5, p1, progress, delayed, dedup} {
			if _, err := env.nodeWait(t, id); err != nil {
				t.Errorf("Node waitUntilFinished(%s): %v", id, err)
			}
		}
		waitFor(t, 10*time.Second, "removed job deleted", func() bool {
			return env.client.Exists(ctx, env.q.keys.job(removed)).Val() == 0
		})

		mu.Lock()
		if i, j, k := indexOf(order, plain), indexOf(order, p1), indexOf(order, p5); !(i < j &&
			j < k) {
			t.Errorf("order %v: want plain %s, then p1 %s, then p5 %s", order, plain, p1, p5)
		}
		mu.Unlock()

		node := nodepeer.MustEvalAs[struct {
			Retry    map[string]any `json:"retry"`
			Logs     map[string]any `json:"logs"`
			Metrics  map[string]any `json:"metrics"`
			Dedup    *string        `json:"dedup"`
			Progress any            `json:"progress"`
		}](t, env.peer, `
const retry = await state.q.getJob(args.retry);
const progress = await state.q.getJob(args.progress);
return {
  retry: {attemptsMade: retry.attemptsMade, failedReason: retry.failedReason,
    stacktrace: retry.stacktrace.length},
  logs: await state.q.getJobLogs(args.progress),
  metrics: await state.q.getMetrics('completed'),
  dedup: await state.q.getDeduplicationJobId('dk'),
  progress: progress.progress,
};`, env.args(map[string]any{"retry": retry, "progress": progress}))

		if node.Retry["attemptsMade"] != 3.0 || node.Retry["failedReason"] != "fail 2" ||
			node.Retry["stacktrace"] != 2.0 {
			t.Errorf("Node view of the retried job = %v, want 3 attempts, fail 2, 2 traces",
				node.Retry)
		}
		if fmt.Sprint(node.Logs["logs"]) != "[two three]" || node.Logs["count"] != 2.0 {
			t.Errorf("Node getJobLogs = %v, want [two three], count 2", node.Logs)
		}
		if meta, _ := node.Metrics["meta"].(map[string]any); meta["count"] != 8.0 {
			t.Errorf("Node getMetrics('completed') = %v, want count 8", node.Metrics)
		}
		if node.Dedup != nil {
			t.Errorf("Node getDeduplicationJobId after completion = %q, want null", *node.Dedup)
		}
		if fmt.Sprint(node.Progress) != "map[p:50]" {
			t.Errorf("Node job.progress = %v, want {p: 50}", node.Progress)
		}

		events := clusterEvents(t, env.client, env.q)
		for _, want := range []string{
			"delayed jobId=" + retry,
			"waiting jobId=" + delayed + " prev=delayed",
			"progress jobId=" + progress + ` data={"p":50}`,
			"completed jobId=" + removed + ` returnvalue={"name":"removed"} prev=active`,
		} {
			if indexOfPrefix(events, want) < 0 {
				t.Errorf("events lack %q: %q", want, events)
			}
		}

		workers := nodepeer.MustEvalAs[[]map[string]any](t, env.peer,
			`return await state.q.getWorkers();`, nil)
		found := false
		for _, w := range workers {
			if strings.HasSuffix(fmt.Sprint(w["rawname"]), ":w:go-cw") {
				found = true
			}
		}
		if !found {
			t.Errorf("Node getWorkers() = %v, want the Go worker go-cw", workers)
		}
		requireOneSlot(t, env.client, env.q)
	})
}

// TestInterop_ClusterGoToNode: Go adds on a ClusterClient, pauses and resumes. A Node
// worker on ioredis Cluster runs the jobs and recovers a job that a Go worker left stalled.
func TestInterop_ClusterGoToNode(t *testing.T) {
	t.Parallel()

	forEachClusterMajor(t, func(t *testing.T, env clusterEnv) {
		ctx := testContext(t)

		// A Go worker takes this job and "dies": its lock is deleted.
		stalled := mustAdd(t, env.q, "stalled", nil, JobOpts{})
		goWorker := newTestWorker(t, env.q, nil, WorkerOpts{})
		if res, err := goWorker.moveToActive(ctx); err != nil || res.job == nil {
			t.Fatalf("Go fetch = %+v, %v, want a job", res, err)
		}
		env.client.Del(ctx, env.q.keys.job(stalled.ID)+":lock")

		if err := env.q.Pause(ctx); err != nil {
			t.Fatalf("Pause: %v", err)
		}
		plain := mustAdd(t, env.q, "plain", map[string]any{"x": 1}, JobOpts{})
		p5 := mustAdd(t, env.q, "p5", nil, JobOpts{Priority: 5})
		p1 := mustAdd(t, env.q, "p1", nil, JobOpts{Priority: 1})
		retry := mustAdd(t, env.q, "retry", nil, JobOpts{Attempts: 3,
			Backoff: &Backoff{Type: BackoffFixed, Delay: 100 * time.Millisecond}})
		delayed := mustAdd(t, env.q, "delayed", nil, JobOpts{Delay: 300 * time.Millisecond})
		bulk, err := env.q.AddBulk(ctx, []BulkJob{{Name: "b1"}, {Name: "b2"}})
		if err != nil {
			t.Fatalf("AddBulk: %v", err)
		}

		env.peer.MustEval(t, `
state.order = [];
state.w = new bullmq.Worker(args.queue, async (job) => {
  state.order.push(job.id);
  if (job.name === 'retry' && job.attemptsMade < 2) throw new Error('fail ' + job.attemptsMade);
  return {name: job.name};
}, {...state.opts(), name: 'node-cw', drainDelay: 1, stalledInterval: 300});
onClose(() => state.w.close());
await state.w.waitUntilReady();`, env.args(nil))

		// While paused, the Node worker runs nothing but its stalled check.
		waitFor(t, 20*time.Second, "stalled job recovered", func() bool {
			return jobHash(t, env.client, env.q, stalled.ID)["stc"] == "1"
		})
		if n := nodepeer.MustEvalAs[int](t, env.peer, `return state.order.length;`,
			nil); n != 0 {
			t.Errorf("Node worker ran %d jobs while the queue was paused", n)
		}
		if err := env.q.Resume(ctx); err != nil {
			t.Fatalf("Resume: %v", err)
		}

		for _, id := range []string{stalled.ID, plain.ID, p5.ID, p1.ID, retry.ID, delayed.ID,
			bulk[0].ID, bulk[1].ID} {
			waitInSet(t, env.client, env.q.keys.completed(), id)
		}

		h := jobHash(t, env.client, env.q, retry.ID)
		requireField(t, h, "atm", "3")
		requireField(t, h, "returnvalue", `{"name":"retry"}`)
		requireField(t, h, "pb", "node-cw")
		requireField(t, jobHash(t, env.client, env.q, delayed.ID), "delay", "0")

		order := nodepeer.MustEvalAs[[]string](t, env.peer, `return state.order;`, nil)
		if i, j := indexOf(order, p1.ID), indexOf(order, p5.ID); i < 0 || j < 0 || i > j {
			t.Errorf("Node order %v: want p1 %s before p5 %s", order, p1.ID, p5.ID)
		}

		events := clusterEvents(t, env.client, env.q)
		for _, want := range []string{
			"paused", "resumed",
			"stalled jobId=" + stalled.ID,
			"waiting jobId=" + delayed.ID + " prev=delayed",
			"delayed jobId=" + retry.ID,
		} {
			if indexOfPrefix(events, want) < 0 {
				t.Errorf("events lack %q: %q", want, events)
			}
		}

		value, err := env.nodeWait(t, plain.ID)
		if err != nil || string(value) != `{"name":"plain"}` {
			t.Errorf("Node waitUntilFinished(plain) = %s, %v", value, err)
		}
		requireOneSlot(t, env.client, env.q)
	})
}

// TestInterop_ClusterRateLimit shares a limited, globally serialized queue between a Go
// and a Node worker on the cluster.
func TestInterop_ClusterRateLimit(t *testing.T) {
	t.Parallel()

	forEachClusterMajor(t, func(t *testing.T, env clusterEnv) {
		ctx := testContext(t)
		env.peer.MustEval(t, `await state.q.setGlobalConcurrency(1);
await state.q.setGlobalRateLimit(2, 300);`, nil)
		if n, err := env.q.GetGlobalConcurrency(ctx); err != nil || n != 1 {
			t.Fatalf("GetGlobalConcurrency = %d, %v, want 1", n, err)
		}

		const jobs = 8
		for i := range jobs {
			mustAdd(t, env.q, fmt.Sprintf("j%d", i), nil, JobOpts{})
		}
		env.peer.MustEval(t, `
state.w = new bullmq.Worker(args.queue, async () => 'n',
  {...state.opts(), concurrency: 2, drainDelay: 1});
onClose(() => state.w.close());`, env.args(nil))
		startWorker(t, env.q, func(ctx context.Context, job *Job) (any, error) {
			return "g", nil
		}, WorkerOpts{Concurrency: 2})

		waitFor(t, 30*time.Second, "all jobs completed", func() bool {
			return env.client.ZCard(ctx, env.q.keys.completed()).Val() == jobs
		})
		entries := readStream(t, env.client, env.q.keys.events())
		checkOneActiveAtATime(t, entries)
		checkLimiterSpacing(t, activeTimes(entries), 2, 300*time.Millisecond)
	})
}
