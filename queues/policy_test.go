package queues

import (
	"testing"
	"time"

	"github.com/portnimara/nimara/jobs/notifications"
)

func TestBackoffDelay_OneTenHundred(t *testing.T) {
	t.Parallel()

	want := []time.Duration{time.Second, 10 * time.Second, 100 * time.Second,
		100 * time.Second, 100 * time.Second}
	for i, w := range want {
		if got := BackoffDelay(i+1, BackoffBase); got != w {
			t.Errorf("BackoffDelay(%d) = %s, want %s", i+1, got, w)
		}
	}

	fn := BackoffStrategies(time.Millisecond)[BackoffType]
	if got := fn(2, BackoffType, nil, nil); got != 10*time.Millisecond {
		t.Errorf("strategy with a 1ms unit after attempt 2 = %s, want 10ms", got)
	}
	if got := BackoffStrategies(0)[BackoffType](3, BackoffType, nil, nil); got != 100*time.Second {
		t.Errorf("strategy with the default unit after attempt 3 = %s, want 100s", got)
	}
}

func TestCatalog_PrioritiesByJobKind(t *testing.T) {
	t.Parallel()

	tests := []struct {
		queue, job string
		want       int
	}{
		{"email", "password-reset", 1},
		{"notifications", notifications.JobSuperAdminAlert, 1},
		{"documents", "signature-webhook", 2},
		{"documents", "eoi-reminder", 2},
		{"notifications", "reminder-overdue-check", 2},
		{"email", "send", 3},
		{"notifications", notifications.JobCreate, 3},
		{"webhooks", "deliver", 3},
		{"maintenance", "calendar-sync", 3},
		{"export", "csv", 4},
		{"reports", "generate", 4},
		{"import", "csv", 5},
		{"ai", "receipt-scan", 5},
		{"maintenance", "backup-cleanup", 5},
		{"bulk", "not-in-catalog", 3},
	}
	for _, tt := range tests {
		q, _ := Lookup(tt.queue)
		if got := q.Priority(tt.job); got != tt.want {
			t.Errorf("%s/%s priority = %d, want %d", tt.queue, tt.job, got, tt.want)
		}
	}

	for _, q := range Catalog {
		if len(q.Jobs) == 0 {
			t.Errorf("queue %s lists no jobs", q.Name)
		}
		seen := map[string]bool{}
		for _, j := range q.Jobs {
			if seen[j.Name] {
				t.Errorf("queue %s lists job %s twice", q.Name, j.Name)
			}
			seen[j.Name] = true
			if j.Priority < 1 || j.Priority > 5 {
				t.Errorf("%s/%s priority %d is outside 1..5", q.Name, j.Name, j.Priority)
			}
		}
	}
}

func TestDefaultJobOpts_QueuePolicy(t *testing.T) {
	t.Parallel()

	q, _ := Lookup("email")
	opts := q.DefaultJobOpts("password-reset")
	if opts.Attempts != 5 || opts.Priority != 1 {
		t.Errorf("email/password-reset opts = attempts %d, priority %d; want 5 and 1",
			opts.Attempts, opts.Priority)
	}
	if opts.Backoff == nil || opts.Backoff.Type != BackoffType ||
		opts.Backoff.Delay != time.Second {
		t.Errorf("email/password-reset backoff = %+v, want crm with a 1s delay", opts.Backoff)
	}
}

func TestCatalog_DecodersMatchHandlers(t *testing.T) {
	t.Parallel()

	r := DefaultRegistry(Deps{})
	for _, q := range Catalog {
		handled := map[string]bool{}
		for _, name := range r.JobNames(q.Name) {
			handled[name] = true
		}
		for _, j := range q.Jobs {
			if handled[j.Name] != (j.Decode != nil) || handled[j.Name] != (j.Payload != nil) {
				t.Errorf("%s/%s: handler %v, decoder %v, payload %v; want all or none",
					q.Name, j.Name, handled[j.Name], j.Decode != nil, j.Payload != nil)
			}
			delete(handled, j.Name)
		}
		for name := range handled {
			t.Errorf("%s/%s has a handler but no catalog entry", q.Name, name)
		}
	}
}
