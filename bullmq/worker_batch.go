package bullmq

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// maxScriptBatch caps the script calls sent in one pipeline.
const maxScriptBatch = 64

// scriptBatchers is how many pipelines a worker may have in flight at once, so the worker
// builds the next batch while Redis runs the current one.
const scriptBatchers = 2

// scriptCall is one finishing script call of a job, waiting to be sent in a pipeline.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
	done   chan scriptReply
}

type scriptReply struct {
	value any
	err   error
}

// scriptBatcher sends the finishing script calls of concurrent jobs in go-redis
// pipelines: a sender takes the first waiting call and every call queued behind it, up to
// maxScriptBatch, without waiting for more. When jobs finish at the same time, Redis then
// reads many calls per system call instead of one and replies to them in one write, and
// the worker writes and reads once per batch. A lone call is sent at once, as one command.
type scriptBatcher struct {
	client redis.UniversalClient
	calls  chan *scriptCall
}

func newScriptBatcher(client redis.UniversalClient) *scriptBatcher {
	return &scriptBatcher{client: client, calls: make(chan *scriptCall, maxScriptBatch)}
}

// run sends queued calls until ctx ends. Calls still queued then fail with ctx's error.
func (b *scriptBatcher) run(ctx context.Context) {
	batch := make([]*scriptCall, 0, maxScriptBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case call := <-b.calls:
			batch = append(batch[:0], call)
		}
	drain:
		for len(batch) < maxScriptBatch {
			select {
			case call := <-b.calls:
				batch = append(batch, call)
			default:
				break drain
			}
		}
		b.send(ctx, batch)
	}
}

// send runs the batch in one pipeline of EVALSHA. A call whose script is not cached on the
// server yet is run again on its own with Script.Run, which falls back to EVAL.
func (b *scriptBatcher) send(ctx context.Context, batch []*scriptCall) {
	if len(batch) == 1 {
		call := batch[0]
		value, err := call.script.Run(ctx, b.client, call.keys, call.args...).Result()
		call.done <- scriptReply{value: value, err: err}
		return
	}

	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, call := range batch {
		cmds[i] = call.script.EvalSha(ctx, pipe, call.keys, call.args...)
	}
	// Exec returns the first failed command's error. Each command carries its own.
	_, _ = pipe.Exec(ctx)

	for i, call := range batch {
		value, err := cmds[i].Result()
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			value, err = call.script.Run(ctx, b.client, call.keys, call.args...).Result()
		}
		call.done <- scriptReply{value: value, err: err}
	}
}

// do queues a call and waits for its reply, or for ctx to end.
func (b *scriptBatcher) do(ctx context.Context, script *redis.Script, keys []string,
	args []any) (any, error) {
	call := &scriptCall{script: script, keys: keys, args: args,
		done: make(chan scriptReply, 1)}
	select {
	case b.calls <- call:
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	select {
	case r := <-call.done:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
