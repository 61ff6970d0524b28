package bullmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
)

// delayOnceProcessor moves each job to delayed by 300 ms on its first run and completes it
// on the second, as nodeDelayOnceWorkerJS does in Node.
func delayOnceProcessor() ProcessFunc {
	var mu sync.Mutex
	runs := map[string]int{}
	return func(ctx context.Context, job *Job) (any, error) {
		mu.Lock()
		runs[job.ID]++
		run := runs[job.ID]
		mu.Unlock()

		if run == 1 {
			if err := job.MoveToDelayed(ctx, time.Now().Add(300*time.Millisecond),
				job.Token()); err != nil {
				return nil, err
			}
			return nil, ErrDelayed
		}
		return map[string]int{"runs": run}, nil
	}
}

const nodeDelayOnceWorkerJS = `
const runs = {};
state.w = new bullmq.Worker(args.queue, async (job, token) => {
  runs[job.id] = (runs[job.id] ?? 0) + 1;
  if (runs[job.id] === 1) {
    await job.moveToDelayed(Date.now() + 300, token);
    throw new bullmq.DelayedError();
  }
  return {runs: runs[job.id]};
}, {connection: redisOpts, prefix: args.prefix});
onClose(() => state.w.close());
`

func TestJob_MoveToDelayedFromProcessor(t *testing.T) {
	t.Parallel()

	ctx := testContext(t)
	client := redistest.Client(t)
	q := NewQueue(client, redistest.QueueName(t), QueueOpts{Prefix: redistest.Prefix(t)})
	job, err := q.Add(ctx, "later", map[string]int{"x": 1}, JobOpts{Attempts: 2})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}

	moved := make(chan struct{})
	var once sync.Once
	fn := func(ctx context.Context, j *Job) (any, error) {
		if j.AttemptsStarted == 1 {
			if err := j.MoveToDelayed(ctx, time.Now().Add(time.Hour), j.Token()); err != nil {
				return nil, err
			}
			once.Do(func() { close(moved) })
			return nil, ErrDelayed
		}
		return "done", nil
	}
	stop := runWorker(t, newTestWorker(t, q, fn, WorkerOpts{}))
	defer stop()

	select {
	case <-moved:
	case <-time.After(20 * time.Second):
		t.Fatal("the processor did not run within 20 s")
	}
	waitFor(t, 10*time.Second, "the job to be delayed", func() bool {
		state, _ := q.GetJobState(ctx, job.ID)
		return state == StateDelayed
	})

	h := jobHash(t, client, q, job.ID)
	if _, ok := h["atm"]; ok {
		t.Errorf("atm = %q after a manual delay, want no attempt counted", h["atm"])
	}
	if _, ok := h["failedReason"]; ok {
		t.Errorf("failedReason = %q, want none", h["failedReason"])
	}
	if d := parseInt64(h["delay"]); d < 3_500_000 || d > 3_600_000 {
		t.Errorf("delay = %q, want about 3600000 ms", h["delay"])
	}
	if n := client.Exists(ctx, q.keys.job(job.ID)+":lock").Val(); n != 0 {
		t.Errorf("lock key still exists after the move")
	}

	// A second move with a stale token is rejected.
	var se *ScriptError
	err = job.MoveToDelayed(ctx, time.Now(), "stale-token")
	if !errors.As(err, &se) || se.Code != -3 && se.Code != -2 {
		t.Errorf("MoveToDelayed of a delayed job = %v, want a -2 or -3 ScriptError", err)
	}
}

func TestInterop_DumpEqualAfterMoveToDelayed(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("Bullmq%d", major), func(t *testing.T) {
			t.Parallel()

			run := compareWorkerRuns(t, major, `{attempts: 3}`, nodeDelayOnceWorkerJS,
				delayOnceProcessor())
			if string(run.goRes) != `{"runs":2}` {
				t.Errorf("return value = %s, want {\"runs\":2}", run.goRes)
			}
			h := jobHash(t, run.client, run.goQ, run.goID)
			requireField(t, h, "atm", "1")
			requireField(t, h, "ats", "2")
			run.requireEqualDumps(t)
		})
	}
}
