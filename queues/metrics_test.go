package queues

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portnimara/nimara/bullmq"
)

func TestMetrics_CountJobOutcomes(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics() error = %v", err)
	}

	r := NewRegistry()
	err = r.Register("bulk", map[string]bullmq.ProcessFunc{
		"tag": func(context.Context, *bullmq.Job) (any, error) { return "ok", nil },
		"delete": func(context.Context, *bullmq.Job) (any, error) {
			return nil, errors.New("row locked")
		},
	})
	if err != nil {
		t.Fatalf("Register() error = %v", err)
	}
	b.runWorkers(t, r, WorkerConfig{Metrics: m, DeadLetter: b.dl})

	q := b.queue("bulk")
	for range 4 {
		if _, err := q.Add(ctx, "tag", nil, bullmq.JobOpts{}); err != nil {
			t.Fatalf("add tag: %v", err)
		}
	}
	// bulk allows 3 attempts: two retries, then the final failure.
	if _, err := q.Add(ctx, "delete", nil, bullmq.JobOpts{}); err != nil {
		t.Fatalf("add delete: %v", err)
	}
	if _, err := q.Add(ctx, "rename", nil, bullmq.JobOpts{}); err != nil {
		t.Fatalf("add rename: %v", err)
	}

	waitFor(t, 30*time.Second, "every job to finish", func() bool {
		counts, _ := q.GetJobCounts(ctx, "completed", "failed")
		return counts["completed"] == 4 && counts["failed"] == 2
	})
	waitFor(t, 10*time.Second, "the dead-letter counter", func() bool {
		return testutil.ToFloat64(m.recorded) == 2
	})

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"processed tag", testutil.ToFloat64(m.processed.WithLabelValues("bulk", "tag")), 4},
		{"processed delete",
			testutil.ToFloat64(m.processed.WithLabelValues("bulk", "delete")), 3},
		{"retried delete", testutil.ToFloat64(m.retried.WithLabelValues("bulk", "delete")), 2},
		{"failed delete", testutil.ToFloat64(m.failed.WithLabelValues("bulk", "delete")), 1},
		{"failed unknown name",
			testutil.ToFloat64(m.failed.WithLabelValues("bulk", unknownJobName)), 1},
		{"failed tag", testutil.ToFloat64(m.failed.WithLabelValues("bulk", "tag")), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}

	if n := testutil.CollectAndCount(m.duration, "nimara_job_duration_seconds"); n != 3 {
		t.Errorf("duration series = %d, want 3 (tag completed, delete and unknown failed)", n)
	}
	if n := testutil.CollectAndCount(m.wait, "nimara_job_wait_seconds"); n != 1 {
		t.Errorf("wait series = %d, want 1", n)
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint() error = %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetrics_SampleOnlyWhileLeader(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupDeadLetter(t)
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics() error = %v", err)
	}

	for range 3 {
		if _, err := b.queue("email").Add(ctx, "send", nil, bullmq.JobOpts{}); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	if _, err := b.queue("email").Add(ctx, "send", nil,
		bullmq.JobOpts{Delay: time.Hour}); err != nil {
		t.Fatalf("add delayed: %v", err)
	}
	entry := DeadLetterEntry{Queue: "ai", JobID: "1", FailedAt: 1}
	if _, err := b.dl.Queue().Add(ctx, "ai", entry, bullmq.JobOpts{JobID: "ai-1-1"}); err != nil {
		t.Fatalf("add entry: %v", err)
	}

	// Not the leader: nothing sampled, nothing exported.
	leader := false
	sampler, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		m.RunSampler(sampler, b.client, b.prefix, 10*time.Millisecond,
			func() bool { return leader }, nil)
		close(done)
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
			<-done
		}
	})
	waitFor(t, 5*time.Second, "a first sampler tick", func() bool { return !m.hasSample() })
	if n := testutil.CollectAndCount(reg, "nimara_queue_jobs", "nimara_dead_letter_jobs"); n != 0 {
		t.Errorf("series exported while not leader = %d, want 0", n)
	}
	stop()
	<-done
	stopped = true

	if err := m.Sample(ctx, b.client, b.prefix); err != nil {
		t.Fatalf("Sample() error = %v", err)
	}
	if got := testutil.ToFloat64(m.depth.WithLabelValues("email", "waiting")); got != 3 {
		t.Errorf("email waiting = %g, want 3", got)
	}
	if got := testutil.ToFloat64(m.depth.WithLabelValues("email", "delayed")); got != 1 {
		t.Errorf("email delayed = %g, want 1", got)
	}
	want := `
# HELP nimara_dead_letter_jobs Entries in the dead-letter queue, sampled by the elected process only.
# TYPE nimara_dead_letter_jobs gauge
nimara_dead_letter_jobs 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"nimara_dead_letter_jobs"); err != nil {
		t.Errorf("dead-letter gauge: %v", err)
	}

	m.clearSample()
	if n := testutil.CollectAndCount(reg, "nimara_queue_jobs", "nimara_dead_letter_jobs"); n != 0 {
		t.Errorf("series exported after losing the election = %d, want 0", n)
	}
}
