package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portnimara/nimara/bullmq"
)

// ErrEntryNotFound is returned for a dead-letter entry id that does not exist.
var ErrEntryNotFound = errors.New("dead-letter entry not found")

// deadLetterStates are the states in which dead-letter entries wait.
var deadLetterStates = []string{bullmq.StateWaiting, bullmq.StatePaused,
	bullmq.StatePrioritized, bullmq.StateDelayed}

// listPage is how many entries List reads per call to Redis.
const listPage = 500

// ListOpts filters List.
type ListOpts struct {
	// Queue keeps only the entries of this queue. Empty keeps all.
	Queue string
	// Limit caps the number of entries. Zero means no limit.
	Limit int
}

// List returns the dead-letter entries, newest first.
func (d *DeadLetter) List(ctx context.Context, opts ListOpts) ([]DeadLetterEntry, error) {
	var entries []DeadLetterEntry
	for start := 0; ; start += listPage {
		jobs, err := d.queue.GetJobs(ctx, deadLetterStates, start, start+listPage-1, false)
		if err != nil {
			return nil, fmt.Errorf("list dead-letter entries: %w", err)
		}

		for _, job := range jobs {
			entry := entryOf(job)
			if opts.Queue != "" && entry.Queue != opts.Queue {
				continue
			}
			entries = append(entries, entry)
			if opts.Limit > 0 && len(entries) == opts.Limit {
				return entries, nil
			}
		}
		// GetJobs pages each state separately, so a page shorter than listPage for every
		// state means the end; a full page may continue in any state.
		if len(jobs) < listPage {
			return entries, nil
		}
	}
}

// Size returns the number of dead-letter entries.
func (d *DeadLetter) Size(ctx context.Context) (int64, error) {
	counts, err := d.queue.GetJobCounts(ctx, deadLetterStates...)
	if err != nil {
		return 0, fmt.Errorf("count dead-letter entries: %w", err)
	}

	var total int64
	for _, n := range counts {
		total += n
	}
	return total, nil
}

// Get returns the entry with id. It returns ErrEntryNotFound (wrapped) when none exists.
func (d *DeadLetter) Get(ctx context.Context, id string) (DeadLetterEntry, error) {
	job, err := d.queue.GetJob(ctx, id)
	if errors.Is(err, bullmq.ErrJobNotFound) {
		return DeadLetterEntry{}, fmt.Errorf("%w: %s", ErrEntryNotFound, id)
	}
	if err != nil {
		return DeadLetterEntry{}, fmt.Errorf("read dead-letter entry %s: %w", id, err)
	}
	return entryOf(job), nil
}

// entryOf decodes a dead-letter job. Data that is not an entry yields an entry with only
// the id and the job's name as queue, so such jobs still show up and can be purged.
func entryOf(job *bullmq.Job) DeadLetterEntry {
	var entry DeadLetterEntry
	if err := json.Unmarshal(job.Data, &entry); err != nil {
		entry = DeadLetterEntry{Queue: job.Name}
	}
	entry.ID = job.ID
	return entry
}

// Remove deletes the entry with id. The failed job stays in its queue.
func (d *DeadLetter) Remove(ctx context.Context, id string) error {
	if err := d.queue.Remove(ctx, id, false); err != nil {
		return fmt.Errorf("remove dead-letter entry %s: %w", id, err)
	}
	return nil
}

// Retry actions.
const (
	// RetryRetried means the failed job went back to wait with its attempts reset.
	RetryRetried = "retried"
	// RetryReadded means the failed job was gone, so a new job with its name, data and
	// options was added.
	RetryReadded = "re-added"
	// RetrySkipped means the job had left the failed set (retried by other means), so
	// only the entry was removed.
	RetrySkipped = "skipped"
)

// RetryOutcome is the result of Retry for one entry.
type RetryOutcome struct {
	Entry DeadLetterEntry
	// Action is RetryRetried, RetryReadded or RetrySkipped.
	Action string
	// JobID is the id of the job that runs again: the original one, or the new one.
	JobID string
	// State is the job's state when Action is RetrySkipped.
	State string
}

// Retry runs the job of entry id again in its queue and then removes the entry. A job
// still in its failed set goes back to wait with its attempt counters reset, so it gets
// its full retry budget. A job that is gone is added again with its name, data and
// options (except its id, delay and timestamp). A job in another state is left alone.
func (d *DeadLetter) Retry(ctx context.Context, id string) (RetryOutcome, error) {
	entry, err := d.Get(ctx, id)
	if err != nil {
		return RetryOutcome{}, err
	}
	if _, ok := Lookup(entry.Queue); !ok {
		return RetryOutcome{}, fmt.Errorf("retry dead-letter entry %s: %w", id,
			&UnknownQueueError{Name: entry.Queue})
	}

	outcome, err := d.rerun(ctx, entry)
	if err != nil {
		return outcome, err
	}
	if err := d.Remove(ctx, id); err != nil {
		return outcome, err
	}
	return outcome, nil
}

func (d *DeadLetter) rerun(ctx context.Context, entry DeadLetterEntry) (RetryOutcome, error) {
	q := d.bullQueue(entry.Queue)
	outcome := RetryOutcome{Entry: entry, JobID: entry.JobID}

	job, err := q.GetJob(ctx, entry.JobID)
	if errors.Is(err, bullmq.ErrJobNotFound) {
		added, err := q.Add(ctx, entry.Name, entry.Data, readdOpts(entry))
		if err != nil {
			return outcome, fmt.Errorf("add job %s to queue %s again: %w", entry.Name,
				entry.Queue, err)
		}
		outcome.Action, outcome.JobID = RetryReadded, added.ID
		return outcome, nil
	}
	if err != nil {
		return outcome, err
	}

	state, err := job.GetState(ctx)
	if err != nil {
		return outcome, err
	}
	if state != bullmq.StateFailed {
		outcome.Action, outcome.State = RetrySkipped, state
		return outcome, nil
	}

	err = job.Retry(ctx, bullmq.StateFailed, bullmq.RetryOpts{ResetAttemptsMade: true,
		ResetAttemptsStarted: true})
	if err != nil {
		return outcome, fmt.Errorf("retry job %s of queue %s: %w", entry.JobID, entry.Queue,
			err)
	}
	outcome.Action = RetryRetried
	return outcome, nil
}

// readdKeys are the stored options a re-added job keeps.
var readdKeys = []string{"priority", "lifo", "attempts", "backoff", "removeOnComplete",
	"removeOnFail"}

// readdOpts returns the options of a re-added job: those of readdKeys in the entry's
// options, or the queue's defaults when the stored options cannot be read.
func readdOpts(entry DeadLetterEntry) bullmq.JobOpts {
	q, _ := Lookup(entry.Queue)
	defaults := q.DefaultJobOpts(entry.Name)

	var stored map[string]json.RawMessage
	if err := json.Unmarshal(entry.Opts, &stored); err != nil {
		return defaults
	}
	kept := map[string]json.RawMessage{}
	for _, key := range readdKeys {
		if v, ok := stored[key]; ok {
			kept[key] = v
		}
	}
	raw, err := json.Marshal(kept)
	if err != nil {
		return defaults
	}
	opts, err := bullmq.ParseNodeJobOpts(raw)
	if err != nil {
		return defaults
	}
	return opts
}
