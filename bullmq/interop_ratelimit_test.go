package bullmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/nodepeer"
)

// startNodeWorker starts a Node worker in state.w whose processor is the body of an async
// function of job (JavaScript), with the worker options merged from opts.
func (e peerEnv[C]) startNodeWorker(t *testing.T, body string, opts map[string]any) {
	t.Helper()

	e.peer.MustEval(t, `
const processor = new Function('job', 'state', 'sleep', 'bullmq',
  'return (async () => {' + args.body + '})();');
state.w = new bullmq.Worker(args.queue, (job) => processor(job, state, sleep, bullmq),
  {connection: redisOpts, prefix: args.prefix, drainDelay: 1, ...args.opts});
state.w.on('error', (err) => emit('worker-error', String(err)));
await state.w.waitUntilReady();
onClose(() => state.w.close());`, e.args(map[string]any{"body": body, "opts": opts}))
}

// jobsProcessedBy returns how many of the ids have "pb" equal to each worker name.
func jobsProcessedBy(t *testing.T, client *redis.Client, q *Queue, ids []string) map[string]int {
	t.Helper()

	ctx := testContext(t)
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = pipe.HGet(ctx, q.keys.job(id), "pb")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading pb fields: %v", err)
	}

	counts := map[string]int{}
	for _, cmd := range cmds {
		counts[cmd.Val()]++
	}
	return counts
}

// TestInterop_GlobalConcurrencyShared has a Go worker and a Node worker, each of
// concurrency 4, share a queue with a global concurrency of 1 set by Go, over 500 jobs
// added by both sides. The events stream must never show a second job becoming active
// before the active one completed or went back to wait.
//
// A worker that completes a job fetches the next one in the same script, so one worker
// could keep every job while the queue has a backlog. Every job therefore fails its first
// attempt and is retried at once: a retry fetches nothing, and the retried job wakes a
// blocked worker, so both workers keep getting jobs.
func TestInterop_GlobalConcurrencyShared(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		if err := env.q.SetGlobalConcurrency(ctx, 1); err != nil {
			t.Fatalf("SetGlobalConcurrency: %v", err)
		}
		got := nodepeer.MustEvalAs[*int](t, env.peer,
			`return await state.q.getGlobalConcurrency();`, nil)
		if got == nil || *got != 1 {
			t.Fatalf("Node getGlobalConcurrency() = %v, want 1", got)
		}

		env.startNodeWorker(t, `
await sleep(1);
if (job.attemptsMade === 0) throw new Error('first attempt');
return 'n';`,
			map[string]any{"concurrency": 4, "name": "node-w"})
		startWorker(t, env.q, func(ctx context.Context, job *Job) (any, error) {
			time.Sleep(time.Millisecond)
			if job.AttemptsMade == 0 {
				return nil, errors.New("first attempt")
			}
			return "g", nil
		}, WorkerOpts{Concurrency: 4, Name: "go-w"})

		const perSide = 250
		nodeIDs := make(chan []string, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			ids, err := nodepeer.EvalAs[[]string](ctx, env.peer, `
const ids = [];
for (let i = 0; i < args.n; i++) {
  ids.push((await state.q.add('node-job', {i}, {attempts: 2})).id);
  await sleep(2);
}
return ids;`, env.args(map[string]any{"n": perSide}))
			if err != nil {
				t.Errorf("Node adds: %v", err)
			}
			nodeIDs <- ids
		}()

		var ids []string
		for i := range perSide {
			ids = append(ids, mustAdd(t, env.q, "go-job", map[string]int{"i": i},
				JobOpts{Attempts: 2}).ID)
			time.Sleep(2 * time.Millisecond)
		}
		ids = append(ids, <-nodeIDs...)
		if len(ids) != 2*perSide {
			t.Fatalf("added %d jobs, want %d", len(ids), 2*perSide)
		}

		waitFor(t, 2*time.Minute, "500 completions", func() bool {
			return env.client.ZCard(ctx, env.q.keys.completed()).Val() == 2*perSide
		})

		entries := readStream(t, env.client, env.q.keys.events())
		if n := len(activeTimes(entries)); n != 4*perSide {
			t.Errorf("%d active events, want %d (two attempts per job)", n, 4*perSide)
		}
		checkOneActiveAtATime(t, entries)

		counts := jobsProcessedBy(t, env.client, env.q, ids)
		if counts["go-w"] == 0 || counts["node-w"] == 0 {
			t.Errorf("jobs per worker = %v, want both workers to process some", counts)
		}
		if counts["go-w"]+counts["node-w"] != 2*perSide {
			t.Errorf("jobs per worker = %v, want %d in total", counts, 2*perSide)
		}
		t.Logf("jobs per worker: %v", counts)
	})
}

// TestInterop_GlobalRateLimitFetch checks the fetch under meta max 2 per 1000ms in both
// directions: Node sets the limit and Go fetches, then Go sets it and Node fetches.
func TestInterop_GlobalRateLimitFetch(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		for i := range 3 {
			env.nodeAdd(t, fmt.Sprintf("j%d", i), nil, nil)
		}
		env.peer.MustEval(t, `await state.q.setGlobalRateLimit(2, 1000);`, nil)

		limit, err := env.q.GetGlobalRateLimit(ctx)
		if err != nil || limit == nil || limit.Max != 2 || limit.Duration != time.Second {
			t.Fatalf("GetGlobalRateLimit of Node's limit = %+v, %v, want {2 1s}", limit, err)
		}

		w := newTestWorker(t, env.q, nil, WorkerOpts{})
		for i := range 2 {
			if res, err := w.moveToActive(ctx); err != nil || res.job == nil {
				t.Fatalf("Go fetch %d = %+v, %v, want a job", i+1, res, err)
			}
		}
		res, err := w.moveToActive(ctx)
		if err != nil || res.job != nil || res.rateLimit <= 0 || res.rateLimit > time.Second {
			t.Errorf("Go fetch 3 = %+v, %v, want no job and a TTL in (0, 1s]", res, err)
		}
		if got := env.client.Get(ctx, env.q.keys.limiter()).Val(); got != "2" {
			t.Errorf("limiter after Go fetches = %q, want \"2\"", got)
		}
		nodeTTL := nodepeer.MustEvalAs[int64](t, env.peer,
			`return await state.q.getRateLimitTtl();`, nil)
		if nodeTTL <= 0 || nodeTTL > 1000 {
			t.Errorf("Node getRateLimitTtl() = %d, want in (0, 1000]", nodeTTL)
		}

		// Go direction: a second queue limited by Go, fetched by Node.
		q2 := NewQueue(env.client, env.q.name+"b", QueueOpts{Prefix: env.q.prefix})
		for i := range 3 {
			mustAdd(t, q2, fmt.Sprintf("k%d", i), nil, JobOpts{})
		}
		if err := q2.SetGlobalRateLimit(ctx, 2, time.Second); err != nil {
			t.Fatalf("SetGlobalRateLimit: %v", err)
		}
		got := nodepeer.MustEvalAs[struct {
			Limit  map[string]int `json:"limit"`
			Jobs   []bool         `json:"jobs"`
			TTL    int64          `json:"ttl"`
			Active int            `json:"active"`
		}](t, env.peer, `
const opts = {connection: redisOpts, prefix: args.prefix};
const q = new bullmq.Queue(args.queue, opts);
const w = new bullmq.Worker(args.queue, null, opts);
try {
  const limit = await q.getGlobalRateLimit();
  const jobs = [];
  for (let i = 0; i < 3; i++) {
    jobs.push(Boolean(await w.getNextJob('tok' + i, {block: false})));
  }
  return {limit, jobs, ttl: await q.getRateLimitTtl(), active: await q.getActiveCount()};
} finally {
  await w.close();
  await q.close();
}`, env.args(map[string]any{"queue": q2.name}))

		if got.Limit["max"] != 2 || got.Limit["duration"] != 1000 {
			t.Errorf("Node getGlobalRateLimit() of Go's limit = %v, want max 2 duration 1000",
				got.Limit)
		}
		if len(got.Jobs) != 3 || !got.Jobs[0] || !got.Jobs[1] || got.Jobs[2] {
			t.Errorf("Node fetches returned jobs %v, want [true true false]", got.Jobs)
		}
		if got.TTL <= 0 || got.TTL > 1000 {
			t.Errorf("Node getRateLimitTtl() = %d, want in (0, 1000]", got.TTL)
		}
		if got.Active != 2 {
			t.Errorf("Node active count = %d, want 2", got.Active)
		}
		if v := env.client.Get(ctx, q2.keys.limiter()).Val(); v != "2" {
			t.Errorf("limiter after Node fetches = %q, want \"2\"", v)
		}
		ttl, err := q2.GetRateLimitTTL(ctx, 0)
		if err != nil || ttl <= 0 || ttl > time.Second {
			t.Errorf("GetRateLimitTTL(0) = %s, %v, want in (0, 1s]", ttl, err)
		}
	})
}

// TestInterop_SharedLimiter has a Go and a Node worker with the same limiter of 2 jobs per
// 400ms share a queue. The activations in the stream must keep to one shared limit.
func TestInterop_SharedLimiter(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		const jobs = 10
		var ids []string
		for i := range jobs {
			ids = append(ids, env.nodeAdd(t, fmt.Sprintf("j%d", i), nil, nil))
		}

		limiter := &Limiter{Max: 2, Duration: 400 * time.Millisecond}
		env.startNodeWorker(t, `return 'n';`, map[string]any{"concurrency": 2, "name": "node-w",
			"limiter": map[string]any{"max": 2, "duration": 400}})
		startWorker(t, env.q, func(ctx context.Context, job *Job) (any, error) {
			return "g", nil
		}, WorkerOpts{Concurrency: 2, Name: "go-w", Limiter: limiter})

		waitFor(t, 30*time.Second, "all jobs completed", func() bool {
			return env.client.ZCard(context.Background(), env.q.keys.completed()).Val() == jobs
		})
		times := activeTimes(readStream(t, env.client, env.q.keys.events()))
		if len(times) != jobs {
			t.Fatalf("%d active events, want %d", len(times), jobs)
		}
		checkLimiterSpacing(t, times, limiter.Max, limiter.Duration)
		t.Logf("jobs per worker: %v", jobsProcessedBy(t, env.client, env.q, ids))
	})
}

// manualLimitState is what the manual rate limit leaves while it lasts.
type manualLimitState struct {
	limiter string
	pttl    time.Duration
	wait    []string
	hash    map[string]string
}

// waitForManualLimit polls until the job is back in wait after a manual rate limit and
// returns the state at that moment.
func waitForManualLimit(t *testing.T, env workerEnv, id string) manualLimitState {
	t.Helper()

	ctx := testContext(t)
	waitFor(t, 20*time.Second, "job "+id+" moved back to wait", func() bool {
		return contains(streamEvents(t, env.client, env.q), "waiting jobId="+id+" prev=active")
	})
	return manualLimitState{
		limiter: env.client.Get(ctx, env.q.keys.limiter()).Val(),
		pttl:    env.client.PTTL(ctx, env.q.keys.limiter()).Val(),
		wait:    listRange(t, env.client, env.q.keys.wait()),
		hash:    jobHash(t, env.client, env.q, id),
	}
}

// checkManualLimit checks the state during a manual limit of d on the job and, once the
// job completed, that it ran again only after the limit expired.
func checkManualLimit(t *testing.T, env workerEnv, id string, d time.Duration,
	st manualLimitState) {
	t.Helper()

	if st.limiter != manualRateLimitCount {
		t.Errorf("limiter = %q, want %s", st.limiter, manualRateLimitCount)
	}
	if st.pttl <= 0 || st.pttl > d {
		t.Errorf("limiter PTTL = %s, want in (0, %s]", st.pttl, d)
	}
	if len(st.wait) == 0 || st.wait[len(st.wait)-1] != id {
		t.Errorf("wait = %v, want %s at the tail (next to run)", st.wait, id)
	}
	requireNoField(t, st.hash, "atm")
	requireNoField(t, st.hash, "failedReason")
	requireField(t, st.hash, "ats", "1")

	waitInSet(t, env.client, env.q.keys.completed(), id)
	h := jobHash(t, env.client, env.q, id)
	requireField(t, h, "atm", "1")
	requireField(t, h, "ats", "2")

	var actives []int64
	for _, e := range readStream(t, env.client, env.q.keys.events()) {
		if e.event == "active" && e.fields["jobId"] == id {
			actives = append(actives, e.ms)
		}
	}
	if len(actives) != 2 {
		t.Fatalf("job %s has %d active events, want 2", id, len(actives))
	}
	if gap := time.Duration(actives[1]-actives[0]) * time.Millisecond; gap < d {
		t.Errorf("job ran again %s after its first start, want at least the %s limit", gap, d)
	}
}

// TestInterop_ManualRateLimitGoWorker: a Go processor returns RateLimitError while a Node
// worker with a limiter also serves the queue; the Node worker must wait out the limit.
func TestInterop_ManualRateLimitGoWorker(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		const limit = 2 * time.Second
		first := env.nodeAdd(t, "limited", nil, nil)

		var once sync.Once
		started := make(chan struct{})
		startWorker(t, env.q, func(ctx context.Context, job *Job) (any, error) {
			rateLimited := false
			once.Do(func() { rateLimited = true })
			if rateLimited {
				// The Node worker starts while this job is active, so it can only get the
				// job back after the limit.
				<-started
				return nil, RateLimitError(limit)
			}
			return "g", nil
		}, WorkerOpts{Name: "go-w"})
		waitFor(t, 10*time.Second, "job active", func() bool {
			return env.client.LLen(context.Background(), env.q.keys.active()).Val() == 1
		})
		env.startNodeWorker(t, `return 'n';`, map[string]any{"name": "node-w",
			"limiter": map[string]any{"max": 100, "duration": 1000}})
		close(started)

		st := waitForManualLimit(t, env, first)
		checkManualLimit(t, env, first, limit, st)

		if _, err := env.nodeWait(t, first); err != nil {
			t.Errorf("Node waitUntilFinished: %v", err)
		}
	})
}

// TestInterop_ManualRateLimitNodeWorker: a Node processor calls queue.rateLimit and throws
// Worker.RateLimitError while a Go worker with a Limiter also serves the queue.
func TestInterop_ManualRateLimitNodeWorker(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		const limit = 2 * time.Second
		job := mustAdd(t, env.q, "limited", nil, JobOpts{})

		env.startNodeWorker(t, `
if (!state.limited) {
  state.limited = true;
  while (!state.goStarted) await sleep(5);
  await state.q.rateLimit(2000);
  throw bullmq.Worker.RateLimitError();
}
return 'n';`, map[string]any{"name": "node-w"})
		waitFor(t, 10*time.Second, "job active", func() bool {
			return env.client.LLen(context.Background(), env.q.keys.active()).Val() == 1
		})
		startWorker(t, env.q, func(ctx context.Context, job *Job) (any, error) {
			return "g", nil
		}, WorkerOpts{Name: "go-w", Limiter: &Limiter{Max: 100, Duration: time.Second}})
		env.peer.MustEval(t, `state.goStarted = true;`, nil)

		st := waitForManualLimit(t, env, job.ID)
		checkManualLimit(t, env, job.ID, limit, st)
	})
}

// TestInterop_ManualRateLimitPrioritized compares where a Node worker and a Go worker put
// a rate-limited job of priority 3: prioritized, with score exactly 3 * 2^32.
func TestInterop_ManualRateLimitPrioritized(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		nodeJob := env.nodeAdd(t, "p3", nil, map[string]any{"priority": 3})
		env.startNodeWorker(t, `
await state.q.rateLimit(60000);
throw bullmq.Worker.RateLimitError();`, nil)
		nodeScore := scoreAfterLimit(t, env, env.q, nodeJob)
		env.peer.MustEval(t, `await state.w.close();`, nil)

		q2 := NewQueue(env.client, env.q.name+"b", QueueOpts{Prefix: env.q.prefix})
		goJob := nodepeer.MustEvalAs[string](t, env.peer, `
const q = new bullmq.Queue(args.queue, {connection: redisOpts, prefix: args.prefix});
try { return (await q.add('p3', {}, {priority: 3})).id; } finally { await q.close(); }`,
			env.args(map[string]any{"queue": q2.name}))
		startWorker(t, q2, func(ctx context.Context, job *Job) (any, error) {
			return nil, RateLimitError(time.Minute)
		}, WorkerOpts{})
		goScore := scoreAfterLimit(t, env, q2, goJob)

		want := float64(3) * (1 << 32)
		if nodeScore != want {
			t.Errorf("Node worker score = %.0f, want %.0f", nodeScore, want)
		}
		if goScore != nodeScore {
			t.Errorf("Go worker score = %.0f, Node worker score = %.0f", goScore, nodeScore)
		}
		for _, q := range []*Queue{env.q, q2} {
			id := nodeJob
			if q == q2 {
				id = goJob
			}
			h := jobHash(t, env.client, q, id)
			requireNoField(t, h, "atm")
			requireField(t, h, "ats", "1")
		}
		if got := env.client.Get(context.Background(), q2.keys.limiter()).Val(); got !=
			manualRateLimitCount {
			t.Errorf("limiter of the Go queue = %q, want %s", got, manualRateLimitCount)
		}
	})
}

// scoreAfterLimit waits until the job was moved back by a rate limit and returns its score
// in prioritized.
func scoreAfterLimit(t *testing.T, env workerEnv, q *Queue, id string) float64 {
	t.Helper()

	waitFor(t, 20*time.Second, "job "+id+" moved back", func() bool {
		return contains(streamEvents(t, env.client, q), "waiting jobId="+id+" prev=active")
	})
	return waitInSet(t, env.client, q.keys.prioritized(), id)
}
