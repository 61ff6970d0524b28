package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redisdump"
)

func TestInteropManage(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run("bullmq"+strconv.Itoa(major), func(t *testing.T) {
			t.Parallel()

			peer := nodepeer.Start(t, major)
			cases := map[string]func(*testing.T, *nodepeer.Peer){
				"ManagedJobsReadByNode":        testManagedJobsReadByNode,
				"NodeEventsSeeGoManagement":    testNodeEventsSeeGoManagement,
				"GoEventsSeeNodeHistory":       testGoEventsSeeNodeHistory,
				"WaitUntilFinishedNodeWorker":  testWaitUntilFinishedNodeWorker,
				"MetricsEqualNode":             testMetricsEqualNode,
				"WorkersListedBothWays":        testWorkersListedBothWays,
				"GetJobsEqualNode":             testGetJobsEqualNode,
				"ObliterateNodeQueue":          testObliterateNodeQueue,
				"DeduplicationKeyAPIAgreement": testDedupKeyAPIAgreement,
			}
			if major == 6 {
				cases["SameDataAsNodeManagement"] = testSameDataAsNodeManagement
			}
			for name, run := range cases {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					run(t, peer)
				})
			}
		})
	}
}

// nodeJobView is what Node's getJob and getState report about a job.
type nodeJobView struct {
	Exists       bool   `json:"exists"`
	State        string `json:"state"`
	Delay        int64  `json:"delay"`
	Priority     int    `json:"priority"`
	FailedReason string `json:"failedReason"`
	FinishedOn   int64  `json:"finishedOn"`
}

func nodeJob(t *testing.T, e *interopEnv, id string) nodeJobView {
	t.Helper()

	var view nodeJobView
	raw := e.node(t, `
const job = await q.getJob(args.id);
if (!job) return { exists: false };
return { exists: true, state: await job.getState(), delay: job.delay, priority: job.priority,
  failedReason: job.failedReason ?? '', finishedOn: job.finishedOn ?? 0 };
`, map[string]any{"id": id})
	if err := json.Unmarshal(raw, &view); err != nil {
		t.Fatalf("Node job view %s: %v", raw, err)
	}
	return view
}

// Jobs promoted, rescheduled, reprioritized, retried, removed and cleaned by Go read back
// through Node's getJob, getState, getJobCounts and getCountsPerPriority as Go left them.
func testManagedJobsReadByNode(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	q, ctx := e.queue, testContext(t)

	promoted := mustAdd(t, q, "promoted", nil, JobOpts{Delay: time.Hour})
	rescheduled := mustAdd(t, q, "rescheduled", nil, JobOpts{Delay: time.Hour})
	reprioritized := mustAdd(t, q, "reprioritized", nil, JobOpts{Priority: 5})
	retried := mustAdd(t, q, "retried", nil, JobOpts{})
	removed := mustAdd(t, q, "removed", nil, JobOpts{})
	cleaned := mustAdd(t, q, "cleaned", nil, JobOpts{})
	finishByHand(t, e.client, q, retried.ID, StateFailed, time.Now().UnixMilli())
	finishByHand(t, e.client, q, cleaned.ID, StateCompleted, time.Now().UnixMilli()-60000)

	if err := promoted.Promote(ctx); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if err := rescheduled.ChangeDelay(ctx, 2*time.Hour); err != nil {
		t.Fatalf("ChangeDelay: %v", err)
	}
	if err := reprioritized.ChangePriority(ctx, 1, false); err != nil {
		t.Fatalf("ChangePriority: %v", err)
	}
	if err := retried.Retry(ctx, StateFailed, RetryOpts{}); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := removed.Remove(ctx, false); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := q.Clean(ctx, time.Second, 0, StateCompleted); err != nil {
		t.Fatalf("Clean: %v", err)
	}

	if v := nodeJob(t, e, promoted.ID); v.State != "waiting" || v.Delay != 0 {
		t.Errorf("promoted job in Node = %+v, want waiting with delay 0", v)
	}
	if v := nodeJob(t, e, rescheduled.ID); v.State != "delayed" || v.Delay != 7200000 {
		t.Errorf("rescheduled job in Node = %+v, want delayed with delay 7200000", v)
	}
	if v := nodeJob(t, e, reprioritized.ID); v.State != "prioritized" || v.Priority != 1 {
		t.Errorf("reprioritized job in Node = %+v, want prioritized with priority 1", v)
	}
	if v := nodeJob(t, e, retried.ID); v.State != "waiting" || v.FailedReason != "" ||
		v.FinishedOn != 0 {
		t.Errorf("retried job in Node = %+v, want waiting without failure fields", v)
	}
	for _, gone := range []*Job{removed, cleaned} {
		if v := nodeJob(t, e, gone.ID); v.Exists {
			t.Errorf("job %s (%s) still exists for Node: %+v", gone.ID, gone.Name, v)
		}
	}

	nodeCounts := nodepeer.MustEvalAs[map[string]int64](t, peer, nodeQueuePrelude+
		`return await q.getJobCounts('waiting', 'delayed', 'prioritized', 'completed',
  'failed');`, e.args)
	goCounts, err := q.GetJobCounts(ctx, "waiting", "delayed", "prioritized", "completed",
		"failed")
	if err != nil {
		t.Fatalf("GetJobCounts: %v", err)
	}
	for state, n := range goCounts {
		if nodeCounts[state] != n {
			t.Errorf("count of %s: Node %d, Go %d", state, nodeCounts[state], n)
		}
	}

	nodePerPriority := nodepeer.MustEvalAs[map[string]int64](t, peer, nodeQueuePrelude+
		`return await q.getCountsPerPriority([0, 1, 5]);`, e.args)
	goPerPriority, err := q.GetCountsPerPriority(ctx, 0, 1, 5)
	if err != nil {
		t.Fatalf("GetCountsPerPriority: %v", err)
	}
	for p, n := range goPerPriority {
		if nodePerPriority[strconv.Itoa(p)] != n {
			t.Errorf("count of priority %d: Node %d, Go %d", p, nodePerPriority[strconv.Itoa(p)],
				n)
		}
	}
}

// nodeEventsCode starts a Node QueueEvents from the stream's start that emits every event
// as {event, ...fields} under args.tag + ':qe'.
const nodeEventsCode = `
const qe = new bullmq.QueueEvents(args.queue, { connection: redisOpts, prefix: args.prefix,
  lastEventId: '0-0' });
for (const name of ['waiting', 'removed', 'cleaned', 'delayed']) {
  qe.on(name, (fields) => emit(args.tag + ':qe', { event: name, ...fields }));
}
onClose(() => qe.close());
await qe.waitUntilReady();
`

// nextNodeEvent returns the next event of the Node QueueEvents named name.
func nextNodeEvent(t *testing.T, e *interopEnv, name string) map[string]any {
	t.Helper()

	for {
		raw := e.peer.MustNext(t, e.queue.Key()+":qe")
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("Node event %s: %v", raw, err)
		}
		if ev["event"] == name {
			return ev
		}
	}
}

// Node's QueueEvents delivers the events Go's management calls write.
func testNodeEventsSeeGoManagement(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	q, ctx := e.queue, testContext(t)
	e.node(t, nodeEventsCode, nil)

	delayed := mustAdd(t, q, "d", nil, JobOpts{Delay: time.Hour})
	if err := q.Promote(ctx, delayed.ID); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	// A delayed add writes no waiting event, so the first one is the promotion's.
	ev := nextNodeEvent(t, e, "waiting")
	if ev["jobId"] != delayed.ID || ev["prev"] != "delayed" {
		t.Errorf("Node waiting event = %v, want job %s prev delayed", ev, delayed.ID)
	}

	if err := q.Remove(ctx, delayed.ID, false); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if ev := nextNodeEvent(t, e, "removed"); ev["jobId"] != delayed.ID || ev["prev"] != "wait" {
		t.Errorf("Node removed event = %v, want job %s prev wait", ev, delayed.ID)
	}

	mustAdd(t, q, "w", nil, JobOpts{})
	if _, err := q.Clean(ctx, -time.Second, 0, StateWaiting); err != nil {
		t.Fatalf("Clean: %v", err)
	}
	if ev := nextNodeEvent(t, e, "cleaned"); ev["count"] != "1" {
		t.Errorf("Node cleaned event = %v, want count \"1\"", ev)
	}

	later := mustAdd(t, q, "later", nil, JobOpts{Delay: time.Hour})
	if err := q.ChangeDelay(ctx, later.ID, time.Minute); err != nil {
		t.Fatalf("ChangeDelay: %v", err)
	}
	nextNodeEvent(t, e, "delayed") // the add of later
	ev = nextNodeEvent(t, e, "delayed")
	due, _ := ev["delay"].(float64)
	if ev["jobId"] != later.ID || int64(due) <= later.Timestamp+50000 ||
		int64(due) > time.Now().UnixMilli()+60000 {
		t.Errorf("Node delayed event = %v, want job %s due in about a minute", ev, later.ID)
	}
}

// Go's QueueEvents receives, in stream order, every event of jobs that Node adds and a Node
// worker retries, fails and completes.
func testGoEventsSeeNodeHistory(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	qe := startQueueEvents(t, e.queue, QueueEventsOpts{})
	events := collect(t, qe)

	failing := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+`
const worker = new bullmq.Worker(args.queue, async (job) => {
  await job.updateProgress({ step: job.attemptsMade });
  if (job.name === 'bad') throw new Error('bad ' + job.attemptsMade);
  return { v: 1 };
}, { connection: redisOpts, prefix: args.prefix });
onClose(() => worker.close(true));
await worker.waitUntilReady();
return (await q.add('bad', {}, { attempts: 2, backoff: { type: 'fixed', delay: 50 } })).id;
`, e.args)
	events.waitForEvent(t, EventRetriesExhausted, failing)
	good := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return (await q.add('good', {})).id;`, e.args)
	completed := events.waitForEvent(t, EventCompleted, good)
	events.waitForEvent(t, EventDrained, "")

	var got []string
	for _, ev := range events.snapshot() {
		if ev.JobID == failing || ev.Name == EventDrained && ev.JobID == "" {
			got = append(got, ev.Name+" "+ev.Prev)
		}
	}
	want := []string{
		"added ", "waiting ", "active waiting", "progress ", "delayed ",
		"waiting delayed", "active waiting", "progress ", "failed active",
		"retries-exhausted ",
	}
	if len(got) < len(want) || !equalStrings(got[:len(want)], want) {
		t.Errorf("events of the failing job = %q, want %q", got, want)
	}
	if string(completed.ReturnValue) != `{"v":1}` {
		t.Errorf("completed ReturnValue = %s, want {\"v\":1}", completed.ReturnValue)
	}

	// Every stream entry arrived, in order, exactly once.
	stream, err := e.client.XRange(testContext(t), e.queue.keys.events(), "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	all := events.snapshot()
	if len(all) != len(stream) {
		t.Fatalf("Go received %d events, the stream holds %d", len(all), len(stream))
	}
	for i := range stream {
		if all[i].ID != stream[i].ID {
			t.Errorf("event %d id = %s, want %s", i, all[i].ID, stream[i].ID)
		}
	}
	for _, ev := range all {
		switch ev.Name {
		case EventFailed:
			if ev.FailedReason != "bad 1" {
				t.Errorf("FailedReason = %q, want bad 1", ev.FailedReason)
			}
		case EventRetriesExhausted:
			if ev.AttemptsMade != 2 {
				t.Errorf("AttemptsMade = %d, want 2", ev.AttemptsMade)
			}
		case EventDelayed:
			if ev.Delay < time.Now().Add(-time.Minute).UnixMilli() {
				t.Errorf("delayed Delay = %d, want a due time in ms", ev.Delay)
			}
		}
	}
}

// WaitUntilFinished resolves with the value of a job a Node worker completes and with the
// message of one it fails.
func testWaitUntilFinishedNodeWorker(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	qe := startQueueEvents(t, e.queue, QueueEventsOpts{})
	ctx := testContext(t)

	ok := mustAdd(t, e.queue, "ok", nil, JobOpts{})
	bad := mustAdd(t, e.queue, "bad", nil, JobOpts{})
	e.node(t, `
const worker = new bullmq.Worker(args.queue, async (job) => {
  if (job.name === 'bad') throw new Error('node says no');
  return { answer: 42, s: 'a<b>' };
}, { connection: redisOpts, prefix: args.prefix });
onClose(() => worker.close(true));
`, nil)

	value, err := ok.WaitUntilFinished(ctx, qe)
	if err != nil || string(value) != `{"answer":42,"s":"a<b>"}` {
		t.Errorf("WaitUntilFinished(ok) = %s, %v; want {\"answer\":42,\"s\":\"a<b>\"}", value,
			err)
	}
	_, err = bad.WaitUntilFinished(ctx, qe)
	var failed *JobFailedError
	if !errors.As(err, &failed) || failed.Reason != "node says no" {
		t.Errorf("WaitUntilFinished(bad) = %v, want JobFailedError \"node says no\"", err)
	}
}

// GetMetrics reads what a Node worker with metrics recorded exactly as Node's getMetrics.
func testMetricsEqualNode(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	e.node(t, `
const worker = new bullmq.Worker(args.queue, async () => 'ok', { connection: redisOpts,
  prefix: args.prefix, metrics: { maxDataPoints: 60 } });
onClose(() => worker.close(true));
for (let i = 0; i < 3; i++) await q.add('m', {});
`, nil)
	pollUntil(t, "three completions", func() bool {
		return e.client.ZCard(ctx, e.queue.keys.completed()).Val() == 3
	})
	// Move the minute mark back, so the next completion closes a minute and pushes data.
	metricsKey := e.queue.keys.key("metrics:completed")
	prevTS := e.client.HGet(ctx, metricsKey, "prevTS").Val()
	e.client.HSet(ctx, metricsKey, "prevTS", parseInt64(prevTS)-3*60000)
	e.node(t, `await q.add('m', {});`, nil)
	pollUntil(t, "the fourth completion", func() bool {
		return e.client.ZCard(ctx, e.queue.keys.completed()).Val() == 4
	})

	node := nodepeer.MustEvalAs[struct {
		Meta struct {
			Count     int64 `json:"count"`
			PrevTS    int64 `json:"prevTS"`
			PrevCount int64 `json:"prevCount"`
		} `json:"meta"`
		Data  []int64 `json:"data"`
		Count int64   `json:"count"`
	}](t, peer, nodeQueuePrelude+`return await q.getMetrics('completed');`, e.args)
	got, err := e.queue.GetMetrics(ctx, StateCompleted, 0, -1)
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}

	want := MetricsMeta{Count: node.Meta.Count, PrevTS: node.Meta.PrevTS,
		PrevCount: node.Meta.PrevCount}
	if got.Meta != want {
		t.Errorf("Meta: Go %+v, Node %+v", got.Meta, want)
	}
	if got.Meta.Count != 4 || len(got.Data) != 3 {
		t.Errorf("Go metrics = %+v, want count 4 and 3 data points", got)
	}
	if got.Count != node.Count || len(got.Data) != len(node.Data) {
		t.Fatalf("data: Go %v (count %d), Node %v (count %d)", got.Data, got.Count, node.Data,
			node.Count)
	}
	for i := range got.Data {
		if got.Data[i] != node.Data[i] {
			t.Errorf("data point %d: Go %d, Node %d", i, got.Data[i], node.Data[i])
		}
	}
}

// Go's GetWorkers lists a Node worker and Node's getWorkers lists a Go worker.
func testWorkersListedBothWays(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	e.node(t, `
const worker = new bullmq.Worker(args.queue, async () => 'ok', { connection: redisOpts,
  prefix: args.prefix, name: 'node-w' });
onClose(() => worker.close(true));
await worker.waitUntilReady();
`, nil)
	startWorker(t, e.queue, func(ctx context.Context, job *Job) (any, error) { return nil, nil },
		WorkerOpts{Name: "go-w"})

	var goList []WorkerInfo
	pollUntil(t, "both workers in Go's GetWorkers", func() bool {
		var err error
		goList, err = e.queue.GetWorkers(ctx)
		if err != nil {
			t.Fatalf("GetWorkers: %v", err)
		}
		return hasWorker(goList, ":w:node-w") && hasWorker(goList, ":w:go-w")
	})

	var nodeNames []string
	pollUntil(t, "both workers in Node's getWorkers", func() bool {
		nodeNames = nodepeer.MustEvalAs[[]string](t, peer, nodeQueuePrelude+
			`return (await q.getWorkers()).map((w) => w.rawname);`, e.args)
		var infos []WorkerInfo
		for _, n := range nodeNames {
			infos = append(infos, WorkerInfo{RawName: n})
		}
		return hasWorker(infos, ":w:node-w") && hasWorker(infos, ":w:go-w")
	})
	if len(nodeNames) != len(goList) {
		t.Errorf("Node lists %d worker connections %v, Go %d", len(nodeNames), nodeNames,
			len(goList))
	}
}

func hasWorker(list []WorkerInfo, suffix string) bool {
	for _, w := range list {
		if len(w.RawName) >= len(suffix) && w.RawName[len(w.RawName)-len(suffix):] == suffix {
			return true
		}
	}
	return false
}

// GetJobs returns the ids Node's getJobs returns for the same states and pages.
func testGetJobsEqualNode(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	for i := range 5 {
		mustAdd(t, e.queue, "w", nil, JobOpts{})
		mustAdd(t, e.queue, "d", nil, JobOpts{Delay: time.Duration(i+1) * time.Minute})
	}
	for i := range 3 {
		job := mustAdd(t, e.queue, "c", nil, JobOpts{})
		finishByHand(t, e.client, e.queue, job.ID, StateCompleted,
			time.Now().UnixMilli()-int64(i)*1000)
	}

	pages := []struct {
		states     []string
		start, end int
		asc        bool
	}{
		{[]string{"waiting"}, 0, 1, false},
		{[]string{"waiting"}, 1, 3, true},
		{[]string{"delayed"}, 0, 2, false},
		{[]string{"delayed"}, 0, -1, true},
		{[]string{"completed", "waiting"}, 0, 0, false},
		{[]string{"completed"}, 1, 5, true},
	}
	for _, p := range pages {
		nodeIDs := nodepeer.MustEvalAs[[]string](t, peer, nodeQueuePrelude+`
return (await q.getJobs(args.states, args.start, args.end, args.asc)).map((j) => j.id);`,
			map[string]any{"queue": e.queue.Name(), "prefix": e.queue.Prefix(),
				"states": p.states, "start": p.start, "end": p.end, "asc": p.asc})
		jobs, err := e.queue.GetJobs(ctx, p.states, p.start, p.end, p.asc)
		if err != nil {
			t.Fatalf("GetJobs(%v): %v", p, err)
		}
		var goIDs []string
		for _, j := range jobs {
			goIDs = append(goIDs, j.ID)
		}
		if !equalStrings(goIDs, nodeIDs) {
			t.Errorf("GetJobs(%v %d..%d asc=%v) = %v, Node %v", p.states, p.start, p.end, p.asc,
				goIDs, nodeIDs)
		}
	}
}

// Obliterate deletes a queue that Node filled, including a Node job scheduler, leaving no
// key under the queue.
func testObliterateNodeQueue(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	e.node(t, `
await q.upsertJobScheduler('s1', { every: 60000 }, { name: 'tick', data: { x: 1 } });
for (let i = 0; i < 20; i++) {
  await q.add('j', { i }, { delay: (i % 3) * 60000, priority: i % 2,
    deduplication: i % 5 === 0 ? { id: 'd' + i } : undefined });
}
await q.add('done', {}, { jobId: 'custom' });
`, nil)
	finishByHand(t, e.client, e.queue, "custom", StateCompleted, time.Now().UnixMilli())

	if err := e.queue.Obliterate(ctx, false, 7); err != nil {
		t.Fatalf("Obliterate: %v", err)
	}
	if keys := keysUnder(t, e.client, e.queue); len(keys) != 0 {
		t.Errorf("keys left after Obliterate: %v", keys)
	}
	counts := nodepeer.MustEvalAs[map[string]int](t, peer, nodeQueuePrelude+
		`return await q.getJobCounts();`, e.args)
	for state, n := range counts {
		if n != 0 {
			t.Errorf("Node count of %s after Obliterate = %d, want 0", state, n)
		}
	}
}

// The deduplication key calls agree with Node's getDeduplicationJobId and
// removeDeduplicationKey.
func testDedupKeyAPIAgreement(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	nodeID := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return (await q.add('n', {}, { deduplication: { id: 'dk' } })).id;`, e.args)
	goID, err := e.queue.GetDeduplicationJobID(ctx, "dk")
	if err != nil || goID != nodeID {
		t.Errorf("GetDeduplicationJobID = %q, %v; want Node's job %s", goID, err, nodeID)
	}

	job := mustAdd(t, e.queue, "g", nil, JobOpts{Deduplication: &Deduplication{ID: "dk"}})
	if job.ID != nodeID {
		t.Errorf("Go add returned %s, want the Node owner %s", job.ID, nodeID)
	}
	if removed, err := e.queue.RemoveDeduplicationKey(ctx, "dk"); err != nil || !removed {
		t.Fatalf("RemoveDeduplicationKey = %v, %v; want true", removed, err)
	}
	owner := nodepeer.MustEvalAs[*string](t, peer, nodeQueuePrelude+
		`return await q.getDeduplicationJobId('dk');`, e.args)
	if owner != nil {
		t.Errorf("Node getDeduplicationJobId after removal = %q, want null", *owner)
	}
}

// One management sequence run by Node 6.7.6 and by Go leaves the same Redis data.
func testSameDataAsNodeManagement(t *testing.T, peer *nodepeer.Peer) {
	nodeEnv := newInteropEnv(t, peer, QueueOpts{})
	goEnv := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	// Both sides add the same jobs with Node, then manage them: Node through its API, Go
	// through this package.
	const adds = `
await q.add('d1', { n: 1 }, { delay: 3600000 });
await q.add('d2', { n: 2 }, { delay: 3600000 });
await q.add('p1', {}, { priority: 3 });
await q.add('p2', {}, { priority: 3 });
await q.add('w1', {});
await q.add('w2', {}, { deduplication: { id: 'dw' } });
await q.add('w3', {});
await q.add('d3', {}, { delay: 7200000, priority: 2 });
`
	nodeEnv.node(t, adds+`
await (await q.getJob('1')).promote();
const p2 = await q.getJob('4');
await p2.changePriority({ priority: 1 });
const w1 = await q.getJob('5');
await w1.changePriority({ priority: 0, lifo: true });
await q.remove('6');
await (await q.getJob('2')).changeDelay(5000);
await q.promoteJobs();
await q.clean(0, 1, 'wait');
`, nil)
	goEnv.node(t, adds, nil)

	q := goEnv.queue
	steps := []func() error{
		func() error { return q.Promote(ctx, "1") },
		func() error { return q.ChangePriority(ctx, "4", 1, false) },
		func() error { return q.ChangePriority(ctx, "5", 0, true) },
		func() error { return q.Remove(ctx, "6", true) },
		func() error { return q.ChangeDelay(ctx, "2", 5*time.Second) },
		func() error { return q.PromoteJobs(ctx, 0) },
		func() error { _, err := q.Clean(ctx, 0, 1, StateWaiting); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	for _, env := range []*interopEnv{nodeEnv, goEnv} {
		pollUntil(t, "the Node meta version", func() bool {
			return env.client.HGet(ctx, env.queue.keys.meta(), "version").Val() != ""
		})
	}
	nodeDump := redisdump.MustDump(t, nodeEnv.client, nodeEnv.queue.Prefix(),
		&redisdump.Opts{Replace: map[string]string{nodeEnv.queue.Name(): "<Q>"}})
	goDump := redisdump.MustDump(t, goEnv.client, goEnv.queue.Prefix(),
		&redisdump.Opts{Replace: map[string]string{goEnv.queue.Name(): "<Q>"}})
	if len(nodeDump.Keys) < 10 {
		t.Errorf("Node dump has %d keys, want at least 10:\n%s", len(nodeDump.Keys), nodeDump)
	}
	if diff := redisdump.Diff(nodeDump, goDump); diff != "" {
		t.Errorf("Redis data differs (-node +go):\n%s", diff)
	}
}
