package queues

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/store/storetest"
)

func TestCatalog_QueuesAndPolicies(t *testing.T) {
	t.Parallel()

	want := []struct {
		name        string
		concurrency int
		attempts    int
	}{
		{"email", 5, 5}, {"documents", 3, 5}, {"notifications", 10, 3}, {"import", 1, 1},
		{"export", 2, 3}, {"reports", 1, 3}, {"webhooks", 5, 3}, {"maintenance", 1, 3},
		{"ai", 2, 3}, {"bulk", 2, 3},
	}
	if len(Catalog) != len(want) {
		t.Fatalf("Catalog has %d queues, want %d", len(Catalog), len(want))
	}
	for i, w := range want {
		q := Catalog[i]
		if q.Name != w.name {
			t.Errorf("Catalog[%d].Name = %q, want %q", i, q.Name, w.name)
		}
		if q.Concurrency != w.concurrency {
			t.Errorf("%s concurrency = %d, want %d", w.name, q.Concurrency, w.concurrency)
		}
		if q.MaxAttempts != w.attempts {
			t.Errorf("%s max attempts = %d, want %d", w.name, q.MaxAttempts, w.attempts)
		}
		if q.Description == "" {
			t.Errorf("%s has no description", w.name)
		}
	}
}

func TestLookup_UnknownQueue(t *testing.T) {
	t.Parallel()

	if _, ok := Lookup("emails"); ok {
		t.Error(`Lookup("emails") found a queue, want none`)
	}
	q, ok := Lookup("webhooks")
	if !ok || q.Concurrency != 5 {
		t.Errorf(`Lookup("webhooks") = %+v, %v; want concurrency 5`, q, ok)
	}
}

func TestRegistry_DispatchesByJobName(t *testing.T) {
	t.Parallel()

	r := NewRegistry()
	var called []string
	err := r.Register("email", map[string]bullmq.ProcessFunc{
		"send": func(_ context.Context, job *bullmq.Job) (any, error) {
			called = append(called, "send:"+job.ID)
			return "ok", nil
		},
	})
	if err != nil {
		t.Fatalf("Register() error = %v", err)
	}

	process := r.Processor("email")
	got, err := process(context.Background(), &bullmq.Job{ID: "1", Name: "send"})
	if err != nil {
		t.Fatalf("process(send) error = %v", err)
	}
	if got != "ok" {
		t.Errorf("process(send) = %v, want ok", got)
	}
	if strings.Join(called, ",") != "send:1" {
		t.Errorf("handlers called = %v, want [send:1]", called)
	}

	_, err = process(context.Background(), &bullmq.Job{ID: "2", Name: "explode"})
	if err == nil {
		t.Fatal("process(explode) = nil error, want an error")
	}
	if !bullmq.IsUnrecoverable(err) {
		t.Errorf("process(explode) error %q is retryable, want unrecoverable", err)
	}
	if want := `unknown job name "explode" for queue email`; err.Error() != want {
		t.Errorf("process(explode) error = %q, want %q", err, want)
	}
}

func TestRegistry_RegisterErrors(t *testing.T) {
	t.Parallel()

	r := NewRegistry()
	fn := func(context.Context, *bullmq.Job) (any, error) { return nil, nil }

	err := r.Register("mail", map[string]bullmq.ProcessFunc{"send": fn})
	var unknown *UnknownQueueError
	if !errors.As(err, &unknown) || unknown.Name != "mail" {
		t.Errorf("Register(mail) error = %v, want UnknownQueueError for mail", err)
	}

	if err := r.Register("bulk", map[string]bullmq.ProcessFunc{"tag": fn}); err != nil {
		t.Fatalf("Register(bulk) error = %v", err)
	}
	err = r.Register("bulk", map[string]bullmq.ProcessFunc{"tag": fn})
	if err == nil || !strings.Contains(err.Error(), `job name "tag" already has a handler`) {
		t.Errorf("second Register(bulk, tag) error = %v, want a duplicate error", err)
	}
}

func TestDefaultRegistry_OnlyNotifications(t *testing.T) {
	t.Parallel()

	r := DefaultRegistry(Deps{})
	if got := strings.Join(r.Queues(), ","); got != "notifications" {
		t.Errorf("Queues() = %q, want notifications", got)
	}
	if got := strings.Join(r.JobNames("notifications"), ","); got != "create,super-admin-alert" {
		t.Errorf("JobNames(notifications) = %q, want create,super-admin-alert", got)
	}
}

func TestNewWorkers_Errors(t *testing.T) {
	t.Parallel()

	r := DefaultRegistry(Deps{})
	client := redistest.Client(t)

	tests := []struct {
		name    string
		queues  []string
		cfg     WorkerConfig
		wantErr string
	}{
		{"UnknownQueue", []string{"mail"}, WorkerConfig{}, `unknown queue "mail": use one of email`},
		{"NoHandlers", []string{"email"}, WorkerConfig{},
			`queue "email" has no handlers in this build`},
		{"ConcurrencyForOtherQueue", []string{"notifications"},
			WorkerConfig{Concurrency: map[string]int{"email": 2}},
			`concurrency set for queue "email", which this worker does not run`},
		{"ConcurrencyZero", []string{"notifications"},
			WorkerConfig{Concurrency: map[string]int{"notifications": 0}},
			"invalid concurrency 0 for queue notifications"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := r.NewWorkers(client, tt.queues, tt.cfg)
			if err == nil {
				t.Fatalf("NewWorkers(%v) = nil error, want %q", tt.queues, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewWorkers(%v) error = %q, want it to contain %q", tt.queues, err,
					tt.wantErr)
			}
		})
	}
}

type countingPublisher struct {
	mu     sync.Mutex
	events map[string]int
}

func (p *countingPublisher) Publish(_ context.Context, _ []string, event string, _ any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events[event]++
	return nil
}

func TestNewWorkers_ProcessesNotificationJobs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	db := storetest.NewMigratedSchema(t)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO users (id, name, email)
		VALUES ('u-1', 'Ana', 'ana@test.example')`); err != nil {
		t.Fatalf("seed user: %v", err)
	}

	pub := &countingPublisher{events: map[string]int{}}
	r := DefaultRegistry(Deps{DB: db.Pool, Publisher: pub})
	workers, err := r.NewWorkers(client, []string{"notifications"}, WorkerConfig{
		Prefix:      prefix,
		Concurrency: map[string]int{"notifications": 4},
	})
	if err != nil {
		t.Fatalf("NewWorkers() error = %v", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, workers) }()

	queue := bullmq.NewQueue(client, "notifications", bullmq.QueueOpts{Prefix: prefix})
	const total = 20
	for i := range total {
		data := map[string]any{"userId": "u-1", "type": "t", "title": "n", "description": i}
		if i%2 == 0 {
			data["description"] = "ok"
		}
		if _, err := queue.Add(ctx, "create", data, bullmq.JobOpts{Attempts: 3}); err != nil {
			t.Fatalf("add job %d: %v", i, err)
		}
	}
	unknown, err := queue.Add(ctx, "explode", map[string]any{}, bullmq.JobOpts{Attempts: 3})
	if err != nil {
		t.Fatalf("add explode job: %v", err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		counts, err := queue.GetJobCounts(ctx, "completed", "failed")
		if err != nil {
			t.Fatalf("GetJobCounts() error = %v", err)
		}
		if counts["completed"] == total/2 && counts["failed"] == total/2+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job counts = %v after 30s, want %d completed and %d failed", counts,
				total/2, total/2+1)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var rows int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&rows); err != nil {
		t.Fatalf("count notifications: %v", err)
	}
	if rows != total/2 {
		t.Errorf("notifications rows = %d, want %d", rows, total/2)
	}

	job, err := queue.GetJob(ctx, unknown.ID)
	if err != nil {
		t.Fatalf("GetJob(%s) error = %v", unknown.ID, err)
	}
	if want := `unknown job name "explode" for queue notifications`; job.FailedReason != want {
		t.Errorf("failedReason = %q, want %q", job.FailedReason, want)
	}
	if job.AttemptsMade != 1 {
		t.Errorf("attempts made = %d, want 1 (no retry)", job.AttemptsMade)
	}

	pub.mu.Lock()
	if n := pub.events["notification:new"]; n != total/2 {
		t.Errorf("notification:new emitted %d times, want %d", n, total/2)
	}
	pub.mu.Unlock()

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run() did not return within 30s of cancel")
	}
}
