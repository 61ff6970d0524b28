package bullmq

import (
	"fmt"
	"testing"
	"time"
)

func TestDedupSimple(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "dk"}
	first := mustAdd(t, q, "a", nil, JobOpts{Deduplication: dedup})
	second := mustAdd(t, q, "a", nil, JobOpts{Deduplication: dedup})

	if second.ID != first.ID {
		t.Errorf("second add id = %q, want the owner %q", second.ID, first.ID)
	}
	deKey := q.keys.key("de:dk")
	if got := client.Get(ctx, deKey).Val(); got != first.ID {
		t.Errorf("de key = %q, want %q", got, first.ID)
	}
	if ttl := client.PTTL(ctx, deKey).Val(); ttl != -1 {
		t.Errorf("de key PTTL = %v, want none", ttl)
	}
	if got := client.HGet(ctx, q.keys.job(first.ID), "deid").Val(); got != "dk" {
		t.Errorf("deid = %q, want dk", got)
	}
	if n := client.Exists(ctx, q.keys.job("2")).Val(); n != 0 {
		t.Error("the deduplicated add created job 2")
	}
	events := streamEvents(t, client, q)
	want := "deduplicated jobId=1 deduplicationId=dk deduplicatedJobId=2"
	if len(events) != 3 || events[2] != want {
		t.Errorf("events = %q, want the third to be %q", events, want)
	}
}

func TestDedupThrottleAndExtend(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	throttle := &Deduplication{ID: "t", TTL: 5 * time.Second}
	owner := mustAdd(t, q, "a", nil, JobOpts{Deduplication: throttle})
	ttl := client.PTTL(ctx, q.keys.key("de:t")).Val()
	if ttl <= 0 || ttl > 5*time.Second {
		t.Errorf("throttle key PTTL = %v, want in (0, 5s]", ttl)
	}

	// Shorten the TTL, then check that an extending add restores it.
	extend := &Deduplication{ID: "t", TTL: 5 * time.Second, Extend: true}
	client.PExpire(ctx, q.keys.key("de:t"), time.Second)
	again := mustAdd(t, q, "a", nil, JobOpts{Deduplication: extend})
	if again.ID != owner.ID {
		t.Errorf("extending add id = %q, want the owner %q", again.ID, owner.ID)
	}
	if ttl := client.PTTL(ctx, q.keys.key("de:t")).Val(); ttl <= time.Second {
		t.Errorf("key PTTL after extend = %v, want above 1s", ttl)
	}
}

func TestDedupReplaceDelayedOwner(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "r", TTL: time.Minute, Extend: true, Replace: true}
	first := mustAdd(t, q, "a", map[string]int{"v": 1}, JobOpts{Delay: time.Hour,
		Deduplication: dedup})
	client.HSet(ctx, q.keys.key("dn:r"), "jid", "stale")
	second := mustAdd(t, q, "a", map[string]int{"v": 2}, JobOpts{Delay: time.Hour,
		Deduplication: dedup})

	if second.ID == first.ID {
		t.Fatalf("replacing add returned the old id %q", first.ID)
	}
	if n := client.Exists(ctx, q.keys.job(first.ID), q.keys.key("dn:r")).Val(); n != 0 {
		t.Errorf("%d of the old job hash and dn hash remain, want both deleted", n)
	}
	if got := client.Get(ctx, q.keys.key("de:r")).Val(); got != second.ID {
		t.Errorf("de key = %q, want %q", got, second.ID)
	}

	events := streamEvents(t, client, q)
	wantTail := []string{
		fmt.Sprintf("removed jobId=%s prev=delayed", first.ID),
		fmt.Sprintf("deduplicated jobId=%s deduplicationId=r deduplicatedJobId=%s",
			second.ID, first.ID),
		fmt.Sprintf("added jobId=%s name=a", second.ID),
	}
	if len(events) < 5 || !equalStrings(events[2:5], wantTail) {
		t.Errorf("events = %q, want %q after the first add", events, wantTail)
	}
}

func TestDedupKeepLastIfActive(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "k", TTL: time.Minute, KeepLastIfActive: true}
	owner := mustAdd(t, q, "a", map[string]int{"v": 1}, JobOpts{Deduplication: dedup})
	if ttl := client.PTTL(ctx, q.keys.key("de:k")).Val(); ttl != -1 {
		t.Errorf("keepLastIfActive key PTTL = %v, want none", ttl)
	}

	// Make the owner active as a fetch would.
	client.RPopLPush(ctx, q.keys.wait(), q.keys.active())

	for _, v := range []int{2, 3} {
		job := mustAdd(t, q, "a", map[string]int{"v": v}, JobOpts{Deduplication: dedup})
		if job.ID != owner.ID {
			t.Errorf("add of v%d returned %q, want the owner %q", v, job.ID, owner.ID)
		}
	}

	next := client.HGetAll(ctx, q.keys.key("dn:k")).Val()
	if next["data"] != `{"v":3}` || next["jid"] != "3" || next["name"] != "a" {
		t.Errorf("dn hash = %v, want data {\"v\":3}, jid 3, name a", next)
	}
}

func TestDedupStaleKeyRecovery(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	client.Set(ctx, q.keys.key("de:s"), "gone", 0)
	client.HSet(ctx, q.keys.key("dn:s"), "jid", "x")
	job := mustAdd(t, q, "a", nil, JobOpts{Deduplication: &Deduplication{ID: "s"}})

	if job.ID != "1" {
		t.Errorf("add over a stale key returned %q, want the new job 1", job.ID)
	}
	if got := client.Get(ctx, q.keys.key("de:s")).Val(); got != "1" {
		t.Errorf("de key = %q, want 1", got)
	}
	if n := client.Exists(ctx, q.keys.key("dn:s")).Val(); n != 0 {
		t.Error("dn hash of the stale owner remains")
	}
	want := []string{"added jobId=1 name=a", "waiting jobId=1"}
	if got := streamEvents(t, client, q); !equalStrings(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestDedupReschedule(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	dedup := &Deduplication{ID: "rs", Reschedule: true}
	owner := mustAdd(t, q, "a", nil, JobOpts{Delay: time.Hour, Deduplication: dedup})
	ts := time.UnixMilli(time.Now().UnixMilli())
	again := mustAdd(t, q, "a", nil, JobOpts{Delay: 2 * time.Minute, Timestamp: ts,
		Deduplication: dedup})

	if again.ID != owner.ID {
		t.Errorf("rescheduling add returned %q, want the owner %q", again.ID, owner.ID)
	}
	due := ts.UnixMilli() + 120000
	if got := client.ZScore(ctx, q.keys.delayed(), owner.ID).Val(); got != float64(due*4096) {
		t.Errorf("owner delayed score = %.0f, want %d", got, due*4096)
	}
	if got := client.HGet(ctx, q.keys.job(owner.ID), "delay").Val(); got != "120000" {
		t.Errorf("owner delay field = %q, want 120000", got)
	}
	if got := client.ZScore(ctx, q.keys.marker(), "1").Val(); got != float64(due) {
		t.Errorf("delay marker = %.0f, want %d", got, due)
	}
	events := streamEvents(t, client, q)
	want := fmt.Sprintf("delayed jobId=%s delay=%d", owner.ID, due)
	if len(events) != 4 || events[3] != want {
		t.Errorf("events = %q, want the last to be %q", events, want)
	}
}
