package schedules

import (
	"context"
	"testing"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/queues"
)

func TestScheduleQueuesExist(t *testing.T) {
	t.Parallel()

	seen := map[string]bool{}
	for _, s := range All {
		if seen[s.Name] {
			t.Errorf("schedule %s is listed twice", s.Name)
		}
		seen[s.Name] = true

		if _, ok := queues.Lookup(s.Queue); !ok {
			t.Errorf("schedule %s: queue %q is not in the queue catalog", s.Name, s.Queue)
		}
		if (s.Every == 0) == (s.Pattern == "") {
			t.Errorf("schedule %s: set exactly one of Every and Pattern", s.Name)
		}
		if s.Priority < 1 || s.Priority > 5 {
			t.Errorf("schedule %s: priority %d is outside 1..5", s.Name, s.Priority)
		}
	}
	if len(All) != 14 {
		t.Errorf("len(All) = %d, want the CRM's 14 recurring jobs", len(All))
	}
}

func TestSyncUpsertsSchedulers(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t)

	qs := map[string]*bullmq.Queue{}
	for _, name := range queues.Names() {
		qs[name] = bullmq.NewQueue(rdb, name, bullmq.QueueOpts{Prefix: prefix})
	}

	// Twice: the second run must leave the same schedulers and pending iterations.
	for run := 1; run <= 2; run++ {
		if err := Sync(ctx, qs); err != nil {
			t.Fatalf("Sync run %d: %v", run, err)
		}
	}

	for _, s := range All {
		q := qs[s.Queue]
		got, err := q.GetJobScheduler(ctx, s.Name)
		if err != nil {
			t.Errorf("GetJobScheduler(%s): %v", s.Name, err)
			continue
		}
		if got.Pattern != s.Pattern || got.Every != s.Every {
			t.Errorf("scheduler %s = every %v pattern %q, want every %v pattern %q",
				s.Name, got.Every, got.Pattern, s.Every, s.Pattern)
		}

		jobs, err := q.GetJobs(ctx, []string{"delayed", "prioritized", "waiting"}, 0, -1, true)
		if err != nil {
			t.Fatalf("GetJobs on %s: %v", s.Queue, err)
		}
		iterations := 0
		for _, j := range jobs {
			if j.RepeatJobKey == s.Name {
				iterations++
			}
		}
		if iterations != 1 {
			t.Errorf("scheduler %s has %d pending iterations, want 1", s.Name, iterations)
		}
	}
}
