package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/bullmq"
)

// jobStates are the states jobs ls accepts, as Node's getJobs names them.
var jobStates = []string{"waiting", "active", "delayed", "prioritized", "completed",
	"failed", "waiting-children", "paused"}

// jobRow is one job in the output of jobs ls and jobs get.
type jobRow struct {
	Queue        string          `json:"queue"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	State        string          `json:"state"`
	Priority     int             `json:"priority"`
	AttemptsMade int             `json:"attempts_made"`
	Timestamp    int64           `json:"timestamp"`
	ProcessedOn  int64           `json:"processed_on"`
	FinishedOn   int64           `json:"finished_on"`
	FailedReason string          `json:"failed_reason"`
	Data         json.RawMessage `json:"data,omitempty"`
	Opts         json.RawMessage `json:"opts,omitempty"`
	ReturnValue  json.RawMessage `json:"return_value,omitempty"`
	Stacktrace   []string        `json:"stacktrace,omitempty"`
}

func newJobRow(queue, state string, job *bullmq.Job, full bool) jobRow {
	row := jobRow{Queue: queue, ID: job.ID, Name: job.Name, State: state,
		Priority: job.Priority, AttemptsMade: job.AttemptsMade, Timestamp: job.Timestamp,
		ProcessedOn: job.ProcessedOn, FinishedOn: job.FinishedOn,
		FailedReason: job.FailedReason}
	if full {
		row.Data = job.Data
		if json.Valid([]byte(job.RawOpts)) {
			row.Opts = json.RawMessage(job.RawOpts)
		}
		if json.Valid(job.ReturnValue) {
			row.ReturnValue = job.ReturnValue
		}
		row.Stacktrace = job.Stacktrace
	}
	return row
}

// JobsLsOptions are the settings of nimara jobs ls.
type JobsLsOptions struct {
	Factory *Factory
	Queue   string
	States  []string
	Limit   int
	JSON    bool
}

func newCmdJobsLs(f *Factory, runF func(context.Context, *JobsLsOptions) error,
) *cobra.Command {
	opts := &JobsLsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "ls <queue> [flags]",
		Short: "List the jobs of a queue",
		Long: `List the jobs of a queue in the given states, state by state, newest first, at
most --limit per state.`,
		Example: `  # The last 20 failed jobs of the email queue
  $ nimara jobs ls email --state failed`,
		Args: exactArgs(1, "queue"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue = args[0]
			if err := checkQueueName(opts.Queue, true); err != nil {
				return err
			}
			for _, s := range opts.States {
				if !slices.Contains(jobStates, s) {
					return usageErrorf("invalid --state %q: use one of %s", s,
						strings.Join(jobStates, ", "))
				}
			}
			if opts.Limit < 1 {
				return usageErrorf("invalid --limit %d: must be at least 1", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runJobsLs(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.States, "state", []string{"waiting", "active",
		"delayed", "prioritized", "failed"}, "comma-separated job states")
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 20, "jobs per state")
	addJSONFlag(cmd, &opts.JSON, "queue, id, name, state, priority, attempts_made, "+
		"timestamp, processed_on, finished_on, failed_reason")
	return cmd
}

func runJobsLs(ctx context.Context, opts *JobsLsOptions) error {
	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	q := bullQueue(rdb, cfg.Prefix, opts.Queue)
	rows := []jobRow{}
	for _, state := range opts.States {
		jobs, err := q.GetJobs(ctx, []string{state}, 0, opts.Limit-1, false)
		if err != nil {
			return err
		}
		for _, job := range jobs {
			rows = append(rows, newJobRow(opts.Queue, state, job, false))
		}
	}

	if opts.JSON {
		return printJSON(opts.Factory, rows)
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{r.ID, r.Name, r.State, strconv.Itoa(r.AttemptsMade),
			strconv.Itoa(r.Priority), formatMillis(r.Timestamp),
			tableCell(opts.Factory, r.FailedReason, 60)}
	}
	return printTable(opts.Factory, []string{"ID", "NAME", "STATE", "ATTEMPTS", "PRIORITY",
		"CREATED", "FAILED REASON"}, cells)
}

// JobsGetOptions are the settings of nimara jobs get.
type JobsGetOptions struct {
	Factory *Factory
	Queue   string
	ID      string
	JSON    bool
}

func newCmdJobsGet(f *Factory, runF func(context.Context, *JobsGetOptions) error,
) *cobra.Command {
	opts := &JobsGetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "get <queue> <id> [flags]",
		Short: "Show one job with its data and options",
		Example: `  # Show job 42 of the notifications queue
  $ nimara jobs get notifications 42`,
		Args: exactArgs(2, "queue and job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue, opts.ID = args[0], args[1]
			if err := checkQueueName(opts.Queue, true); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runJobsGet(cmd.Context(), opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON, "the keys of jobs ls, plus data, opts, return_value, "+
		"stacktrace")
	return cmd
}

func runJobsGet(ctx context.Context, opts *JobsGetOptions) error {
	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	q := bullQueue(rdb, cfg.Prefix, opts.Queue)
	job, err := q.GetJob(ctx, opts.ID)
	if errors.Is(err, bullmq.ErrJobNotFound) {
		return fmt.Errorf("job %s not found in queue %s", opts.ID, opts.Queue)
	}
	if err != nil {
		return err
	}
	state, err := q.GetJobState(ctx, opts.ID)
	if err != nil {
		return err
	}

	row := newJobRow(opts.Queue, state, job, true)
	if opts.JSON {
		return printJSON(opts.Factory, row)
	}
	return printFields(opts.Factory, [][2]string{
		{"queue", row.Queue}, {"id", row.ID}, {"name", row.Name}, {"state", row.State},
		{"priority", strconv.Itoa(row.Priority)},
		{"attempts_made", strconv.Itoa(row.AttemptsMade)},
		{"created", formatMillis(row.Timestamp)},
		{"processed_on", formatMillis(row.ProcessedOn)},
		{"finished_on", formatMillis(row.FinishedOn)},
		{"failed_reason", row.FailedReason},
		{"data", string(row.Data)}, {"opts", string(row.Opts)},
		{"return_value", string(row.ReturnValue)},
		{"stacktrace", strings.Join(row.Stacktrace, "\n---\n")},
	})
}

// printFields prints name and value pairs: aligned "name: value" lines on a terminal,
// tab-separated pairs when piped. A multi-line value keeps its lines.
func printFields(f *Factory, fields [][2]string) error {
	width := 0
	for _, kv := range fields {
		width = max(width, len(kv[0]))
	}
	for _, kv := range fields {
		var err error
		if f.OutTTY {
			_, err = fmt.Fprintf(f.Out, "%-*s  %s\n", width+1, kv[0]+":", kv[1])
		} else {
			_, err = fmt.Fprintf(f.Out, "%s\t%s\n", kv[0], kv[1])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// JobSelection names the jobs that jobs retry and jobs promote act on: the job ids given
// after the queue, or with --all every job of the queue in the state the command handles.
type JobSelection struct {
	Queue string
	IDs   []string
	All   bool
}

// parse reads the arguments <queue> [<id>...] and checks that they name job ids or that
// --all is set, but not both.
func (s *JobSelection) parse(args []string) error {
	s.Queue, s.IDs = args[0], args[1:]
	if err := checkQueueName(s.Queue, false); err != nil {
		return err
	}
	if s.All == (len(s.IDs) > 0) {
		return usageErrorf("name one or more job ids, or pass --all")
	}
	return nil
}

// jobsAction is the operation that jobs retry or jobs promote applies to a JobSelection.
type jobsAction struct {
	// doing and done are the verbs of the progress bar and of the line printed per job,
	// such as "Retrying" and "Retried".
	doing, done string
	// allJobs names the jobs that allFunc acts on, such as "the failed jobs".
	allJobs string
	// allFunc acts on every job of the queue in the command's state, for --all.
	allFunc func(context.Context, *bullmq.Queue) error
	// eachFunc acts on one named job.
	eachFunc func(context.Context, *bullmq.Job) error
}

// runJobsAction connects to Redis and applies action to the jobs that s selects.
func runJobsAction(ctx context.Context, f *Factory, s JobSelection, action jobsAction) error {
	rdb, cfg, err := connectRedis(ctx, f)
	if err != nil {
		return err
	}
	defer rdb.Close()

	q := bullQueue(rdb, cfg.Prefix, s.Queue)
	if s.All {
		if err := action.allFunc(ctx, q); err != nil {
			return err
		}
		if f.OutTTY {
			fmt.Fprintf(f.Out, "%s %s of queue %s\n", action.done, action.allJobs, s.Queue)
		}
		return nil
	}

	return eachJob(ctx, f, q, s.IDs, action.doing, action.done, func(job *bullmq.Job) error {
		return action.eachFunc(ctx, job)
	})
}

// JobsRetryOptions are the settings of nimara jobs retry. With All it retries every failed
// job of the queue.
type JobsRetryOptions struct {
	Factory *Factory
	JobSelection
}

func newCmdJobsRetry(f *Factory, runF func(context.Context, *JobsRetryOptions) error,
) *cobra.Command {
	opts := &JobsRetryOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "retry <queue> {<id>... | --all}",
		Short: "Run failed jobs again",
		Long: `Move failed jobs of a queue back to wait, as Node's job.retry() does. Their attempt
counters are kept. With --all every failed job of the queue goes back.

It prints only confirmations, on a terminal, and nothing when piped, so it has no
--json.`,
		Example: `  # Retry two jobs
  $ nimara jobs retry email 17 18

  # Retry every failed job of the webhooks queue
  $ nimara jobs retry webhooks --all`,
		Args: minArgs(1, "queue"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runJobsRetry(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "retry every failed job of the queue")
	return cmd
}

func runJobsRetry(ctx context.Context, opts *JobsRetryOptions) error {
	return runJobsAction(ctx, opts.Factory, opts.JobSelection, jobsAction{
		doing:   "Retrying",
		done:    "Retried",
		allJobs: "the failed jobs",
		allFunc: func(ctx context.Context, q *bullmq.Queue) error {
			return q.RetryJobs(ctx, bullmq.StateFailed, 0, time.Time{})
		},
		eachFunc: func(ctx context.Context, job *bullmq.Job) error {
			return job.Retry(ctx, bullmq.StateFailed, bullmq.RetryOpts{})
		},
	})
}

// eachJob runs fn on each job of ids, with a progress bar, and prints one line per job on a
// terminal. It stops at the first error.
func eachJob(ctx context.Context, f *Factory, q *bullmq.Queue, ids []string, doing,
	done string, fn func(*bullmq.Job) error) error {
	bar := newProgress(f, doing, len(ids))
	defer bar.finish()

	for _, id := range ids {
		job, err := q.GetJob(ctx, id)
		if errors.Is(err, bullmq.ErrJobNotFound) {
			return fmt.Errorf("job %s not found in queue %s", id, q.Name())
		}
		if err != nil {
			return err
		}
		if err := fn(job); err != nil {
			return fmt.Errorf("job %s of queue %s: %w", id, q.Name(), err)
		}
		bar.step()
		if f.OutTTY {
			fmt.Fprintf(f.Out, "%s job %s\n", done, id)
		}
	}
	return nil
}

// JobsPromoteOptions are the settings of nimara jobs promote. With All it promotes every
// delayed job of the queue.
type JobsPromoteOptions struct {
	Factory *Factory
	JobSelection
}

func newCmdJobsPromote(f *Factory, runF func(context.Context, *JobsPromoteOptions) error,
) *cobra.Command {
	opts := &JobsPromoteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "promote <queue> {<id>... | --all}",
		Short: "Run delayed jobs now",
		Long: `Move delayed jobs to the ready states at once. With --all every delayed job moves.

It prints only confirmations, on a terminal, and nothing when piped, so it has no
--json.`,
		Example: `  # Send a delayed reminder now
  $ nimara jobs promote notifications 93`,
		Args: minArgs(1, "queue"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parse(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runJobsPromote(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "promote every delayed job of the queue")
	return cmd
}

func runJobsPromote(ctx context.Context, opts *JobsPromoteOptions) error {
	return runJobsAction(ctx, opts.Factory, opts.JobSelection, jobsAction{
		doing:   "Promoting",
		done:    "Promoted",
		allJobs: "the delayed jobs",
		allFunc: func(ctx context.Context, q *bullmq.Queue) error {
			return q.PromoteJobs(ctx, 0)
		},
		eachFunc: func(ctx context.Context, job *bullmq.Job) error {
			return job.Promote(ctx)
		},
	})
}

// JobsRmOptions are the settings of nimara jobs rm.
type JobsRmOptions struct {
	Factory *Factory
	Queue   string
	IDs     []string
	Yes     bool
}

func newCmdJobsRm(f *Factory, runF func(context.Context, *JobsRmOptions) error,
) *cobra.Command {
	opts := &JobsRmOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "rm <queue> <id>... [flags]",
		Short: "Delete jobs",
		Long: `Delete jobs of a queue whatever their state, with their logs. A job that a worker
is processing cannot be deleted.

It asks for confirmation on a terminal; pass --yes to skip the question, which is
required when stdin is not a terminal.

It prints only confirmations, on a terminal, and nothing when piped, so it has no
--json.`,
		Example: `  # Delete two jobs without a question
  $ nimara jobs rm export 5 6 --yes`,
		Args: minArgs(2, "queue and job ids"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue, opts.IDs = args[0], args[1:]
			if err := checkQueueName(opts.Queue, true); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runJobsRm(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runJobsRm(ctx context.Context, opts *JobsRmOptions) error {
	question := fmt.Sprintf("Delete %d jobs of queue %s", len(opts.IDs), opts.Queue)
	if err := confirm(opts.Factory, opts.Yes, question); err != nil {
		return err
	}

	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	q := bullQueue(rdb, cfg.Prefix, opts.Queue)
	return eachJob(ctx, opts.Factory, q, opts.IDs, "Deleting", "Deleted",
		func(job *bullmq.Job) error { return job.Remove(ctx, false) })
}
