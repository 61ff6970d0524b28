package bullmq

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redisdump"
	"github.com/portnimara/nimara/internal/redistest"
)

// nodeWorkerJS starts a Node worker on the queue that emits "job" with the id and data of
// every job it runs, and returns null.
const nodeWorkerJS = `
state.w = new bullmq.Worker(args.queue, async job => {
  emit('job', { id: job.id, data: job.data });
  return null;
}, { connection: redisOpts, prefix: args.prefix, drainDelay: 1 });
onClose(() => state.w.close());
await state.w.waitUntilReady();
`

// iterationMillis returns the <ms> of a scheduler iteration id "repeat:<id>:<ms>".
func iterationMillis(t *testing.T, id string) int64 {
	t.Helper()

	i := strings.LastIndexByte(id, ':')
	ms, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil || !strings.HasPrefix(id, "repeat:") {
		t.Fatalf("job id %q is not a scheduler iteration", id)
	}
	return ms
}

func TestInterop_NodeSchedulerOnGoWorker(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		first := nodepeer.MustEvalAs[string](t, env.peer, `
const job = await state.q.upsertJobScheduler('e1', { every: 1000 },
  { name: 'tick', data: { x: 1 } });
return job.id;`, env.args(nil))
		t0 := iterationMillis(t, first)

		sched := jobHash(t, env.client, env.q, "repeat:e1")
		requireField(t, sched, "name", "tick")
		requireField(t, sched, "every", "1000")
		requireField(t, sched, "data", `{"x":1}`)
		requireField(t, sched, "ic", "1")
		if _, ok := sched["offset"]; !ok {
			t.Errorf("scheduler hash %v lacks offset", sched)
		}

		const iterations = 10
		var mu sync.Mutex
		var ids []string
		done := make(chan struct{})
		startWorker(t, env.q, func(ctx context.Context, j *Job) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			ids = append(ids, j.ID)
			if len(ids) == iterations {
				close(done)
			}
			return map[string]int{"n": len(ids)}, nil
		}, WorkerOpts{Name: "go-sched"})

		select {
		case <-done:
		case <-time.After(30 * time.Second):
			mu.Lock()
			t.Fatalf("%d of %d iterations ran: %v", len(ids), iterations, ids)
		}

		mu.Lock()
		got := append([]string(nil), ids[:iterations]...)
		mu.Unlock()
		for i, id := range got {
			want := fmt.Sprintf("repeat:e1:%d", t0+int64(i)*1000)
			if id != want {
				t.Errorf("iteration %d = %s, want %s (no gap, no duplicate)", i, id, want)
			}
		}

		// The iteration made by the Go worker: data, rjk, count, attempts and times.
		second := fmt.Sprintf("repeat:e1:%d", t0+1000)
		h := jobHash(t, env.client, env.q, second)
		requireField(t, h, "data", `{"x":1}`)
		requireField(t, h, "rjk", "e1")
		requireField(t, h, "name", "tick")
		opts := storedOptsOf(t, h)
		rep, _ := opts["repeat"].(map[string]any)
		if rep["count"] != 2.0 || rep["every"] != 1000.0 || opts["attempts"] != 0.0 {
			t.Errorf("second iteration opts = %v", opts)
		}
		ts, _ := strconv.ParseInt(h["timestamp"], 10, 64)
		if d := int64(opts["timestamp"].(float64)) - ts; d < -1 || d > 1 {
			t.Errorf("opts.timestamp %v and timestamp %d differ", opts["timestamp"], ts)
		}
		// The hash field delay is reset to 0 when a fetch promotes the job; opts keep it.
		if want := float64(max(t0+1000-ts, 0)); opts["delay"] != want {
			t.Errorf("second iteration opts.delay = %v, want %v", opts["delay"], want)
		}
		if _, ok := h["nrjid"]; ok {
			t.Errorf("Go wrote nrjid on %s", second)
		}
		if _, ok := jobHash(t, env.client, env.q, first)["nrjid"]; ok {
			t.Errorf("Go wrote nrjid on %s", first)
		}

		events := streamEvents(t, env.client, env.q)
		added := indexOf(events, "added jobId="+second+" name=tick")
		completed := indexOfPrefix(events, "completed jobId="+first+" ")
		if added < 0 || completed < 0 || added > completed {
			t.Errorf("events %q: want added of %s before completed of %s", events, second,
				first)
		}

		s, err := env.q.GetJobScheduler(testContext(t), "e1")
		if err != nil {
			t.Fatalf("GetJobScheduler: %v", err)
		}
		if s.IterationCount < iterations {
			t.Errorf("ic = %d, want at least %d", s.IterationCount, iterations)
		}
	})
}

func TestInterop_GoSchedulerOnNodeWorker(t *testing.T) {
	t.Parallel()

	forEachWorkerMajor(t, func(t *testing.T, env workerEnv) {
		ctx := testContext(t)
		pattern, err := env.q.UpsertJobScheduler(ctx, "five", RepeatOpts{
			Pattern: "*/5 * * * * *", TZ: "UTC", Limit: 2}, JobTemplate{Name: "p"})
		if err != nil {
			t.Fatalf("UpsertJobScheduler pattern: %v", err)
		}
		p0 := iterationMillis(t, pattern.ID)
		if p0%5000 != 0 {
			t.Errorf("first pattern iteration at %d, want a 5-second boundary", p0)
		}
		waitInSet(t, env.client, env.q.keys.delayed(), pattern.ID)
		sched := jobHash(t, env.client, env.q, "repeat:five")
		requireField(t, sched, "pattern", "*/5 * * * * *")
		requireField(t, sched, "tz", "UTC")
		requireField(t, sched, "limit", "2")
		requireField(t, sched, "offset", "0")
		requireField(t, sched, "ic", "1")

		every, err := env.q.UpsertJobScheduler(ctx, "half", RepeatOpts{Every: 500 *
			time.Millisecond}, JobTemplate{Name: "e", Data: map[string]string{"k": "v"}})
		if err != nil {
			t.Fatalf("UpsertJobScheduler every: %v", err)
		}
		e0 := iterationMillis(t, every.ID)

		env.peer.MustEval(t, nodeWorkerJS, env.args(nil))

		seen := map[string]bool{}
		patternRuns := 0
		everyRuns := 0
		deadline := time.Now().Add(25 * time.Second)
		for (patternRuns < 2 || everyRuns < 4) && time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline))
			raw, err := env.peer.Next(ctx, "job")
			cancel()
			if err != nil {
				t.Fatalf("waiting for Node jobs: %v (pattern %d, every %d)", err, patternRuns,
					everyRuns)
			}
			var ev struct {
				ID   string          `json:"id"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("event %s: %v", raw, err)
			}
			if seen[ev.ID] {
				t.Errorf("Node ran %s twice", ev.ID)
			}
			seen[ev.ID] = true
			if strings.HasPrefix(ev.ID, "repeat:half:") {
				want := fmt.Sprintf("repeat:half:%d", e0+int64(everyRuns)*500)
				if ev.ID != want || string(ev.Data) != `{"k":"v"}` {
					t.Errorf("every iteration %d = %s %s, want %s", everyRuns, ev.ID, ev.Data,
						want)
				}
				everyRuns++
			} else {
				want := fmt.Sprintf("repeat:five:%d", p0+int64(patternRuns)*5000)
				if ev.ID != want {
					t.Errorf("pattern iteration %d = %s, want %s", patternRuns, ev.ID, want)
				}
				patternRuns++
			}
		}
		if patternRuns < 2 || everyRuns < 4 {
			t.Fatalf("Node ran %d pattern and %d every iterations", patternRuns, everyRuns)
		}

		// The limit of 2 is reached: no third pattern iteration exists or runs.
		waitFor(t, 10*time.Second, "the second pattern iteration to complete", func() bool {
			return env.client.ZScore(ctx, env.q.keys.completed(),
				fmt.Sprintf("repeat:five:%d", p0+5000)).Err() == nil
		})
		third := fmt.Sprintf("repeat:five:%d", p0+10000)
		if n := env.client.Exists(ctx, env.q.keys.job(third)).Val(); n != 0 {
			t.Errorf("a third pattern iteration %s exists despite limit 2", third)
		}
		requireField(t, jobHash(t, env.client, env.q, "repeat:five"), "ic", "2")
	})
}

// schedulerDumpOpts normalizes two runs of the same scheduler scenario.
func schedulerDumpOpts(queue string) *redisdump.Opts {
	return &redisdump.Opts{Replace: map[string]string{queue: "<Q>"}, IgnoreTTL: true}
}

func TestInterop_SchedulerStorageMatchesNode(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			client := redistest.Client(t)
			nodePrefix, goPrefix := redistest.Prefix(t), redistest.Prefix(t)
			nodeQueue, goQueue := redistest.QueueName(t), redistest.QueueName(t)
			peer := nodepeer.Start(t, major)

			start := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
			end := start.Add(30 * 24 * time.Hour)
			peer.MustEval(t, `
const q = new bullmq.Queue(args.queue, { connection: redisOpts, prefix: args.prefix });
onClose(() => q.close());
await q.waitUntilReady();
await q.upsertJobScheduler('cron', { pattern: '0 30 9 * * 1-5', tz: 'Europe/Paris',
  startDate: args.start, endDate: args.end, limit: 5 },
  { name: 'report', data: { a: [1, 2] }, opts: { attempts: 2, priority: 3,
    removeOnComplete: 10 } });
await q.upsertJobScheduler('hourly', { every: 3600000, startDate: args.start },
  { name: 'h' });
`, map[string]any{"queue": nodeQueue, "prefix": nodePrefix, "start": start.UnixMilli(),
				"end": end.UnixMilli()})

			q := NewQueue(client, goQueue, QueueOpts{Prefix: goPrefix})
			ctx := testContext(t)
			_, err := q.UpsertJobScheduler(ctx, "cron", RepeatOpts{Pattern: "0 30 9 * * 1-5",
				TZ: "Europe/Paris", StartDate: start, EndDate: end, Limit: 5},
				JobTemplate{Name: "report", Data: map[string][]int{"a": {1, 2}},
					Opts: JobOpts{Attempts: 2, Priority: 3, RemoveOnComplete: KeepLast(10)}})
			if err != nil {
				t.Fatalf("UpsertJobScheduler cron: %v", err)
			}
			if _, err := q.UpsertJobScheduler(ctx, "hourly", RepeatOpts{Every: time.Hour,
				StartDate: start}, JobTemplate{Name: "h"}); err != nil {
				t.Fatalf("UpsertJobScheduler hourly: %v", err)
			}

			nodeDump := redisdump.MustDump(t, client, nodePrefix, schedulerDumpOpts(nodeQueue))
			goDump := redisdump.MustDump(t, client, goPrefix, schedulerDumpOpts(goQueue))
			for _, d := range []*redisdump.Snapshot{&nodeDump, &goDump} {
				dropKeys(d, "<P>:<Q>:meta")
				maskDelays(d)
			}
			if diff := redisdump.Diff(nodeDump, goDump); diff != "" {
				t.Errorf("Redis after Node (-) and Go (+) upserts differs:\n%s", diff)
			}

			// Node reads the Go schedulers, cannot remove their pending iterations, and
			// removes a scheduler with its delayed iteration.
			res := nodepeer.MustEvalAs[map[string]any](t, peer, `
const q = new bullmq.Queue(args.queue, { connection: redisOpts, prefix: args.prefix });
onClose(() => q.close());
const s = await q.getJobScheduler('cron');
const jobs = await q.getJobs(['delayed']);
let removeErr = '';
try { await jobs[0].remove(); } catch (e) { removeErr = e.message; }
await q.drain(true);
await q.clean(0, 100, 'delayed');
const left = await q.getJobCountByTypes('delayed');
const removed = await q.removeJobScheduler('hourly');
return { pattern: s.pattern, tz: s.tz, limit: s.limit, data: s.template.data,
  removeErr, left, removed, count: await q.getJobSchedulersCount() };`,
				map[string]any{"queue": goQueue, "prefix": goPrefix})
			if res["pattern"] != "0 30 9 * * 1-5" || res["tz"] != "Europe/Paris" ||
				res["limit"] != 5.0 {
				t.Errorf("Node getJobScheduler = %v", res)
			}
			if !strings.Contains(fmt.Sprint(res["removeErr"]), "job scheduler") &&
				!strings.Contains(fmt.Sprint(res["removeErr"]), "repeat") {
				t.Errorf("Node remove of a pending iteration: error %q", res["removeErr"])
			}
			if res["left"] != 2.0 || res["removed"] != true || res["count"] != 1.0 {
				t.Errorf("Node drain/clean/remove result = %v, want 2 delayed left, hourly "+
					"removed and 1 scheduler", res)
			}
		})
	}
}

// delayInOpts matches the delay of a stored opts JSON after normalization.
var delayInOpts = regexp.MustCompile(`"delay":\d+`)

// maskDelays replaces the delay of every job hash, which depends on the moment of the
// call, by a placeholder.
func maskDelays(s *redisdump.Snapshot) {
	for i := range s.Keys {
		for j, f := range s.Keys[i].Fields {
			switch f.Name {
			case "delay":
				s.Keys[i].Fields[j].Value = "<delay>"
			case "opts":
				s.Keys[i].Fields[j].Value = delayInOpts.ReplaceAllString(f.Value,
					`"delay":"<delay>"`)
			}
		}
	}
}

// dropKeys removes the keys with the given normalized names from a snapshot.
func dropKeys(s *redisdump.Snapshot, names ...string) {
	kept := s.Keys[:0]
	for _, k := range s.Keys {
		drop := false
		for _, n := range names {
			drop = drop || k.Name == n
		}
		if !drop {
			kept = append(kept, k)
		}
	}
	s.Keys = kept
}

func TestInterop_LegacyRepeatableOnGoWorker(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	peer := nodepeer.Start(t, 5)
	env := workerEnv{peer: peer, q: q, client: client}
	peer.MustEval(t, nodeSetupJS, env.args(nil))

	first := nodepeer.MustEvalAs[string](t, peer, `
const job = await state.q.add('legacy', { keep: 'me' }, { repeat: { every: 1000 } });
return job.id;`, env.args(nil))
	key := "78d739ca" // prefix of md5("legacy::::1000")
	if !strings.HasPrefix(first, "repeat:"+key) {
		t.Fatalf("first legacy job id = %q, want repeat:<md5>:<ms>", first)
	}
	member := strings.Split(first, ":")[1]
	sched := jobHash(t, client, q, "repeat:"+member)
	requireNoField(t, sched, "ic")
	requireNoField(t, sched, "data")

	var mu sync.Mutex
	var seen []string
	var datas []string
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, j.ID)
		datas = append(datas, string(j.Data))
		return nil, nil
	}, WorkerOpts{})

	waitFor(t, 20*time.Second, "three legacy iterations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= 3
	})

	mu.Lock()
	defer mu.Unlock()
	t0 := iterationMillis(t, first)
	for i := range 3 {
		if want := fmt.Sprintf("repeat:%s:%d", member, t0+int64(i)*1000); seen[i] != want {
			t.Errorf("iteration %d = %s, want %s", i, seen[i], want)
		}
		if datas[i] != `{"keep":"me"}` {
			t.Errorf("iteration %d data = %s, want {\"keep\":\"me\"}", i, datas[i])
		}
	}
	sched = jobHash(t, client, q, "repeat:"+member)
	requireField(t, sched, "data", `{"keep":"me"}`)
	if ic, _ := strconv.Atoi(sched["ic"]); ic < 3 {
		t.Errorf("ic = %q, want at least 3 after three started iterations", sched["ic"])
	}
	requireNoField(t, jobHash(t, client, q, first), "nrjid")
}
