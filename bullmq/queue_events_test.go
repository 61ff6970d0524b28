package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startQueueEvents runs a QueueEvents for q until the test ends and waits until it is
// ready.
func startQueueEvents(t *testing.T, q *Queue, opts QueueEventsOpts) *QueueEvents {
	t.Helper()

	qe := newTestQueueEvents(t, q, opts)
	runQueueEvents(t, qe)
	return qe
}

// newTestQueueEvents returns a QueueEvents for q that logs to the test and is not running
// yet.
func newTestQueueEvents(t *testing.T, q *Queue, opts QueueEventsOpts) *QueueEvents {
	t.Helper()

	opts.Prefix = q.Prefix()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	return NewQueueEvents(q.Client(), q.Name(), opts)
}

// runQueueEvents runs qe until the test ends and waits until it is ready.
func runQueueEvents(t *testing.T, qe *QueueEvents) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- qe.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("QueueEvents.Run returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("QueueEvents.Run did not return within 30s of cancellation")
		}
	})

	if err := qe.WaitReady(testContext(t)); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// collector gathers the events of a subscription in the background.
type collector struct {
	mu     sync.Mutex
	events []Event
}

func collect(t *testing.T, qe *QueueEvents) *collector {
	t.Helper()

	c := &collector{}
	sub := qe.Subscribe(16)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case ev := <-sub.Events():
				c.mu.Lock()
				c.events = append(c.events, ev)
				c.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		sub.Close()
		close(stop)
	})
	return c
}

// waitForCount waits until at least n events arrived.
func (c *collector) waitForCount(t *testing.T, n int) {
	t.Helper()

	waitFor(t, 20*time.Second, fmt.Sprintf("%d events", n), func() bool {
		return len(c.snapshot()) >= n
	})
}

func (c *collector) snapshot() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()

	return append([]Event(nil), c.events...)
}

// waitForEvent waits until an event with this name (and job id, when not empty) arrived.
func (c *collector) waitForEvent(t *testing.T, name, jobID string) Event {
	t.Helper()

	var found Event
	waitFor(t, 20*time.Second, "event "+name+" of job "+jobID, func() bool {
		for _, ev := range c.snapshot() {
			if ev.Name == name && (jobID == "" || ev.JobID == jobID) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

func TestQueueEvents_TypedEvents(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	qe := startQueueEvents(t, q, QueueEventsOpts{})
	events := collect(t, qe)
	ctx := testContext(t)

	ok := mustAdd(t, q, "ok", nil, JobOpts{})
	bad := mustAdd(t, q, "bad", nil, JobOpts{})
	later := mustAdd(t, q, "later", nil, JobOpts{Delay: time.Hour})
	startWorker(t, q, func(ctx context.Context, job *Job) (any, error) {
		if job.Name == "bad" {
			return nil, errors.New("no <luck>")
		}
		if err := job.UpdateProgress(ctx, map[string]int{"p": 50}); err != nil {
			return nil, err
		}
		return map[string]bool{"done": true}, nil
	}, WorkerOpts{})

	added := events.waitForEvent(t, EventAdded, ok.ID)
	if added.JobName != "ok" {
		t.Errorf("added JobName = %q, want ok", added.JobName)
	}
	progress := events.waitForEvent(t, EventProgress, ok.ID)
	if string(progress.Data) != `{"p":50}` {
		t.Errorf("progress Data = %s, want {\"p\":50}", progress.Data)
	}
	completed := events.waitForEvent(t, EventCompleted, ok.ID)
	if string(completed.ReturnValue) != `{"done":true}` || completed.Prev != "active" {
		t.Errorf("completed = %+v", completed)
	}
	failed := events.waitForEvent(t, EventFailed, bad.ID)
	if failed.FailedReason != "no <luck>" {
		t.Errorf("FailedReason = %q, want no <luck>", failed.FailedReason)
	}
	exhausted := events.waitForEvent(t, EventRetriesExhausted, bad.ID)
	if exhausted.AttemptsMade != 1 {
		t.Errorf("AttemptsMade = %d, want 1", exhausted.AttemptsMade)
	}
	delayed := events.waitForEvent(t, EventDelayed, later.ID)
	if delayed.Delay < later.Timestamp+time.Hour.Milliseconds() {
		t.Errorf("Delay = %d, want the due time %d", delayed.Delay,
			later.Timestamp+time.Hour.Milliseconds())
	}

	if _, err := q.Clean(ctx, -time.Second, 0, StateCompleted); err != nil {
		t.Fatalf("Clean: %v", err)
	}
	cleaned := events.waitForEvent(t, EventCleaned, "")
	if cleaned.Count != 1 {
		t.Errorf("cleaned Count = %d, want 1", cleaned.Count)
	}
	if cleaned.Fields["event"] != EventCleaned || cleaned.Fields["count"] != "1" {
		t.Errorf("cleaned Fields = %v", cleaned.Fields)
	}

	// Events arrive in stream order, with increasing ids.
	all := events.snapshot()
	for i := 1; i < len(all); i++ {
		if compareStreamIDs(all[i-1].ID, all[i].ID) >= 0 {
			t.Errorf("event %d id %s is not after %s", i, all[i].ID, all[i-1].ID)
		}
	}
}

// compareStreamIDs compares two stream ids "<ms>-<seq>".
func compareStreamIDs(a, b string) int {
	var am, as, bm, bs int64
	fmt.Sscanf(a, "%d-%d", &am, &as)
	fmt.Sscanf(b, "%d-%d", &bm, &bs)
	switch {
	case am != bm:
		return int(am - bm)
	default:
		return int(as - bs)
	}
}

func TestQueueEvents_StartsAfterLastEventID(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	first := mustAdd(t, q, "first", nil, JobOpts{})

	// "0" reads the stream from its start, so the events of the earlier add arrive. Run
	// delivers them as soon as it starts and drops events that no subscription takes, so
	// the collector subscribes before Run.
	qe := newTestQueueEvents(t, q, QueueEventsOpts{LastEventID: "0"})
	events := collect(t, qe)
	runQueueEvents(t, qe)
	events.waitForEvent(t, EventAdded, first.ID)

	// The default "$" skips what was written before Run.
	q2 := NewQueue(q.Client(), q.Name(), QueueOpts{Prefix: q.Prefix()})
	qe2 := startQueueEvents(t, q2, QueueEventsOpts{})
	events2 := collect(t, qe2)
	second := mustAdd(t, q, "second", nil, JobOpts{})
	events2.waitForEvent(t, EventWaiting, second.ID)
	for _, ev := range events2.snapshot() {
		if ev.JobID == first.ID {
			t.Errorf("reader started at $ delivered an earlier event %+v", ev)
		}
	}
}

// killBlockedConnection waits until the connection named name is blocked in XREAD and
// kills it with CLIENT KILL ID, so the read in progress fails.
func killBlockedConnection(t *testing.T, client *redis.Client, name string) {
	t.Helper()

	ctx := context.Background()
	waitFor(t, 10*time.Second, "a blocked XREAD of "+name, func() bool {
		list, err := client.ClientList(ctx).Result()
		if err != nil {
			t.Fatalf("CLIENT LIST: %v", err)
		}
		for line := range strings.Lines(list) {
			fields := map[string]string{}
			for _, pair := range strings.Fields(line) {
				k, v, _ := strings.Cut(pair, "=")
				fields[k] = v
			}
			if fields["name"] != name || fields["cmd"] != "xread" ||
				!strings.Contains(fields["flags"], "b") {
				continue
			}
			if err := client.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
				t.Fatalf("CLIENT KILL ID %s: %v", fields["id"], err)
			}
			return true
		}
		return false
	})
}

// countingHandler counts the warnings logged through it and the loggers derived from it.
type countingHandler struct {
	slog.Handler
	count *atomic.Int64
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.count.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return countingHandler{Handler: h.Handler.WithAttrs(attrs), count: h.count}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{Handler: h.Handler.WithGroup(name), count: h.count}
}

func TestQueueEvents_ResumesAfterConnectionKill(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})

	// Without go-redis's own retries the killed read fails, so the reader's resume path
	// runs; the counting logger proves it did.
	opts := *client.Options()
	opts.MaxRetries = -1
	noRetry := redis.NewClient(&opts)
	t.Cleanup(func() { _ = noRetry.Close() })
	retries := countingHandler{Handler: testLogger(t).Handler(), count: &atomic.Int64{}}
	qe := startQueueEvents(t, NewQueue(noRetry, q.Name(), QueueOpts{Prefix: q.Prefix()}),
		QueueEventsOpts{BlockTimeout: time.Second, Logger: slog.New(retries)})
	events := collect(t, qe)
	ctx := testContext(t)

	for round := range 4 {
		for range 10 {
			mustAdd(t, q, "j", nil, JobOpts{})
		}
		events.waitForCount(t, (round+1)*20)
		killBlockedConnection(t, client, qe.connectionName())
	}
	for range 10 {
		mustAdd(t, q, "j", nil, JobOpts{})
	}

	want, err := client.XRange(ctx, q.keys.events(), "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	waitFor(t, 30*time.Second, "every stream entry", func() bool {
		return len(events.snapshot()) >= len(want)
	})

	got := events.snapshot()
	if len(got) != len(want) {
		t.Fatalf("received %d events, want %d (no loss, no repeat)", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d has id %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
	if retries.count.Load() == 0 {
		t.Errorf("the reader logged no read failure, so its resume path did not run")
	}
	if qe.LastEventID() != want[len(want)-1].ID {
		t.Errorf("LastEventID = %s, want %s", qe.LastEventID(), want[len(want)-1].ID)
	}
}

func TestJob_WaitUntilFinished(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	qe := startQueueEvents(t, q, QueueEventsOpts{})
	ctx := testContext(t)

	release := make(chan struct{})
	pending := mustAdd(t, q, "pending", nil, JobOpts{})
	early := mustAdd(t, q, "early", nil, JobOpts{})
	bad := mustAdd(t, q, "bad", nil, JobOpts{})
	startWorker(t, q, func(ctx context.Context, job *Job) (any, error) {
		switch job.Name {
		case "pending":
			<-release
			return "late", nil
		case "bad":
			return nil, errors.New("broken")
		}
		return 42, nil
	}, WorkerOpts{Concurrency: 3})

	// The early job finishes before anyone waits for it, so the state check returns it.
	waitInSet(t, q.Client(), q.keys.completed(), early.ID)
	value, err := early.WaitUntilFinished(ctx, qe)
	if err != nil || string(value) != "42" {
		t.Errorf("WaitUntilFinished(early) = %s, %v; want 42", value, err)
	}

	_, err = bad.WaitUntilFinished(ctx, qe)
	var failed *JobFailedError
	if !errors.As(err, &failed) || failed.Reason != "broken" {
		t.Errorf("WaitUntilFinished(bad) error = %v, want JobFailedError broken", err)
	}

	result := make(chan json.RawMessage, 1)
	go func() {
		v, err := pending.WaitUntilFinished(ctx, qe)
		if err != nil {
			t.Errorf("WaitUntilFinished(pending): %v", err)
		}
		result <- v
	}()
	close(release)
	select {
	case v := <-result:
		if string(v) != `"late"` {
			t.Errorf("WaitUntilFinished(pending) = %s, want \"late\"", v)
		}
	case <-ctx.Done():
		t.Fatalf("WaitUntilFinished(pending) did not return")
	}

	missing := &Job{ID: "missing", queue: q}
	if _, err := missing.WaitUntilFinished(ctx, qe); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("WaitUntilFinished(missing) = %v, want ErrJobNotFound", err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	waiting := mustAdd(t, q, "pending", nil, JobOpts{Delay: time.Hour})
	if _, err := waiting.WaitUntilFinished(short, qe); !errors.Is(err,
		context.DeadlineExceeded) {
		t.Errorf("WaitUntilFinished with an ended context = %v, want DeadlineExceeded", err)
	}
}
