package bullmq

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redisdump"
)

// nodeQueuePrelude defines q, the Node Queue for args.queue under args.prefix, kept in the
// peer's state so one Queue serves every call of a test.
const nodeQueuePrelude = `
state.queues ??= new Map();
const queueKey = args.prefix + ':' + args.queue;
let q = state.queues.get(queueKey);
if (!q) {
  q = new bullmq.Queue(args.queue, { connection: redisOpts, prefix: args.prefix });
  state.queues.set(queueKey, q);
  onClose(() => q.close());
  await q.waitUntilReady();
}
`

// nodeWorkerCode starts a Node worker of concurrency 1 that emits an event named args.tag
// with {id, name, data} for every job it starts. A job named args.blockName waits until
// state.release[args.tag]() is called.
const nodeWorkerCode = `
state.release ??= {};
const worker = new bullmq.Worker(args.queue, async (job) => {
  emit(args.tag, { id: job.id, name: job.name, data: job.data });
  if (args.blockName && job.name === args.blockName) {
    await new Promise((resolve) => { state.release[args.tag] = resolve; });
  }
  return { ok: true };
}, { connection: redisOpts, prefix: args.prefix, concurrency: 1 });
onClose(() => worker.close(true));
await worker.waitUntilReady();
`

// interopEnv is one test's queue seen from Go and from a Node peer.
type interopEnv struct {
	peer   *nodepeer.Peer
	client *redis.Client
	queue  *Queue
	args   map[string]any
}

func newInteropEnv(t *testing.T, peer *nodepeer.Peer, opts QueueOpts) *interopEnv {
	t.Helper()

	q, client := newTestQueue(t, opts)
	return &interopEnv{
		peer:   peer,
		client: client,
		queue:  q,
		args:   map[string]any{"queue": q.Name(), "prefix": q.Prefix(), "tag": q.Key()},
	}
}

// node runs code after nodeQueuePrelude with the env's args plus extra.
func (e *interopEnv) node(t *testing.T, code string, extra map[string]any) json.RawMessage {
	t.Helper()

	args := map[string]any{}
	for k, v := range e.args {
		args[k] = v
	}
	for k, v := range extra {
		args[k] = v
	}
	return e.peer.MustEval(t, nodeQueuePrelude+code, args)
}

func (e *interopEnv) startWorker(t *testing.T, blockName string) {
	t.Helper()

	e.node(t, nodeWorkerCode, map[string]any{"blockName": blockName})
}

// nextStarted returns the id of the next job the Node worker started.
func (e *interopEnv) nextStarted(t *testing.T) string {
	t.Helper()

	payload := e.peer.MustNext(t, e.queue.Key())
	var started struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(payload, &started); err != nil {
		t.Fatalf("worker event %s: %v", payload, err)
	}
	return started.ID
}

// pollUntil polls cond every 20 ms until it returns true, and fails the test after 15 s.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()

	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("invalid JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestInteropProducer(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run("bullmq"+strconv.Itoa(major), func(t *testing.T) {
			t.Parallel()

			peer := nodepeer.Start(t, major)
			for name, run := range producerInteropCases(major) {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					run(t, peer)
				})
			}
		})
	}
}

func producerInteropCases(major int) map[string]func(*testing.T, *nodepeer.Peer) {
	cases := map[string]func(*testing.T, *nodepeer.Peer){
		"GoAddReadByNode":       testGoAddReadByNode,
		"NodeAddReadByGo":       testNodeAddReadByGo,
		"SharedIDCounter":       testSharedIDCounter,
		"CustomIDRulesAgree":    testCustomIDRulesAgree,
		"DelayedAdd":            testInteropDelayedAdd,
		"PriorityOrder":         testPriorityOrder,
		"LIFOOrder":             testLIFOOrder,
		"GoPauseNodeAdd":        testGoPauseNodeAdd,
		"DedupSimple":           testInteropDedupSimple,
		"DedupThrottleExtend":   testInteropDedupThrottle,
		"DedupReplace":          testInteropDedupReplace,
		"DedupKeepLastIfActive": testInteropKeepLastIfActive,
	}
	if major == 5 {
		cases["GoResumesV5Pause"] = testGoResumesV5Pause
		cases["GoResumesV5PauseWithWait"] = testGoResumesV5PauseWithWait
		cases["V5ResumeKeepsGoAdds"] = testV5ResumeKeepsGoAdds
		cases["GoPauseV5NodeResume"] = testGoPauseV5NodeResume
	}
	if major == 6 {
		cases["SameDataAsNode"] = testSameDataAsNode
	}
	return cases
}

// Node's getJob reads a Go add with the same name, data, options and timestamp.
func testGoAddReadByNode(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})

	job := mustAdd(t, e.queue, "a", map[string]int{"x": 1}, JobOpts{Attempts: 3,
		Backoff: &Backoff{Type: BackoffExponential, Delay: time.Second}})

	got := nodepeer.MustEvalAs[struct {
		Name      string          `json:"name"`
		Data      json.RawMessage `json:"data"`
		Opts      json.RawMessage `json:"opts"`
		Timestamp int64           `json:"timestamp"`
		State     string          `json:"state"`
	}](t, peer, nodeQueuePrelude+`
const job = await q.getJob(args.id);
return { name: job.name, data: job.data, opts: job.opts, timestamp: job.timestamp,
  state: await job.getState() };
`, map[string]any{"queue": e.queue.Name(), "prefix": e.queue.Prefix(), "id": job.ID})

	if got.Name != "a" {
		t.Errorf("Node name = %q, want a", got.Name)
	}
	if string(got.Data) != `{"x":1}` {
		t.Errorf("Node data = %s, want {\"x\":1}", got.Data)
	}
	wantOpts := `{"attempts":3,"backoff":{"type":"exponential","delay":1000}}`
	if !jsonEqual(t, string(got.Opts), wantOpts) {
		t.Errorf("Node opts = %s, want %s", got.Opts, wantOpts)
	}
	if got.Timestamp != job.Timestamp {
		t.Errorf("Node timestamp = %d, want %d", got.Timestamp, job.Timestamp)
	}
	if got.State != "waiting" {
		t.Errorf("Node state = %q, want waiting", got.State)
	}
}

// A Node add is read by Go GetJob with the same fields and options as Node's getJob.
func testNodeAddReadByGo(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})

	node := nodepeer.MustEvalAs[struct {
		ID        string          `json:"id"`
		Opts      json.RawMessage `json:"opts"`
		Timestamp int64           `json:"timestamp"`
	}](t, peer, nodeQueuePrelude+`
const added = await q.add('n', { y: [1, 'two'] }, { attempts: 2, backoff: 500, delay: 1000,
  priority: 4, removeOnComplete: { age: 60, count: 5 }, keepLogs: 3 });
const job = await q.getJob(added.id);
return { id: job.id, opts: job.opts, timestamp: job.timestamp };
`, e.args)

	job, err := e.queue.GetJob(testContext(t), node.ID)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", node.ID, err)
	}
	if job.Name != "n" || string(job.Data) != `{"y":[1,"two"]}` {
		t.Errorf("Go job name, data = %q, %s; want n, {\"y\":[1,\"two\"]}", job.Name, job.Data)
	}
	if job.Timestamp != node.Timestamp || job.Delay != 1000 || job.Priority != 4 {
		t.Errorf("Go timestamp, delay, priority = %d, %d, %d; want %d, 1000, 4",
			job.Timestamp, job.Delay, job.Priority, node.Timestamp)
	}
	if err := job.Malformed(); err != nil {
		t.Errorf("Go reports the Node job malformed: %v", err)
	}

	o := job.Opts
	if o.Attempts != 2 || o.Delay != time.Second || o.Priority != 4 || o.KeepLogs != 3 {
		t.Errorf("Go opts = %+v, want attempts 2, delay 1s, priority 4, keepLogs 3", o)
	}
	if o.Backoff == nil || o.Backoff.Type != BackoffFixed || o.Backoff.Delay != 500*time.Millisecond {
		t.Errorf("Go backoff = %+v, want fixed 500ms", o.Backoff)
	}

	// Encoding the options Go read must give the stored options back.
	stored, err := o.storedOpts()
	if err != nil {
		t.Fatalf("storedOpts: %v", err)
	}
	if !jsonEqual(t, string(stored), job.RawOpts) {
		t.Errorf("Go re-encoded opts = %s, stored %s", stored, job.RawOpts)
	}
	var nodeOpts map[string]any
	_ = json.Unmarshal(node.Opts, &nodeOpts)
	if nodeOpts["keepLogs"] != float64(3) || nodeOpts["attempts"] != float64(2) {
		t.Errorf("Node opts = %s, want keepLogs 3 and attempts 2", node.Opts)
	}
}

// Node and Go share the id counter.
func testSharedIDCounter(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})

	addNode := `return (await q.add('n', {})).id;`
	first := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+addNode, e.args)
	second := mustAdd(t, e.queue, "g", nil, JobOpts{}).ID
	third := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+addNode, e.args)

	if got := []string{first, second, third}; !equalStrings(got, []string{"1", "2", "3"}) {
		t.Errorf("ids = %v, want [1 2 3]", got)
	}
}

// Go and Node accept and reject the same custom ids.
func testCustomIDRulesAgree(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	ids := []string{"123", "0", "0:x", "a:b", "-1", "a:b:c", "0123", "1.5", " 12", "x:y:z:w"}
	for _, id := range ids {
		nodeOK := nodepeer.MustEvalAs[bool](t, peer, nodeQueuePrelude+`
try { await q.add('n', {}, { jobId: args.id }); return true; } catch (err) { return false; }
`, map[string]any{"queue": e.queue.Name(), "prefix": e.queue.Prefix(), "id": id})

		_, err := e.queue.Add(ctx, "g", nil, JobOpts{JobID: id})
		if goOK := err == nil; goOK != nodeOK {
			t.Errorf("job id %q: Go accepted = %v, Node accepted = %v", id, goOK, nodeOK)
		}
	}
}

// A Go delayed add has Node's score, and Node reports it delayed.
func testInteropDelayedAdd(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	job := mustAdd(t, e.queue, "d", nil, JobOpts{Delay: time.Minute})
	due := job.Timestamp + 60000

	if got := e.client.ZScore(ctx, e.queue.keys.delayed(), job.ID).Val(); got != float64(due*4096) {
		t.Errorf("delayed score = %.0f, want %d", got, due*4096)
	}
	state := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return await (await q.getJob(args.id)).getState();`,
		map[string]any{"queue": e.queue.Name(), "prefix": e.queue.Prefix(), "id": job.ID})
	if state != "delayed" {
		t.Errorf("Node state = %q, want delayed", state)
	}
	counts := nodepeer.MustEvalAs[map[string]int](t, peer, nodeQueuePrelude+
		`return await q.getJobCounts('delayed', 'waiting');`, e.args)
	if counts["delayed"] != 1 || counts["waiting"] != 0 {
		t.Errorf("Node counts = %v, want delayed 1, waiting 0", counts)
	}
}

// A Node worker runs Go's jobs by priority, plain jobs first.
func testPriorityOrder(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})

	p5a := mustAdd(t, e.queue, "p5a", nil, JobOpts{Priority: 5}).ID
	p1 := mustAdd(t, e.queue, "p1", nil, JobOpts{Priority: 1}).ID
	p5b := mustAdd(t, e.queue, "p5b", nil, JobOpts{Priority: 5}).ID
	plain := mustAdd(t, e.queue, "plain", nil, JobOpts{}).ID

	e.startWorker(t, "")
	var order []string
	for range 4 {
		order = append(order, e.nextStarted(t))
	}
	if want := []string{plain, p1, p5a, p5b}; !equalStrings(order, want) {
		t.Errorf("Node processing order = %v, want %v", order, want)
	}
}

// Go adds A, B, then C with lifo; a Node worker runs C, A, B.
func testLIFOOrder(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})

	a := mustAdd(t, e.queue, "A", nil, JobOpts{}).ID
	b := mustAdd(t, e.queue, "B", nil, JobOpts{}).ID
	c := mustAdd(t, e.queue, "C", nil, JobOpts{LIFO: true}).ID

	e.startWorker(t, "")
	var order []string
	for range 3 {
		order = append(order, e.nextStarted(t))
	}
	if want := []string{c, a, b}; !equalStrings(order, want) {
		t.Errorf("Node processing order = %v, want %v", order, want)
	}
}

// Go pauses, a Node add lands in wait without a marker, and the Node worker runs
// it only after Go resumes.
func testGoPauseNodeAdd(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	if err := e.queue.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if got := e.client.HGet(ctx, e.queue.keys.meta(), "paused").Val(); got != "1" {
		t.Errorf("meta paused = %q, want 1", got)
	}
	if !nodepeer.MustEvalAs[bool](t, peer, nodeQueuePrelude+`return await q.isPaused();`,
		e.args) {
		t.Error("Node isPaused = false after Go Pause")
	}

	id := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return (await q.add('during', {})).id;`, e.args)
	// bullmq 5.x sends jobs of any paused queue to the paused list; Resume drains it.
	target := e.queue.keys.wait()
	if peer.Major() == 5 {
		target = e.queue.keys.paused()
	}
	if got := listRange(t, e.client, target); !equalStrings(got, []string{id}) {
		t.Errorf("%s = %v, want [%s]", target, got, id)
	}
	if n := e.client.Exists(ctx, e.queue.keys.marker()).Val(); n != 0 {
		t.Error("marker exists after a Node add to a paused queue")
	}

	e.startWorker(t, "")
	// The worker's first fetch runs at start; give it time to take the job, which it must
	// not. A slow start only makes this check weaker, never wrong.
	e.peer.MustEval(t, `await sleep(300);`, nil)
	if got := e.peer.Drain(e.queue.Key()); len(got) != 0 {
		t.Fatalf("Node worker ran %s while the queue was paused", got)
	}

	if err := e.queue.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if got := e.nextStarted(t); got != id {
		t.Errorf("Node worker ran %q after Resume, want %q", got, id)
	}
	events := streamEvents(t, e.client, e.queue)
	if len(events) < 4 || events[0] != "paused" || events[3] != "resumed" {
		t.Errorf("events = %q, want paused, added, waiting, resumed first", events)
	}
}

// Go resumes a queue that Node 5.x paused with jobs.
func testGoResumesV5Pause(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	ids := nodepeer.MustEvalAs[[]string](t, peer, nodeQueuePrelude+`
const ids = [];
for (const n of ['a', 'b', 'c']) ids.push((await q.add(n, {})).id);
await q.pause();
ids.push((await q.add('d', {})).id);
return ids;
`, e.args)
	if got := listRange(t, e.client, e.queue.keys.paused()); len(got) != 4 {
		t.Fatalf("paused list after the Node 5 pause = %v, want 4 jobs", got)
	}

	if err := e.queue.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}

	if n := e.client.Exists(ctx, e.queue.keys.paused()).Val(); n != 0 {
		t.Error("paused list remains after Resume")
	}
	wait := listRange(t, e.client, e.queue.keys.wait())
	if want := []string{ids[3], ids[2], ids[1], ids[0]}; !equalStrings(wait, want) {
		t.Errorf("wait = %v, want %v", wait, want)
	}
	if paused, _ := e.queue.IsPaused(ctx); paused {
		t.Error("meta paused remains after Resume")
	}
	if err := e.client.ZScore(ctx, e.queue.keys.marker(), "0").Err(); err != nil {
		t.Errorf("marker \"0\" after Resume: %v", err)
	}
	resumed := 0
	for _, ev := range streamEvents(t, e.client, e.queue) {
		if ev == "resumed" {
			resumed++
		}
	}
	if resumed != 1 {
		t.Errorf("resumed events = %d, want 1", resumed)
	}
}

// Jobs Go wrote to wait during the 5.x pause run after the paused ones.
func testGoResumesV5PauseWithWait(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{PauseCompat: PauseV6})
	ctx := testContext(t)

	ids := nodepeer.MustEvalAs[[]string](t, peer, nodeQueuePrelude+`
const ids = [];
for (const n of ['a', 'b']) ids.push((await q.add(n, {})).id);
await q.pause();
return ids;
`, e.args)
	goID := mustAdd(t, e.queue, "go", nil, JobOpts{}).ID

	if err := e.queue.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	wait := listRange(t, e.client, e.queue.keys.wait())
	if want := []string{goID, ids[1], ids[0]}; !equalStrings(wait, want) {
		t.Errorf("wait = %v, want %v (paused jobs at the tail, run first)", wait, want)
	}
}

// The 5.x pause hazard: Go adds during a Node 5.x pause with PauseAuto, Node 5.x resumes,
// and no job is lost.
func testV5ResumeKeepsGoAdds(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{PauseCompat: PauseAuto})
	ctx := testContext(t)

	ids := nodepeer.MustEvalAs[[]string](t, peer, nodeQueuePrelude+`
const ids = [];
for (const n of ['a', 'b']) ids.push((await q.add(n, {})).id);
await q.pause();
return ids;
`, e.args)
	ids = append(ids, mustAdd(t, e.queue, "go1", nil, JobOpts{}).ID)
	ids = append(ids, mustAdd(t, e.queue, "go2", nil, JobOpts{LIFO: true}).ID)

	e.node(t, `await q.resume();`, nil)

	wait := listRange(t, e.client, e.queue.keys.wait())
	if len(wait) != len(ids) {
		t.Errorf("wait = %v after the Node 5 resume, want all of %v", wait, ids)
	}
	for _, id := range ids {
		state, err := e.queue.GetJobState(ctx, id)
		if err != nil || state != "waiting" {
			t.Errorf("state of %s = %q, %v; want waiting", id, state, err)
		}
	}
	// Consumption order: go2 (lifo) first, then a, b, go1.
	if want := []string{ids[2], ids[1], ids[0], ids[3]}; !equalStrings(wait, want) {
		t.Errorf("wait = %v, want %v", wait, want)
	}
}

// The 5.x pause hazard with PauseV5: Go pauses and adds, Node 5.x resumes, no job is lost.
func testGoPauseV5NodeResume(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{PauseCompat: PauseV5})
	ctx := testContext(t)

	first := mustAdd(t, e.queue, "a", nil, JobOpts{}).ID
	if err := e.queue.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	second := mustAdd(t, e.queue, "b", nil, JobOpts{}).ID
	third := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return (await q.add('c', {})).id;`, e.args)

	e.node(t, `await q.resume();`, nil)

	wait := listRange(t, e.client, e.queue.keys.wait())
	if want := []string{third, second, first}; !equalStrings(wait, want) {
		t.Errorf("wait after the Node 5 resume = %v, want %v", wait, want)
	}
	if n := e.client.Exists(ctx, e.queue.keys.paused()).Val(); n != 0 {
		t.Error("paused list remains after the Node 5 resume")
	}
}

// Simple deduplication, and the key is released when a Node worker completes the owner.
func testInteropDedupSimple(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "dk"}
	first := mustAdd(t, e.queue, "a", nil, JobOpts{Deduplication: dedup}).ID
	second := mustAdd(t, e.queue, "a", nil, JobOpts{Deduplication: dedup}).ID
	if second != first {
		t.Errorf("second add = %q, want %q", second, first)
	}
	nodeID := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return (await q.add('a', {}, { deduplication: { id: 'dk' } })).id;`, e.args)
	if nodeID != first {
		t.Errorf("Node add = %q, want the Go owner %q", nodeID, first)
	}

	events := streamEvents(t, e.client, e.queue)
	want := "deduplicated jobId=1 deduplicationId=dk deduplicatedJobId=2"
	if len(events) < 3 || events[2] != want {
		t.Errorf("events = %q, want the third to be %q", events, want)
	}

	deKey := e.queue.keys.key("de:dk")
	e.startWorker(t, "")
	pollUntil(t, "the de key to be released", func() bool {
		return e.client.Exists(ctx, deKey).Val() == 0
	})
}

// A throttle key outlives the completed owner, and extend renews its TTL.
func testInteropDedupThrottle(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "t", TTL: 5 * time.Second, Extend: true}
	owner := mustAdd(t, e.queue, "a", nil, JobOpts{Deduplication: dedup}).ID
	deKey := e.queue.keys.key("de:t")

	e.client.PExpire(ctx, deKey, 2*time.Second)
	again := mustAdd(t, e.queue, "a", nil, JobOpts{Deduplication: dedup}).ID
	if again != owner {
		t.Errorf("extending add = %q, want %q", again, owner)
	}
	if ttl := e.client.PTTL(ctx, deKey).Val(); ttl <= 2*time.Second || ttl > 5*time.Second {
		t.Errorf("PTTL after extend = %v, want in (2s, 5s]", ttl)
	}

	e.startWorker(t, "")
	pollUntil(t, "the owner to complete", func() bool {
		state, _ := e.queue.GetJobState(ctx, owner)
		return state == "completed"
	})
	if got := e.client.Get(ctx, deKey).Val(); got != owner {
		t.Errorf("de key after completion = %q, want it kept with %q", got, owner)
	}
}

// Replace swaps a delayed owner, and Node's queue then lists only the new job.
func testInteropDedupReplace(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "r", TTL: time.Minute, Extend: true, Replace: true}
	first := mustAdd(t, e.queue, "a", map[string]int{"v": 1},
		JobOpts{Delay: time.Hour, Deduplication: dedup}).ID
	second := mustAdd(t, e.queue, "a", map[string]int{"v": 2},
		JobOpts{Delay: time.Hour, Deduplication: dedup}).ID

	if second == first {
		t.Fatalf("replacing add returned the old id %q", first)
	}
	if got := e.client.Get(ctx, e.queue.keys.key("de:r")).Val(); got != second {
		t.Errorf("de key = %q, want %q", got, second)
	}
	delayed := nodepeer.MustEvalAs[[]string](t, peer, nodeQueuePrelude+
		`return (await q.getDelayed()).map((j) => j.id);`, e.args)
	if !equalStrings(delayed, []string{second}) {
		t.Errorf("Node getDelayed = %v, want [%s]", delayed, second)
	}
	nodeDedupOwner := nodepeer.MustEvalAs[string](t, peer, nodeQueuePrelude+
		`return await q.getDeduplicationJobId('r');`, e.args)
	if nodeDedupOwner != second {
		t.Errorf("Node getDeduplicationJobId = %q, want %q", nodeDedupOwner, second)
	}
}

// While a Node worker keeps the owner active, Go adds are stored in dn, and the last one
// becomes a job when the owner completes.
func testInteropKeepLastIfActive(t *testing.T, peer *nodepeer.Peer) {
	e := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "k", KeepLastIfActive: true}
	owner := mustAdd(t, e.queue, "block", map[string]int{"v": 1},
		JobOpts{Deduplication: dedup}).ID

	e.startWorker(t, "block")
	if got := e.nextStarted(t); got != owner {
		t.Fatalf("Node worker started %q, want %q", got, owner)
	}

	for _, v := range []int{2, 3} {
		got := mustAdd(t, e.queue, "next", map[string]int{"v": v}, JobOpts{Deduplication: dedup})
		if got.ID != owner {
			t.Errorf("add of v%d returned %q, want the owner %q", v, got.ID, owner)
		}
	}
	next := e.client.HGetAll(ctx, e.queue.keys.key("dn:k")).Val()
	if next["data"] != `{"v":3}` || next["jid"] == "" {
		t.Fatalf("dn hash = %v, want data {\"v\":3} and a jid", next)
	}

	e.node(t, `state.release[args.tag]();`, nil)
	newID := e.nextStarted(t)
	if newID != next["jid"] {
		t.Errorf("next job run = %q, want the stored jid %q", newID, next["jid"])
	}
	job, err := e.queue.GetJob(ctx, newID)
	if err != nil || string(job.Data) != `{"v":3}` {
		t.Errorf("GetJob(%s) = %+v, %v; want data {\"v\":3}", newID, job, err)
	}

	events := streamEvents(t, e.client, e.queue)
	waitingNew := indexOf(events, "waiting jobId="+newID)
	completedOwner := indexOfPrefix(events, "completed jobId="+owner)
	if waitingNew < 0 || completedOwner < 0 || waitingNew > completedOwner {
		t.Errorf("events = %q, want waiting of %s before completed of %s", events, newID, owner)
	}
}

// The same add sequence by Node 6.7.6 and by Go leaves the same normalized Redis data.
func testSameDataAsNode(t *testing.T, peer *nodepeer.Peer) {
	nodeEnv := newInteropEnv(t, peer, QueueOpts{})
	goEnv := newInteropEnv(t, peer, QueueOpts{})
	ctx := testContext(t)

	nodeEnv.node(t, `
await q.add('plain', { x: 1 });
await q.add('delayed', { s: 'a<b>&c' }, { delay: 60000, attempts: 3, backoff: 1000 });
await q.add('prio', [1, 2], { priority: 3 });
await q.add('prio', null, { priority: 3 });
await q.add('lifo', {}, { lifo: true });
await q.add('custom', { v: 1 }, { jobId: 'c-1' });
await q.add('custom', { v: 2 }, { jobId: 'c-1' });
await q.add('dedup', {}, { deduplication: { id: 'dk', ttl: 60000 } });
await q.add('dedup', {}, { deduplication: { id: 'dk', ttl: 60000 } });
await q.add('kept', {}, { removeOnComplete: true, removeOnFail: { age: 3600, count: 10 } });
`, nil)
	// Node's Queue constructor writes meta without waiting for it.
	pollUntil(t, "the Node meta version", func() bool {
		return nodeEnv.client.HGet(ctx, nodeEnv.queue.keys.meta(), "version").Val() != ""
	})

	q := goEnv.queue
	mustAdd(t, q, "plain", map[string]int{"x": 1}, JobOpts{})
	mustAdd(t, q, "delayed", map[string]string{"s": "a<b>&c"}, JobOpts{Delay: time.Minute,
		Attempts: 3, Backoff: &Backoff{Type: BackoffFixed, Delay: time.Second}})
	mustAdd(t, q, "prio", []int{1, 2}, JobOpts{Priority: 3})
	mustAdd(t, q, "prio", json.RawMessage("null"), JobOpts{Priority: 3})
	mustAdd(t, q, "lifo", nil, JobOpts{LIFO: true})
	mustAdd(t, q, "custom", map[string]int{"v": 1}, JobOpts{JobID: "c-1"})
	mustAdd(t, q, "custom", map[string]int{"v": 2}, JobOpts{JobID: "c-1"})
	dedup := &Deduplication{ID: "dk", TTL: time.Minute}
	mustAdd(t, q, "dedup", nil, JobOpts{Deduplication: dedup})
	mustAdd(t, q, "dedup", nil, JobOpts{Deduplication: dedup})
	mustAdd(t, q, "kept", nil, JobOpts{RemoveOnComplete: RemoveJob(),
		RemoveOnFail: KeepFor(time.Hour, 10, 0)})

	nodeDump := redisdump.MustDump(t, nodeEnv.client, nodeEnv.queue.Prefix(),
		&redisdump.Opts{Replace: map[string]string{nodeEnv.queue.Name(): "<Q>"}})
	goDump := redisdump.MustDump(t, goEnv.client, goEnv.queue.Prefix(),
		&redisdump.Opts{Replace: map[string]string{goEnv.queue.Name(): "<Q>"}})
	// 8 job hashes, the id counter, meta, events, wait, delayed, prioritized, pc, marker, de key.
	if len(nodeDump.Keys) < 17 {
		t.Errorf("Node dump has %d keys, want at least 17:\n%s", len(nodeDump.Keys), nodeDump)
	}
	if diff := redisdump.Diff(nodeDump, goDump); diff != "" {
		t.Errorf("Redis data differs (-node +go):\n%s", diff)
	}
}

func indexOf(values []string, want string) int {
	for i, v := range values {
		if v == want {
			return i
		}
	}
	return -1
}

func indexOfPrefix(values []string, prefix string) int {
	for i, v := range values {
		if len(v) >= len(prefix) && v[:len(prefix)] == prefix {
			return i
		}
	}
	return -1
}
