package bullmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	moveToFinishedScript = loadScript("move_to_finished")
	moveToDelayedScript  = loadScript("move_to_delayed")
	retryJobScript       = loadScript("retry_job")
)

// finishTarget selects the finished set and the hash field of the result.
type finishTarget struct {
	set   string // "completed" or "failed"
	field string // "returnvalue" or "failedReason"
}

var (
	finishCompleted = finishTarget{set: "completed", field: "returnvalue"}
	finishFailed    = finishTarget{set: "failed", field: "failedReason"}
)

// finishScriptArgs are the keys and arguments of move_to_finished.lua that stay the same
// for a worker and target, built once per worker. No caller may modify the slices.
type finishScriptArgs struct {
	completed, failed finishTargetArgs
	// maxMetrics is ARGV[11]: the max metrics data points, "" when metrics are off.
	maxMetrics any
}

// finishTargetArgs are the script keys and arguments of one finish target.
type finishTargetArgs struct {
	// fetchAndSetKeys are KEYS[1..12]: the fetch keys, then the completed or failed set.
	fetchAndSetKeys []string
	// metricsKey is KEYS[14].
	metricsKey string
	// field and set are ARGV[3] and ARGV[5].
	field, set any
}

func newFinishScriptArgs(k queueKeys, opts WorkerOpts) finishScriptArgs {
	maxMetrics := ""
	if m := opts.Metrics; m != nil {
		maxMetrics = strconv.Itoa(m.MaxDataPoints)
	}
	targetArgs := func(t finishTarget) finishTargetArgs {
		return finishTargetArgs{
			fetchAndSetKeys: append(k.fetchKeys(), k.key(t.set)),
			metricsKey:      k.key("metrics:" + t.set),
			field:           t.field,
			set:             t.set,
		}
	}
	return finishScriptArgs{
		completed:  targetArgs(finishCompleted),
		failed:     targetArgs(finishFailed),
		maxMetrics: maxMetrics,
	}
}

// finish moves the active job to completed or failed and returns the next job when the
// script fetched one (only while the worker is still running).
func (w *Worker) finish(ctx, procCtx context.Context, job *Job, target finishTarget,
	value string, fields []string) (*Job, error) {
	retention := job.Opts.RemoveOnComplete
	if retention == nil {
		retention = w.opts.RemoveOnComplete
	}
	targetArgs := &w.finishScript.completed
	if target == finishFailed {
		retention, targetArgs = job.Opts.RemoveOnFail, &w.finishScript.failed
		if retention == nil {
			retention = w.opts.RemoveOnFail
		}
	}

	fieldsJSON, err := encodeFields(fields)
	if err != nil {
		return nil, err
	}

	keys := make([]string, 0, len(targetArgs.fetchAndSetKeys)+2)
	keys = append(keys, targetArgs.fetchAndSetKeys...)
	keys = append(keys, w.keys.job(job.ID), targetArgs.metricsKey)
	keepArgs := retention.keepJobs().args()
	attempts := strconv.Itoa(job.Opts.Attempts)
	reply, err := w.runWithRetry(ctx, procCtx, "moveToFinished", job, moveToFinishedScript,
		keys, func() []any {
			args := make([]any, 0, 11+len(keepArgs)+1+len(w.fetchScript.tail))
			args = append(args, job.ID, nowMillis(), targetArgs.field, value, targetArgs.set,
				w.fetchNextFlag(ctx), w.fetchScript.prefix, fieldsJSON,
				w.fetchScript.pauseCompat, attempts, w.finishScript.maxMetrics)
			args = append(args, keepArgs...)
			return w.appendFetchArgs(args, job.token)
		})
	if err != nil {
		return nil, err
	}
	return w.nextFromReply(reply, job)
}

// moveToDelayed schedules a retry after delay and returns the next job when the script
// fetched one.
func (w *Worker) moveToDelayed(ctx, procCtx context.Context, job *Job, delay time.Duration,
	fields []string) (*Job, error) {
	fieldsJSON, err := encodeFields(fields)
	if err != nil {
		return nil, err
	}

	k := w.keys
	keys := k.moveToDelayedKeys(job.ID)
	reply, err := w.runWithRetry(ctx, procCtx, "moveToDelayed", job, moveToDelayedScript,
		keys, func() []any {
			args := []any{k.base + ":", nowMillis(), job.ID, job.token,
				strconv.FormatInt(delay.Milliseconds(), 10), "0", fieldsJSON,
				w.fetchNextFlag(ctx)}
			args = w.appendFetchArgs(args, job.token)
			return append(args, w.fetchScript.pauseCompat)
		})
	if err != nil {
		return nil, err
	}
	return w.nextFromReply(reply, job)
}

// moveToDelayedKeys are KEYS[1..12] of move_to_delayed.lua, in order.
func (k queueKeys) moveToDelayedKeys(id string) []string {
	return []string{k.marker(), k.active(), k.prioritized(), k.delayed(), k.job(id),
		k.events(), k.meta(), k.stalled(), k.wait(), k.limiter(), k.pc(), k.paused()}
}

// retryJob pushes the job back to wait (the front when it is LIFO) for an immediate retry.
func (w *Worker) retryJob(ctx, procCtx context.Context, job *Job, fields []string) error {
	fieldsJSON, err := encodeFields(fields)
	if err != nil {
		return err
	}
	push := "LPUSH"
	if job.Opts.LIFO {
		push = "RPUSH"
	}

	k := w.keys
	keys := []string{k.active(), k.wait(), k.paused(), k.job(job.ID), k.meta(), k.events(),
		k.delayed(), k.prioritized(), k.pc(), k.marker(), k.stalled()}
	_, err = w.runWithRetry(ctx, procCtx, "retryJob", job, retryJobScript, keys,
		func() []any {
			return []any{k.base + ":", nowMillis(), push, job.ID, job.token, fieldsJSON,
				w.opts.PauseCompat.luaArg()}
		})
	return err
}

// runWithRetry runs a state-changing script, retrying Redis errors with backoff until it
// succeeds or procCtx ends. Arguments are rebuilt per attempt so "now" stays current.
// A negative reply becomes a *ScriptError and is not retried.
func (w *Worker) runWithRetry(ctx, procCtx context.Context, command string, job *Job,
	script *redis.Script, keys []string, args func() []any) (any, error) {
	for attempt := 1; ; attempt++ {
		reply, err := w.runFinishScript(procCtx, script, keys, args())
		if err == nil {
			if code, ok := reply.(int64); ok && code < 0 {
				return nil, &ScriptError{Code: int(code), JobID: job.ID, Command: command}
			}
			return reply, nil
		}
		if procCtx.Err() != nil {
			return nil, fmt.Errorf("running %s for job %s: %w", command, job.ID, err)
		}

		w.logger.WarnContext(ctx, "Script failed, retrying", slog.String("script", command),
			slog.String("job_id", job.ID), slog.Int("attempt", attempt), slog.Any("err", err))
		if !sleepCtx(procCtx, retryBackoff(attempt)) {
			return nil, fmt.Errorf("running %s for job %s: %w", command, job.ID, err)
		}
	}
}

// runFinishScript runs a script through the worker's batcher while Run is active, else on
// its own.
func (w *Worker) runFinishScript(ctx context.Context, script *redis.Script, keys []string,
	args []any) (any, error) {
	if b := w.batcher.Load(); b != nil {
		return b.do(ctx, script, keys, args)
	}
	return script.Run(ctx, w.client, keys, args...).Result()
}

// nextFromReply decodes a chained fetch; a plain 0 means no next job.
func (w *Worker) nextFromReply(reply any, job *Job) (*Job, error) {
	if _, ok := reply.([]any); !ok {
		return nil, nil
	}
	res, err := w.parseFetchReply(reply, job.token)
	if err != nil {
		return nil, err
	}
	return res.job, nil
}

// fetchNextFlag is "1" while the worker runs, so finishing a job also fetches the next.
func (w *Worker) fetchNextFlag(ctx context.Context) string {
	if ctx.Err() != nil {
		return "0"
	}
	return "1"
}

// encodeFields encodes a flat field/value list as a JSON array, or "" when empty.
func encodeFields(fields []string) (string, error) {
	if len(fields) == 0 {
		return "", nil
	}
	b, err := marshalJSON(fields)
	if err != nil {
		return "", fmt.Errorf("encoding job fields: %w", err)
	}
	return string(b), nil
}

func nowMillis() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

// errScript reports whether err is a script rejection with the given code.
func errScript(err error, code int) bool {
	var se *ScriptError
	return errors.As(err, &se) && se.Code == code
}
