package bullmq

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestAddPlainJob(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	before := time.Now().UnixMilli()
	job := mustAdd(t, q, "a", map[string]any{"x": 1}, JobOpts{})

	if job.ID != "1" {
		t.Errorf("job.ID = %q, want 1", job.ID)
	}
	if job.Timestamp < before {
		t.Errorf("job.Timestamp = %d, want at least %d", job.Timestamp, before)
	}

	fields := client.HGetAll(ctx, q.keys.job("1")).Val()
	want := map[string]string{
		"name": "a", "data": `{"x":1}`, "opts": `{"attempts":0}`,
		"timestamp": strconv.FormatInt(job.Timestamp, 10), "delay": "0", "priority": "0",
	}
	if len(fields) != len(want) {
		t.Errorf("job hash = %v, want exactly %v", fields, want)
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("job field %s = %q, want %q", k, fields[k], v)
		}
	}

	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{"1"}) {
		t.Errorf("wait = %v, want [1]", got)
	}
	if got := client.Get(ctx, q.keys.id()).Val(); got != "1" {
		t.Errorf("id counter = %q, want 1", got)
	}
	if score, err := client.ZScore(ctx, q.keys.marker(), "0").Result(); err != nil ||
		score != 0 {
		t.Errorf("marker \"0\" score = %v, %v; want 0", score, err)
	}

	meta := client.HGetAll(ctx, q.keys.meta()).Val()
	if meta["opts.maxLenEvents"] != "10000" {
		t.Errorf("meta opts.maxLenEvents = %q, want 10000", meta["opts.maxLenEvents"])
	}
	if meta["version"] != "bullmq:"+Version {
		t.Errorf("meta version = %q, want bullmq:%s", meta["version"], Version)
	}

	events := streamEvents(t, client, q)
	wantEvents := []string{"added jobId=1 name=a", "waiting jobId=1"}
	if !equalStrings(events, wantEvents) {
		t.Errorf("events = %q, want %q", events, wantEvents)
	}
}

func TestAddDataEncoding(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	cases := []struct {
		name string
		data any
		want string
	}{
		{"nil", nil, `{}`},
		{"raw", json.RawMessage(`{ "b": [1, 2], "a": "<&>" }`), `{"b":[1,2],"a":"<&>"}`},
		{"html", map[string]string{"s": "<a&b>"}, `{"s":"<a&b>"}`},
		{"string", "text", `"text"`},
		{"number", 1.5, `1.5`},
	}
	for _, tc := range cases {
		job := mustAdd(t, q, tc.name, tc.data, JobOpts{})
		stored, err := q.GetJob(ctx, job.ID)
		if err != nil {
			t.Fatalf("GetJob(%s): %v", job.ID, err)
		}
		if string(stored.Data) != tc.want {
			t.Errorf("%s: stored data = %s, want %s", tc.name, stored.Data, tc.want)
		}
	}

	if _, err := q.Add(ctx, "bad", json.RawMessage(`{"a":`), JobOpts{}); err == nil {
		t.Error("Add with invalid raw JSON succeeded, want an error")
	}
}

func TestAddCustomIDValidation(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	rejected := []string{
		"123", "0", "0:x", "a:b", "a:b:c:d", "-1", "wait", "meta", "events", "de:x", "dn:x",
		"9007199254740992",
	}
	for _, id := range rejected {
		if _, err := q.Add(ctx, "j", nil, JobOpts{JobID: id}); err == nil {
			t.Errorf("Add with job id %q succeeded, want an error", id)
		}
	}
	if n, _ := client.Exists(ctx, q.keys.id()).Result(); n != 0 {
		t.Errorf("id counter exists after rejected adds, want no script call")
	}

	// JavaScript reads 9007199254740993 as 9007199254740992, so Node accepts it.
	accepted := []string{
		"a:b:c", "0123", "1.5", " 12", "-0", "1e3", "12345678901234567890123",
		"9007199254740993",
	}
	for _, id := range accepted {
		job, err := q.Add(ctx, "j", nil, JobOpts{JobID: id})
		if err != nil {
			t.Errorf("Add with job id %q: %v", id, err)
			continue
		}
		if job.ID != id {
			t.Errorf("Add with job id %q returned id %q", id, job.ID)
		}
	}
}

func TestAddOptionValidation(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	cases := map[string]JobOpts{
		"priority above max": {Priority: MaxPriority + 1},
		"negative priority":  {Priority: -1},
		"negative delay":     {Delay: -time.Second},
		"jitter above 1":     {Backoff: &Backoff{Type: BackoffFixed, Jitter: 1.5}},
		"dedup without id":   {Deduplication: &Deduplication{}},
		"dedup with parent": {
			Deduplication: &Deduplication{ID: "d"},
			Parent:        &ParentRef{ID: "p", Queue: q.Key()},
		},
		"two parent policies": {Extra: map[string]json.RawMessage{
			"fpof": json.RawMessage("true"), "idof": json.RawMessage("true"),
		}},
	}
	for name, opts := range cases {
		if _, err := q.Add(ctx, "j", nil, opts); err == nil {
			t.Errorf("%s: Add succeeded, want an error", name)
		}
	}

	if _, err := q.Add(ctx, "j", nil, JobOpts{Priority: MaxPriority}); err != nil {
		t.Errorf("Add with priority %d: %v", MaxPriority, err)
	}
}

func TestAddDuplicateCustomID(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	first := mustAdd(t, q, "a", map[string]int{"v": 1}, JobOpts{JobID: "my-id"})
	second := mustAdd(t, q, "a", map[string]int{"v": 2}, JobOpts{JobID: "my-id"})

	if first.ID != "my-id" || second.ID != "my-id" {
		t.Errorf("ids = %q, %q; want my-id twice", first.ID, second.ID)
	}
	if data := client.HGet(ctx, q.keys.job("my-id"), "data").Val(); data != `{"v":1}` {
		t.Errorf("stored data = %s, want the first add's {\"v\":1}", data)
	}
	if got := client.Get(ctx, q.keys.id()).Val(); got != "2" {
		t.Errorf("id counter = %q, want 2", got)
	}
	want := []string{"added jobId=my-id name=a", "waiting jobId=my-id", "duplicated jobId=my-id"}
	if got := streamEvents(t, client, q); !equalStrings(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestAddDelayedJob(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	ts := time.UnixMilli(time.Now().UnixMilli())
	opts := JobOpts{Delay: time.Minute, Timestamp: ts}
	first := mustAdd(t, q, "d", nil, opts)
	second := mustAdd(t, q, "d", nil, opts)

	due := ts.UnixMilli() + 60000
	if got := client.ZScore(ctx, q.keys.delayed(), first.ID).Val(); got != float64(due*4096) {
		t.Errorf("first delayed score = %.0f, want %d", got, due*4096)
	}
	if got := client.ZScore(ctx, q.keys.delayed(), second.ID).Val(); got != float64(due*4096+1) {
		t.Errorf("second delayed score = %.0f, want %d", got, due*4096+1)
	}
	if got := client.HGet(ctx, q.keys.job(first.ID), "delay").Val(); got != "60000" {
		t.Errorf("delay field = %q, want 60000", got)
	}

	var stored map[string]any
	raw := client.HGet(ctx, q.keys.job(first.ID), "opts").Val()
	if err := json.Unmarshal([]byte(raw), &stored); err != nil {
		t.Fatalf("stored opts %q: %v", raw, err)
	}
	if stored["delay"] != float64(60000) || stored["timestamp"] != float64(ts.UnixMilli()) {
		t.Errorf("stored opts = %s, want delay 60000 and timestamp %d", raw, ts.UnixMilli())
	}

	if got := client.ZScore(ctx, q.keys.marker(), "1").Val(); got != float64(due) {
		t.Errorf("marker \"1\" score = %.0f, want %d", got, due)
	}
	if n := client.ZScore(ctx, q.keys.marker(), "0").Err(); n == nil {
		t.Error("marker \"0\" present after delayed adds only")
	}
	if n := client.LLen(ctx, q.keys.wait()).Val(); n != 0 {
		t.Errorf("wait length = %d, want 0", n)
	}

	want := fmt.Sprintf("delayed jobId=%s delay=%d", first.ID, due)
	if events := streamEvents(t, client, q); len(events) < 2 || events[1] != want {
		t.Errorf("events = %q, want the second to be %q", events, want)
	}
}

func TestAddPrioritizedJobs(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	a := mustAdd(t, q, "p5", nil, JobOpts{Priority: 5})
	b := mustAdd(t, q, "p1", nil, JobOpts{Priority: 1})
	c := mustAdd(t, q, "p5", nil, JobOpts{Priority: 5})

	wantScores := map[string]float64{a.ID: 5<<32 + 1, b.ID: 1<<32 + 2, c.ID: 5<<32 + 3}
	for id, want := range wantScores {
		if got := client.ZScore(ctx, q.keys.prioritized(), id).Val(); got != want {
			t.Errorf("prioritized score of %s = %.0f, want %.0f", id, got, want)
		}
	}
	if got := client.Get(ctx, q.keys.pc()).Val(); got != "3" {
		t.Errorf("pc = %q, want 3", got)
	}
	if state, err := q.GetJobState(ctx, a.ID); err != nil || state != "prioritized" {
		t.Errorf("GetJobState = %q, %v; want prioritized", state, err)
	}
	if got := client.HGet(ctx, q.keys.job(b.ID), "priority").Val(); got != "1" {
		t.Errorf("priority field = %q, want 1", got)
	}
}

func TestAddLIFO(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})

	mustAdd(t, q, "a", nil, JobOpts{})
	mustAdd(t, q, "b", nil, JobOpts{})
	mustAdd(t, q, "c", nil, JobOpts{LIFO: true})

	// Workers pop from the right, so the consumption order is the list reversed.
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{"2", "1", "3"}) {
		t.Errorf("wait = %v, want [2 1 3] (3 runs first)", got)
	}
}

func TestAddParent(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	parentRef := &ParentRef{ID: "missing", Queue: q.Key()}
	_, err := q.Add(ctx, "child", nil, JobOpts{Parent: parentRef})
	var scriptErr *ScriptError
	if !errors.As(err, &scriptErr) || scriptErr.Code != -5 {
		t.Fatalf("Add with a missing parent: %v, want script error -5", err)
	}
	if n := client.Exists(ctx, q.keys.id()).Val(); n != 0 {
		t.Error("id counter was incremented for a missing parent")
	}

	parent := mustAdd(t, q, "parent", nil, JobOpts{})
	opts := JobOpts{
		Parent: &ParentRef{ID: parent.ID, Queue: q.Key()},
		Extra:  map[string]json.RawMessage{"fpof": json.RawMessage("true")},
	}
	child := mustAdd(t, q, "child", nil, opts)

	parentKey := q.keys.job(parent.ID)
	fields := client.HGetAll(ctx, q.keys.job(child.ID)).Val()
	if fields["parentKey"] != parentKey {
		t.Errorf("parentKey = %q, want %q", fields["parentKey"], parentKey)
	}
	var parentField map[string]any
	if err := json.Unmarshal([]byte(fields["parent"]), &parentField); err != nil {
		t.Fatalf("parent field %q: %v", fields["parent"], err)
	}
	if parentField["id"] != parent.ID || parentField["queueKey"] != q.Key() ||
		parentField["fpof"] != true {
		t.Errorf("parent field = %s, want id, queueKey and fpof", fields["parent"])
	}
	deps := client.SMembers(ctx, parentKey+":dependencies").Val()
	if !equalStrings(deps, []string{q.keys.job(child.ID)}) {
		t.Errorf("parent dependencies = %v, want the child key", deps)
	}

	// A duplicate of a child attached to another live parent is rejected.
	other := mustAdd(t, q, "other", nil, JobOpts{})
	attached := mustAdd(t, q, "c", nil, JobOpts{JobID: "kid", Parent: opts.Parent})
	_, err = q.Add(ctx, "c", nil, JobOpts{JobID: "kid",
		Parent: &ParentRef{ID: other.ID, Queue: q.Key()}})
	if !errors.As(err, &scriptErr) || scriptErr.Code != -7 {
		t.Errorf("duplicate under another parent: %v, want script error -7", err)
	}
	if attached.ID != "kid" {
		t.Errorf("attached.ID = %q, want kid", attached.ID)
	}
}

func TestAddBulk(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	jobs, err := q.AddBulk(ctx, []BulkJob{
		{Name: "a", Data: map[string]int{"n": 1}},
		{Name: "b", Opts: JobOpts{Priority: 2}},
		{Name: "c", Opts: JobOpts{JobID: "custom"}},
		{Name: "d", Opts: JobOpts{Delay: time.Hour}},
	})
	if err != nil {
		t.Fatalf("AddBulk: %v", err)
	}

	wantIDs := []string{"1", "2", "custom", "4"}
	for i, job := range jobs {
		if job.ID != wantIDs[i] {
			t.Errorf("job %d id = %q, want %q", i, job.ID, wantIDs[i])
		}
	}
	if state, _ := q.GetJobState(ctx, "4"); state != "delayed" {
		t.Errorf("state of job 4 = %q, want delayed", state)
	}
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{"custom", "1"}) {
		t.Errorf("wait = %v, want [custom 1]", got)
	}

	_, err = q.AddBulk(ctx, []BulkJob{{Name: "ok"}, {Name: "bad", Opts: JobOpts{JobID: "7"}}})
	if err == nil {
		t.Error("AddBulk with an invalid job id succeeded, want an error")
	}
}

func TestAddBulkReportsScriptErrors(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	jobs, err := q.AddBulk(ctx, []BulkJob{
		{Name: "ok"},
		{Name: "orphan", Opts: JobOpts{Parent: &ParentRef{ID: "none", Queue: q.Key()}}},
	})
	var scriptErr *ScriptError
	if !errors.As(err, &scriptErr) || scriptErr.Code != -5 {
		t.Fatalf("AddBulk error = %v, want script error -5", err)
	}
	if len(jobs) != 2 || jobs[0] == nil || jobs[1] != nil {
		t.Fatalf("AddBulk jobs = %v, want the first added and the second nil", jobs)
	}
}

func TestAddKeepsExistingMetaVersion(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{MaxLenEvents: 100})
	ctx := testContext(t)

	client.HSet(ctx, q.keys.meta(), "version", "bullmq:5.81.5")
	mustAdd(t, q, "a", nil, JobOpts{})

	meta := client.HGetAll(ctx, q.keys.meta()).Val()
	if meta["version"] != "bullmq:5.81.5" {
		t.Errorf("meta version = %q, want the existing bullmq:5.81.5", meta["version"])
	}
	if meta["opts.maxLenEvents"] != "100" {
		t.Errorf("meta opts.maxLenEvents = %q, want 100", meta["opts.maxLenEvents"])
	}

	skip := NewQueue(client, "skipmeta", QueueOpts{Prefix: q.Prefix(), SkipMetaUpdate: true})
	mustAdd(t, skip, "a", nil, JobOpts{})
	if v := client.HGet(ctx, skip.keys.meta(), "version").Val(); v != "" {
		t.Errorf("meta version with SkipMetaUpdate = %q, want none", v)
	}
}

func TestUpdateData(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	job := mustAdd(t, q, "a", map[string]int{"v": 1}, JobOpts{})
	if err := job.UpdateData(ctx, map[string]int{"v": 2}); err != nil {
		t.Fatalf("UpdateData: %v", err)
	}
	if got := client.HGet(ctx, q.keys.job(job.ID), "data").Val(); got != `{"v":2}` {
		t.Errorf("stored data = %s, want {\"v\":2}", got)
	}
	if string(job.Data) != `{"v":2}` {
		t.Errorf("job.Data = %s, want {\"v\":2}", job.Data)
	}

	client.Del(ctx, q.keys.job(job.ID))
	if err := job.UpdateData(ctx, 1); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("UpdateData of a deleted job: %v, want ErrJobNotFound", err)
	}
}
