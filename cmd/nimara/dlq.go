package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/queues"
)

func newCmdDLQ(f *Factory) *cobra.Command {
	cmd := subcommandGroup("dlq <command>", "Inspect, retry and purge the dead-letter queue")
	cmd.Long = `The dead-letter queue holds one entry per job that failed for good in any CRM
queue: the queue, job id, name, data, options, failed reason, stack traces, attempts
made and failure time. The failed job itself stays in its queue's failed set.`
	cmd.AddCommand(newCmdDLQLs(f, nil))
	cmd.AddCommand(newCmdDLQShow(f, nil))
	cmd.AddCommand(newCmdDLQRetry(f, nil))
	cmd.AddCommand(newCmdDLQPurge(f, nil))
	return cmd
}

// entryRow is one dead-letter entry in the JSON output of the dlq commands.
type entryRow struct {
	ID           string          `json:"id"`
	Queue        string          `json:"queue"`
	JobID        string          `json:"job_id"`
	Name         string          `json:"name"`
	FailedReason string          `json:"failed_reason"`
	AttemptsMade int             `json:"attempts_made"`
	FailedAt     string          `json:"failed_at"`
	Data         json.RawMessage `json:"data,omitempty"`
	Opts         json.RawMessage `json:"opts,omitempty"`
	Stacktrace   []string        `json:"stacktrace,omitempty"`
}

func newEntryRow(e queues.DeadLetterEntry, full bool) entryRow {
	row := entryRow{ID: e.ID, Queue: e.Queue, JobID: e.JobID, Name: e.Name,
		FailedReason: e.FailedReason, AttemptsMade: e.AttemptsMade,
		FailedAt: formatMillis(e.FailedAt)}
	if full {
		row.Data, row.Opts, row.Stacktrace = e.Data, e.Opts, e.Stacktrace
	}
	return row
}

// openDeadLetter connects to Redis and returns the dead-letter queue and a close function.
func openDeadLetter(ctx context.Context, f *Factory) (*queues.DeadLetter, func(), error) {
	rdb, cfg, err := connectRedis(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	dl := queues.NewDeadLetter(rdb, queues.DeadLetterConfig{Prefix: cfg.Prefix})
	return dl, func() { _ = rdb.Close() }, nil
}

// DLQLsOptions are the settings of nimara dlq ls.
type DLQLsOptions struct {
	Factory *Factory
	Queue   string
	Limit   int
	JSON    bool
}

func newCmdDLQLs(f *Factory, runF func(context.Context, *DLQLsOptions) error) *cobra.Command {
	opts := &DLQLsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "List the dead-letter entries, newest first",
		Example: `  # The failures of the email queue
  $ nimara dlq ls --queue email`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Queue != "" {
				if err := checkQueueName(opts.Queue, false); err != nil {
					return err
				}
			}
			if opts.Limit < 0 {
				return usageErrorf("invalid --limit %d: must not be negative", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDLQLs(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Queue, "queue", "q", "", "only the entries of this queue")
	cmd.Flags().IntVarP(&opts.Limit, "limit", "L", 50, "entries to list (0: all)")
	addJSONFlag(cmd, &opts.JSON, "id, queue, job_id, name, failed_reason, attempts_made, "+
		"failed_at")
	return cmd
}

func runDLQLs(ctx context.Context, opts *DLQLsOptions) error {
	dl, closeDL, err := openDeadLetter(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer closeDL()

	entries, err := dl.List(ctx, queues.ListOpts{Queue: opts.Queue, Limit: opts.Limit})
	if err != nil {
		return err
	}

	if opts.JSON {
		rows := make([]entryRow, len(entries))
		for i, e := range entries {
			rows[i] = newEntryRow(e, false)
		}
		return printJSON(opts.Factory, rows)
	}
	cells := make([][]string, len(entries))
	for i, e := range entries {
		cells[i] = []string{e.ID, e.Queue, e.JobID, e.Name, strconv.Itoa(e.AttemptsMade),
			formatMillis(e.FailedAt),
			tableCell(opts.Factory, e.FailedReason, 60)}
	}
	return printTable(opts.Factory, []string{"ID", "QUEUE", "JOB", "NAME", "ATTEMPTS",
		"FAILED AT", "REASON"}, cells)
}

// DLQShowOptions are the settings of nimara dlq show.
type DLQShowOptions struct {
	Factory *Factory
	ID      string
	JSON    bool
}

func newCmdDLQShow(f *Factory, runF func(context.Context, *DLQShowOptions) error,
) *cobra.Command {
	opts := &DLQShowOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "show <id> [flags]",
		Short: "Show one dead-letter entry in full",
		Example: `  # Show an entry listed by dlq ls
  $ nimara dlq show email-42-1767225600000`,
		Args: exactArgs(1, "entry id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDLQShow(cmd.Context(), opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON, "the keys of dlq ls, plus data, opts, stacktrace")
	return cmd
}

func runDLQShow(ctx context.Context, opts *DLQShowOptions) error {
	dl, closeDL, err := openDeadLetter(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer closeDL()

	entry, err := dl.Get(ctx, opts.ID)
	if err != nil {
		return err
	}

	row := newEntryRow(entry, true)
	if opts.JSON {
		return printJSON(opts.Factory, row)
	}
	return printFields(opts.Factory, [][2]string{
		{"id", row.ID}, {"queue", row.Queue}, {"job_id", row.JobID}, {"name", row.Name},
		{"attempts_made", strconv.Itoa(row.AttemptsMade)}, {"failed_at", row.FailedAt},
		{"failed_reason", row.FailedReason}, {"data", string(row.Data)},
		{"opts", string(row.Opts)}, {"stacktrace", strings.Join(row.Stacktrace, "\n---\n")},
	})
}

// DLQRetryOptions are the settings of nimara dlq retry.
type DLQRetryOptions struct {
	Factory *Factory
	// IDs are the entries to retry; empty with Queue or All.
	IDs []string
	// Queue retries every entry of this queue.
	Queue string
	// All retries every entry.
	All  bool
	Yes  bool
	JSON bool
}

func newCmdDLQRetry(f *Factory, runF func(context.Context, *DLQRetryOptions) error,
) *cobra.Command {
	opts := &DLQRetryOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "retry {<id>... | --queue <queue> | --all} [flags]",
		Short: "Run dead-lettered jobs again and remove their entries",
		Long: `Run the jobs of dead-letter entries again in their queues, then remove the entries.

A job still in its queue's failed set goes back to wait with its attempt counters
reset, so it gets its queue's full retry budget. A job that was deleted is added
again with its name, data and options. A job that is no longer failed (retried by
other means) is left alone and only its entry is removed.

Retrying by --queue or --all asks for confirmation on a terminal; pass --yes to skip
the question, which is required when stdin is not a terminal.`,
		Example: `  # Retry one entry
  $ nimara dlq retry email-42-1767225600000

  # Retry every failure of the webhooks queue
  $ nimara dlq retry --queue webhooks --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			chosen := 0
			for _, set := range []bool{len(args) > 0, opts.Queue != "", opts.All} {
				if set {
					chosen++
				}
			}
			if chosen != 1 {
				return usageErrorf("name entry ids, or pass --queue or --all")
			}
			if opts.Queue != "" {
				if err := checkQueueName(opts.Queue, false); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDLQRetry(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Queue, "queue", "q", "", "retry every entry of this queue")
	cmd.Flags().BoolVar(&opts.All, "all", false, "retry every entry")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	addJSONFlag(cmd, &opts.JSON, "id, queue, job_id, action (retried, re-added or "+
		"skipped), state")
	return cmd
}

// retryRow is one outcome in the output of dlq retry.
type retryRow struct {
	ID     string `json:"id"`
	Queue  string `json:"queue"`
	JobID  string `json:"job_id"`
	Action string `json:"action"`
	State  string `json:"state,omitempty"`
}

func runDLQRetry(ctx context.Context, opts *DLQRetryOptions) error {
	if len(opts.IDs) == 0 {
		scope := "every queue"
		if opts.Queue != "" {
			scope = "queue " + opts.Queue
		}
		err := confirm(opts.Factory, opts.Yes, "Retry the dead-letter entries of "+scope)
		if err != nil {
			return err
		}
	}

	dl, closeDL, err := openDeadLetter(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer closeDL()

	ids := opts.IDs
	if len(ids) == 0 {
		entries, err := dl.List(ctx, queues.ListOpts{Queue: opts.Queue})
		if err != nil {
			return err
		}
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
	}

	rows := []retryRow{}
	var failures []error
	bar := newProgress(opts.Factory, "Retrying", len(ids))
	for _, id := range ids {
		outcome, err := dl.Retry(ctx, id)
		bar.step()
		if err != nil {
			failures = append(failures, err)
			continue
		}
		rows = append(rows, retryRow{ID: id, Queue: outcome.Entry.Queue,
			JobID: outcome.JobID, Action: outcome.Action, State: outcome.State})
	}
	bar.finish()

	if err := printRetryRows(opts, rows); err != nil {
		return err
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d entries not retried: %w", len(failures), len(ids),
			errors.Join(failures...))
	}
	return nil
}

func printRetryRows(opts *DLQRetryOptions, rows []retryRow) error {
	if opts.JSON {
		return printJSON(opts.Factory, rows)
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{r.ID, r.Queue, r.JobID, r.Action, r.State}
	}
	return printTable(opts.Factory, []string{"ENTRY", "QUEUE", "JOB", "ACTION", "STATE"},
		cells)
}

// DLQPurgeOptions are the settings of nimara dlq purge.
type DLQPurgeOptions struct {
	Factory *Factory
	// OlderThan keeps the entries that failed more recently. Zero purges all.
	OlderThan time.Duration
	Queue     string
	Yes       bool
	JSON      bool
}

func newCmdDLQPurge(f *Factory, runF func(context.Context, *DLQPurgeOptions) error,
) *cobra.Command {
	opts := &DLQPurgeOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "purge [flags]",
		Short: "Delete dead-letter entries",
		Long: `Delete dead-letter entries: all of them, those whose job failed more than
--older-than ago, or those of one --queue. The failed jobs stay in their queues.

It asks for confirmation on a terminal; pass --yes to skip the question, which is
required when stdin is not a terminal.`,
		Example: `  # Delete the entries older than 30 days
  $ nimara dlq purge --older-than 720h --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.OlderThan < 0 {
				return usageErrorf("invalid --older-than %s: must not be negative",
					opts.OlderThan)
			}
			if opts.Queue != "" {
				if err := checkQueueName(opts.Queue, false); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDLQPurge(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.OlderThan, "older-than", 0,
		"delete only entries whose job failed longer ago than this (0: all)")
	cmd.Flags().StringVarP(&opts.Queue, "queue", "q", "", "only the entries of this queue")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	addJSONFlag(cmd, &opts.JSON, "deleted (the entry ids)")
	return cmd
}

func runDLQPurge(ctx context.Context, opts *DLQPurgeOptions) error {
	question := "Delete every dead-letter entry"
	if opts.Queue != "" {
		question += " of queue " + opts.Queue
	}
	if opts.OlderThan > 0 {
		question += " older than " + opts.OlderThan.String()
	}
	if err := confirm(opts.Factory, opts.Yes, question); err != nil {
		return err
	}

	dl, closeDL, err := openDeadLetter(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer closeDL()

	entries, err := dl.List(ctx, queues.ListOpts{Queue: opts.Queue})
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-opts.OlderThan).UnixMilli()
	var doomed []string
	for _, e := range entries {
		if opts.OlderThan == 0 || e.FailedAt < cutoff {
			doomed = append(doomed, e.ID)
		}
	}

	deleted := []string{}
	bar := newProgress(opts.Factory, "Purging", len(doomed))
	for _, id := range doomed {
		if err := dl.Remove(ctx, id); err != nil {
			bar.finish()
			return err
		}
		deleted = append(deleted, id)
		bar.step()
	}
	bar.finish()

	if opts.JSON {
		return printJSON(opts.Factory, map[string]any{"deleted": deleted})
	}
	for _, id := range deleted {
		fmt.Fprintln(opts.Factory.Out, id)
	}
	if opts.Factory.OutTTY {
		fmt.Fprintf(opts.Factory.Out, "Deleted %d dead-letter entries\n", len(deleted))
	}
	return nil
}
