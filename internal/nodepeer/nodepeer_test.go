package nodepeer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
)

// packages maps each BullMQ major to its npm package name and pinned version.
var packages = map[int]struct{ name, version string }{
	6: {"bullmq", "6.7.6"},
	5: {"bullmq5", "5.81.5"},
}

func TestPeer_BullMQ(t *testing.T) {
	t.Parallel()

	for _, major := range nodepeer.Majors {
		t.Run(fmt.Sprintf("V%d", major), func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			client := redistest.Client(t)
			prefix := redistest.Prefix(t)
			queue := redistest.QueueName(t)
			peer := nodepeer.Start(t, major)

			if got := peer.Major(); got != major {
				t.Errorf("Major() = %d, want %d", got, major)
			}

			t.Run("PackageVersion", func(t *testing.T) {
				t.Parallel()

				pkg := packages[major]
				got := nodepeer.MustEvalAs[struct {
					Version string `json:"version"`
					Same    bool   `json:"same"`
				}](t, peer, `
					return {
						version: require(args.name + '/package.json').version,
						same: bullmq.Queue === require(args.name).Queue,
					};
				`, map[string]string{"name": pkg.name})

				if got.Version != pkg.version {
					t.Errorf("%s version = %q, want %q", pkg.name, got.Version, pkg.version)
				}
				if !got.Same {
					t.Errorf("bullmq in scope is not the %s package", pkg.name)
				}
			})

			t.Run("AddAndGetJob", func(t *testing.T) {
				t.Parallel()

				type job struct {
					ID   string         `json:"id"`
					Name string         `json:"name"`
					Data map[string]int `json:"data"`
				}
				got := nodepeer.MustEvalAs[job](t, peer, `
					const queue = new bullmq.Queue(args.queue, {
						connection: redisOpts,
						prefix: args.prefix,
					});
					onClose(() => queue.close());

					const added = await queue.add('greet', { n: 7 });
					const job = await queue.getJob(added.id);
					return { id: job.id, name: job.name, data: job.data };
				`, map[string]string{"queue": queue, "prefix": prefix})

				want := job{ID: "1", Name: "greet", Data: map[string]int{"n": 7}}
				if got.ID != want.ID || got.Name != want.Name || got.Data["n"] != 7 {
					t.Errorf("getJob returned %+v, want %+v", got, want)
				}

				// The job hash must live under <prefix>:<queue>:<id>.
				key := prefix + ":" + queue + ":1"
				name, err := client.HGet(ctx, key, "name").Result()
				if err != nil {
					t.Fatalf("HGET %s name: %v", key, err)
				}
				if name != "greet" {
					t.Errorf("HGET %s name = %q, want greet", key, name)
				}
			})

			t.Run("WorkerProcessesJob", func(t *testing.T) {
				t.Parallel()

				queue := redistest.QueueName(t)
				peer.MustEval(t, `
					const worker = new bullmq.Worker(args.queue, async (job) => {
						emit('processed', { id: job.id, data: job.data });
						return job.data.n * 2;
					}, { connection: redisOpts, prefix: args.prefix });
					onClose(() => worker.close());
					worker.on('completed', (job, result) => emit('completed', { id: job.id, result }));
					await worker.waitUntilReady();

					const queue = new bullmq.Queue(args.queue, {
						connection: redisOpts,
						prefix: args.prefix,
					});
					onClose(() => queue.close());
					await queue.add('double', { n: 21 });
				`, map[string]string{"queue": queue, "prefix": prefix})

				processed := decode[struct {
					ID   string         `json:"id"`
					Data map[string]int `json:"data"`
				}](t, peer.MustNext(t, "processed"))
				if processed.ID != "1" || processed.Data["n"] != 21 {
					t.Errorf("processed event = %+v, want id 1 data {n: 21}", processed)
				}

				completed := decode[struct {
					ID     string `json:"id"`
					Result int    `json:"result"`
				}](t, peer.MustNext(t, "completed"))
				if completed.ID != "1" || completed.Result != 42 {
					t.Errorf("completed event = %+v, want id 1 result 42", completed)
				}

				key := prefix + ":" + queue + ":completed"
				members, err := client.ZRange(ctx, key, 0, -1).Result()
				if err != nil {
					t.Fatalf("ZRANGE %s: %v", key, err)
				}
				if len(members) != 1 || members[0] != "1" {
					t.Errorf("ZRANGE %s = %v, want [1]", key, members)
				}
			})
		})
	}
}

func TestPeer_Events(t *testing.T) {
	t.Parallel()

	peer := nodepeer.Start(t, 6)

	peer.MustEval(t, `
		setTimeout(() => emit('tick', { n: 1 }), 20);
		setTimeout(() => emit('tick', { n: 2 }), 40);
	`, nil)

	for want := 1; want <= 2; want++ {
		got := decode[struct{ N int }](t, peer.MustNext(t, "tick"))
		if got.N != want {
			t.Errorf("tick %d payload n = %d, want %d", want, got.N, want)
		}
	}

	// Events emitted during an eval are buffered before its result arrives.
	peer.MustEval(t, `for (let i = 0; i < 3; i++) emit('burst', i);`, nil)
	burst := peer.Drain("burst")
	if len(burst) != 3 {
		t.Fatalf("Drain(burst) returned %d payloads, want 3", len(burst))
	}
	if string(burst[2]) != "2" {
		t.Errorf("third burst payload = %s, want 2", burst[2])
	}
	if again := peer.Drain("burst"); len(again) != 0 {
		t.Errorf("second Drain(burst) returned %d payloads, want 0", len(again))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	if _, err := peer.Next(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next(never) error = %v, want context.DeadlineExceeded", err)
	}
}

func TestPeer_Errors(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	peer := nodepeer.Start(t, 5)

	_, err := peer.Eval(ctx, `await sleep(1); throw new RangeError('bad range');`, nil)
	var evalErr *nodepeer.EvalError
	if !errors.As(err, &evalErr) {
		t.Fatalf("Eval error = %v, want *nodepeer.EvalError", err)
	}
	if evalErr.Message != "bad range" {
		t.Errorf("EvalError.Message = %q, want %q", evalErr.Message, "bad range")
	}
	if !strings.HasPrefix(evalErr.Stack, "RangeError: bad range") {
		t.Errorf("EvalError.Stack = %q, want it to start with RangeError: bad range",
			evalErr.Stack)
	}

	_, err = peer.Eval(ctx, `return 1n;`, nil)
	if !errors.As(err, &evalErr) || !strings.Contains(evalErr.Message, "result is not JSON") {
		t.Errorf("Eval of a BigInt result error = %v, want result is not JSON", err)
	}

	_, err = peer.Eval(ctx, `return (`, nil)
	if !errors.As(err, &evalErr) {
		t.Errorf("Eval of a syntax error = %v, want *nodepeer.EvalError", err)
	}

	// An error thrown outside any eval must arrive as an event, and the peer keeps running.
	peer.MustEval(t, `setTimeout(() => { throw new Error('late failure'); }, 10);`, nil)
	payload := decode[struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}](t, peer.MustNext(t, "error"))
	if payload.Kind != "uncaughtException" || payload.Message != "late failure" {
		t.Errorf("error event = %+v, want uncaughtException late failure", payload)
	}

	peer.MustEval(t, `Promise.reject(new Error('nobody waits'));`, nil)
	payload = decode[struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}](t, peer.MustNext(t, "error"))
	if payload.Kind != "unhandledRejection" || payload.Message != "nobody waits" {
		t.Errorf("error event = %+v, want unhandledRejection nobody waits", payload)
	}

	if got := nodepeer.MustEvalAs[int](t, peer, `return 41 + 1;`, nil); got != 42 {
		t.Errorf("eval after the errors returned %d, want 42", got)
	}
}

func TestPeer_StateAndConcurrentEvals(t *testing.T) {
	t.Parallel()

	peer := nodepeer.Start(t, 6)
	peer.MustEval(t, `state.count = 0;`, nil)

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			got := nodepeer.MustEvalAs[int](t, peer, `
				await sleep(args.wait);
				state.count++;
				return args.i;
			`, map[string]int{"i": i, "wait": 20 - i})
			if got != i {
				t.Errorf("eval %d returned %d", i, got)
			}
		})
	}
	wg.Wait()

	if got := nodepeer.MustEvalAs[int](t, peer, `return state.count;`, nil); got != 20 {
		t.Errorf("state.count = %d, want 20", got)
	}
}

func TestPeer_CloseRunsClosers(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	key := prefix + ":closed"

	peer := nodepeer.Start(t, 6)
	peer.MustEval(t, `
		const redis = new IORedis(redisOpts);
		onClose(async () => {
			await redis.rpush(args.key, 'second');
			await redis.quit();
		});
		onClose(() => redis.rpush(args.key, 'first'));
	`, map[string]string{"key": key})

	if err := peer.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	got, err := client.LRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatalf("LRANGE %s: %v", key, err)
	}
	if strings.Join(got, ",") != "first,second" {
		t.Errorf("closers wrote %v, want [first second] (reverse order of registration)", got)
	}

	if _, err := peer.Eval(ctx, `return 1;`, nil); !errors.Is(err, nodepeer.ErrClosed) {
		t.Errorf("Eval after Close error = %v, want ErrClosed", err)
	}
	if _, err := peer.Next(ctx, "anything"); !errors.Is(err, nodepeer.ErrClosed) {
		t.Errorf("Next after Close error = %v, want ErrClosed", err)
	}
}

func TestPeer_KillFailsPendingEval(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	peer := nodepeer.Start(t, 6)

	errCh := make(chan error, 1)
	go func() {
		_, err := peer.Eval(ctx, `emit('started', null); await sleep(60000);`, nil)
		errCh <- err
	}()
	peer.MustNext(t, "started")

	if err := peer.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}

	select {
	case err := <-errCh:
		if !errors.Is(err, nodepeer.ErrClosed) {
			t.Errorf("pending Eval error = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending Eval did not return within 10s after Kill")
	}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()

	var value T
	if err := json.Unmarshal(raw, &value); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return value
}
