package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/queues"
)

func newCmdQueues(f *Factory) *cobra.Command {
	cmd := subcommandGroup("queues <command>", "Inspect and manage the CRM's queues")
	cmd.AddCommand(newCmdQueuesLs(f, nil))
	cmd.AddCommand(newCmdQueuesPause(f, "pause", nil))
	cmd.AddCommand(newCmdQueuesPause(f, "resume", nil))
	cmd.AddCommand(newCmdQueuesDrain(f, nil))
	cmd.AddCommand(newCmdQueuesClean(f, nil))
	return cmd
}

// checkQueueName rejects a queue outside the catalog. The dead-letter queue is accepted
// when withDeadLetter is set.
func checkQueueName(name string, withDeadLetter bool) error {
	if withDeadLetter && name == queues.DeadLetterQueue {
		return nil
	}
	if _, ok := queues.Lookup(name); !ok {
		return &usageError{err: &queues.UnknownQueueError{Name: name}}
	}
	return nil
}

// bullQueue returns the BullMQ queue name on rdb with the configured prefix. Its logs are
// discarded: the commands report outcomes and errors themselves.
func bullQueue(rdb redis.UniversalClient, prefix, name string) *bullmq.Queue {
	return bullmq.NewQueue(rdb, name, bullmq.QueueOpts{Prefix: prefix,
		Logger: slog.New(slog.DiscardHandler)})
}

// QueuesLsOptions are the settings of nimara queues ls.
type QueuesLsOptions struct {
	Factory *Factory
	JSON    bool
}

// queueRow is one queue in the output of queues ls.
type queueRow struct {
	Name        string `json:"name"`
	Paused      bool   `json:"paused"`
	Concurrency int    `json:"concurrency"`
	MaxAttempts int    `json:"max_attempts"`
	Waiting     int64  `json:"waiting"`
	Active      int64  `json:"active"`
	Delayed     int64  `json:"delayed"`
	Prioritized int64  `json:"prioritized"`
	Completed   int64  `json:"completed"`
	Failed      int64  `json:"failed"`
}

func newCmdQueuesLs(f *Factory, runF func(context.Context, *QueuesLsOptions) error,
) *cobra.Command {
	opts := &QueuesLsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "ls [flags]",
		Short: "List the queues with their job counts",
		Long: `List the ten CRM queues and the dead-letter queue with their job counts by state.
The concurrency and attempts columns are the catalog's defaults.`,
		Example: `  # Show the queues
  $ nimara queues ls`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runQueuesLs(cmd.Context(), opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON, "name, paused, concurrency, max_attempts, waiting, "+
		"active, delayed, prioritized, completed, failed")
	return cmd
}

func runQueuesLs(ctx context.Context, opts *QueuesLsOptions) error {
	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	var rows []queueRow
	names := append(queues.Names(), queues.DeadLetterQueue)
	for _, name := range names {
		q := bullQueue(rdb, cfg.Prefix, name)
		counts, err := q.GetJobCounts(ctx)
		if err != nil {
			return err
		}
		paused, err := q.IsPaused(ctx)
		if err != nil {
			return err
		}
		entry, _ := queues.Lookup(name)
		rows = append(rows, queueRow{Name: name, Paused: paused,
			Concurrency: entry.Concurrency, MaxAttempts: entry.MaxAttempts,
			Waiting: counts["waiting"] + counts["paused"], Active: counts["active"],
			Delayed: counts["delayed"], Prioritized: counts["prioritized"],
			Completed: counts["completed"], Failed: counts["failed"]})
	}

	if opts.JSON {
		return printJSON(opts.Factory, rows)
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		paused := "no"
		if r.Paused {
			paused = "yes"
		}
		cells[i] = []string{r.Name, paused, strconv.Itoa(r.Concurrency),
			strconv.Itoa(r.MaxAttempts), itoa(r.Waiting), itoa(r.Active), itoa(r.Delayed),
			itoa(r.Prioritized), itoa(r.Completed), itoa(r.Failed)}
	}
	return printTable(opts.Factory, []string{"QUEUE", "PAUSED", "CONCURRENCY", "ATTEMPTS",
		"WAITING", "ACTIVE", "DELAYED", "PRIORITIZED", "COMPLETED", "FAILED"}, cells)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// QueuesPauseOptions are the settings of nimara queues pause and resume.
type QueuesPauseOptions struct {
	Factory *Factory
	// Resume resumes instead of pausing.
	Resume bool
	Queues []string
}

func newCmdQueuesPause(f *Factory, verb string,
	runF func(context.Context, *QueuesPauseOptions) error) *cobra.Command {
	opts := &QueuesPauseOptions{Factory: f, Resume: verb == "resume"}
	var all bool

	short, long := "Pause queues", `Pause queues: workers, Go and Node alike, finish their active jobs and take no
new ones until the queue is resumed. Producers can still add jobs.`
	if opts.Resume {
		short, long = "Resume paused queues", "Resume paused queues, so workers take jobs again."
	}
	long += `

It prints only confirmations, on a terminal, and nothing when piped, so it has no
--json.`
	cmd := &cobra.Command{
		Use:     verb + " {<queue>... | --all}",
		Short:   short,
		Long:    long,
		Example: fmt.Sprintf("  # %s the email queue\n  $ nimara queues %s email", short, verb),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErrorf("name one or more queues, or pass --all")
			}
			opts.Queues = args
			if all {
				opts.Queues = queues.Names()
			}
			for _, name := range opts.Queues {
				if err := checkQueueName(name, true); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runQueuesPause(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "act on every catalog queue")
	return cmd
}

func runQueuesPause(ctx context.Context, opts *QueuesPauseOptions) error {
	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	for _, name := range opts.Queues {
		q := bullQueue(rdb, cfg.Prefix, name)
		verb := "Paused"
		if opts.Resume {
			verb = "Resumed"
			err = q.Resume(ctx)
		} else {
			err = q.Pause(ctx)
		}
		if err != nil {
			return err
		}
		if opts.Factory.OutTTY {
			fmt.Fprintf(opts.Factory.Out, "%s queue %s\n", verb, name)
		}
	}
	return nil
}

// QueuesDrainOptions are the settings of nimara queues drain.
type QueuesDrainOptions struct {
	Factory *Factory
	Queue   string
	Delayed bool
	Yes     bool
	JSON    bool
}

// drainRow is the output of queues drain: the number of jobs deleted, in total and per
// state. Waiting includes BullMQ 5.x's paused list.
type drainRow struct {
	Queue       string `json:"queue"`
	Deleted     int64  `json:"deleted"`
	Waiting     int64  `json:"waiting"`
	Prioritized int64  `json:"prioritized"`
	Delayed     int64  `json:"delayed"`
}

func newCmdQueuesDrain(f *Factory, runF func(context.Context, *QueuesDrainOptions) error,
) *cobra.Command {
	opts := &QueuesDrainOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "drain <queue> [flags]",
		Short: "Delete the jobs waiting in a queue",
		Long: `Delete every job of a queue that waits to run (waiting and prioritized), and the
delayed jobs too with --delayed. Active, completed and failed jobs stay. It prints
how many jobs it deleted, in total and per state.

It asks for confirmation on a terminal; pass --yes to skip the question, which is
required when stdin is not a terminal.`,
		Example: `  # Empty the export queue, delayed jobs included
  $ nimara queues drain export --delayed --yes`,
		Args: exactArgs(1, "queue"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue = args[0]
			if err := checkQueueName(opts.Queue, true); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runQueuesDrain(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Delayed, "delayed", false, "delete the delayed jobs too")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	addJSONFlag(cmd, &opts.JSON, "queue, deleted (the total), waiting, prioritized, delayed")
	return cmd
}

func runQueuesDrain(ctx context.Context, opts *QueuesDrainOptions) error {
	what := "waiting"
	if opts.Delayed {
		what = "waiting and delayed"
	}
	if err := confirm(opts.Factory, opts.Yes, fmt.Sprintf("Delete every %s job of queue %s",
		what, opts.Queue)); err != nil {
		return err
	}

	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	counts, err := bullQueue(rdb, cfg.Prefix, opts.Queue).Drain(ctx, opts.Delayed)
	if err != nil {
		return err
	}
	row := drainRow{Queue: opts.Queue, Waiting: counts["waiting"] + counts["paused"],
		Prioritized: counts["prioritized"], Delayed: counts["delayed"]}
	row.Deleted = row.Waiting + row.Prioritized + row.Delayed

	if opts.JSON {
		return printJSON(opts.Factory, row)
	}
	summary := fmt.Sprintf("Deleted %d jobs of queue %s: %d waiting, %d prioritized",
		row.Deleted, row.Queue, row.Waiting, row.Prioritized)
	if opts.Delayed {
		summary += fmt.Sprintf(", %d delayed", row.Delayed)
	}
	_, err = fmt.Fprintln(opts.Factory.Out, summary)
	return err
}

// QueuesCleanOptions are the settings of nimara queues clean.
type QueuesCleanOptions struct {
	Factory *Factory
	Queue   string
	State   string
	Grace   time.Duration
	Limit   int
	Yes     bool
	JSON    bool
}

// cleanStates are the states queues clean accepts.
var cleanStates = []string{"completed", "failed", "delayed", "prioritized", "waiting",
	"paused", "active"}

func newCmdQueuesClean(f *Factory, runF func(context.Context, *QueuesCleanOptions) error,
) *cobra.Command {
	opts := &QueuesCleanOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "clean <queue> [flags]",
		Short: "Delete old jobs of one state from a queue",
		Long: `Delete the jobs of one state that are older than --grace, at most --limit of them
(0: no limit), and print their ids. Age counts from when the job finished for
completed and failed jobs, and from its creation otherwise. Locked active jobs stay.

It asks for confirmation on a terminal; pass --yes to skip the question, which is
required when stdin is not a terminal.`,
		Example: `  # Delete the failed jobs of the email queue older than a week
  $ nimara queues clean email --state failed --grace 168h --yes`,
		Args: exactArgs(1, "queue"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue = args[0]
			if err := checkQueueName(opts.Queue, true); err != nil {
				return err
			}
			if !slices.Contains(cleanStates, opts.State) {
				return usageErrorf("invalid --state %q: use one of %v", opts.State, cleanStates)
			}
			if opts.Grace < 0 || opts.Limit < 0 {
				return usageErrorf("--grace and --limit must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runQueuesClean(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.State, "state", "completed", "state of the jobs to delete")
	cmd.Flags().DurationVar(&opts.Grace, "grace", 24*time.Hour,
		"delete only jobs older than this")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "delete at most this many jobs (0: all)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	addJSONFlag(cmd, &opts.JSON, "queue, state, deleted (the job ids)")
	return cmd
}

func runQueuesClean(ctx context.Context, opts *QueuesCleanOptions) error {
	question := fmt.Sprintf("Delete the %s jobs of queue %s older than %s", opts.State,
		opts.Queue, opts.Grace)
	if err := confirm(opts.Factory, opts.Yes, question); err != nil {
		return err
	}

	rdb, cfg, err := connectRedis(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer rdb.Close()

	deleted, err := bullQueue(rdb, cfg.Prefix, opts.Queue).Clean(ctx, opts.Grace, opts.Limit,
		opts.State)
	if err != nil {
		return err
	}
	if deleted == nil {
		deleted = []string{}
	}

	if opts.JSON {
		return printJSON(opts.Factory, map[string]any{"queue": opts.Queue,
			"state": opts.State, "deleted": deleted})
	}
	for _, id := range deleted {
		fmt.Fprintln(opts.Factory.Out, id)
	}
	if opts.Factory.OutTTY {
		fmt.Fprintf(opts.Factory.Out, "Deleted %d %s jobs of queue %s\n", len(deleted),
			opts.State, opts.Queue)
	}
	return nil
}
