package bullmq

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var moveToActiveScript = loadScript("move_to_active")

// fetchResult is a decoded reply of the fetch step: a job, or why there is none.
type fetchResult struct {
	job *Job
	// rateLimit is how long the queue stays rate limited.
	rateLimit time.Duration
	// nextDelayed is the due time in ms of the earliest delayed job, 0 when there is none.
	nextDelayed int64
}

// fetchScriptArgs are the parts of the fetch and finish script calls that stay the same for
// a worker, built once so that each call does not concatenate keys or convert numbers
// again. go-redis only reads the slices it is given, and no caller may modify them.
type fetchScriptArgs struct {
	// keys are KEYS[1..11] of move_to_active.lua, in order.
	keys []string
	// prefix is the key prefix argument "<prefix>:<queue>:".
	prefix any
	// tail are the fetch arguments after the lock token: lock duration in ms, worker name,
	// and the limiter's max and duration in ms ("" for both without a limiter).
	tail []any
	// pauseCompat is the pause compatibility mode argument.
	pauseCompat any
}

func newFetchScriptArgs(k queueKeys, opts WorkerOpts) fetchScriptArgs {
	limiterMax, limiterDuration := "", ""
	if l := opts.Limiter; l != nil {
		limiterMax = strconv.Itoa(l.Max)
		limiterDuration = strconv.FormatInt(l.Duration.Milliseconds(), 10)
	}
	lockDuration := strconv.FormatInt(opts.LockDuration.Milliseconds(), 10)
	return fetchScriptArgs{
		keys:        k.fetchKeys(),
		prefix:      k.base + ":",
		tail:        []any{lockDuration, opts.Name, limiterMax, limiterDuration},
		pauseCompat: opts.PauseCompat.luaArg(),
	}
}

// appendFetchArgs appends the fetch arguments of move_to_active.lua. The finishing scripts
// take them too, for their fetch of the next job. They are the lock token, the lock duration
// in ms, the worker name, and the limiter's max and duration in ms ("" without a limiter).
func (w *Worker) appendFetchArgs(args []any, token string) []any {
	args = append(args, token)
	return append(args, w.fetchScript.tail...)
}

// fetchKeys are KEYS[1..11] of move_to_active.lua, in order.
func (k queueKeys) fetchKeys() []string {
	return []string{k.wait(), k.active(), k.prioritized(), k.events(), k.stalled(),
		k.limiter(), k.delayed(), k.paused(), k.meta(), k.pc(), k.marker()}
}

// moveToActive runs the fetch script with a new lock token.
func (w *Worker) moveToActive(ctx context.Context) (fetchResult, error) {
	token := w.nextToken()
	args := make([]any, 0, 8)
	args = append(args, w.fetchScript.prefix, nowMillis())
	args = w.appendFetchArgs(args, token)
	args = append(args, w.fetchScript.pauseCompat)
	reply, err := runScript(ctx, w.client, moveToActiveScript, w.fetchScript.keys,
		args...).Result()
	if err != nil {
		return fetchResult{}, fmt.Errorf("running moveToActive: %w", err)
	}
	return w.parseFetchReply(reply, token)
}

// parseFetchReply decodes {fields, id, rateLimitTtl, nextDelayedDue}. Like Node, it also
// pauses fetching for the rate limit TTL of the reply, or lifts the pause when there is
// none. Fetches chained to finishing scripts go through it as well.
func (w *Worker) parseFetchReply(reply any, token string) (fetchResult, error) {
	arr, ok := reply.([]any)
	if !ok || len(arr) != 4 {
		return fetchResult{}, fmt.Errorf("unexpected fetch reply %v", reply)
	}

	var res fetchResult
	res.rateLimit = time.Duration(toInt64(arr[2])) * time.Millisecond
	res.nextDelayed = toInt64(arr[3])
	w.setRateLimit(res.rateLimit)

	fields, ok := arr[0].([]any)
	if !ok {
		return res, nil
	}
	id, ok := arr[1].(string)
	if !ok {
		return res, fmt.Errorf("unexpected job id %v in fetch reply", arr[1])
	}
	h := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		h[k] = v
	}
	res.job = decodeJobHash(w.queue, id, h, w.storedOpts.parse)
	res.job.token = token
	return res, nil
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case string:
		return parseInt64(n)
	}
	return 0
}

// runFetchLoop fetches jobs while a concurrency slot is free and starts one goroutine per
// fetched job. That goroutine keeps the slot while it processes the further jobs that the
// finishing scripts fetch. When the queue is empty, the loop blocks on the marker key, and
// while a rate limit is in effect it sleeps until the limit expires (at most 30s at a time).
func (w *Worker) runFetchLoop(ctx, procCtx context.Context, blocking *blockingClient,
	jobs *sync.WaitGroup) {
	slots := make(chan struct{}, w.opts.Concurrency)
	var blockUntil int64
	failures := 0

	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}

		w.waitForRateLimit(ctx)
		if ctx.Err() != nil {
			<-slots
			return
		}

		res, err := w.moveToActive(ctx)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return
			}
			failures++
			w.reportError(ctx, "Fetching job failed, retrying", err,
				slog.Int("attempt", failures))
			sleepCtx(ctx, retryBackoff(failures))
			continue
		}
		failures = 0

		if res.job != nil {
			jobs.Add(1)
			go func() {
				defer jobs.Done()
				defer func() { <-slots }()
				w.processChain(ctx, procCtx, res.job)
			}()
			continue
		}
		<-slots

		if res.rateLimit > 0 {
			// parseFetchReply paused fetching; waitForRateLimit sleeps it off.
			continue
		}
		blockUntil = res.nextDelayed
		w.waitForMarker(ctx, blocking, &blockUntil)
	}
}

// waitForMarker blocks on the marker key until a job may be ready: a "0" marker, a delayed
// job that is due, or the timeout (DrainDelay without delayed jobs, else the time until the
// earliest delayed job, at most 10s). A marker for a later delayed job moves blockUntil and
// blocks again.
func (w *Worker) waitForMarker(ctx context.Context, blocking *blockingClient,
	blockUntil *int64) {
	for ctx.Err() == nil {
		timeout := w.opts.DrainDelay
		if *blockUntil > 0 {
			wait := time.Until(time.UnixMilli(*blockUntil))
			if wait <= 0 {
				return
			}
			timeout = min(max(wait, minBlockTimeout), maxBlockTimeout)
		}

		score, popped, err := blocking.popMarker(ctx, w.keys.marker(), timeout)
		if err != nil {
			if ctx.Err() == nil {
				w.reportError(ctx, "Waiting for marker failed", err)
				sleepCtx(ctx, time.Second)
			}
			return
		}
		if !popped || score <= float64(time.Now().UnixMilli()+1) {
			return
		}
		*blockUntil = int64(score)
	}
}

// connectionName is the client name Node's Queue.getWorkers lists:
// "<prefix>:<base64(queue)>" or "<prefix>:<base64(queue)>:w:<name>".
func (w *Worker) connectionName() string {
	name := w.opts.Prefix + ":" + base64.StdEncoding.EncodeToString([]byte(w.queue.name))
	if w.opts.Name != "" {
		name += ":w:" + w.opts.Name
	}
	return name
}

// blockingClient runs BZPOPMIN on connections of its own, so blocking never holds a
// connection of the shared pool. For a *redis.Client or *redis.ClusterClient it is a copy
// of that client with the worker's connection name (set by go-redis on every connect) and
// a read timeout long enough for the longest wait. Its other settings, such as disabled
// retries and the write timeout, are the client's. Other UniversalClient types are used as
// they are, without a connection name.
type blockingClient struct {
	client redis.UniversalClient
	owned  bool
	once   sync.Once
}

// blockReadTimeout must exceed maxBlockTimeout, so a blocked read is not cut short.
const blockReadTimeout = maxBlockTimeout + 10*time.Second

func newBlockingClient(c redis.UniversalClient, name string) *blockingClient {
	switch t := c.(type) {
	case *redis.Client:
		opts := copyClientOptions(t.Options())
		opts.ClientName = name
		opts.ReadTimeout = blockingReadTimeout(t.Options().ReadTimeout)
		opts.PoolSize = 2
		opts.MinIdleConns = 0
		return &blockingClient{client: redis.NewClient(opts), owned: true}
	case *redis.ClusterClient:
		// On a cluster the name is set on every node connection of this copy, so CLIENT
		// LIST on the node holding the marker key shows it (Node's getWorkers lists it).
		opts := copyClusterOptions(t.Options())
		opts.ClientName = name
		opts.ReadTimeout = blockingReadTimeout(t.Options().ReadTimeout)
		return &blockingClient{client: redis.NewClusterClient(opts), owned: true}
	}
	return &blockingClient{client: c}
}

// popMarker runs BZPOPMIN with a fractional timeout and returns the popped score.
func (b *blockingClient) popMarker(ctx context.Context, key string,
	timeout time.Duration) (float64, bool, error) {
	secs := strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64)
	reply, err := b.client.Do(ctx, "BZPOPMIN", key, secs).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("BZPOPMIN %s: %w", key, err)
	}

	arr, ok := reply.([]any)
	if !ok || len(arr) != 3 {
		return 0, false, fmt.Errorf("unexpected BZPOPMIN reply %v", reply)
	}
	switch s := arr[2].(type) {
	case float64:
		return s, true, nil
	case string:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false, fmt.Errorf("invalid marker score %q: %w", s, err)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("unexpected marker score %v", arr[2])
}

// connect opens the copy's connection to the node that holds key, so the worker's named
// connection shows in CLIENT LIST (and Node's getWorkers) from the start, as a Node
// worker's does, not only after its first wait for jobs.
func (b *blockingClient) connect(ctx context.Context, key string) error {
	if !b.owned {
		return nil
	}
	if err := b.client.Do(ctx, "EXISTS", key).Err(); err != nil {
		return fmt.Errorf("connect the blocking client: %w", err)
	}
	return nil
}

// close closes the copy, which also interrupts a BZPOPMIN in progress.
func (b *blockingClient) close() error {
	var err error
	b.once.Do(func() {
		if b.owned {
			err = b.client.Close()
		}
	})
	return err
}
