package bullmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testLogger writes worker logs to the test log at TEST_LOG_LEVEL (default warn).
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()

	level := slog.LevelWarn
	if v := os.Getenv("TEST_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// startWorker runs a worker for q until the test ends and waits for Run to return then.
// Options that tests rarely change get short values, so stalls and waits stay fast.
func startWorker(t *testing.T, q *Queue, fn ProcessFunc, opts WorkerOpts) *Worker {
	t.Helper()

	w := newTestWorker(t, q, fn, opts)
	runWorker(t, w)
	return w
}

func newTestWorker(t *testing.T, q *Queue, fn ProcessFunc, opts WorkerOpts) *Worker {
	t.Helper()

	opts.Prefix = q.prefix
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.DrainDelay == 0 {
		opts.DrainDelay = 200 * time.Millisecond
	}
	return NewWorker(q.client, q.name, fn, opts)
}

// runWorker starts Run in a goroutine and returns a function that stops it and waits.
// The same function runs at cleanup.
func runWorker(t *testing.T, w *Worker) (stop func()) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Worker.Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Worker.Run did not return within 30s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond every 10ms until it returns true, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobHash returns the job's hash, empty when the job does not exist.
func jobHash(t *testing.T, client redis.Cmdable, q *Queue, id string) map[string]string {
	t.Helper()

	h, err := client.HGetAll(context.Background(), q.keys.job(id)).Result()
	if err != nil {
		t.Fatalf("HGETALL job %s: %v", id, err)
	}
	return h
}

// waitInSet polls until id is a member of the sorted set key and returns its score.
func waitInSet(t *testing.T, client redis.Cmdable, key, id string) float64 {
	t.Helper()

	var score float64
	waitFor(t, 20*time.Second, id+" in "+key, func() bool {
		s, err := client.ZScore(context.Background(), key, id).Result()
		if errors.Is(err, redis.Nil) {
			return false
		}
		if err != nil {
			t.Fatalf("ZSCORE %s %s: %v", key, id, err)
		}
		score = s
		return true
	})
	return score
}

// eventNames returns only the event names of streamEvents.
func eventNames(events []string) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i], _, _ = strings.Cut(e, " ")
	}
	return out
}

// requireField fails unless the hash has field with value want.
func requireField(t *testing.T, h map[string]string, field, want string) {
	t.Helper()

	got, ok := h[field]
	if !ok {
		t.Errorf("field %s is missing, want %q", field, want)
		return
	}
	if got != want {
		t.Errorf("field %s = %q, want %q", field, got, want)
	}
}

// requireNoField fails when the hash has field.
func requireNoField(t *testing.T, h map[string]string, field string) {
	t.Helper()

	if v, ok := h[field]; ok {
		t.Errorf("field %s = %q, want it absent", field, v)
	}
}

// failN returns a processor that fails its first n calls per job with "fail <i>" and then
// returns result.
func failN(n int, result any) ProcessFunc {
	var mu sync.Mutex
	calls := map[string]int{}
	return func(ctx context.Context, job *Job) (any, error) {
		mu.Lock()
		calls[job.ID]++
		c := calls[job.ID]
		mu.Unlock()

		if c <= n {
			return nil, fmt.Errorf("fail %d", c)
		}
		return result, nil
	}
}
