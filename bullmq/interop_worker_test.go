package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redisdump"
	"github.com/portnimara/nimara/internal/redistest"
)

// peerEnv is one queue shared by a Go Queue and a Node peer that has a Queue (state.q) and
// a QueueEvents reader (state.qe) for the same prefix and name. C is the Go client type.
type peerEnv[C redis.UniversalClient] struct {
	peer   *nodepeer.Peer
	q      *Queue
	client C
}

// workerEnv is a peerEnv on a single Redis server.
type workerEnv = peerEnv[*redis.Client]

// args returns the Eval arguments naming the queue, merged with extra.
func (e peerEnv[C]) args(extra map[string]any) map[string]any {
	a := map[string]any{"queue": e.q.name, "prefix": e.q.prefix}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

const nodeSetupJS = `
const opts = {connection: redisOpts, prefix: args.prefix};
state.q = new bullmq.Queue(args.queue, opts);
state.qe = new bullmq.QueueEvents(args.queue, opts);
await state.q.waitUntilReady();
await state.qe.waitUntilReady();
onClose(async () => { await state.qe.close(); await state.q.close(); });
`

// forEachWorkerMajor runs fn as a parallel subtest per BullMQ major, each with its own peer
// and queue.
func forEachWorkerMajor(t *testing.T, fn func(t *testing.T, env workerEnv)) {
	t.Helper()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			q, client := newTestQueue(t, QueueOpts{})
			peer := nodepeer.Start(t, major)
			env := workerEnv{peer: peer, q: q, client: client}
			peer.MustEval(t, nodeSetupJS, env.args(nil))
			fn(t, env)
		})
	}
}

// nodeAdd adds a job through the Node Queue and returns its id.
func (e peerEnv[C]) nodeAdd(t *testing.T, name string, data any, opts map[string]any) string {
	t.Helper()

	if opts == nil {
		opts = map[string]any{}
	}
	return nodepeer.MustEvalAs[string](t, e.peer,
		`return (await state.q.add(args.name, args.data, args.opts)).id;`,
		e.args(map[string]any{"name": name, "data": data, "opts": opts}))
}

// nodeWait waits in Node for the job to finish and returns its return value, or the
// failure message as an error.
func (e peerEnv[C]) nodeWait(t *testing.T, id string) (json.RawMessage, error) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	return e.peer.Eval(ctx, `
const job = await state.q.getJob(args.id);
return await job.waitUntilFinished(state.qe, 20000);`, e.args(map[string]any{"id": id}))
}

func TestInterop_GoWorkerCompletesNodeJob(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		id := env.nodeAdd(t, "greet", map[string]any{"x": 1}, nil)
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			return map[string]any{"hello": "world", "n": 1.5}, nil
		}, WorkerOpts{Name: "go-w"})

		got, err := env.nodeWait(t, id)
		if err != nil {
			t.Fatalf("Node waitUntilFinished: %v", err)
		}
		if string(got) != `{"hello":"world","n":1.5}` {
			t.Errorf("Node waitUntilFinished = %s", got)
		}

		score := waitInSet(t, env.client, env.q.keys.completed(), id)
		h := jobHash(t, env.client, env.q, id)
		requireField(t, h, "ats", "1")
		requireField(t, h, "atm", "1")
		requireField(t, h, "pb", "go-w")
		requireField(t, h, "returnvalue", `{"hello":"world","n":1.5}`)
		requireField(t, h, "finishedOn", strconv.FormatInt(int64(score), 10))
		if h["processedOn"] == "" {
			t.Errorf("processedOn is missing")
		}
		if env.client.Exists(context.Background(), env.q.keys.job(id)+":lock").Val() != 0 {
			t.Errorf("lock key exists after completion")
		}

		events := streamEvents(t, env.client, env.q)
		if !contains(events, "active jobId="+id+" prev=waiting") {
			t.Errorf("events %q lack active(prev waiting)", events)
		}
		want := `completed jobId=` + id + ` returnvalue={"hello":"world","n":1.5} prev=active`
		if !contains(events, want) {
			t.Errorf("events %q lack %q", events, want)
		}

		// Node's getWorkers lists connections named as Node names them. CLIENT LIST
		// may lag a moment behind the connection, so the list is polled.
		var workers []map[string]any
		listed := func() bool {
			workers = nodepeer.MustEvalAs[[]map[string]any](t, env.peer,
				`return await state.q.getWorkers();`, nil)
			for _, w := range workers {
				if w["name"] == "go-w" || strings.HasSuffix(fmt.Sprint(w["rawname"]), ":w:go-w") {
					return true
				}
			}
			return false
		}
		deadline := time.Now().Add(20 * time.Second)
		for !listed() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !listed() {
			t.Errorf("Node getWorkers() = %v, want the Go worker go-w listed", workers)
		}
	})
}

func TestInterop_GoWorkerLIFOOrder(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		a := env.nodeAdd(t, "A", nil, nil)
		b := env.nodeAdd(t, "B", nil, nil)
		c := env.nodeAdd(t, "C", nil, map[string]any{"lifo": true})

		var mu sync.Mutex
		var order []string
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, j.ID)
			return nil, nil
		}, WorkerOpts{})

		waitFor(t, 10*time.Second, "3 completions", func() bool {
			return env.client.ZCard(context.Background(), env.q.keys.completed()).Val() == 3
		})
		mu.Lock()
		defer mu.Unlock()
		if !equalStrings(order, []string{c, a, b}) {
			t.Errorf("processing order = %v, want [%s %s %s] (C, A, B)", order, c, a, b)
		}
	})
}

func TestInterop_NodeWorkerPromotesGoDelayedJob(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		job := mustAdd(t, env.q, "later", nil, JobOpts{Delay: 500 * time.Millisecond})
		env.peer.MustEval(t, `
state.w = new bullmq.Worker(args.queue, async () => 'ok',
  {connection: redisOpts, prefix: args.prefix});
onClose(() => state.w.close());`, env.args(nil))

		if _, err := env.nodeWait(t, job.ID); err != nil {
			t.Fatalf("Node waitUntilFinished: %v", err)
		}
		requireField(t, jobHash(t, env.client, env.q, job.ID), "delay", "0")

		events := streamEvents(t, env.client, env.q)
		i := indexOf(events, "waiting jobId="+job.ID+" prev=delayed")
		if i < 0 || i+1 >= len(events) || events[i+1] != "active jobId="+job.ID+" prev=waiting" {
			t.Errorf("events %q lack waiting(prev delayed) followed by active", events)
		}
	})
}

func TestInterop_NodeWorkerRetriesGoJob(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		job := mustAdd(t, env.q, "x", nil, JobOpts{Attempts: 2})
		env.peer.MustEval(t, `
state.w = new bullmq.Worker(args.queue, async () => { throw new Error('always'); },
  {connection: redisOpts, prefix: args.prefix});
onClose(() => state.w.close());`, env.args(nil))

		score := waitInSet(t, env.client, env.q.keys.failed(), job.ID)
		h := jobHash(t, env.client, env.q, job.ID)
		requireField(t, h, "atm", "2")
		requireField(t, h, "finishedOn", strconv.FormatInt(int64(score), 10))
		requireNoField(t, h, "defa")

		events := streamEvents(t, env.client, env.q)
		id := job.ID
		want := []string{
			"added jobId=" + id + " name=x",
			"waiting jobId=" + id,
			"active jobId=" + id + " prev=waiting",
			"waiting jobId=" + id + " prev=active",
			"active jobId=" + id + " prev=waiting",
			"failed jobId=" + id + " failedReason=always prev=active",
			"retries-exhausted jobId=" + id + " attemptsMade=2",
		}
		if len(events) < len(want) || !equalStrings(events[:len(want)], want) {
			t.Errorf("events = %q\nwant prefix %q", events, want)
		}
	})
}

func TestInterop_GoWorkerFailuresSeenByNode(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		final := env.nodeAdd(t, "final", nil, map[string]any{"attempts": 1})
		unrec := env.nodeAdd(t, "unrecoverable", nil, map[string]any{"attempts": 5})
		plain := env.nodeAdd(t, "default-attempts", nil, nil)

		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			if j.Name == "unrecoverable" {
				return nil, Unrecoverable(errors.New("cannot ever work"))
			}
			return nil, errors.New("exact message: <ü>")
		}, WorkerOpts{})

		_, err := env.nodeWait(t, final)
		var evalErr *nodepeer.EvalError
		if !errors.As(err, &evalErr) || evalErr.Message != "exact message: <ü>" {
			t.Errorf("Node waitUntilFinished error = %v, want the exact failure message", err)
		}
		got := nodepeer.MustEvalAs[struct {
			FailedReason string   `json:"failedReason"`
			Stacktrace   []string `json:"stacktrace"`
		}](t, env.peer, `return await state.q.getJob(args.id);`,
			env.args(map[string]any{"id": final}))
		if got.FailedReason != "exact message: <ü>" {
			t.Errorf("Node job.failedReason = %q", got.FailedReason)
		}
		if len(got.Stacktrace) != 1 {
			t.Errorf("Node job.stacktrace = %q, want one entry", got.Stacktrace)
		}

		waitInSet(t, env.client, env.q.keys.failed(), unrec)
		requireField(t, jobHash(t, env.client, env.q, unrec), "atm", "1")
		waitInSet(t, env.client, env.q.keys.failed(), plain)

		events := streamEvents(t, env.client, env.q)
		if !contains(events, "failed jobId="+unrec+" failedReason=cannot ever work prev=active") {
			t.Errorf("events lack the failed event of the unrecoverable job")
		}
		if indexOf(events, "retries-exhausted jobId="+unrec+" attemptsMade=1") >= 0 {
			t.Errorf("an unrecoverable failure on attempt 1 of 5 wrote retries-exhausted")
		}
		if !contains(events, "retries-exhausted jobId="+plain+" attemptsMade=1") {
			t.Errorf("a job without attempts lacks retries-exhausted(1)")
		}
	})
}

func TestInterop_GoWorkerRetention(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		removed := env.nodeAdd(t, "rm", nil, map[string]any{"removeOnComplete": true})

		var kept []string
		for i := range 5 {
			kept = append(kept, env.nodeAdd(t, "keep", map[string]int{"i": i},
				map[string]any{"removeOnComplete": map[string]int{"count": 2}}))
		}
		oldFail := env.nodeAdd(t, "fail", nil, map[string]any{
			"removeOnFail": map[string]int{"age": 1}})

		release := make(chan struct{})
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			if _, err := j.Log(ctx, "line"); err != nil {
				return nil, err
			}
			if j.Name == "fail" {
				return nil, errors.New("failing")
			}
			if j.Name == "fail-later" {
				<-release
				return nil, errors.New("failing later")
			}
			return "v", nil
		}, WorkerOpts{})

		waitFor(t, 10*time.Second, "the removed job's completed event", func() bool {
			return contains(streamEvents(t, env.client, env.q),
				"completed jobId="+removed+" returnvalue=\"v\" prev=active")
		})
		if n := env.client.Exists(ctx, env.q.keys.job(removed),
			env.q.keys.job(removed)+":logs").Val(); n != 0 {
			t.Errorf("removeOnComplete true left %d of the job's keys", n)
		}
		if _, err := env.client.ZScore(ctx, env.q.keys.completed(), removed).Result(); err == nil {
			t.Errorf("removeOnComplete true job is in the completed set")
		}

		waitFor(t, 10*time.Second, "5 kept completions", func() bool {
			return contains(streamEvents(t, env.client, env.q),
				"completed jobId="+kept[4]+" returnvalue=\"v\" prev=active")
		})
		ids, _ := env.client.ZRange(ctx, env.q.keys.completed(), 0, -1).Result()
		if !equalStrings(ids, kept[3:]) {
			t.Errorf("completed = %v, want the 2 newest %v", ids, kept[3:])
		}
		for _, id := range kept[:3] {
			if env.client.Exists(ctx, env.q.keys.job(id)).Val() != 0 {
				t.Errorf("job %s beyond count 2 still has its hash", id)
			}
		}

		waitInSet(t, env.client, env.q.keys.failed(), oldFail)
		time.Sleep(1100 * time.Millisecond) // let the first failure age past 1 second
		next := env.nodeAdd(t, "fail", nil, map[string]any{
			"removeOnFail": map[string]int{"age": 1}})
		waitInSet(t, env.client, env.q.keys.failed(), next)
		if env.client.Exists(ctx, env.q.keys.job(oldFail)).Val() != 0 {
			t.Errorf("failed job older than age 1s was not deleted by the next failure")
		}
		close(release)
	})
}

func TestInterop_GoProgressSeenByNode(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		env.peer.MustEval(t, `
state.qe.on('progress', ({jobId, data}) => emit('progress', {jobId, data}));`, nil)
		id := env.nodeAdd(t, "p", nil, map[string]any{"keepLogs": 2})

		var logCount int
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			if err := j.UpdateProgress(ctx, map[string]int{"p": 50}); err != nil {
				return nil, err
			}
			for _, line := range []string{"a", "b", "c"} {
				n, err := j.Log(ctx, line)
				if err != nil {
					return nil, err
				}
				logCount = n
			}
			return nil, nil
		}, WorkerOpts{})

		raw := env.peer.MustNext(t, "progress")
		if string(raw) != `{"jobId":"`+id+`","data":{"p":50}}` {
			t.Errorf("Node QueueEvents progress = %s", raw)
		}
		waitInSet(t, env.client, env.q.keys.completed(), id)
		requireField(t, jobHash(t, env.client, env.q, id), "progress", `{"p":50}`)
		if logs := listRange(t, env.client, env.q.keys.job(id)+":logs"); !equalStrings(logs,
			[]string{"b", "c"}) {
			t.Errorf("logs = %v, want [b c]", logs)
		}
		if logCount != 2 {
			t.Errorf("Log returned %d for the third line with keepLogs 2, want 2", logCount)
		}
	})
}

// nodeStallCheckJS runs one stalled check of a Node worker that processes nothing.
const nodeStallCheckJS = `
if (!state.checker) {
  state.checker = new bullmq.Worker(args.queue, null, {connection: redisOpts,
    prefix: args.prefix, autorun: false, maxStalledCount: 1, stalledInterval: 30000});
  onClose(() => state.checker.close());
}
const backend = state.checker.backend ?? state.checker.scripts;
return await backend.moveStalledJobsToWait();
`

// nodeStallCheck clears the stalled-check throttle and runs one Node stalled check.
func (e peerEnv[C]) nodeStallCheck(t *testing.T) []string {
	t.Helper()

	if err := e.client.Del(context.Background(), e.q.keys.stalledCheck()).Err(); err != nil {
		t.Fatalf("DEL stalled-check: %v", err)
	}
	return nodepeer.MustEvalAs[[]string](t, e.peer, nodeStallCheckJS, e.args(nil))
}

func TestInterop_NodeStallCheckSparesRenewedLock(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		id := env.nodeAdd(t, "long", nil, nil)
		const lockDuration = 400 * time.Millisecond
		started := make(chan struct{})
		release := make(chan struct{})
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			close(started)
			select {
			case <-release:
				return "done", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}, WorkerOpts{LockDuration: lockDuration, SkipStalledCheck: true})

		<-started
		deadline := time.Now().Add(3 * lockDuration)
		for time.Now().Before(deadline) {
			stalled := env.nodeStallCheck(t)
			if len(stalled) != 0 {
				t.Fatalf("Node stall check recovered %v while the Go worker renews the lock",
					stalled)
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(release)

		if _, err := env.nodeWait(t, id); err != nil {
			t.Fatalf("Node waitUntilFinished: %v", err)
		}
		requireNoField(t, jobHash(t, env.client, env.q, id), "stc")
	})
}

func TestInterop_NodeRecoversStalledGoJob(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		id := env.nodeAdd(t, "s", nil, map[string]any{"attempts": 5})
		w := newTestWorker(t, env.q, nil, WorkerOpts{})

		// The Go worker fetches the job and dies: its lock disappears.
		stall := func() []string {
			t.Helper()

			fetched := fetchOne(t, w)
			if fetched.ID != id {
				t.Fatalf("fetched %s, want %s", fetched.ID, id)
			}
			env.client.Del(ctx, env.q.keys.job(id)+":lock")
			env.nodeStallCheck(t)
			return env.nodeStallCheck(t)
		}

		if got := stall(); !equalStrings(got, []string{id}) {
			t.Fatalf("Node stall checks recovered %v, want [%s]", got, id)
		}
		h := jobHash(t, env.client, env.q, id)
		requireField(t, h, "stc", "1")
		requireNoField(t, h, "defa")
		if wait := listRange(t, env.client, env.q.keys.wait()); len(wait) == 0 ||
			wait[len(wait)-1] != id {
			t.Errorf("wait = %v, want %s at the front", wait, id)
		}
		if n := env.client.SCard(ctx, env.q.keys.stalled()).Val(); n != 0 {
			t.Errorf("stalled set holds %d ids after recovery", n)
		}

		stall()
		h = jobHash(t, env.client, env.q, id)
		requireField(t, h, "stc", "2")
		requireField(t, h, "defa", stalledFailure)

		ran := make(chan struct{}, 1)
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			ran <- struct{}{}
			return nil, nil
		}, WorkerOpts{})
		_, err := env.nodeWait(t, id)
		var evalErr *nodepeer.EvalError
		if !errors.As(err, &evalErr) || evalErr.Message != stalledFailure {
			t.Errorf("Node waitUntilFinished error = %v, want %q", err, stalledFailure)
		}
		requireField(t, jobHash(t, env.client, env.q, id), "failedReason", stalledFailure)
		select {
		case <-ran:
			t.Errorf("Go processor ran for a job with a deferred failure")
		default:
		}
	})
}

func TestInterop_NodeWorkerFailsGoDeferredFailure(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		job := mustAdd(t, env.q, "s", nil, JobOpts{Attempts: 5})
		w := newTestWorker(t, env.q, nil, WorkerOpts{MaxStalledCount: 1})

		for range 2 {
			fetchOne(t, w)
			env.client.Del(ctx, env.q.keys.job(job.ID)+":lock")
			for range 2 {
				env.client.Del(ctx, env.q.keys.stalledCheck())
				if _, err := w.checkStalled(ctx); err != nil {
					t.Fatalf("checkStalled: %v", err)
				}
			}
		}
		requireField(t, jobHash(t, env.client, env.q, job.ID), "defa", stalledFailure)

		env.peer.MustEval(t, `
state.ran = false;
state.w = new bullmq.Worker(args.queue, async () => { state.ran = true; },
  {connection: redisOpts, prefix: args.prefix});
onClose(() => state.w.close());`, env.args(nil))

		_, err := env.nodeWait(t, job.ID)
		var evalErr *nodepeer.EvalError
		if !errors.As(err, &evalErr) || evalErr.Message != stalledFailure {
			t.Errorf("Node waitUntilFinished error = %v, want %q", err, stalledFailure)
		}
		if nodepeer.MustEvalAs[bool](t, env.peer, `return state.ran;`, nil) {
			t.Errorf("Node processor ran for a job with a deferred failure")
		}
	})
}

func TestInterop_GoWorkerMetrics(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		metricsKey := env.q.keys.key("metrics:completed")
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			return nil, nil
		}, WorkerOpts{Metrics: &MetricsOpts{MaxDataPoints: 10}})

		complete := func(n int) {
			t.Helper()
			for range n {
				id := env.nodeAdd(t, "m", nil, nil)
				waitInSet(t, env.client, env.q.keys.completed(), id)
			}
		}

		complete(2)
		h, _ := env.client.HGetAll(ctx, metricsKey).Result()
		requireField(t, h, "count", "2")
		requireField(t, h, "prevCount", "0")

		// Move the minute of the last data point three minutes back: the next completion
		// closes that minute and records two empty minutes.
		prevTS, _ := strconv.ParseInt(h["prevTS"], 10, 64)
		env.client.HSet(ctx, metricsKey, "prevTS", prevTS-3*60000)
		complete(1)

		h, _ = env.client.HGetAll(ctx, metricsKey).Result()
		requireField(t, h, "count", "3")
		requireField(t, h, "prevCount", "2")
		data := listRange(t, env.client, metricsKey+":data")
		if !equalStrings(data, []string{"0", "0", "2"}) {
			t.Errorf("metrics data = %v, want [0 0 2]", data)
		}

		got := nodepeer.MustEvalAs[struct {
			Meta struct {
				Count     int `json:"count"`
				PrevTS    int `json:"prevTS"`
				PrevCount int `json:"prevCount"`
			} `json:"meta"`
			Data  []int `json:"data"`
			Count int   `json:"count"`
		}](t, env.peer, `return await state.q.getMetrics('completed');`, nil)
		if got.Meta.Count != 3 || got.Meta.PrevCount != 2 || got.Count != 3 {
			t.Errorf("Node getMetrics = %+v, want count 3, prevCount 2, 3 data points", got)
		}
		if len(got.Data) != 3 || got.Data[2] != 2 {
			t.Errorf("Node getMetrics data = %v, want [0 0 2]", got.Data)
		}
	})
}

func TestInterop_EventStreamTrimming(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		// 100 paced batches outlast testContext's 30 s on a loaded 2-core machine.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()

		// The Node Queue and the first Go add write the default 10000 into meta; lower it
		// only after both did.
		mustAdd(t, env.q, "first", nil, JobOpts{})
		waitFor(t, 10*time.Second, "Node Queue meta version", func() bool {
			return env.client.HExists(ctx, env.q.keys.meta(), "version").Val()
		})
		env.client.HSet(ctx, env.q.keys.meta(), "opts.maxLenEvents", 100)
		env.peer.MustEval(t, `
state.completed = 0;
state.qe.on('completed', () => { state.completed++; });`, nil)

		const total = 1000 + 1
		var maxLen int64
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			return j.ID, nil
		}, WorkerOpts{Concurrency: 10})
		// Jobs go in batches of 10 (about 50 events). Each batch is added once the previous
		// one completed and the Node QueueEvents received its completed events, so the
		// reader never falls more than maxLenEvents behind. A reader under load that falls
		// further behind loses the entries XTRIM removed before it read them, with Node
		// peers alone as well. Pacing on the completions alone lost 76 of 1001 events on a
		// loaded 2-core machine, because the Node process was starved of CPU.
		sampleLen := func() {
			if n := env.client.XLen(ctx, env.q.keys.events()).Val(); n > maxLen {
				maxLen = n
			}
		}
		for batch := range (total - 1) / 10 {
			for i := range 10 {
				mustAdd(t, env.q, "e", map[string]int{"i": batch*10 + i}, JobOpts{})
				sampleLen()
			}
			want := batch*10 + 10 + 1
			waitFor(t, 30*time.Second, "a batch of completions", func() bool {
				sampleLen()
				return env.client.ZCard(ctx, env.q.keys.completed()).Val() == int64(want)
			})
			waitFor(t, 30*time.Second, "the Node QueueEvents to read a batch", func() bool {
				sampleLen()
				return nodepeer.MustEvalAs[int](t, env.peer, `return state.completed;`,
					nil) >= want
			})
		}
		t.Logf("highest XLEN with maxLenEvents 100: %d", maxLen)
		if maxLen > 100+200 {
			t.Errorf("XLEN reached %d, want at most maxLenEvents 100 plus trimming slack", maxLen)
		}

		deadline := time.Now().Add(30 * time.Second)
		received := 0
		for time.Now().Before(deadline) {
			received = nodepeer.MustEvalAs[int](t, env.peer, `return state.completed;`, nil)
			if received == total {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if received != total {
			t.Errorf("Node QueueEvents received %d completed events, want %d", received, total)
		}
	})
}

// nodeRetryWorkerJS processes the queue with a Node worker that fails each job twice and
// then returns {ok: true}.
const nodeRetryWorkerJS = `
const calls = {};
state.w = new bullmq.Worker(args.queue, async (job) => {
  calls[job.id] = (calls[job.id] ?? 0) + 1;
  if (calls[job.id] <= 2) throw new Error('fail ' + calls[job.id]);
  return {ok: true};
}, {connection: redisOpts, prefix: args.prefix});
onClose(() => state.w.close());
`

func TestInterop_DumpEqualAfterRetries(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			run := compareWorkerRuns(t, major, `{attempts: 3, backoff: {type: 'exponential', delay: 1000}}`,
				nodeRetryWorkerJS, failN(2, map[string]bool{"ok": true}))
			h := jobHash(t, run.client, run.goQ, run.goID)
			requireField(t, h, "atm", "3")
			requireField(t, h, "ats", "3")
			requireField(t, h, "delay", "0")
			requireField(t, h, "failedReason", "fail 2")
			if run.nodeID != run.goID {
				t.Errorf("job ids differ: node %s, go %s", run.nodeID, run.goID)
			}
			run.requireEqualDumps(t)
		})
	}
}

// workerRuns is one job history played by a Node worker on one queue and by a Go worker on
// another, from the same Node producer.
type workerRuns struct {
	client         *redis.Client
	nodeQ, goQ     *Queue
	nodeID, goID   string
	nodeRes, goRes json.RawMessage
}

// compareWorkerRuns adds one job with the given Node job options to two fresh queues, runs
// it to the end with nodeWorkerJS (which must set state.w) on the first and fn on the second,
// and returns both results. It fails the test when either job does not finish.
func compareWorkerRuns(t *testing.T, major int, jobOptsJS, nodeWorkerJS string,
	fn ProcessFunc) workerRuns {
	t.Helper()

	client := redistest.Client(t)
	peer := nodepeer.Start(t, major)
	r := workerRuns{
		client: client,
		nodeQ:  NewQueue(client, redistest.QueueName(t), QueueOpts{Prefix: redistest.Prefix(t)}),
		goQ:    NewQueue(client, redistest.QueueName(t), QueueOpts{Prefix: redistest.Prefix(t)}),
	}
	nodeEnv := workerEnv{peer: peer, q: r.nodeQ, client: client}
	goEnv := workerEnv{peer: peer, q: r.goQ, client: client}

	// Node produces both jobs, through one Queue per queue name.
	addJS := `
const q = new bullmq.Queue(args.queue, {connection: redisOpts, prefix: args.prefix});
const qe = new bullmq.QueueEvents(args.queue, {connection: redisOpts, prefix: args.prefix});
await qe.waitUntilReady();
const job = await q.add('job', {x: 1}, ` + jobOptsJS + `);
state[args.queue] = {q, qe, id: job.id};
onClose(async () => { await qe.close(); await q.close(); });
return job.id;`
	r.nodeID = nodepeer.MustEvalAs[string](t, peer, addJS, nodeEnv.args(nil))
	r.goID = nodepeer.MustEvalAs[string](t, peer, addJS, goEnv.args(nil))

	waitJS := `
const {q, qe, id} = state[args.queue];
return await (await q.getJob(id)).waitUntilFinished(qe, 20000);`
	var nodeErr, goErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		peer.MustEval(t, nodeWorkerJS, nodeEnv.args(nil))
		r.nodeRes, nodeErr = peer.Eval(testContext(t), waitJS, nodeEnv.args(nil))
		waitMarkerConsumed(t, client, r.nodeQ)
		peer.MustEval(t, `await state.w.close();`, nil)
	})
	wg.Go(func() {
		stop := runWorker(t, newTestWorker(t, r.goQ, fn, WorkerOpts{DrainDelay: 5 * time.Second}))
		r.goRes, goErr = peer.Eval(testContext(t), waitJS, goEnv.args(nil))
		waitMarkerConsumed(t, client, r.goQ)
		stop()
	})
	wg.Wait()

	if nodeErr != nil || goErr != nil {
		t.Fatalf("waitUntilFinished: node %v, go %v", nodeErr, goErr)
	}
	if string(r.nodeRes) != string(r.goRes) {
		t.Errorf("return values differ: node %s, go %s", r.nodeRes, r.goRes)
	}
	return r
}

// requireEqualDumps compares the normalized Redis contents of the two queues.
func (r workerRuns) requireEqualDumps(t *testing.T) {
	t.Helper()

	nodeDump := redisdump.MustDump(t, r.client, r.nodeQ.prefix,
		&redisdump.Opts{Replace: map[string]string{r.nodeQ.name: "<Q>"}})
	goDump := redisdump.MustDump(t, r.client, r.goQ.prefix,
		&redisdump.Opts{Replace: map[string]string{r.goQ.name: "<Q>"}})
	if diff := redisdump.Diff(nodeDump, goDump); diff != "" {
		t.Errorf("Redis contents differ (-node +go):\n%s\nnode:\n%s", diff, nodeDump)
	}
}

// waitMarkerConsumed waits until the worker of q has popped the marker that its last fetch
// wrote, so stopping the worker leaves no marker behind.
func waitMarkerConsumed(t *testing.T, client *redis.Client, q *Queue) {
	t.Helper()

	deadline := time.Now().Add(10 * time.Second)
	for client.Exists(context.Background(), q.keys.marker()).Val() != 0 {
		if time.Now().After(deadline) {
			t.Errorf("marker of queue %s still exists 10s after the last job finished", q.name)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
