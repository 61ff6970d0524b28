package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// storedOptsOf decodes a job's stored opts into a map.
func storedOptsOf(t *testing.T, h map[string]string) map[string]any {
	t.Helper()

	var m map[string]any
	if err := json.Unmarshal([]byte(h["opts"]), &m); err != nil {
		t.Fatalf("opts %q: %v", h["opts"], err)
	}
	return m
}

func TestQueue_UpsertJobSchedulerEvery(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	job, err := q.UpsertJobScheduler(ctx, "e1", RepeatOpts{Every: time.Second},
		JobTemplate{Name: "tick", Data: map[string]int{"x": 1}})
	if err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}
	if !strings.HasPrefix(job.ID, "repeat:e1:") {
		t.Fatalf("job id = %q, want repeat:e1:<ms>", job.ID)
	}
	millis := strings.TrimPrefix(job.ID, "repeat:e1:")

	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "name", "tick")
	requireField(t, h, "data", `{"x":1}`)
	requireField(t, h, "rjk", "e1")
	requireField(t, h, "delay", "0")
	requireField(t, h, "timestamp", millis)
	opts := storedOptsOf(t, h)
	if _, ok := opts["attempts"]; ok {
		t.Errorf("opts %v: the upsert's iteration must not carry attempts", opts)
	}
	if opts["jobId"] != job.ID || opts["repeatJobKey"] != "e1" {
		t.Errorf("opts %v: want jobId %s and repeatJobKey e1", opts, job.ID)
	}
	rep, _ := opts["repeat"].(map[string]any)
	if rep["every"] != 1000.0 || rep["count"] != 1.0 {
		t.Errorf("opts.repeat = %v, want every 1000 and count 1", rep)
	}
	if ids := listRange(t, client, q.keys.wait()); !equalStrings(ids, []string{job.ID}) {
		t.Errorf("wait = %v, want [%s]", ids, job.ID)
	}

	sched, err := q.GetJobScheduler(ctx, "e1")
	if err != nil {
		t.Fatalf("GetJobScheduler: %v", err)
	}
	if strconv.FormatInt(sched.Next, 10) != millis {
		t.Errorf("Next = %d, want %s", sched.Next, millis)
	}
	if sched.Every != time.Second || sched.IterationCount != 1 || sched.Name != "tick" {
		t.Errorf("scheduler = %+v", sched)
	}
	if string(sched.Data) != `{"x":1}` {
		t.Errorf("scheduler data = %s", sched.Data)
	}
	if _, ok := sched.Fields["offset"]; !ok {
		t.Errorf("scheduler hash %v lacks offset", sched.Fields)
	}
	if _, ok := sched.Fields["opts"]; ok {
		t.Errorf("scheduler hash %v: empty template opts must not be stored", sched.Fields)
	}

	// A second upsert replaces the pending iteration in place and keeps the count.
	again, err := q.UpsertJobScheduler(ctx, "e1", RepeatOpts{Every: time.Second},
		JobTemplate{Name: "tick", Data: map[string]int{"x": 2}})
	if err != nil {
		t.Fatalf("second UpsertJobScheduler: %v", err)
	}
	if again.ID != job.ID {
		t.Errorf("second upsert id = %s, want the replaced %s", again.ID, job.ID)
	}
	requireField(t, jobHash(t, client, q, job.ID), "data", `{"x":2}`)
	if ids := listRange(t, client, q.keys.wait()); len(ids) != 1 {
		t.Errorf("wait = %v, want one iteration", ids)
	}
}

func TestQueue_UpsertJobSchedulerValidation(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	tests := []struct {
		name   string
		id     string
		repeat RepeatOpts
		tmpl   JobTemplate
	}{
		{"NoSchedule", "a", RepeatOpts{}, JobTemplate{}},
		{"EveryAndPattern", "a", RepeatOpts{Every: time.Second, Pattern: "* * * * *"},
			JobTemplate{}},
		{"EmptyID", "", RepeatOpts{Every: time.Second}, JobTemplate{}},
		{"BadPattern", "a", RepeatOpts{Pattern: "61 * * * *"}, JobTemplate{}},
		{"BadZone", "a", RepeatOpts{Pattern: "* * * * *", TZ: "Mars/Base"}, JobTemplate{}},
		{"PastEnd", "a", RepeatOpts{Every: time.Second, EndDate: time.Now().Add(-time.Hour)},
			JobTemplate{}},
		{"ImmediatelyWithStart", "a", RepeatOpts{Pattern: "* * * * *", Immediately: true,
			StartDate: time.Now()}, JobTemplate{}},
		{"TemplateJobID", "a", RepeatOpts{Every: time.Second},
			JobTemplate{Opts: JobOpts{JobID: "x"}}},
		{"TemplateDelay", "a", RepeatOpts{Every: time.Second},
			JobTemplate{Opts: JobOpts{Delay: time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			// The subtest's own context, because a parallel subtest can start after the
			// parent's context expired, and an expired context would fail every call.
			_, err := q.UpsertJobScheduler(testContext(t), tt.id, tt.repeat, tt.tmpl)
			if err == nil {
				t.Errorf("UpsertJobScheduler accepted %+v", tt.repeat)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("UpsertJobScheduler(%+v) = %v, want a validation error", tt.repeat, err)
			}
		})
	}
}

func TestQueue_UpsertJobSchedulerPattern(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	job, err := q.UpsertJobScheduler(ctx, "p1",
		RepeatOpts{Pattern: "0 0 12 * * *", TZ: "Europe/Paris", Limit: 3},
		JobTemplate{Name: "noon", Opts: JobOpts{Attempts: 2, Priority: 4}})
	if err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}

	millis, _ := strconv.ParseInt(strings.TrimPrefix(job.ID, "repeat:p1:"), 10, 64)
	paris, _ := time.LoadLocation("Europe/Paris")
	at := time.UnixMilli(millis).In(paris)
	if at.Hour() != 12 || at.Minute() != 0 || at.Second() != 0 || !at.After(time.Now()) {
		t.Errorf("first iteration at %s, want the next noon in Paris", at)
	}
	waitInSet(t, client, q.keys.delayed(), job.ID)

	h := jobHash(t, client, q, job.ID)
	requireField(t, h, "priority", "4")
	opts := storedOptsOf(t, h)
	if opts["attempts"] != 2.0 || opts["prevMillis"] != float64(millis) {
		t.Errorf("opts = %v, want attempts 2 and prevMillis %d", opts, millis)
	}

	sched, err := q.GetJobScheduler(ctx, "p1")
	if err != nil {
		t.Fatalf("GetJobScheduler: %v", err)
	}
	requireField(t, sched.Fields, "pattern", "0 0 12 * * *")
	requireField(t, sched.Fields, "tz", "Europe/Paris")
	requireField(t, sched.Fields, "limit", "3")
	requireField(t, sched.Fields, "offset", "0")
	requireField(t, sched.Fields, "opts", `{"attempts":2,"priority":4}`)

	// A pattern upsert meeting an existing iteration that is not pending returns -10.
	if err := client.ZRem(ctx, q.keys.delayed(), job.ID).Err(); err != nil {
		t.Fatalf("ZREM: %v", err)
	}
	_, err = q.UpsertJobScheduler(ctx, "p1",
		RepeatOpts{Pattern: "0 0 12 * * *", TZ: "Europe/Paris", Limit: 3},
		JobTemplate{Name: "noon"})
	if !errScript(err, -10) {
		t.Errorf("upsert over a started iteration: err = %v, want code -10", err)
	}
}

func TestQueue_RemoveJobScheduler(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	job, err := q.UpsertJobScheduler(ctx, "gone", RepeatOpts{Every: time.Hour,
		StartDate: time.Now().Add(time.Hour)}, JobTemplate{})
	if err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}
	waitInSet(t, client, q.keys.delayed(), job.ID)

	// The pending iteration is protected from job removal.
	if err := job.Remove(ctx, false); !errScript(err, -8) {
		t.Errorf("Remove of the pending iteration: err = %v, want code -8", err)
	}

	existed, err := q.RemoveJobScheduler(ctx, "gone")
	if err != nil || !existed {
		t.Fatalf("RemoveJobScheduler = %v, %v; want true", existed, err)
	}
	if n := client.Exists(ctx, q.keys.job(job.ID), q.keys.repeat()+":gone").Val(); n != 0 {
		t.Errorf("%d of the iteration and scheduler hashes remain", n)
	}
	if n := client.ZCard(ctx, q.keys.repeat()).Val(); n != 0 {
		t.Errorf("repeat set has %d members, want 0", n)
	}
	events := streamEvents(t, client, q)
	if !contains(events, "removed jobId="+job.ID+" prev=delayed") {
		t.Errorf("events %q lack removed(prev delayed)", events)
	}

	existed, err = q.RemoveJobScheduler(ctx, "gone")
	if err != nil || existed {
		t.Errorf("second RemoveJobScheduler = %v, %v; want false", existed, err)
	}
	if _, err := q.GetJobScheduler(ctx, "gone"); !errors.Is(err, ErrSchedulerNotFound) {
		t.Errorf("GetJobScheduler after removal: err = %v, want ErrSchedulerNotFound", err)
	}
}

func TestQueue_GetJobSchedulers(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	start := time.Now().Add(time.Hour)
	for i, id := range []string{"b", "a", "c"} {
		_, err := q.UpsertJobScheduler(ctx, id, RepeatOpts{Every: time.Minute,
			StartDate: start.Add(time.Duration(i) * time.Minute)}, JobTemplate{})
		if err != nil {
			t.Fatalf("UpsertJobScheduler(%s): %v", id, err)
		}
	}
	// A member without hash is dropped from the list and deleted, as Node does.
	if err := client.ZAdd(ctx, q.keys.repeat(), redisZ(1, "orphan")).Err(); err != nil {
		t.Fatalf("ZADD: %v", err)
	}

	asc, err := q.GetJobSchedulers(ctx, 0, -1, true)
	if err != nil {
		t.Fatalf("GetJobSchedulers: %v", err)
	}
	var ids []string
	for _, s := range asc {
		ids = append(ids, s.ID)
	}
	if !equalStrings(ids, []string{"b", "a", "c"}) {
		t.Errorf("ascending ids = %v, want [b a c]", ids)
	}

	desc, err := q.GetJobSchedulers(ctx, 0, 0, false)
	if err != nil {
		t.Fatalf("GetJobSchedulers desc: %v", err)
	}
	if len(desc) != 1 || desc[0].ID != "c" {
		t.Errorf("first descending = %+v, want c", desc)
	}
	if _, err := client.ZScore(ctx, q.keys.repeat(), "orphan").Result(); err == nil {
		t.Errorf("orphan member is still in the repeat set")
	}
}

func TestWorker_SchedulerEveryIterations(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	var mu sync.Mutex
	var seen []string
	done := make(chan struct{})
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, j.ID)
		if len(seen) == 4 {
			close(done)
		}
		return nil, nil
	}, WorkerOpts{})

	first, err := q.UpsertJobScheduler(ctx, "fast", RepeatOpts{Every: 200 * time.Millisecond},
		JobTemplate{Name: "tick", Data: map[string]bool{"ok": true}})
	if err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d iterations ran", len(seen))
	}
	if _, err := q.RemoveJobScheduler(ctx, "fast"); err != nil {
		t.Fatalf("RemoveJobScheduler: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	base, _ := strconv.ParseInt(strings.TrimPrefix(first.ID, "repeat:fast:"), 10, 64)
	for i, id := range seen[:4] {
		want := "repeat:fast:" + strconv.FormatInt(base+int64(i)*200, 10)
		if id != want {
			t.Errorf("iteration %d = %s, want %s", i, id, want)
		}
	}
	h := jobHash(t, client, q, seen[1])
	requireField(t, h, "data", `{"ok":true}`)
	opts := storedOptsOf(t, h)
	rep, _ := opts["repeat"].(map[string]any)
	if opts["attempts"] != 0.0 || rep["count"] != 2.0 {
		t.Errorf("second iteration opts = %v, want attempts 0 and repeat.count 2", opts)
	}
}

func TestWorker_SchedulerLimitReached(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	var mu sync.Mutex
	runs := 0
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		runs++
		return nil, nil
	}, WorkerOpts{})

	if _, err := q.UpsertJobScheduler(ctx, "lim", RepeatOpts{Every: 100 * time.Millisecond,
		Limit: 3}, JobTemplate{}); err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}
	waitFor(t, 20*time.Second, "three completed iterations", func() bool {
		return client.ZCard(ctx, q.keys.completed()).Val() == 3
	})
	// Any fourth iteration would be due 100 ms after the third.
	time.Sleep(500 * time.Millisecond)

	if n := client.ZCard(ctx, q.keys.completed()).Val(); n != 3 {
		t.Errorf("completed = %d, want 3", n)
	}
	sched, err := q.GetJobScheduler(ctx, "lim")
	if err != nil {
		t.Fatalf("GetJobScheduler: %v", err)
	}
	if sched.IterationCount != 3 {
		t.Errorf("ic = %d, want 3", sched.IterationCount)
	}
	if n := client.ZCard(ctx, q.keys.delayed()).Val() + client.LLen(ctx,
		q.keys.wait()).Val(); n != 0 {
		t.Errorf("%d iterations pending after the limit", n)
	}
}

func TestWorker_SchedulerEndDate(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	end := time.Now().Add(1500 * time.Millisecond)
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) { return nil, nil },
		WorkerOpts{})
	if _, err := q.UpsertJobScheduler(ctx, "end", RepeatOpts{Pattern: "* * * * * *",
		EndDate: end}, JobTemplate{}); err != nil {
		t.Fatalf("UpsertJobScheduler: %v", err)
	}

	waitFor(t, 20*time.Second, "the end date to pass with no pending iteration", func() bool {
		pending := client.ZCard(ctx, q.keys.delayed()).Val() +
			client.LLen(ctx, q.keys.wait()).Val() + client.LLen(ctx, q.keys.active()).Val()
		return time.Now().After(end.Add(time.Second)) && pending == 0
	})

	ids, err := client.ZRange(ctx, q.keys.completed(), 0, -1).Result()
	if err != nil {
		t.Fatalf("ZRANGE: %v", err)
	}
	if len(ids) == 0 {
		t.Fatalf("no iteration completed")
	}
	for _, id := range ids {
		ms, _ := strconv.ParseInt(strings.TrimPrefix(id, "repeat:end:"), 10, 64)
		if ms > end.UnixMilli() {
			t.Errorf("iteration %s is after the end date %d", id, end.UnixMilli())
		}
	}
}
