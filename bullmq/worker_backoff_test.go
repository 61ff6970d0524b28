package bullmq

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestBackoffDelay(t *testing.T) {
	t.Parallel()

	custom := map[string]BackoffFunc{
		"linear": func(n int, typ string, err error, job *Job) time.Duration {
			return time.Duration(n) * 10 * time.Millisecond
		},
		"never": func(int, string, error, *Job) time.Duration { return -1 },
	}
	tests := []struct {
		name      string
		backoff   *Backoff
		attempt   int
		want      time.Duration
		wantRetry bool
		wantErr   bool
	}{
		{"NoBackoff", nil, 1, 0, true, false},
		{"Fixed", &Backoff{Type: BackoffFixed, Delay: time.Second}, 3, time.Second, true, false},
		{"ExponentialFirst", &Backoff{Type: BackoffExponential, Delay: time.Second}, 1,
			time.Second, true, false},
		{"ExponentialThird", &Backoff{Type: BackoffExponential, Delay: time.Second}, 3,
			4 * time.Second, true, false},
		{"ExponentialRounds", &Backoff{Type: BackoffExponential, Delay: 3 * time.Millisecond},
			2, 6 * time.Millisecond, true, false},
		{"Custom", &Backoff{Type: "linear"}, 4, 40 * time.Millisecond, true, false},
		{"CustomNegativeStops", &Backoff{Type: "never"}, 1, 0, false, false},
		{"UnknownType", &Backoff{Type: "nope"}, 1, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, retry, err := backoffDelay(tt.backoff, tt.attempt, errors.New("x"),
				&Job{ID: "1"}, custom)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if retry != tt.wantRetry {
				t.Errorf("retry = %v, want %v", retry, tt.wantRetry)
			}
			if got != tt.want {
				t.Errorf("delay = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBackoffDelay_JitterRange(t *testing.T) {
	t.Parallel()

	b := &Backoff{Type: BackoffExponential, Delay: time.Second, Jitter: 0.5}
	for range 200 {
		got, _, err := backoffDelay(b, 2, nil, &Job{}, nil)
		if err != nil {
			t.Fatalf("backoffDelay: %v", err)
		}
		if got < time.Second || got >= 2*time.Second {
			t.Fatalf("delay with jitter 0.5 of 2000ms = %s, want within [1s, 2s)", got)
		}
	}
}

func TestWorker_CustomBackoffStrategy(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{Attempts: 3, Backoff: &Backoff{Type: "stop"}})
	var calls atomic.Int32
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		calls.Add(1)
		return nil, errors.New("no luck")
	}, WorkerOpts{BackoffStrategies: map[string]BackoffFunc{
		"stop": func(n int, typ string, err error, job *Job) time.Duration {
			if typ != "stop" || err.Error() != "no luck" {
				t.Errorf("strategy called with type %q, err %v", typ, err)
			}
			return -1
		},
	}})

	waitInSet(t, client, q.keys.failed(), job.ID)
	requireField(t, jobHash(t, client, q, job.ID), "atm", "1")
	if n := calls.Load(); n != 1 {
		t.Errorf("processor ran %d times, want 1 because the strategy returned -1", n)
	}
}

func TestWorker_MaxStartedAttempts(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	job := mustAdd(t, q, "x", nil, JobOpts{Attempts: 5})
	client.HSet(context.Background(), q.keys.job(job.ID), "ats", 1)

	var ran atomic.Bool
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		ran.Store(true)
		return nil, nil
	}, WorkerOpts{MaxStartedAttempts: 1})

	waitInSet(t, client, q.keys.failed(), job.ID)
	requireField(t, jobHash(t, client, q, job.ID), "failedReason", startedFailure)
	if ran.Load() {
		t.Errorf("processor ran for a job started more than MaxStartedAttempts times")
	}
}

func TestWorker_RedisDownKeepsRunning(t *testing.T) {
	t.Parallel()

	// A local port that nothing listens on: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()

	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1,
		DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { client.Close() })

	var errs atomic.Int32
	w := NewWorker(client, "down", func(ctx context.Context, j *Job) (any, error) {
		return nil, nil
	}, WorkerOpts{Logger: testLogger(t), OnError: func(error) { errs.Add(1) }})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	waitFor(t, 10*time.Second, "two reported errors", func() bool { return errs.Load() >= 2 })
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while Redis was down, want it to keep retrying", err)
	default:
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancellation, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return within 20s of cancellation")
	}
}
