package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/jobs/notifications"
)

// recordingPublisher records the realtime events it is asked to publish.
type recordingPublisher struct {
	mu     sync.Mutex
	events []publishedEvent
}

type publishedEvent struct {
	rooms   []string
	event   string
	payload string
}

func (p *recordingPublisher) Publish(_ context.Context, rooms []string, event string,
	payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, publishedEvent{rooms: rooms, event: event, payload: string(body)})
	return nil
}

func (p *recordingPublisher) named(event string) []publishedEvent {
	p.mu.Lock()
	defer p.mu.Unlock()

	var out []publishedEvent
	for _, e := range p.events {
		if e.event == event {
			out = append(out, e)
		}
	}
	return out
}

// dlBundle is the fixture of a dead-letter test: a client, a prefix, a publisher and the
// DeadLetter built on them.
type dlBundle struct {
	client *redis.Client
	prefix string
	pub    *recordingPublisher
	dl     *DeadLetter
}

func setupDeadLetter(t *testing.T) *dlBundle {
	t.Helper()

	b := &dlBundle{client: redistest.Client(t), prefix: redistest.Prefix(t),
		pub: &recordingPublisher{}}
	b.dl = NewDeadLetter(b.client, DeadLetterConfig{Prefix: b.prefix, Publisher: b.pub})
	return b
}

func (b *dlBundle) queue(name string) *bullmq.Queue {
	return bullmq.NewQueue(b.client, name, bullmq.QueueOpts{Prefix: b.prefix})
}

// runWorkers runs workers for the registry's queues until the test ends.
func (b *dlBundle) runWorkers(t *testing.T, r *Registry, cfg WorkerConfig) {
	t.Helper()

	cfg.Prefix = b.prefix
	if cfg.BackoffUnit == 0 {
		cfg.BackoffUnit = time.Millisecond
	}
	workers, err := r.NewWorkers(b.client, r.Queues(), cfg)
	if err != nil {
		t.Fatalf("NewWorkers() error = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, workers) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
}

// waitFor polls cond every 20 ms until it returns true, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failingRegistry returns a registry in which every queue's "boom" job fails with a
// retryable error, and super-admin-alert jobs complete without doing anything.
func failingRegistry(t *testing.T) *Registry {
	t.Helper()

	r := NewRegistry()
	fail := func(context.Context, *bullmq.Job) (any, error) {
		return nil, errors.New("smtp: 421 service not available")
	}
	for _, name := range Names() {
		handlers := map[string]bullmq.ProcessFunc{"boom": fail}
		if name == notifications.Queue {
			handlers[notifications.JobSuperAdminAlert] = func(context.Context,
				*bullmq.Job) (any, error) {
				return "ok", nil
			}
		}
		if err := r.Register(name, handlers); err != nil {
			t.Fatalf("Register(%s) error = %v", name, err)
		}
	}
	return r
}

func TestDeadLetter_EveryQueueExhaustsRetries(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	b.runWorkers(t, failingRegistry(t), WorkerConfig{DeadLetter: b.dl})

	// Zero options store attempts 0, as Node's queue.add without options does, so the
	// queue's policy decides the attempts.
	ids := map[string]string{}
	for _, name := range Names() {
		job, err := b.queue(name).Add(ctx, "boom", map[string]any{"n": name}, bullmq.JobOpts{})
		if err != nil {
			t.Fatalf("add to %s: %v", name, err)
		}
		ids[name] = job.ID
	}

	waitFor(t, 30*time.Second, "ten dead-letter entries", func() bool {
		n, err := b.dl.Size(ctx)
		return err == nil && n == int64(len(Catalog))
	})

	entries, err := b.dl.List(ctx, ListOpts{})
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	byQueue := map[string]DeadLetterEntry{}
	for _, e := range entries {
		byQueue[e.Queue] = e
	}
	for _, q := range Catalog {
		e, ok := byQueue[q.Name]
		if !ok {
			t.Errorf("no dead-letter entry for queue %s", q.Name)
			continue
		}
		if e.JobID != ids[q.Name] || e.Name != "boom" {
			t.Errorf("%s entry = job %s %q, want job %s \"boom\"", q.Name, e.JobID, e.Name,
				ids[q.Name])
		}
		if e.AttemptsMade != q.MaxAttempts {
			t.Errorf("%s entry attempts made = %d, want the policy's %d", q.Name,
				e.AttemptsMade, q.MaxAttempts)
		}
		if e.FailedReason != "smtp: 421 service not available" {
			t.Errorf("%s entry failed reason = %q", q.Name, e.FailedReason)
		}
		if len(e.Stacktrace) != q.MaxAttempts {
			t.Errorf("%s entry has %d stack traces, want %d", q.Name, len(e.Stacktrace),
				q.MaxAttempts)
		}
		if string(e.Data) != fmt.Sprintf(`{"n":%q}`, q.Name) || string(e.Opts) != `{"attempts":0}` {
			t.Errorf("%s entry data = %s, opts = %s", q.Name, e.Data, e.Opts)
		}
		if e.FailedAt == 0 || e.ID != EntryID(q.Name, e.JobID, e.FailedAt) {
			t.Errorf("%s entry id = %s, failed at %d", q.Name, e.ID, e.FailedAt)
		}

		state, err := b.queue(q.Name).GetJobState(ctx, ids[q.Name])
		if err != nil || state != bullmq.StateFailed {
			t.Errorf("%s job state = %q, %v; want it to stay failed", q.Name, state, err)
		}
	}

	alerts := b.pub.named("system:jobFailed")
	if len(alerts) != len(Catalog) {
		t.Errorf("system:jobFailed emitted %d times, want %d", len(alerts), len(Catalog))
	}
	for _, a := range alerts {
		if strings.Join(a.rooms, ",") != "global" {
			t.Errorf("system:jobFailed rooms = %v, want [global]", a.rooms)
		}
		if !strings.Contains(a.payload, `"error":"smtp: 421 service not available"`) {
			t.Errorf("system:jobFailed payload = %s, want the failed reason", a.payload)
		}
	}

	alertJob, err := b.queue(notifications.Queue).GetJob(ctx, "alert-"+byQueue["email"].ID)
	if err != nil {
		t.Fatalf("read the super admin alert job: %v", err)
	}
	if alertJob.Name != notifications.JobSuperAdminAlert || alertJob.Priority != 1 {
		t.Errorf("alert job = %q priority %d, want %q priority 1", alertJob.Name,
			alertJob.Priority, notifications.JobSuperAdminAlert)
	}
}

func TestDeadLetter_ExplicitAttemptsWin(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	b.runWorkers(t, failingRegistry(t), WorkerConfig{DeadLetter: b.dl})

	job, err := b.queue("email").Add(ctx, "boom", nil, bullmq.JobOpts{Attempts: 2})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	waitFor(t, 30*time.Second, "the dead-letter entry", func() bool {
		n, _ := b.dl.Size(ctx)
		return n == 1
	})

	got, err := b.queue("email").GetJob(ctx, job.ID)
	if err != nil {
		t.Fatalf("GetJob() error = %v", err)
	}
	if got.AttemptsMade != 2 {
		t.Errorf("attempts made = %d, want the job's own 2", got.AttemptsMade)
	}
}

// failWithoutRecording fails a job for good with a worker that has no dead-letter hook,
// as a worker that died right after storing the failure leaves it.
func failWithoutRecording(t *testing.T, b *dlBundle, queue string) string {
	t.Helper()

	ctx := context.Background()
	r := NewRegistry()
	err := r.Register(queue, map[string]bullmq.ProcessFunc{
		"boom": func(context.Context, *bullmq.Job) (any, error) {
			return nil, bullmq.Unrecoverable(errors.New("bad input"))
		},
	})
	if err != nil {
		t.Fatalf("Register() error = %v", err)
	}
	workers, err := r.NewWorkers(b.client, []string{queue}, WorkerConfig{Prefix: b.prefix})
	if err != nil {
		t.Fatalf("NewWorkers() error = %v", err)
	}

	job, err := b.queue(queue).Add(ctx, "boom", map[string]any{"x": 1}, bullmq.JobOpts{})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, workers) }()
	waitFor(t, 30*time.Second, "the job to fail", func() bool {
		state, _ := b.queue(queue).GetJobState(ctx, job.ID)
		return state == bullmq.StateFailed
	})
	cancel()
	<-done
	return job.ID
}

func TestSweeper_RecordsMissedFailuresOnce(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	id := failWithoutRecording(t, b, "import")

	if n, _ := b.dl.Size(ctx); n != 0 {
		t.Fatalf("dead-letter size before the sweep = %d, want 0", n)
	}

	s := NewSweeper(b.dl)
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep() = %d, %v; want 1 recorded", n, err)
	}
	for i := range 3 {
		n, err := s.Sweep(ctx)
		if err != nil || n != 0 {
			t.Errorf("Sweep() #%d after recording = %d, %v; want 0", i+2, n, err)
		}
	}
	if n, err := NewSweeper(b.dl).Sweep(ctx); err != nil || n != 0 {
		t.Errorf("full Sweep() of a new sweeper = %d, %v; want 0", n, err)
	}

	entries, err := b.dl.List(ctx, ListOpts{Queue: "import"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("List(import) = %v, %v; want one entry", entries, err)
	}
	if entries[0].JobID != id || entries[0].FailedReason != "bad input" {
		t.Errorf("entry = %+v, want job %s with reason bad input", entries[0], id)
	}
	if got := len(b.pub.named("system:jobFailed")); got != 1 {
		t.Errorf("system:jobFailed emitted %d times, want 1", got)
	}
}

func TestSweeper_EntryAddedButNotMarked(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	id := failWithoutRecording(t, b, "export")

	// The recorder died after adding the entry and before marking the job.
	job, err := b.queue("export").GetJob(ctx, id)
	if err != nil {
		t.Fatalf("GetJob() error = %v", err)
	}
	entry := entryFromJob("export", job)
	entryID := EntryID("export", id, entry.FailedAt)
	_, err = b.dl.Queue().Add(ctx, "export", entry, bullmq.JobOpts{JobID: entryID})
	if err != nil {
		t.Fatalf("add the entry by hand: %v", err)
	}

	n, err := NewSweeper(b.dl).Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep() = %d, %v; want 1", n, err)
	}
	if size, _ := b.dl.Size(ctx); size != 1 {
		t.Errorf("dead-letter size = %d, want still 1", size)
	}
	mark, err := b.client.HGet(ctx, b.queue("export").Key()+":"+id, deadLetterField).Result()
	if err != nil || mark != entryID {
		t.Errorf("job mark = %q, %v; want %s", mark, err, entryID)
	}
}

func TestDeadLetter_ClaimedFailureIsSkipped(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	id := failWithoutRecording(t, b, "ai")

	job, err := b.queue("ai").GetJob(ctx, id)
	if err != nil {
		t.Fatalf("GetJob() error = %v", err)
	}
	claim := b.prefix + ":nimara:dead-letter-claim:" + EntryID("ai", id, job.FinishedOn)
	if err := b.client.Set(ctx, claim, "other-recorder", time.Minute).Err(); err != nil {
		t.Fatalf("set claim: %v", err)
	}

	recorded, err := b.dl.Record(ctx, "ai", id, nil)
	if err != nil || recorded {
		t.Errorf("Record() with a foreign claim = %v, %v; want false", recorded, err)
	}
	if err := b.client.Del(ctx, claim).Err(); err != nil {
		t.Fatalf("delete claim: %v", err)
	}
	recorded, err = b.dl.Record(ctx, "ai", id, nil)
	if err != nil || !recorded {
		t.Errorf("Record() after the claim expired = %v, %v; want true", recorded, err)
	}
	if exists, _ := b.client.Exists(ctx, claim).Result(); exists != 0 {
		t.Errorf("claim key still exists after Record")
	}
}

func TestDeadLetter_RetryRunsJobAgain(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	id := failWithoutRecording(t, b, "bulk")
	if _, err := NewSweeper(b.dl).Sweep(ctx); err != nil {
		t.Fatalf("Sweep() error = %v", err)
	}
	entries, err := b.dl.List(ctx, ListOpts{})
	if err != nil || len(entries) != 1 {
		t.Fatalf("List() = %v, %v; want one entry", entries, err)
	}

	outcome, err := b.dl.Retry(ctx, entries[0].ID)
	if err != nil {
		t.Fatalf("Retry() error = %v", err)
	}
	if outcome.Action != RetryRetried || outcome.JobID != id {
		t.Errorf("Retry() = %+v, want %s of job %s", outcome, RetryRetried, id)
	}
	if n, _ := b.dl.Size(ctx); n != 0 {
		t.Errorf("dead-letter size after retry = %d, want 0", n)
	}
	job, err := b.queue("bulk").GetJob(ctx, id)
	if err != nil {
		t.Fatalf("GetJob() error = %v", err)
	}
	state, _ := job.GetState(ctx)
	if state != bullmq.StateWaiting || job.AttemptsMade != 0 {
		t.Errorf("job after retry: state %s, attempts made %d; want waiting and 0", state,
			job.AttemptsMade)
	}

	// A second failure of the same job gets a new entry.
	r := NewRegistry()
	_ = r.Register("bulk", map[string]bullmq.ProcessFunc{
		"boom": func(context.Context, *bullmq.Job) (any, error) {
			return nil, bullmq.Unrecoverable(errors.New("still bad"))
		},
	})
	b.runWorkers(t, r, WorkerConfig{DeadLetter: b.dl})
	waitFor(t, 30*time.Second, "a second entry", func() bool {
		n, _ := b.dl.Size(ctx)
		return n == 1
	})
	again, err := b.dl.List(ctx, ListOpts{})
	if err != nil || len(again) != 1 || again[0].ID == entries[0].ID {
		t.Errorf("entries after the second failure = %+v, %v; want one new entry", again, err)
	}
}

func TestDeadLetter_RetryOfRemovedOrMovedJob(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	removed := failWithoutRecording(t, b, "webhooks")
	moved := failWithoutRecording(t, b, "webhooks")
	if n, err := NewSweeper(b.dl).Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("Sweep() = %d, %v; want 2", n, err)
	}
	entries, err := b.dl.List(ctx, ListOpts{Queue: "webhooks"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("List() = %v, %v; want two entries", entries, err)
	}
	entryOfJob := map[string]string{}
	for _, e := range entries {
		entryOfJob[e.JobID] = e.ID
	}

	if err := b.queue("webhooks").Remove(ctx, removed, false); err != nil {
		t.Fatalf("remove job: %v", err)
	}
	outcome, err := b.dl.Retry(ctx, entryOfJob[removed])
	if err != nil || outcome.Action != RetryReadded || outcome.JobID == removed {
		t.Fatalf("Retry() of a removed job = %+v, %v; want a new job", outcome, err)
	}
	added, err := b.queue("webhooks").GetJob(ctx, outcome.JobID)
	if err != nil || added.Name != "boom" || string(added.Data) != `{"x":1}` {
		t.Errorf("re-added job = %+v, %v; want boom with the same data", added, err)
	}

	job, _ := b.queue("webhooks").GetJob(ctx, moved)
	if err := job.Retry(ctx, bullmq.StateFailed, bullmq.RetryOpts{}); err != nil {
		t.Fatalf("retry job directly: %v", err)
	}
	outcome, err = b.dl.Retry(ctx, entryOfJob[moved])
	if err != nil || outcome.Action != RetrySkipped || outcome.State != bullmq.StateWaiting {
		t.Errorf("Retry() of a waiting job = %+v, %v; want skipped in waiting", outcome, err)
	}
	if n, _ := b.dl.Size(ctx); n != 0 {
		t.Errorf("dead-letter size = %d, want 0", n)
	}

	if _, err := b.dl.Retry(ctx, "email-1-1"); !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("Retry(missing) error = %v, want ErrEntryNotFound", err)
	}
}

func TestDeadLetter_RemovedFailureUsesFallback(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	r := NewRegistry()
	_ = r.Register("reports", map[string]bullmq.ProcessFunc{
		"boom": func(context.Context, *bullmq.Job) (any, error) {
			return nil, errors.New("renderer crashed")
		},
	})
	b.runWorkers(t, r, WorkerConfig{DeadLetter: b.dl})

	_, err := b.queue("reports").Add(ctx, "boom", map[string]any{"r": 1},
		bullmq.JobOpts{Attempts: 1, RemoveOnFail: bullmq.RemoveJob()})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	waitFor(t, 30*time.Second, "the entry", func() bool {
		n, _ := b.dl.Size(ctx)
		return n == 1
	})
	entries, _ := b.dl.List(ctx, ListOpts{})
	if len(entries) != 1 || entries[0].FailedReason != "renderer crashed" ||
		string(entries[0].Data) != `{"r":1}` || entries[0].AttemptsMade != 1 {
		t.Errorf("entries = %+v, want the removed job's entry", entries)
	}
}

func TestEntryID_ValidCustomID(t *testing.T) {
	t.Parallel()

	tests := []struct {
		queue, job string
		want       string
	}{
		{"email", "42", "email-42-1767225600000"},
		{"email", "welcome-u-1", "email-welcome-u-1-1767225600000"},
		{"maintenance", "repeat:abc:1767225600000",
			"maintenance-h" + "%s" + "-1767225600000"},
	}
	for _, tt := range tests {
		got := EntryID(tt.queue, tt.job, 1767225600000)
		if strings.Contains(tt.want, "%s") {
			if strings.Contains(got, ":") || !strings.HasPrefix(got, "maintenance-h") ||
				len(got) != len("maintenance-h")+16+len("-1767225600000") {
				t.Errorf("EntryID(%s, %s) = %q, want a hashed id without ':'", tt.queue,
					tt.job, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("EntryID(%s, %s) = %q, want %q", tt.queue, tt.job, got, tt.want)
		}
	}
	if a, b := EntryID("ai", "x:1:2", 1), EntryID("ai", "x:1:3", 1); a == b {
		t.Errorf("EntryID of two scheduler ids = %q for both", a)
	}
}

func TestDeadLetter_ListFiltersAndLimits(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	for i := range 5 {
		queue := "email"
		if i%2 == 1 {
			queue = "ai"
		}
		entry := DeadLetterEntry{Queue: queue, JobID: fmt.Sprint(i), Name: "x",
			FailedAt: int64(1000 + i)}
		_, err := b.dl.Queue().Add(ctx, queue, entry,
			bullmq.JobOpts{JobID: EntryID(queue, entry.JobID, entry.FailedAt)})
		if err != nil {
			t.Fatalf("add entry %d: %v", i, err)
		}
	}

	all, err := b.dl.List(ctx, ListOpts{})
	if err != nil || len(all) != 5 {
		t.Fatalf("List() = %d entries, %v; want 5", len(all), err)
	}
	if all[0].JobID != "4" {
		t.Errorf("List()[0] = job %s, want the newest, 4", all[0].JobID)
	}
	ai, _ := b.dl.List(ctx, ListOpts{Queue: "ai"})
	var ids []string
	for _, e := range ai {
		ids = append(ids, e.JobID)
	}
	if !slices.Equal(ids, []string{"3", "1"}) {
		t.Errorf("List(ai) job ids = %v, want [3 1]", ids)
	}
	limited, _ := b.dl.List(ctx, ListOpts{Limit: 2})
	if len(limited) != 2 {
		t.Errorf("List(limit 2) = %d entries, want 2", len(limited))
	}
}
