package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var addNextIterationScript = loadScript("add_next_iteration")

// iterationRepeat is the "repeat" object of a scheduler iteration's stored opts.
type iterationRepeat struct {
	Every     *float64 `json:"every"`
	Pattern   string   `json:"pattern"`
	TZ        string   `json:"tz"`
	Limit     *float64 `json:"limit"`
	Count     float64  `json:"count"`
	StartDate *float64 `json:"startDate"`
	EndDate   *float64 `json:"endDate"`
	Offset    *float64 `json:"offset"`
}

// scheduleNextIteration creates the next iteration of the job scheduler that produced job,
// as a Node worker does right after it moves a scheduler job to active and before it runs
// the processor. Without it a scheduler stops after the iteration a Go worker takes.
// Failures are reported and do not stop the job from being processed.
func (w *Worker) scheduleNextIteration(ctx, procCtx context.Context, job *Job) {
	if job.RepeatJobKey == "" || job.Malformed() != nil {
		return
	}

	next, err := w.queue.addNextIteration(procCtx, job, time.Now())
	if err != nil {
		w.reportError(ctx, "Creating next scheduler iteration failed", err,
			slog.String("job_id", job.ID), slog.String("schedule", job.RepeatJobKey))
		return
	}
	if next != "" {
		w.logger.DebugContext(ctx, "Scheduler iteration created",
			slog.String("job_id", next), slog.String("schedule", job.RepeatJobKey))
	}
}

// addNextIteration runs the client part of Node's next-iteration step and then
// add_next_iteration.lua. It returns the id of the new iteration, or "" when none is due.
func (q *Queue) addNextIteration(ctx context.Context, job *Job, now time.Time) (string,
	error) {
	schedulerID := job.RepeatJobKey
	if hasLegacyRepeatKeyShape(schedulerID) {
		isScheduler, err := q.client.HExists(ctx, q.keys.repeat()+":"+schedulerID,
			"ic").Result()
		if err != nil {
			return "", fmt.Errorf("checking scheduler %q: %w", schedulerID, err)
		}
		if !isScheduler {
			// NOTE: repeatable jobs of Node bullmq before 5.16, keyed by the colon-joined
			// "name:id:endDate:tz:pattern", are not continued, as Node bullmq 6 does not.
			return "", fmt.Errorf("repeat key %q has the legacy colon form, which is not "+
				"supported: migrate it to a job scheduler", schedulerID)
		}
	}

	opts, err := decodeObject([]byte(job.RawOpts))
	if err != nil {
		return "", fmt.Errorf("options of job %s: %w", job.ID, err)
	}
	var rep iterationRepeat
	if raw, ok := opts.get("repeat"); ok {
		if err := json.Unmarshal(raw.(json.RawMessage), &rep); err != nil {
			return "", fmt.Errorf("repeat options of job %s: %w", job.ID, err)
		}
	}

	count := int(rep.Count) + 1
	if rep.Limit != nil && float64(count) > *rep.Limit {
		return "", nil
	}
	nowMs := now.UnixMilli()
	if rep.EndDate != nil && nowMs > int64(*rep.EndDate) {
		return "", nil
	}

	from := nowMs
	if prev, ok := opts.get("prevMillis"); ok {
		if p, err := strconv.ParseFloat(string(prev.(json.RawMessage)), 64); err == nil {
			from = max(from, int64(p))
		}
	}

	var nextMillis int64
	if rep.Every == nil && rep.Pattern != "" {
		var start, end time.Time
		if rep.StartDate != nil {
			start = time.UnixMilli(int64(*rep.StartDate))
		}
		if rep.EndDate != nil {
			end = time.UnixMilli(int64(*rep.EndDate))
		}
		next, ok, err := patternNext(rep.Pattern, rep.TZ, time.UnixMilli(from), start, end,
			false)
		if err != nil {
			return "", fmt.Errorf("pattern of scheduler %q: %w", schedulerID, err)
		}
		if !ok {
			return "", nil
		}
		nextMillis = max(next, from)
	} else if rep.Every == nil {
		return "", fmt.Errorf("job %s names scheduler %q but has neither every nor pattern",
			job.ID, schedulerID)
	}

	iterOpts, err := nextIterationOpts(opts, schedulerID, count, nextMillis, time.Now())
	if err != nil {
		return "", err
	}
	ctl, err := iterationControl(job.Opts.Priority, job.Opts.LIFO)
	if err != nil {
		return "", err
	}

	nextArg, everyArg := "", ""
	if nextMillis > 0 {
		nextArg = strconv.FormatInt(nextMillis, 10)
	}
	if rep.Every != nil {
		everyArg = strconv.FormatInt(int64(*rep.Every), 10)
	}
	reply, err := addNextIterationScript.Run(ctx, q.client, q.schedulerKeys(),
		q.keys.base+":", schedulerID, nextArg, string(job.Data), string(iterOpts), everyArg,
		ctl, strconv.FormatInt(time.Now().UnixMilli(), 10), job.ID,
		q.opts.PauseCompat.luaArg()).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("running addNextIteration for job %s: %w", job.ID, err)
	}
	id, _ := reply.(string)
	return id, nil
}

// nextIterationOpts builds the stored opts of the next iteration from the running one's,
// as Node does. "attempts" defaults to 0 and repeat.count grows by one. The repeat offset
// is kept only for every schedulers. timestamp, prevMillis (pattern only) and repeatJobKey
// are set, and "delay" and "jobId" are left to the script.
func nextIterationOpts(opts *orderedObject, schedulerID string, count int, nextMillis int64,
	now time.Time) (json.RawMessage, error) {
	out := &orderedObject{}
	out.add("attempts", 0)
	for i, k := range opts.keys {
		switch k {
		case "delay", "jobId", "prevMillis", "repeatJobKey", "timestamp":
			continue
		}
		out.set(k, opts.values[i])
	}

	rep := &orderedObject{}
	if raw, ok := opts.get("repeat"); ok {
		var err error
		if rep, err = decodeObject(raw.(json.RawMessage)); err != nil {
			return nil, err
		}
	}
	rep.remove("immediately")
	_, hasEvery := rep.get("every")
	if offset, ok := rep.get("offset"); !hasEvery || !ok || string(offset.(json.RawMessage)) ==
		"0" {
		rep.remove("offset")
	}
	rep.set("count", count)
	out.set("repeat", rep)

	out.set("timestamp", now.UnixMilli())
	if nextMillis > 0 {
		out.set("prevMillis", nextMillis)
	}
	out.set("repeatJobKey", schedulerID)
	return out.MarshalJSON()
}

// hasLegacyRepeatKeyShape reports whether key looks like a repeatable-job key of Node
// bullmq before job schedulers: "name:id:endDate:tz:<cron pattern or every>", where
// endDate is empty or numeric and the last part contains a space or is numeric.
func hasLegacyRepeatKeyShape(key string) bool {
	parts := strings.SplitN(key, ":", 5)
	if len(parts) < 5 {
		return false
	}
	if parts[2] != "" && !isDigits(parts[2]) {
		return false
	}
	suffix := parts[4]
	return suffix != "" && (strings.Contains(suffix, " ") || isDigits(suffix))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
