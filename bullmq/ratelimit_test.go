package bullmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// streamEntry is one entry of a queue's events stream.
type streamEntry struct {
	// ms is the time part of the stream id: the Redis server clock when it was written.
	ms     int64
	event  string
	fields map[string]string
}

// readStream returns every entry of the events stream, oldest first.
func readStream(t *testing.T, client redis.Cmdable, key string) []streamEntry {
	t.Helper()

	msgs, err := client.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", key, err)
	}

	out := make([]streamEntry, 0, len(msgs))
	for _, m := range msgs {
		msText, _, _ := strings.Cut(m.ID, "-")
		ms, err := strconv.ParseInt(msText, 10, 64)
		if err != nil {
			t.Fatalf("stream id %q: %v", m.ID, err)
		}
		fields := map[string]string{}
		for k, v := range m.Values {
			fields[k] = fmt.Sprint(v)
		}
		out = append(out, streamEntry{ms: ms, event: fields["event"], fields: fields})
	}
	return out
}

// activeTimes returns the stream time of every "active" event, oldest first.
func activeTimes(entries []streamEntry) []int64 {
	var times []int64
	for _, e := range entries {
		if e.event == "active" {
			times = append(times, e.ms)
		}
	}
	return times
}

// checkLimiterSpacing fails unless the activations keep to a limiter of max starts per
// window: the window opened by a start lasts duration, and the next window opens only
// after it expired, so start i happens at least floor(i/max) windows after the first.
// Stream times and key expiry use the same Redis clock, so this holds with no slack
// beyond the 1ms rounding of expiry.
func checkLimiterSpacing(t *testing.T, times []int64, max int, duration time.Duration) {
	t.Helper()

	if len(times) == 0 {
		t.Fatalf("no active events")
	}
	windowStart := times[0]
	inWindow := 0
	for i, at := range times {
		// The key expires duration after the window opened; the 1ms of slack covers the
		// rounding between the expiry clock and the stream ids.
		if at >= windowStart+duration.Milliseconds()-1 {
			windowStart, inWindow = at, 0
		}
		inWindow++
		if inWindow > max {
			t.Fatalf("start %d at +%dms is start %d of the window opened at +%dms, max %d "+
				"per %s (times %v)", i, at-times[0], inWindow, windowStart-times[0], max,
				duration, times)
		}
	}

	minSpan := int64(((len(times) - 1) / max)) * duration.Milliseconds()
	if span := times[len(times)-1] - times[0]; span < minSpan-int64(len(times)/max) {
		t.Errorf("%d starts took %dms, want at least %dms with max %d per %s", len(times),
			span, minSpan, max, duration)
	}
}

func TestQueue_GlobalRateLimit(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	got, err := q.GetGlobalRateLimit(ctx)
	if err != nil || got != nil {
		t.Fatalf("GetGlobalRateLimit before set = %v, %v, want nil, nil", got, err)
	}

	if err := q.SetGlobalRateLimit(ctx, 2, 1500*time.Millisecond); err != nil {
		t.Fatalf("SetGlobalRateLimit: %v", err)
	}
	meta := client.HGetAll(ctx, q.keys.meta()).Val()
	requireField(t, meta, "max", "2")
	requireField(t, meta, "duration", "1500")

	got, err = q.GetGlobalRateLimit(ctx)
	if err != nil {
		t.Fatalf("GetGlobalRateLimit: %v", err)
	}
	if got == nil || got.Max != 2 || got.Duration != 1500*time.Millisecond {
		t.Errorf("GetGlobalRateLimit = %+v, want {2 1.5s}", got)
	}

	if err := q.RemoveGlobalRateLimit(ctx); err != nil {
		t.Fatalf("RemoveGlobalRateLimit: %v", err)
	}
	meta = client.HGetAll(ctx, q.keys.meta()).Val()
	requireNoField(t, meta, "max")
	requireNoField(t, meta, "duration")

	if err := q.SetGlobalRateLimit(ctx, 0, time.Second); err == nil {
		t.Errorf("SetGlobalRateLimit(0, 1s) returned nil, want an error")
	}
	if err := q.SetGlobalRateLimit(ctx, 1, 0); err == nil {
		t.Errorf("SetGlobalRateLimit(1, 0) returned nil, want an error")
	}
}

// TestWorker_FetchUnderGlobalRateLimit checks the fetch script under meta max 2 per 1000ms:
// two fetches take jobs and count them, the third moves nothing and returns the TTL.
func TestWorker_FetchUnderGlobalRateLimit(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	for i := range 3 {
		mustAdd(t, q, fmt.Sprintf("j%d", i), nil, JobOpts{})
	}
	if err := q.SetGlobalRateLimit(ctx, 2, time.Second); err != nil {
		t.Fatalf("SetGlobalRateLimit: %v", err)
	}

	w := newTestWorker(t, q, nil, WorkerOpts{})
	for i := range 2 {
		res, err := w.moveToActive(ctx)
		if err != nil {
			t.Fatalf("fetch %d: %v", i+1, err)
		}
		if res.job == nil {
			t.Fatalf("fetch %d returned no job (rate limit %s)", i+1, res.rateLimit)
		}
	}

	res, err := w.moveToActive(ctx)
	if err != nil {
		t.Fatalf("fetch 3: %v", err)
	}
	if res.job != nil {
		t.Errorf("fetch 3 returned job %s, want none", res.job.ID)
	}
	if res.rateLimit <= 0 || res.rateLimit > time.Second {
		t.Errorf("fetch 3 rate limit = %s, want in (0, 1s]", res.rateLimit)
	}

	if got := client.Get(ctx, q.keys.limiter()).Val(); got != "2" {
		t.Errorf("limiter = %q, want \"2\"", got)
	}
	pttl := client.PTTL(ctx, q.keys.limiter()).Val()
	if pttl <= 0 || pttl > time.Second {
		t.Errorf("limiter PTTL = %s, want in (0, 1s]", pttl)
	}
	if n := client.LLen(ctx, q.keys.active()).Val(); n != 2 {
		t.Errorf("active length = %d, want 2", n)
	}
	if n := client.LLen(ctx, q.keys.wait()).Val(); n != 1 {
		t.Errorf("wait length = %d, want 1", n)
	}
}

// TestWorker_LimiterSpacing runs a worker with Limiter{2, 300ms} and checks from the
// stream that starts keep to the limit.
func TestWorker_LimiterSpacing(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	const jobs = 7
	for i := range jobs {
		mustAdd(t, q, fmt.Sprintf("j%d", i), nil, JobOpts{})
	}

	limiter := &Limiter{Max: 2, Duration: 300 * time.Millisecond}
	startWorker(t, q, func(ctx context.Context, job *Job) (any, error) {
		return nil, nil
	}, WorkerOpts{Concurrency: 3, Limiter: limiter})

	waitFor(t, 20*time.Second, "all jobs completed", func() bool {
		return client.ZCard(context.Background(), q.keys.completed()).Val() == jobs
	})
	times := activeTimes(readStream(t, client, q.keys.events()))
	if len(times) != jobs {
		t.Fatalf("%d active events, want %d", len(times), jobs)
	}
	checkLimiterSpacing(t, times, limiter.Max, limiter.Duration)
}

// TestWorker_GlobalMaxWithWorkerDuration checks the precedence: the meta max replaces the
// worker's max, and the worker's duration wins over the meta duration.
func TestWorker_GlobalMaxWithWorkerDuration(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	for i := range 3 {
		mustAdd(t, q, fmt.Sprintf("j%d", i), nil, JobOpts{})
	}
	if err := q.SetGlobalRateLimit(ctx, 1, time.Hour); err != nil {
		t.Fatalf("SetGlobalRateLimit: %v", err)
	}

	w := newTestWorker(t, q, nil, WorkerOpts{
		Limiter: &Limiter{Max: 10, Duration: 5 * time.Second},
	})
	if res, err := w.moveToActive(ctx); err != nil || res.job == nil {
		t.Fatalf("fetch 1 = %+v, %v, want a job", res, err)
	}
	pttl := client.PTTL(ctx, q.keys.limiter()).Val()
	if pttl <= 0 || pttl > 5*time.Second {
		t.Errorf("limiter PTTL = %s, want in (0, 5s] (the worker's duration)", pttl)
	}

	res, err := w.moveToActive(ctx)
	if err != nil {
		t.Fatalf("fetch 2: %v", err)
	}
	if res.job != nil || res.rateLimit <= 0 {
		t.Errorf("fetch 2 = job %v, rate limit %s, want none and a TTL (meta max 1)",
			res.job != nil, res.rateLimit)
	}
}

// TestWorker_DeferredFailureTakesNoLimiterSlot follows Node 6.7.x: a job with "defa" fails
// without running, so its fetch leaves the limiter counter alone.
func TestWorker_DeferredFailureTakesNoLimiterSlot(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	doomed := mustAdd(t, q, "doomed", nil, JobOpts{})
	next := mustAdd(t, q, "next", nil, JobOpts{})
	client.HSet(ctx, q.keys.job(doomed.ID), "defa", "child x failed")
	if err := q.SetGlobalRateLimit(ctx, 1, time.Minute); err != nil {
		t.Fatalf("SetGlobalRateLimit: %v", err)
	}

	w := newTestWorker(t, q, nil, WorkerOpts{})
	res, err := w.moveToActive(ctx)
	if err != nil || res.job == nil || res.job.ID != doomed.ID {
		t.Fatalf("fetch 1 = %+v, %v, want job %s", res, err, doomed.ID)
	}
	if n, err := client.Exists(ctx, q.keys.limiter()).Result(); err != nil || n != 0 {
		t.Errorf("limiter exists = %d, %v after fetching a defa job, want 0", n, err)
	}

	res, err = w.moveToActive(ctx)
	if err != nil || res.job == nil || res.job.ID != next.ID {
		t.Fatalf("fetch 2 = %+v, %v, want job %s", res, err, next.ID)
	}
	if got := client.Get(ctx, q.keys.limiter()).Val(); got != "1" {
		t.Errorf("limiter = %q after the second fetch, want \"1\"", got)
	}
}

// TestWorker_RateLimitError checks the manual rate limit: the job goes back to the front
// of wait without counting an attempt, the limiter holds Number.MAX_SAFE_INTEGER, and the
// worker runs the job again once the limit expired.
func TestWorker_RateLimitError(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "limited", nil, JobOpts{Attempts: 1})

	const limit = 1500 * time.Millisecond
	var calls atomic.Int32
	other := make(chan string, 1)
	startWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		if j.ID == job.ID && calls.Add(1) == 1 {
			// A job added now sits behind the limited one, which must still run first.
			other <- mustAdd(t, q, "other", nil, JobOpts{}).ID
			return nil, fmt.Errorf("calling the API: %w", RateLimitError(limit))
		}
		return "done", nil
	}, WorkerOpts{})

	otherID := <-other
	waitFor(t, 10*time.Second, "waiting(prev active) event", func() bool {
		for _, e := range readStream(t, client, q.keys.events()) {
			if e.event == "waiting" && e.fields["prev"] == "active" {
				return true
			}
		}
		return false
	})

	if got := client.Get(ctx, q.keys.limiter()).Val(); got != manualRateLimitCount {
		t.Errorf("limiter = %q, want %s", got, manualRateLimitCount)
	}
	pttl := client.PTTL(ctx, q.keys.limiter()).Val()
	if pttl <= 0 || pttl > limit {
		t.Errorf("limiter PTTL = %s, want in (0, %s]", pttl, limit)
	}
	wait := listRange(t, client, q.keys.wait())
	if !equalStrings(wait, []string{otherID, job.ID}) {
		t.Errorf("wait = %v, want [%s %s] (the limited job at the tail, next to run)",
			wait, otherID, job.ID)
	}
	h := jobHash(t, client, q, job.ID)
	requireNoField(t, h, "atm")
	requireNoField(t, h, "failedReason")
	requireField(t, h, "ats", "1")
	if n := client.Exists(ctx, q.keys.job(job.ID)+":lock").Val(); n != 0 {
		t.Errorf("lock of the limited job still exists")
	}

	waitInSet(t, client, q.keys.completed(), job.ID)
	waitInSet(t, client, q.keys.completed(), otherID)
	h = jobHash(t, client, q, job.ID)
	requireField(t, h, "atm", "1")
	requireField(t, h, "ats", "2")

	entries := readStream(t, client, q.keys.events())
	var actives []int64
	for _, e := range entries {
		if e.event == "active" && e.fields["jobId"] == job.ID {
			actives = append(actives, e.ms)
		}
	}
	if len(actives) != 2 {
		t.Fatalf("job %s has %d active events, want 2", job.ID, len(actives))
	}
	if gap := time.Duration(actives[1]-actives[0]) * time.Millisecond; gap < limit {
		t.Errorf("job ran again %s after its first start, want at least the %s limit",
			gap, limit)
	}
	names := eventNames(streamEvents(t, client, q))
	if contains(names, "failed") || contains(names, "delayed") {
		t.Errorf("events %v contain a failure or delay", names)
	}
}

// TestWorker_RateLimitErrorPrioritized checks that a prioritized job goes back ahead of
// every job of its priority: score priority * 2^32 exactly.
func TestWorker_RateLimitErrorPrioritized(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)
	job := mustAdd(t, q, "p3", nil, JobOpts{Priority: 3})

	limited := make(chan struct{})
	var once sync.Once
	w := newTestWorker(t, q, func(ctx context.Context, j *Job) (any, error) {
		once.Do(func() { close(limited) })
		return nil, ErrRateLimitExceeded
	}, WorkerOpts{})
	if err := w.RateLimit(ctx, time.Minute); err != nil {
		t.Fatalf("Worker.RateLimit: %v", err)
	}
	// A worker without a max fetches despite the manual limit, as in Node.
	runWorker(t, w)
	<-limited

	score := waitInSet(t, client, q.keys.prioritized(), job.ID)
	if score != 3*(1<<32) {
		t.Errorf("prioritized score = %.0f, want %d", score, int64(3)<<32)
	}
	requireNoField(t, jobHash(t, client, q, job.ID), "atm")
}

func TestRateLimitRequest(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		err       error
		wantDelay time.Duration
		wantOK    bool
	}{
		{"RateLimitError", RateLimitError(time.Second), time.Second, true},
		{"Wrapped", fmt.Errorf("api: %w", RateLimitError(2*time.Second)), 2 * time.Second, true},
		{"Sentinel", ErrRateLimitExceeded, 0, true},
		{"NodeMessage", errors.New("bullmq:rateLimitExceeded"), 0, true},
		{"OtherError", errors.New("boom"), 0, false},
		{"Unrecoverable", Unrecoverable(errors.New("bad input")), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			delay, ok := rateLimitRequest(tt.err)
			if delay != tt.wantDelay || ok != tt.wantOK {
				t.Errorf("rateLimitRequest(%v) = %s, %v, want %s, %v", tt.err, delay, ok,
					tt.wantDelay, tt.wantOK)
			}
		})
	}
}

func TestQueue_GetRateLimitTTL(t *testing.T) {
	t.Parallel()

	q, client := newTestQueue(t, QueueOpts{})
	ctx := testContext(t)

	ttl, err := q.GetRateLimitTTL(ctx, 0)
	if err != nil || ttl != -2*time.Millisecond {
		t.Errorf("GetRateLimitTTL(0) without key = %s, %v, want -2ms", ttl, err)
	}

	client.Set(ctx, q.keys.limiter(), "3", 10*time.Second)
	tests := []struct {
		maxJobs int
		limited bool
	}{
		{maxJobs: 0, limited: true}, // no meta max: the key's TTL whatever its count
		{maxJobs: 4, limited: false},
		{maxJobs: 3, limited: true},
		{maxJobs: 2, limited: true},
	}
	for _, tt := range tests {
		ttl, err := q.GetRateLimitTTL(ctx, tt.maxJobs)
		if err != nil {
			t.Fatalf("GetRateLimitTTL(%d): %v", tt.maxJobs, err)
		}
		if tt.limited && (ttl <= 0 || ttl > 10*time.Second) {
			t.Errorf("GetRateLimitTTL(%d) = %s, want in (0, 10s]", tt.maxJobs, ttl)
		}
		if !tt.limited && ttl != 0 {
			t.Errorf("GetRateLimitTTL(%d) = %s, want 0", tt.maxJobs, ttl)
		}
	}

	if err := q.SetGlobalRateLimit(ctx, 5, time.Second); err != nil {
		t.Fatalf("SetGlobalRateLimit: %v", err)
	}
	if ttl, err := q.GetRateLimitTTL(ctx, 0); err != nil || ttl != 0 {
		t.Errorf("GetRateLimitTTL(0) with meta max 5 and count 3 = %s, %v, want 0", ttl, err)
	}

	if err := q.RateLimit(ctx, 4*time.Second); err != nil {
		t.Fatalf("RateLimit: %v", err)
	}
	ttl, err = q.GetRateLimitTTL(ctx, 0)
	if err != nil || ttl <= 0 || ttl > 4*time.Second {
		t.Errorf("GetRateLimitTTL(0) after RateLimit(4s) = %s, %v, want in (0, 4s]", ttl, err)
	}

	if err := q.RemoveRateLimitKey(ctx); err != nil {
		t.Fatalf("RemoveRateLimitKey: %v", err)
	}
	if n := client.Exists(ctx, q.keys.limiter()).Val(); n != 0 {
		t.Errorf("limiter exists after RemoveRateLimitKey")
	}
}

func TestWorker_InvalidLimiter(t *testing.T) {
	t.Parallel()

	q, _ := newTestQueue(t, QueueOpts{})
	for _, l := range []*Limiter{{Max: 0, Duration: time.Second}, {Max: 1, Duration: 0}} {
		w := newTestWorker(t, q, func(context.Context, *Job) (any, error) { return nil, nil },
			WorkerOpts{Limiter: l})
		if err := w.Run(testContext(t)); err == nil {
			t.Errorf("Run with Limiter %+v returned nil, want an error", *l)
		}
	}
}
