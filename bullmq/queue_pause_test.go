package bullmq

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestPauseResumeV6(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	mustAdd(t, q, "a", nil, JobOpts{})
	if err := q.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if paused, err := q.IsPaused(ctx); err != nil || !paused {
		t.Errorf("IsPaused = %v, %v; want true", paused, err)
	}
	if n := client.Exists(ctx, q.keys.marker()).Val(); n != 0 {
		t.Error("marker exists after Pause")
	}

	mustAdd(t, q, "b", nil, JobOpts{})
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{"2", "1"}) {
		t.Errorf("wait while paused = %v, want [2 1]", got)
	}
	if n := client.Exists(ctx, q.keys.marker(), q.keys.paused()).Val(); n != 0 {
		t.Error("marker or paused list written by an add during a 6.x pause")
	}

	if err := q.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if paused, _ := q.IsPaused(ctx); paused {
		t.Error("IsPaused = true after Resume")
	}
	if err := client.ZScore(ctx, q.keys.marker(), "0").Err(); err != nil {
		t.Errorf("marker \"0\" after Resume: %v", err)
	}
	events := streamEvents(t, client, q)
	want := []string{"added jobId=1 name=a", "waiting jobId=1", "paused",
		"added jobId=2 name=b", "waiting jobId=2", "resumed"}
	if !equalStrings(events, want) {
		t.Errorf("events = %q, want %q", events, want)
	}
}

func TestResumeDrainsLegacyPausedList(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	// A 5.x pause left 7005 jobs in paused (newest at the head), and 6.x adds put two more
	// into wait. More than one script call is needed for 7005 jobs.
	const legacy = 7005
	ids := make([]any, legacy)
	for i := range ids {
		ids[i] = strconv.Itoa(legacy - i) // head is the newest, so "1" is at the tail
	}
	client.LPush(ctx, q.keys.paused(), reverse(ids)...)
	client.LPush(ctx, q.keys.wait(), "w1", "w2")
	client.HSet(ctx, q.keys.meta(), "paused", "1")

	if err := q.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}

	if n := client.Exists(ctx, q.keys.paused()).Val(); n != 0 {
		t.Error("paused list remains after Resume")
	}
	wait := listRange(t, client, q.keys.wait())
	if len(wait) != legacy+2 {
		t.Fatalf("wait length = %d, want %d", len(wait), legacy+2)
	}
	// Consumption order is from the tail: 1, 2, ..., 7005, then w1, w2.
	for i := 0; i < legacy; i++ {
		if got, want := wait[len(wait)-1-i], strconv.Itoa(i+1); got != want {
			t.Fatalf("wait[%d from the tail] = %q, want %q", i, got, want)
		}
	}
	if wait[0] != "w2" || wait[1] != "w1" {
		t.Errorf("wait head = %v, want [w2 w1]", wait[:2])
	}

	resumed := 0
	for _, e := range streamEvents(t, client, q) {
		if e == "resumed" {
			resumed++
		}
	}
	if resumed != 1 {
		t.Errorf("resumed events = %d, want 1", resumed)
	}
}

func TestResumeRenamesPausedListWhenWaitIsEmpty(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	client.LPush(ctx, q.keys.paused(), "1", "2", "3")
	client.HSet(ctx, q.keys.meta(), "paused", "1")
	if err := q.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	got := listRange(t, client, q.keys.wait())
	if !equalStrings(got, []string{"3", "2", "1"}) {
		t.Errorf("wait = %v, want [3 2 1]", got)
	}
}

func TestPauseV5(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{PauseCompat: PauseV5})
	ctx := testContext(t)

	mustAdd(t, q, "a", nil, JobOpts{})
	mustAdd(t, q, "b", nil, JobOpts{})
	if err := q.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if n := client.Exists(ctx, q.keys.wait()).Val(); n != 0 {
		t.Error("wait exists after a 5.x-style pause")
	}
	mustAdd(t, q, "c", nil, JobOpts{})
	mustAdd(t, q, "d", nil, JobOpts{LIFO: true})
	got := listRange(t, client, q.keys.paused())
	if !equalStrings(got, []string{"3", "2", "1", "4"}) {
		t.Errorf("paused = %v, want [3 2 1 4]", got)
	}

	// A job pushed to wait by a 6.x client during the pause, then a second pause, must not
	// drop what is already in paused.
	client.LPush(ctx, q.keys.wait(), "x")
	if err := q.Pause(ctx); err != nil {
		t.Fatalf("second Pause: %v", err)
	}
	got = listRange(t, client, q.keys.paused())
	if !equalStrings(got, []string{"x", "3", "2", "1", "4"}) {
		t.Errorf("paused after the second pause = %v, want [x 3 2 1 4]", got)
	}
}

func TestPauseAutoFollowsMetaVersion(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	client.HSet(ctx, q.keys.meta(), "version", "bullmq:5.81.5")
	mustAdd(t, q, "a", nil, JobOpts{})
	if err := q.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	mustAdd(t, q, "b", nil, JobOpts{Delay: time.Hour})
	mustAdd(t, q, "c", nil, JobOpts{})

	if got := listRange(t, client, q.keys.paused()); !equalStrings(got, []string{"3", "1"}) {
		t.Errorf("paused = %v, want [3 1]", got)
	}
	counts, err := q.GetJobCounts(ctx)
	if err != nil {
		t.Fatalf("GetJobCounts: %v", err)
	}
	if counts["paused"] != 2 || counts["waiting"] != 0 || counts["delayed"] != 1 {
		t.Errorf("counts = %v, want paused 2, waiting 0, delayed 1", counts)
	}
	if state, _ := q.GetJobState(ctx, "1"); state != "waiting" {
		t.Errorf("state of a job in paused = %q, want waiting", state)
	}
}

func TestGetJobStateAndCounts(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	mustAdd(t, q, "wait", nil, JobOpts{})
	mustAdd(t, q, "delayed", nil, JobOpts{Delay: time.Hour})
	mustAdd(t, q, "prio", nil, JobOpts{Priority: 3})
	mustAdd(t, q, "active", nil, JobOpts{})
	client.RPopLPush(ctx, q.keys.wait(), q.keys.active()) // moves job 1
	client.ZAdd(ctx, q.keys.completed(), redisZ(1, "done"))
	client.ZAdd(ctx, q.keys.failed(), redisZ(1, "bad"))
	client.ZAdd(ctx, q.keys.waitingChildren(), redisZ(1, "parent"))

	states := map[string]string{
		"1": "active", "2": "delayed", "3": "prioritized", "4": "waiting", "done": "completed",
		"bad": "failed", "parent": "waiting-children", "nope": "unknown",
	}
	for id, want := range states {
		got, err := q.GetJobState(ctx, id)
		if err != nil || got != want {
			t.Errorf("GetJobState(%s) = %q, %v; want %q", id, got, err, want)
		}
	}

	counts, err := q.GetJobCounts(ctx)
	if err != nil {
		t.Fatalf("GetJobCounts: %v", err)
	}
	want := map[string]int64{
		"active": 1, "completed": 1, "delayed": 1, "failed": 1, "prioritized": 1,
		"waiting": 1, "waiting-children": 1,
	}
	if len(counts) != len(want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("counts[%s] = %d, want %d", k, counts[k], v)
		}
	}

	some, err := q.GetJobCounts(ctx, "wait", "paused")
	if err != nil || len(some) != 2 || some["wait"] != 1 || some["paused"] != 0 {
		t.Errorf("GetJobCounts(wait, paused) = %v, %v; want wait 1, paused 0", some, err)
	}
	if _, err := q.GetJobCounts(ctx, "bogus"); err == nil {
		t.Error("GetJobCounts(bogus) succeeded, want an error")
	}
}

func TestGetJobNotFound(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	job, err := q.GetJob(ctx, "missing")
	if job != nil || !errors.Is(err, ErrJobNotFound) {
		t.Errorf("GetJob(missing) = %v, %v; want nil, ErrJobNotFound", job, err)
	}
}

func reverse(values []any) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[len(values)-1-i] = v
	}
	return out
}
