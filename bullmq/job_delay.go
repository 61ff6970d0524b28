package bullmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrDelayed is the error a processor returns after it moved its own job to delayed with
// Job.MoveToDelayed, so the worker neither completes nor fails the job. It plays the part
// of Node's DelayedError.
var ErrDelayed = errors.New("bullmq: job moved to delayed")

// MoveToDelayed moves the active job back to the delayed set until due and releases the
// lock held with token, as Node's job.moveToDelayed does. The attempt is not counted. The
// job's delay field becomes the time left until due (0 when due has passed), and a
// "delayed" event is written. A processor calls it with job.Token() and then returns ErrDelayed.
func (j *Job) MoveToDelayed(ctx context.Context, due time.Time, token string) error {
	if j.queue == nil {
		return errors.New("bullmq: job has no queue: use a Job returned by a Queue or Worker")
	}

	now := time.Now()
	delay := max(due.Sub(now).Milliseconds(), 0)

	k := j.queue.keys
	keys := k.moveToDelayedKeys(j.ID)
	// No next job is fetched, so the five fetch arguments stay empty.
	args := []any{k.base + ":", strconv.FormatInt(now.UnixMilli(), 10), j.ID, token,
		strconv.FormatInt(delay, 10), "1", "", "0", "", "", "", "", "",
		j.queue.opts.PauseCompat.luaArg()}

	code, err := runScript(ctx, j.queue.client, moveToDelayedScript, keys, args...).Int64()
	if err != nil {
		return fmt.Errorf("bullmq: move job %s to delayed: %w", j.ID, err)
	}
	if code < 0 {
		return &ScriptError{Code: int(code), JobID: j.ID, Command: "moveToDelayed"}
	}
	j.Delay = delay
	return nil
}
