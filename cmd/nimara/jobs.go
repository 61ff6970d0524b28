package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/queues"
)

func newCmdJobs(f *Factory) *cobra.Command {
	cmd := subcommandGroup("jobs <command>", "Manage the jobs of the CRM's queues")
	cmd.AddCommand(newCmdJobsLs(f, nil))
	cmd.AddCommand(newCmdJobsGet(f, nil))
	cmd.AddCommand(newCmdJobsAdd(f, nil))
	cmd.AddCommand(newCmdJobsRetry(f, nil))
	cmd.AddCommand(newCmdJobsPromote(f, nil))
	cmd.AddCommand(newCmdJobsRm(f, nil))
	return cmd
}

// JobsAddOptions are the settings of nimara jobs add.
type JobsAddOptions struct {
	Factory *Factory

	Queue string
	Name  string
	// Data is the job's data as JSON text.
	Data json.RawMessage
	// Opts are the parsed --opts. Attempts is the catalog's when --opts has no attempts.
	Opts bullmq.JobOpts
	JSON bool
}

func newCmdJobsAdd(f *Factory, runF func(context.Context, *JobsAddOptions) error,
) *cobra.Command {
	opts := &JobsAddOptions{Factory: f}
	var data, rawOpts string

	cmd := &cobra.Command{
		Use:   "add <queue> <name> [flags]",
		Short: "Add a job to a queue",
		Long: `Add a job to a queue, as Node's queue.add(name, data, opts) does, and print
its id.

The job name must be one the catalog lists for the queue. For jobs that this build
handles, --data must also pass the handler's checks, so a job the worker would reject
is not added.

--opts takes Node's option names: jobId, delay, priority, lifo, attempts, backoff,
removeOnComplete, removeOnFail, deduplication, timestamp, keepLogs, stackTraceLimit.
Times are milliseconds. Options that --opts does not set come from the catalog: the
queue's attempts, the CRM backoff (1s, 10s, 100s) and the job name's priority.`,
		Example: `  # Notify a user
  $ nimara jobs add notifications create --data '{"userId":"u1","type":"t","title":"Hi"}'

  # Add with retries and a custom id
  $ nimara jobs add notifications create --data '{"userId":"u1","type":"t","title":"Hi"}' \
      --opts '{"jobId":"welcome-u1","attempts":5,"backoff":{"type":"exponential","delay":1000}}'`,
		Args: exactArgs(2, "queue and job name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue, opts.Name = args[0], args[1]
			if err := parseJobsAddFlags(opts, data, rawOpts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runJobsAdd(cmd.Context(), opts)
		},
	}

	cmd.Flags().StringVar(&data, "data", "{}", "job data as JSON")
	cmd.Flags().StringVar(&rawOpts, "opts", "", "job options as JSON, with Node's option names")
	addJSONFlag(cmd, &opts.JSON, "id")
	return cmd
}

func parseJobsAddFlags(opts *JobsAddOptions, data, rawOpts string) error {
	q, ok := queues.Lookup(opts.Queue)
	if !ok {
		return &usageError{err: &queues.UnknownQueueError{Name: opts.Queue}}
	}
	if opts.Name == "" {
		return usageErrorf("job name must not be empty")
	}
	job, ok := q.Job(opts.Name)
	if !ok {
		return usageErrorf("unknown job name %q for queue %s: use one of %s", opts.Name,
			opts.Queue, strings.Join(jobNames(q), ", "))
	}

	if !json.Valid([]byte(data)) {
		return usageErrorf("invalid --data: not valid JSON")
	}
	// A job without a handler in this build has no decoder, so its data is accepted as is.
	if job.Decode != nil {
		if err := job.Decode([]byte(data)); err != nil {
			return usageErrorf("--data for job %s of queue %s: %w", opts.Name, opts.Queue, err)
		}
	}
	opts.Data = json.RawMessage(data)

	parsed, err := bullmq.ParseNodeJobOpts([]byte(rawOpts))
	if err != nil {
		return usageErrorf("invalid --opts: %w", err)
	}
	defaults := q.DefaultJobOpts(opts.Name)
	if !hasJSONKey([]byte(rawOpts), "attempts") {
		parsed.Attempts = defaults.Attempts
	}
	if !hasJSONKey([]byte(rawOpts), "backoff") {
		parsed.Backoff = defaults.Backoff
	}
	if !hasJSONKey([]byte(rawOpts), "priority") {
		parsed.Priority = defaults.Priority
	}
	opts.Opts = parsed
	return nil
}

func jobNames(q queues.Queue) []string {
	names := make([]string, len(q.Jobs))
	for i, j := range q.Jobs {
		names[i] = j.Name
	}
	return names
}

// hasJSONKey reports whether raw is a JSON object with key at its top level.
func hasJSONKey(raw []byte, key string) bool {
	if len(bytes.TrimSpace(raw)) == 0 {
		return false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return false
	}
	_, ok := fields[key]
	return ok
}

func runJobsAdd(ctx context.Context, opts *JobsAddOptions) error {
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}

	rdb, err := openRedis(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()

	queue := bullmq.NewQueue(rdb, opts.Queue, bullmq.QueueOpts{
		Prefix: cfg.Prefix,
		Logger: cfg.Logger(opts.Factory.ErrOut),
	})
	job, err := queue.Add(ctx, opts.Name, opts.Data, opts.Opts)
	if err != nil {
		return fmt.Errorf("add job %s to queue %s: %w", opts.Name, opts.Queue, err)
	}

	if opts.JSON {
		return printJSON(opts.Factory, map[string]string{"id": job.ID})
	}
	_, err = fmt.Fprintln(opts.Factory.Out, job.ID)
	return err
}
