package bullmq

import (
	"context"
	"fmt"
	"strconv"
)

var (
	updateProgressScript = loadScript("update_progress")
	addLogScript         = loadScript("add_log")
)

// UpdateProgress stores v, encoded like JSON.stringify, as the job's progress and writes a
// "progress" event that Node's QueueEvents delivers. It returns ErrJobNotFound (wrapped)
// when the job no longer exists.
func (j *Job) UpdateProgress(ctx context.Context, v any) error {
	data, err := marshalJSON(v)
	if err != nil {
		return fmt.Errorf("encoding progress of job %s: %w", j.ID, err)
	}

	k := j.queue.keys
	code, err := runScript(ctx, j.queue.client, updateProgressScript,
		[]string{k.job(j.ID), k.events(), k.meta()}, j.ID, string(data)).Int64()
	if err != nil {
		return fmt.Errorf("running updateProgress for job %s: %w", j.ID, err)
	}
	if code < 0 {
		return fmt.Errorf("updating progress of job %s: %w", j.ID, ErrJobNotFound)
	}
	j.Progress = data
	return nil
}

// Log appends line to the job's log list and returns how many lines it now holds. When the
// job's options set keepLogs ("kl"), only that many newest lines are kept.
func (j *Job) Log(ctx context.Context, line string) (int, error) {
	keep := ""
	if j.Opts.KeepLogs > 0 {
		keep = strconv.Itoa(j.Opts.KeepLogs)
	}

	k := j.queue.keys
	jobKey := k.job(j.ID)
	n, err := runScript(ctx, j.queue.client, addLogScript, []string{jobKey, jobKey + ":logs"},
		j.ID, line, keep).Int64()
	if err != nil {
		return 0, fmt.Errorf("running addLog for job %s: %w", j.ID, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("adding log line to job %s: %w", j.ID, ErrJobNotFound)
	}
	return int(n), nil
}
