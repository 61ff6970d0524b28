package bullmq

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

func TestManageScripts_Load(t *testing.T) {
	t.Parallel()

	client := redistest.Client(t)
	scripts := map[string]*redis.Script{
		"promote": promoteScript, "reprocess_job": reprocessJobScript,
		"remove_job": removeJobScript, "change_priority": changePriorityScript,
		"change_delay": changeDelayScript, "move_jobs_to_wait": moveJobsToWaitScript,
		"clean_jobs_in_set": cleanJobsInSetScript, "drain": drainScript,
		"obliterate": obliterateScript, "get_jobs": getJobsScript,
		"get_counts_per_priority": getCountsPerPriorityScript,
		"remove_dedup_key":        removeDedupKeyScript,
	}
	for name, s := range scripts {
		if err := s.Load(context.Background(), client).Err(); err != nil {
			t.Errorf("SCRIPT LOAD %s: %v", name, err)
		}
	}
}

// finishByHand moves a waiting job to the completed or failed set as a worker would,
// finished at finishedOn (ms), without running a worker.
func finishByHand(t *testing.T, client *redis.Client, q *Queue, id, state string,
	finishedOn int64) {
	t.Helper()

	ctx := context.Background()
	field, value := "returnvalue", `{"ok":true}`
	if state == StateFailed {
		field, value = "failedReason", "boom"
	}
	_, err := client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.LRem(ctx, q.keys.wait(), 0, id)
		pipe.ZRem(ctx, q.keys.prioritized(), id)
		pipe.ZAdd(ctx, q.keys.key(state), redis.Z{Score: float64(finishedOn), Member: id})
		pipe.HSet(ctx, q.keys.job(id), "finishedOn", finishedOn, "processedOn", finishedOn-5,
			field, value, "atm", 1, "ats", 1)
		return nil
	})
	if err != nil {
		t.Fatalf("finishing job %s by hand: %v", id, err)
	}
}

// requireCode fails unless err is a *ScriptError with code.
func requireCode(t *testing.T, err error, code int) {
	t.Helper()

	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want a ScriptError with code %d", err, code)
	}
	if se.Code != code {
		t.Errorf("script error code = %d, want %d", se.Code, code)
	}
}

func TestQueue_Promote(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	plain := mustAdd(t, q, "d", nil, JobOpts{Delay: time.Hour})
	prio := mustAdd(t, q, "p", nil, JobOpts{Delay: time.Hour, Priority: 2})

	if err := q.Promote(ctx, plain.ID); err != nil {
		t.Fatalf("Promote(%s): %v", plain.ID, err)
	}
	if err := prio.Promote(ctx); err != nil {
		t.Fatalf("Job.Promote(%s): %v", prio.ID, err)
	}

	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{plain.ID}) {
		t.Errorf("wait = %v, want [%s]", got, plain.ID)
	}
	if _, err := client.ZScore(ctx, q.keys.prioritized(), prio.ID).Result(); err != nil {
		t.Errorf("prioritized job %s not in prioritized: %v", prio.ID, err)
	}
	if n := client.ZCard(ctx, q.keys.delayed()).Val(); n != 0 {
		t.Errorf("delayed holds %d jobs, want 0", n)
	}
	requireField(t, jobHash(t, client, q, plain.ID), "delay", "0")
	if prio.Delay != 0 {
		t.Errorf("Job.Delay after Promote = %d, want 0", prio.Delay)
	}
	if score := client.ZScore(ctx, q.keys.marker(), "0").Val(); score != 0 {
		t.Errorf("marker 0 score = %v, want 0", score)
	}

	events := streamEvents(t, client, q)
	want := "waiting jobId=" + plain.ID + " prev=delayed"
	if indexOf(events, want) < 0 {
		t.Errorf("events %v lack %q", events, want)
	}

	requireCode(t, q.Promote(ctx, plain.ID), -3)
}

func TestQueue_PromoteJobs(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	var ids []string
	for i := range 3 {
		job := mustAdd(t, q, "d", nil, JobOpts{Delay: time.Duration(i+1) * time.Hour,
			Priority: i})
		ids = append(ids, job.ID)
	}

	if err := q.PromoteJobs(ctx, 2); err != nil {
		t.Fatalf("PromoteJobs: %v", err)
	}

	// Each batch is pushed to the head, so the earliest due job is at the tail and runs
	// first; priorities are ignored, as in Node.
	want := []string{ids[2], ids[1], ids[0]}
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, want) {
		t.Errorf("wait = %v, want %v", got, want)
	}
	requireField(t, jobHash(t, client, q, ids[0]), "delay", "3600000")

	var waiting int
	for _, e := range streamEvents(t, client, q) {
		if len(e) > 7 && e[:7] == "waiting" {
			waiting++
		}
	}
	if waiting != 3 {
		t.Errorf("waiting events = %d, want 3", waiting)
	}
}

func TestJob_Retry(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	failed := mustAdd(t, q, "f", nil, JobOpts{})
	completed := mustAdd(t, q, "c", nil, JobOpts{Priority: 4})
	finishByHand(t, client, q, failed.ID, StateFailed, time.Now().UnixMilli())
	finishByHand(t, client, q, completed.ID, StateCompleted, time.Now().UnixMilli())

	if err := failed.Retry(ctx, StateFailed, RetryOpts{ResetAttemptsMade: true}); err != nil {
		t.Fatalf("Retry failed job: %v", err)
	}
	if err := completed.Retry(ctx, StateCompleted, RetryOpts{}); err != nil {
		t.Fatalf("Retry completed job: %v", err)
	}

	h := jobHash(t, client, q, failed.ID)
	for _, f := range []string{"finishedOn", "processedOn", "failedReason", "atm"} {
		requireNoField(t, h, f)
	}
	requireField(t, h, "ats", "1")
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{failed.ID}) {
		t.Errorf("wait = %v, want [%s]", got, failed.ID)
	}

	h = jobHash(t, client, q, completed.ID)
	requireNoField(t, h, "returnvalue")
	requireField(t, h, "atm", "1")
	if _, err := client.ZScore(ctx, q.keys.prioritized(), completed.ID).Result(); err != nil {
		t.Errorf("retried priority job not in prioritized: %v", err)
	}

	events := streamEvents(t, client, q)
	for _, want := range []string{
		"waiting jobId=" + failed.ID + " prev=failed",
		"waiting jobId=" + completed.ID + " prev=completed",
	} {
		if indexOf(events, want) < 0 {
			t.Errorf("events %v lack %q", events, want)
		}
	}

	requireCode(t, failed.Retry(ctx, StateFailed, RetryOpts{}), -3)
	if err := failed.Retry(ctx, StateActive, RetryOpts{}); err == nil {
		t.Errorf("Retry with state active succeeded, want an error")
	}
}

func TestJob_RetryChildRejoinsParent(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	parent := mustAdd(t, q, "parent", nil, JobOpts{})
	child := mustAdd(t, q, "child", nil, JobOpts{Parent: &ParentRef{ID: parent.ID,
		Queue: q.Key()}})
	childKey := q.keys.job(child.ID)
	finishByHand(t, client, q, child.ID, StateCompleted, time.Now().UnixMilli())
	client.SRem(ctx, q.keys.job(parent.ID)+":dependencies", childKey)
	client.HSet(ctx, q.keys.job(parent.ID)+":processed", childKey, `{"ok":true}`)

	if err := child.Retry(ctx, StateCompleted, RetryOpts{}); err != nil {
		t.Fatalf("Retry: %v", err)
	}

	deps := client.SMembers(ctx, q.keys.job(parent.ID)+":dependencies").Val()
	if !equalStrings(deps, []string{childKey}) {
		t.Errorf("parent dependencies = %v, want [%s]", deps, childKey)
	}
	if n := client.HLen(ctx, q.keys.job(parent.ID)+":processed").Val(); n != 0 {
		t.Errorf("parent processed holds %d entries, want 0", n)
	}
}

func TestQueue_RetryJobs(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	now := time.Now().UnixMilli()
	var ids []string
	for i := range 3 {
		job := mustAdd(t, q, "f", nil, JobOpts{})
		finishByHand(t, client, q, job.ID, StateFailed, now-int64(3-i)*1000)
		ids = append(ids, job.ID)
	}

	// Only the two jobs that failed at or before now-2000 are retried.
	if err := q.RetryJobs(ctx, StateFailed, 1, time.UnixMilli(now-2000)); err != nil {
		t.Fatalf("RetryJobs: %v", err)
	}

	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{ids[1], ids[0]}) {
		t.Errorf("wait = %v, want [%s %s]", got, ids[1], ids[0])
	}
	if got := client.ZRange(ctx, q.keys.failed(), 0, -1).Val(); !equalStrings(got,
		[]string{ids[2]}) {
		t.Errorf("failed = %v, want [%s]", got, ids[2])
	}
	h := jobHash(t, client, q, ids[0])
	requireNoField(t, h, "failedReason")
	requireNoField(t, h, "finishedOn")
	requireField(t, h, "atm", "1")

	if err := q.RetryJobs(ctx, "", 0, time.Time{}); err != nil {
		t.Fatalf("RetryJobs with defaults: %v", err)
	}
	if n := client.ZCard(ctx, q.keys.failed()).Val(); n != 0 {
		t.Errorf("failed holds %d jobs after retrying all, want 0", n)
	}
	if err := q.RetryJobs(ctx, StateDelayed, 0, time.Time{}); err == nil {
		t.Errorf("RetryJobs(delayed) succeeded, want an error")
	}
}

func TestQueue_Remove(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "a", nil, JobOpts{Deduplication: &Deduplication{ID: "dk"}})
	client.RPush(ctx, q.keys.job(job.ID)+":logs", "line")

	if err := q.Remove(ctx, job.ID, false); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if n := client.Exists(ctx, q.keys.job(job.ID), q.keys.job(job.ID)+":logs",
		q.keys.key("de:dk")).Val(); n != 0 {
		t.Errorf("%d of job hash, logs and dedup key remain, want 0", n)
	}
	if n := client.LLen(ctx, q.keys.wait()).Val(); n != 0 {
		t.Errorf("wait holds %d jobs, want 0", n)
	}
	events := streamEvents(t, client, q)
	if want := "removed jobId=" + job.ID + " prev=wait"; events[len(events)-1] != want {
		t.Errorf("last event = %q, want %q", events[len(events)-1], want)
	}

	if err := q.Remove(ctx, "missing", false); err != nil {
		t.Errorf("Remove of a missing job: %v, want nil as in Node", err)
	}

	locked := mustAdd(t, q, "locked", nil, JobOpts{})
	client.Set(ctx, q.keys.job(locked.ID)+":lock", "token", time.Minute)
	if err := locked.Remove(ctx, false); !errors.Is(err, ErrJobLocked) {
		t.Errorf("Remove of a locked job = %v, want ErrJobLocked", err)
	}

	iteration := mustAdd(t, q, "tick", nil, JobOpts{JobID: "repeat:s1:1000"})
	client.HSet(ctx, q.keys.job(iteration.ID), "rjk", "s1")
	client.ZAdd(ctx, q.keys.repeat(), redis.Z{Score: 1000, Member: "s1"})
	requireCode(t, q.Remove(ctx, iteration.ID, false), -8)
}

func TestQueue_RemoveWithChildren(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	other := NewQueue(client, q.Name()+"-children", QueueOpts{Prefix: q.Prefix()})
	ctx := testContext(t)
	parent := mustAdd(t, q, "parent", nil, JobOpts{})
	client.LRem(ctx, q.keys.wait(), 0, parent.ID)
	client.ZAdd(ctx, q.keys.waitingChildren(), redis.Z{Score: 1, Member: parent.ID})
	ref := &ParentRef{ID: parent.ID, Queue: q.Key()}
	c1 := mustAdd(t, other, "c1", nil, JobOpts{Parent: ref})
	c2 := mustAdd(t, other, "c2", nil, JobOpts{Parent: ref})

	client.Set(ctx, other.keys.job(c2.ID)+":lock", "token", time.Minute)
	if err := q.Remove(ctx, parent.ID, true); !errors.Is(err, ErrJobLocked) {
		t.Errorf("Remove with a locked child = %v, want ErrJobLocked", err)
	}
	client.Del(ctx, other.keys.job(c2.ID)+":lock")

	if err := q.Remove(ctx, parent.ID, true); err != nil {
		t.Fatalf("Remove with children: %v", err)
	}
	for _, key := range []string{q.keys.job(parent.ID), other.keys.job(c1.ID),
		other.keys.job(c2.ID), q.keys.job(parent.ID) + ":dependencies"} {
		if client.Exists(ctx, key).Val() != 0 {
			t.Errorf("key %s remains", key)
		}
	}
	if n := client.LLen(ctx, other.keys.wait()).Val(); n != 0 {
		t.Errorf("children wait holds %d jobs, want 0", n)
	}

	childEvents := streamEvents(t, client, other)
	for _, c := range []*Job{c1, c2} {
		if want := "removed jobId=" + c.ID + " prev=wait"; indexOf(childEvents, want) < 0 {
			t.Errorf("child events %v lack %q", childEvents, want)
		}
	}
	// Removing the last child releases the parent before the parent itself is removed.
	parentEvents := streamEvents(t, client, q)
	released := indexOf(parentEvents, "waiting jobId="+parent.ID+" prev=waiting-children")
	removed := indexOf(parentEvents, "removed jobId="+parent.ID+" prev=wait")
	if released < 0 || removed < released {
		t.Errorf("parent events %v: want waiting (prev waiting-children) then removed "+
			"(prev wait)", parentEvents)
	}
}

func TestQueue_RemoveLastChildReleasesParent(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	parent := mustAdd(t, q, "parent", nil, JobOpts{})
	client.LRem(ctx, q.keys.wait(), 0, parent.ID)
	client.ZAdd(ctx, q.keys.waitingChildren(), redis.Z{Score: 1, Member: parent.ID})
	child := mustAdd(t, q, "child", nil, JobOpts{Parent: &ParentRef{ID: parent.ID,
		Queue: q.Key()}})

	if err := q.Remove(ctx, child.ID, false); err != nil {
		t.Fatalf("Remove child: %v", err)
	}

	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{parent.ID}) {
		t.Errorf("wait = %v, want the released parent [%s]", got, parent.ID)
	}
	if n := client.ZCard(ctx, q.keys.waitingChildren()).Val(); n != 0 {
		t.Errorf("waiting-children holds %d jobs, want 0", n)
	}
}

func TestQueue_Clean(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	now := time.Now().UnixMilli()
	old := mustAdd(t, q, "old", nil, JobOpts{Deduplication: &Deduplication{ID: "old"}})
	young := mustAdd(t, q, "young", nil, JobOpts{})
	finishByHand(t, client, q, old.ID, StateCompleted, now-time.Hour.Milliseconds())
	finishByHand(t, client, q, young.ID, StateCompleted, now)

	ids, err := q.Clean(ctx, time.Minute, 0, StateCompleted)
	if err != nil {
		t.Fatalf("Clean completed: %v", err)
	}
	if !equalStrings(ids, []string{old.ID}) {
		t.Errorf("Clean completed = %v, want [%s]", ids, old.ID)
	}
	if client.Exists(ctx, q.keys.job(old.ID), q.keys.key("de:old")).Val() != 0 {
		t.Errorf("cleaned job hash or its dedup key remains")
	}
	if got := client.ZRange(ctx, q.keys.completed(), 0, -1).Val(); !equalStrings(got,
		[]string{young.ID}) {
		t.Errorf("completed = %v, want [%s]", got, young.ID)
	}
	events := streamEvents(t, client, q)
	if events[len(events)-1] != "cleaned count=1" {
		t.Errorf("last event = %q, want cleaned count=1", events[len(events)-1])
	}

	// A negative grace makes every waiting job old enough. The limit examines only the
	// oldest (tail) entries, and Node walks that window from its head side.
	var waiting []string
	for range 3 {
		waiting = append(waiting, mustAdd(t, q, "w", nil, JobOpts{}).ID)
	}
	ids, err = q.Clean(ctx, -time.Second, 2, StateWaiting)
	if err != nil {
		t.Fatalf("Clean wait: %v", err)
	}
	if want := []string{waiting[1], waiting[0]}; !equalStrings(ids, want) {
		t.Errorf("Clean wait = %v, want %v", ids, want)
	}
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, waiting[2:]) {
		t.Errorf("wait = %v, want %v", got, waiting[2:])
	}

	if _, err := q.Clean(ctx, 0, 0, "waiting-children"); err == nil {
		t.Errorf("Clean of waiting-children succeeded, want an error")
	}
}

func TestQueue_CleanKeepsLockedAndSchedulerJobs(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	locked := mustAdd(t, q, "locked", nil, JobOpts{})
	free := mustAdd(t, q, "free", nil, JobOpts{})
	client.Del(ctx, q.keys.wait())
	client.RPush(ctx, q.keys.active(), locked.ID, free.ID)
	client.Set(ctx, q.keys.job(locked.ID)+":lock", "token", time.Minute)

	ids, err := q.Clean(ctx, -time.Second, 0, StateActive)
	if err != nil {
		t.Fatalf("Clean active: %v", err)
	}
	if !equalStrings(ids, []string{free.ID}) {
		t.Errorf("Clean active = %v, want [%s]", ids, free.ID)
	}

	iteration := mustAdd(t, q, "tick", nil, JobOpts{JobID: "repeat:s1:5000",
		Delay: time.Hour})
	client.HSet(ctx, q.keys.job(iteration.ID), "rjk", "s1")
	client.ZAdd(ctx, q.keys.repeat(), redis.Z{Score: 5000, Member: "s1"})
	ids, err = q.Clean(ctx, -2*time.Hour, 0, StateDelayed)
	if err != nil {
		t.Fatalf("Clean delayed: %v", err)
	}
	if len(ids) != 0 {
		t.Errorf("Clean delayed = %v, want the scheduler iteration kept", ids)
	}
}

func TestQueue_Drain(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	mustAdd(t, q, "w", nil, JobOpts{})
	mustAdd(t, q, "p", nil, JobOpts{Priority: 3})
	delayed := mustAdd(t, q, "d", nil, JobOpts{Delay: time.Hour})
	iteration := mustAdd(t, q, "tick", nil, JobOpts{JobID: "repeat:s1:7000"})
	client.HSet(ctx, q.keys.job(iteration.ID), "rjk", "s1")
	client.ZAdd(ctx, q.keys.repeat(), redis.Z{Score: 7000, Member: "s1"})

	counts, err := q.Drain(ctx, false)
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	want := map[string]int64{"waiting": 1, "paused": 0, "delayed": 0, "prioritized": 1}
	if !maps.Equal(counts, want) {
		t.Errorf("Drain(false) counts = %v, want %v", counts, want)
	}
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{iteration.ID}) {
		t.Errorf("wait = %v, want only the scheduler iteration", got)
	}
	if n := client.ZCard(ctx, q.keys.prioritized()).Val(); n != 0 {
		t.Errorf("prioritized holds %d jobs, want 0", n)
	}
	if n := client.ZCard(ctx, q.keys.delayed()).Val(); n != 1 {
		t.Errorf("delayed holds %d jobs, want 1", n)
	}

	counts, err = q.Drain(ctx, true)
	if err != nil {
		t.Fatalf("Drain with delayed: %v", err)
	}
	want = map[string]int64{"waiting": 0, "paused": 0, "delayed": 1, "prioritized": 0}
	if !maps.Equal(counts, want) {
		t.Errorf("Drain(true) counts = %v, want %v", counts, want)
	}
	if client.Exists(ctx, q.keys.job(delayed.ID)).Val() != 0 {
		t.Errorf("delayed job %s remains after Drain(true)", delayed.ID)
	}
}

// keysUnder lists every key of the queue.
func keysUnder(t *testing.T, client *redis.Client, q *Queue) []string {
	t.Helper()

	keys, err := client.Keys(context.Background(),
		redistest.EscapePattern(q.Key())+":*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	return keys
}

func TestQueue_Obliterate(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	for i := range 7 {
		mustAdd(t, q, "w", nil, JobOpts{Priority: i % 2, Delay: time.Duration(i%3) * time.Hour,
			Deduplication: &Deduplication{ID: "d" + strconv.Itoa(i)}})
	}
	done := mustAdd(t, q, "done", nil, JobOpts{})
	finishByHand(t, client, q, done.ID, StateCompleted, time.Now().UnixMilli())
	active := mustAdd(t, q, "active", nil, JobOpts{})
	client.LRem(ctx, q.keys.wait(), 0, active.ID)
	client.LPush(ctx, q.keys.active(), active.ID)
	client.Set(ctx, q.keys.job(active.ID)+":lock", "token", time.Minute)
	client.HSet(ctx, q.keys.repeat()+":s1", "name", "tick")
	client.ZAdd(ctx, q.keys.repeat(), redis.Z{Score: 1, Member: "s1"})

	if err := q.Obliterate(ctx, false, 0); !errors.Is(err, ErrQueueHasActiveJobs) {
		t.Fatalf("Obliterate without force = %v, want ErrQueueHasActiveJobs", err)
	}
	if err := q.Obliterate(ctx, true, 2); err != nil {
		t.Fatalf("Obliterate(force, 2): %v", err)
	}
	if keys := keysUnder(t, client, q); len(keys) != 0 {
		t.Errorf("keys left after Obliterate: %v", keys)
	}

	// The queue works again afterwards, with its meta hash rewritten.
	mustAdd(t, q, "again", nil, JobOpts{})
	if v := client.HGet(ctx, q.keys.meta(), "version").Val(); v != "bullmq:"+Version {
		t.Errorf("meta version after re-add = %q, want bullmq:%s", v, Version)
	}
}

func TestQueue_ChangePriority(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	a := mustAdd(t, q, "a", nil, JobOpts{Priority: 5})
	b := mustAdd(t, q, "b", nil, JobOpts{Priority: 5})
	plain := mustAdd(t, q, "plain", nil, JobOpts{})
	delayed := mustAdd(t, q, "delayed", nil, JobOpts{Delay: time.Hour})

	// lifo puts b ahead of a, with the score 5 * 2^32 and no counter.
	if err := b.ChangePriority(ctx, 5, true); err != nil {
		t.Fatalf("ChangePriority lifo: %v", err)
	}
	if got := client.ZRange(ctx, q.keys.prioritized(), 0, -1).Val(); !equalStrings(got,
		[]string{b.ID, a.ID}) {
		t.Errorf("prioritized = %v, want [%s %s]", got, b.ID, a.ID)
	}
	if s := client.ZScore(ctx, q.keys.prioritized(), b.ID).Val(); s != 5*(1<<32) {
		t.Errorf("score of b = %v, want %v", s, 5*(1<<32))
	}

	if err := q.ChangePriority(ctx, a.ID, 0, false); err != nil {
		t.Fatalf("ChangePriority to 0: %v", err)
	}
	if got := listRange(t, client, q.keys.wait()); !equalStrings(got, []string{a.ID, plain.ID}) {
		t.Errorf("wait = %v, want [%s %s]", got, a.ID, plain.ID)
	}
	requireField(t, jobHash(t, client, q, a.ID), "priority", "0")

	if err := q.ChangePriority(ctx, plain.ID, 2, false); err != nil {
		t.Fatalf("ChangePriority of a waiting job: %v", err)
	}
	if _, err := client.ZScore(ctx, q.keys.prioritized(), plain.ID).Result(); err != nil {
		t.Errorf("job %s not prioritized after ChangePriority: %v", plain.ID, err)
	}

	if err := q.ChangePriority(ctx, delayed.ID, 7, false); err != nil {
		t.Fatalf("ChangePriority of a delayed job: %v", err)
	}
	requireField(t, jobHash(t, client, q, delayed.ID), "priority", "7")
	if _, err := client.ZScore(ctx, q.keys.delayed(), delayed.ID).Result(); err != nil {
		t.Errorf("delayed job left delayed: %v", err)
	}

	if err := q.ChangePriority(ctx, "missing", 1, false); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("ChangePriority of a missing job = %v, want ErrJobNotFound", err)
	}
	if err := q.ChangePriority(ctx, a.ID, MaxPriority+1, false); err == nil {
		t.Errorf("ChangePriority above MaxPriority succeeded, want an error")
	}
}

func TestQueue_ChangeDelay(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "d", nil, JobOpts{Delay: time.Hour})
	plain := mustAdd(t, q, "plain", nil, JobOpts{})

	before := time.Now().UnixMilli()
	if err := job.ChangeDelay(ctx, 2*time.Minute); err != nil {
		t.Fatalf("ChangeDelay: %v", err)
	}
	after := time.Now().UnixMilli()

	requireField(t, jobHash(t, client, q, job.ID), "delay", "120000")
	score := int64(client.ZScore(ctx, q.keys.delayed(), job.ID).Val())
	due := score / 4096
	if due < before+120000 || due > after+120000 {
		t.Errorf("due time %d outside [%d, %d]", due, before+120000, after+120000)
	}
	events := streamEvents(t, client, q)
	if want := "delayed jobId=" + job.ID + " delay=" + strconv.FormatInt(due, 10); events[len(
		events)-1] != want {
		t.Errorf("last event = %q, want %q", events[len(events)-1], want)
	}
	if m := int64(client.ZScore(ctx, q.keys.marker(), "1").Val()); m != due {
		t.Errorf("delay marker = %d, want %d", m, due)
	}

	requireCode(t, q.ChangeDelay(ctx, plain.ID, time.Second), -3)
	if err := q.ChangeDelay(ctx, "missing", time.Second); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("ChangeDelay of a missing job = %v, want ErrJobNotFound", err)
	}
}

func TestQueue_GetJobs(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	var ids []string
	for range 5 {
		ids = append(ids, mustAdd(t, q, "w", nil, JobOpts{}).ID)
	}
	now := time.Now().UnixMilli()
	c1 := mustAdd(t, q, "c", nil, JobOpts{})
	c2 := mustAdd(t, q, "c", nil, JobOpts{})
	finishByHand(t, client, q, c1.ID, StateCompleted, now-10)
	finishByHand(t, client, q, c2.ID, StateCompleted, now)

	tests := []struct {
		name       string
		states     []string
		start, end int
		asc        bool
		want       []string
	}{
		{"WaitingNewestFirst", []string{StateWaiting}, 0, 1, false, []string{ids[4], ids[3]}},
		{"WaitingAscending", []string{StateWaiting}, 0, 1, true, []string{ids[0], ids[1]}},
		{"WaitingSecondPage", []string{StateWaiting}, 2, 3, true, []string{ids[2], ids[3]}},
		{"WaitingAll", []string{"wait"}, 0, -1, true, ids},
		{"CompletedNewestFirst", []string{StateCompleted}, 0, -1, false,
			[]string{c2.ID, c1.ID}},
		{"PerStatePages", []string{StateCompleted, StateWaiting}, 0, 0, false,
			[]string{c2.ID, ids[4]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			// A parallel subtest can wait for a free slot longer than the parent's
			// context lives, so it needs a context of its own.
			jobs, err := q.GetJobs(testContext(t), tt.states, tt.start, tt.end, tt.asc)
			if err != nil {
				t.Fatalf("GetJobs: %v", err)
			}
			var got []string
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("GetJobs = %v, want %v", got, tt.want)
			}
		})
	}

	if _, err := q.GetJobs(ctx, []string{"bogus"}, 0, -1, false); err == nil {
		t.Errorf("GetJobs with an invalid state succeeded, want an error")
	}
}

func TestQueue_GetJobsSkipsMissingHashes(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	var ids []string
	for range 4 {
		ids = append(ids, mustAdd(t, q, "w", nil, JobOpts{}).ID)
	}
	client.Del(ctx, q.keys.job(ids[1]))

	jobs, err := q.GetJobs(ctx, []string{StateWaiting}, 0, 1, true)
	if err != nil {
		t.Fatalf("GetJobs: %v", err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.ID)
	}
	if want := []string{ids[0], ids[2]}; !equalStrings(got, want) {
		t.Errorf("GetJobs = %v, want %v (page filled past the missing hash)", got, want)
	}
	if jobs[0].Name != "w" || string(jobs[0].Data) != "{}" {
		t.Errorf("job = %q %s, want name w and data {}", jobs[0].Name, jobs[0].Data)
	}
}

func TestQueue_GetCountsPerPriority(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	for _, p := range []int{0, 0, 1, 3, 3, 3} {
		mustAdd(t, q, "j", nil, JobOpts{Priority: p})
	}

	counts, err := q.GetCountsPerPriority(ctx, 0, 1, 2, 3)
	if err != nil {
		t.Fatalf("GetCountsPerPriority: %v", err)
	}
	want := map[int]int64{0: 2, 1: 1, 2: 0, 3: 3}
	for p, n := range want {
		if counts[p] != n {
			t.Errorf("count of priority %d = %d, want %d", p, counts[p], n)
		}
	}
}

func TestQueue_GetMetrics(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	key := q.keys.key("metrics:completed")
	client.HSet(ctx, key, "count", 7, "prevTS", 1700000000000, "prevCount", 5)
	client.RPush(ctx, key+":data", 3, 0, 2)

	m, err := q.GetMetrics(ctx, StateCompleted, 0, 1)
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	if m.Meta != (MetricsMeta{Count: 7, PrevTS: 1700000000000, PrevCount: 5}) {
		t.Errorf("Meta = %+v", m.Meta)
	}
	if len(m.Data) != 2 || m.Data[0] != 3 || m.Data[1] != 0 {
		t.Errorf("Data = %v, want [3 0]", m.Data)
	}
	if m.Count != 3 {
		t.Errorf("Count = %d, want 3", m.Count)
	}

	empty, err := q.GetMetrics(ctx, StateFailed, 0, -1)
	if err != nil {
		t.Fatalf("GetMetrics failed: %v", err)
	}
	if empty.Meta != (MetricsMeta{}) || len(empty.Data) != 0 || empty.Count != 0 {
		t.Errorf("empty metrics = %+v, want zero", empty)
	}
	if _, err := q.GetMetrics(ctx, "active", 0, -1); err == nil {
		t.Errorf("GetMetrics(active) succeeded, want an error")
	}
}

func TestQueue_GetWorkers(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	startWorker(t, q, func(ctx context.Context, job *Job) (any, error) { return nil, nil },
		WorkerOpts{Name: "w1"})

	var workers []WorkerInfo
	waitFor(t, 10*time.Second, "the worker connection", func() bool {
		var err error
		workers, err = q.GetWorkers(ctx)
		if err != nil {
			t.Fatalf("GetWorkers: %v", err)
		}
		return len(workers) > 0
	})
	w := workers[0]
	if w.Name != q.Name() {
		t.Errorf("Name = %q, want %q", w.Name, q.Name())
	}
	if want := (&Worker{queue: q, opts: WorkerOpts{Prefix: q.Prefix(),
		Name: "w1"}}).connectionName(); w.RawName != want {
		t.Errorf("RawName = %q, want %q", w.RawName, want)
	}
	if w.Addr == "" || w.ID == "" {
		t.Errorf("Addr %q or ID %q is empty", w.Addr, w.ID)
	}
}

func TestDeduplicationKeyAPI(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	first := mustAdd(t, q, "a", nil, JobOpts{Deduplication: &Deduplication{ID: "dk"}})

	owner, err := q.GetDeduplicationJobID(ctx, "dk")
	if err != nil || owner != first.ID {
		t.Fatalf("GetDeduplicationJobID = %q, %v; want %q", owner, err, first.ID)
	}
	if owner, err := q.GetDeduplicationJobID(ctx, "none"); err != nil || owner != "" {
		t.Errorf("GetDeduplicationJobID(none) = %q, %v; want empty", owner, err)
	}

	// The job API keeps a key that another job owns now.
	client.Set(ctx, q.keys.key("de:dk"), "other", 0)
	if removed, err := first.RemoveDeduplicationKey(ctx); err != nil || removed {
		t.Errorf("Job.RemoveDeduplicationKey of a taken-over key = %v, %v; want false",
			removed, err)
	}
	client.Set(ctx, q.keys.key("de:dk"), first.ID, 0)
	if removed, err := first.RemoveDeduplicationKey(ctx); err != nil || !removed {
		t.Errorf("Job.RemoveDeduplicationKey = %v, %v; want true", removed, err)
	}

	second := mustAdd(t, q, "a", nil, JobOpts{Deduplication: &Deduplication{ID: "dk"}})
	if second.ID == first.ID {
		t.Fatalf("add after removing the key returned the old job %s", first.ID)
	}
	if removed, err := q.RemoveDeduplicationKey(ctx, "dk"); err != nil || !removed {
		t.Errorf("Queue.RemoveDeduplicationKey = %v, %v; want true", removed, err)
	}
	if removed, err := q.RemoveDeduplicationKey(ctx, "dk"); err != nil || removed {
		t.Errorf("second Queue.RemoveDeduplicationKey = %v, %v; want false", removed, err)
	}
}
