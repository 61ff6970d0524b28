package queues

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/jobs/notifications"
	"github.com/portnimara/nimara/jobs/realtime"
)

// DeadLetterQueue is the BullMQ queue that holds one entry per job that failed for good.
// No worker consumes it: entries wait there, visible to Node tools, until an admin retries
// or purges them.
const DeadLetterQueue = "dead-letter"

// deadLetterField is the job hash field in which the dead-letter queue marks a failed job
// as recorded. It holds the entry id, which names the failure time, so a job that is
// retried and fails again gets a new entry.
const deadLetterField = "nimaraDeadLetter"

// claimTTL bounds how long one recorder holds a failure before another may record it.
const claimTTL = time.Minute

// DeadLetterEntry is the data of one dead-letter job. JSON names are camelCase, as the
// Node app reads them.
type DeadLetterEntry struct {
	// ID is the entry's job id in the dead-letter queue. It is not part of the data.
	ID string `json:"-"`
	// Queue is the queue of the failed job.
	Queue string `json:"queue"`
	JobID string `json:"jobId"`
	Name  string `json:"name"`
	// Data and Opts are the failed job's data and stored options, as JSON.
	Data         json.RawMessage `json:"data"`
	Opts         json.RawMessage `json:"opts"`
	FailedReason string          `json:"failedReason"`
	Stacktrace   []string        `json:"stacktrace"`
	AttemptsMade int             `json:"attemptsMade"`
	// FailedAt is when the job failed for good (its finishedOn), in Unix milliseconds.
	FailedAt int64 `json:"failedAt"`
	// Timestamp is when the failed job was created, in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
}

// DeadLetterConfig configures a DeadLetter.
type DeadLetterConfig struct {
	// Prefix is the BullMQ key prefix. Default "bull".
	Prefix string
	// Publisher emits system:jobFailed for each new entry. Nil emits nothing.
	Publisher realtime.Publisher
	// Queues are the queues whose failed sets Sweep reads. Default: every catalog queue.
	Queues []string
	// Logger receives the dead-letter logs. Nil discards them.
	Logger *slog.Logger
}

// DeadLetter records the jobs that failed for good in the dead-letter queue, raises an
// alert for each, and lets admins list, retry and purge the entries.
//
// A failed job stays in its queue's failed set, as BullMQ keeps it. Recording first adds
// the entry, whose job id is derived from the queue, the job id and the failure time, so
// adding it twice is a no-op. It then emits system:jobFailed to room global, enqueues a
// priority-1 super-admin-alert notifications job, and marks the failed job's hash. Sweep
// records every failed job without that mark, so a recorder that dies between the steps
// loses nothing: the entry is added once, and the alerts are sent at least once.
type DeadLetter struct {
	client redis.UniversalClient
	prefix string
	pub    realtime.Publisher
	names  []string
	logger *slog.Logger
	// owner identifies this recorder in claim keys.
	owner string

	queue  *bullmq.Queue
	alerts *bullmq.Queue

	// mu guards queues, the BullMQ queues by name.
	mu     sync.Mutex
	queues map[string]*bullmq.Queue
}

// NewDeadLetter returns a DeadLetter on client.
func NewDeadLetter(client redis.UniversalClient, cfg DeadLetterConfig) *DeadLetter {
	if cfg.Prefix == "" {
		cfg.Prefix = bullmq.DefaultPrefix
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = Names()
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("component", "dead-letter"))

	d := &DeadLetter{
		client: client,
		prefix: cfg.Prefix,
		pub:    cfg.Publisher,
		names:  cfg.Queues,
		logger: logger,
		owner:  uuid.NewString(),
		queues: map[string]*bullmq.Queue{},
	}
	d.queue = d.bullQueue(DeadLetterQueue)
	d.alerts = d.bullQueue(notifications.Queue)
	return d
}

// Queue returns the dead-letter queue.
func (d *DeadLetter) Queue() *bullmq.Queue { return d.queue }

// bullQueue returns the BullMQ queue of name, creating it on first use.
func (d *DeadLetter) bullQueue(name string) *bullmq.Queue {
	d.mu.Lock()
	defer d.mu.Unlock()

	if q, ok := d.queues[name]; ok {
		return q
	}
	q := bullmq.NewQueue(d.client, name, bullmq.QueueOpts{Prefix: d.prefix, Logger: d.logger})
	d.queues[name] = q
	return q
}

// EntryID returns the dead-letter job id of the failure of jobID in queue at failedAt
// (Unix milliseconds): "<queue>-<jobId>-<failedAt>". A job id with ':' (which BullMQ
// allows only in scheduler ids) is replaced by "h" and 16 hex digits of its SHA-256, so
// the entry id is a valid custom id.
func EntryID(queue, jobID string, failedAt int64) string {
	id := jobID
	if strings.Contains(id, ":") {
		sum := sha256.Sum256([]byte(jobID))
		id = "h" + hex.EncodeToString(sum[:8])
	}
	return queue + "-" + id + "-" + strconv.FormatInt(failedAt, 10)
}

// Record adds the entry of a job of queue that failed for good, unless it was recorded
// already, and reports whether this call recorded it. It reads the job from Redis. When
// the job hash is gone (removeOnFail), a non-nil fallback supplies the entry, with the
// current time as failure time. Without a fallback nothing is recorded then. A job that
// is no longer in its failed set (retried meanwhile) is not recorded.
func (d *DeadLetter) Record(ctx context.Context, queue, jobID string,
	fallback *bullmq.Job) (bool, error) {
	q := d.bullQueue(queue)

	job, err := q.GetJob(ctx, jobID)
	switch {
	case errors.Is(err, bullmq.ErrJobNotFound):
		if fallback == nil {
			return false, nil
		}
		entry := entryFromJob(queue, fallback)
		entry.FailedAt = time.Now().UnixMilli()
		return d.record(ctx, entry, false)
	case err != nil:
		return false, err
	}

	failed, err := d.client.ZScore(ctx, q.Key()+":failed", jobID).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read failed set of queue %s: %w", queue, err)
	}

	entry := entryFromJob(queue, job)
	if entry.FailedAt == 0 {
		entry.FailedAt = int64(failed)
	}
	if job.Fields[deadLetterField] == EntryID(queue, jobID, entry.FailedAt) {
		return false, nil
	}
	return d.record(ctx, entry, true)
}

// entryFromJob builds the entry of a failed job; FailedAt is the job's finishedOn.
func entryFromJob(queue string, job *bullmq.Job) DeadLetterEntry {
	opts := json.RawMessage(job.RawOpts)
	if !json.Valid(opts) {
		opts = json.RawMessage("{}")
	}
	data := job.Data
	if !json.Valid(data) {
		encoded, _ := json.Marshal(string(data))
		data = encoded
	}
	stack := job.Stacktrace
	if stack == nil {
		stack = []string{}
	}
	return DeadLetterEntry{
		Queue:        queue,
		JobID:        job.ID,
		Name:         job.Name,
		Data:         data,
		Opts:         opts,
		FailedReason: job.FailedReason,
		Stacktrace:   stack,
		AttemptsMade: job.AttemptsMade,
		FailedAt:     job.FinishedOn,
		Timestamp:    job.Timestamp,
	}
}

// record claims the failure, adds its entry, raises the alerts and, with mark, marks the
// failed job.
func (d *DeadLetter) record(ctx context.Context, entry DeadLetterEntry, mark bool) (bool,
	error) {
	entry.ID = EntryID(entry.Queue, entry.JobID, entry.FailedAt)

	claim := d.prefix + ":nimara:dead-letter-claim:" + entry.ID
	claimed, err := d.client.SetNX(ctx, claim, d.owner, claimTTL).Result()
	if err != nil {
		return false, fmt.Errorf("claim dead-letter entry %s: %w", entry.ID, err)
	}
	if !claimed {
		// Another recorder holds it; if that one dies, Sweep records it after claimTTL.
		return false, nil
	}
	defer d.release(claim)

	_, err = d.queue.Add(ctx, entry.Queue, entry, bullmq.JobOpts{
		JobID:     entry.ID,
		Timestamp: time.UnixMilli(entry.FailedAt),
	})
	if err != nil {
		return false, fmt.Errorf("add dead-letter entry %s: %w", entry.ID, err)
	}

	if err := d.alert(ctx, entry); err != nil {
		return false, err
	}

	if mark {
		key := d.bullQueue(entry.Queue).Key() + ":" + entry.JobID
		if err := markScript.Run(ctx, d.client, []string{key}, deadLetterField,
			entry.ID).Err(); err != nil {
			return false, fmt.Errorf("mark job %s of queue %s as recorded: %w", entry.JobID,
				entry.Queue, err)
		}
	}

	d.logger.WarnContext(ctx, "Job added to the dead-letter queue",
		slog.String("queue", entry.Queue), slog.String("job_id", entry.JobID),
		slog.String("job_name", entry.Name), slog.String("entry_id", entry.ID),
		slog.Int("attempts_made", entry.AttemptsMade))
	return true, nil
}

// markScript sets a field of a hash only if the hash exists, so marking a job that was
// removed meanwhile does not leave a stub hash behind.
var markScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then
  return redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
end
return -1
`)

// releaseScript deletes a claim key only if this recorder still owns it.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`)

func (d *DeadLetter) release(claim string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := releaseScript.Run(ctx, d.client, []string{claim}, d.owner).Err(); err != nil {
		d.logger.WarnContext(ctx, "Releasing a dead-letter claim failed",
			slog.String("key", claim), slog.Any("err", err))
	}
}

// alert emits system:jobFailed and enqueues the super admins' notification. A failed
// super-admin-alert job gets no notification of its own, so a notifications outage
// cannot feed itself.
func (d *DeadLetter) alert(ctx context.Context, entry DeadLetterEntry) error {
	if d.pub != nil {
		ev := realtime.SystemJobFailed(realtime.SystemJobFailedPayload{
			QueueName: entry.Queue,
			JobID:     entry.JobID,
			Error:     entry.FailedReason,
		})
		if err := ev.Emit(ctx, d.pub); err != nil {
			return err
		}
	}

	if entry.Queue == notifications.Queue && entry.Name == notifications.JobSuperAdminAlert {
		return nil
	}

	notifyQueue, _ := Lookup(notifications.Queue)
	opts := notifyQueue.DefaultJobOpts(notifications.JobSuperAdminAlert)
	opts.JobID = "alert-" + entry.ID
	description := entry.FailedReason
	data := map[string]any{
		"type":        "system.jobFailed",
		"title":       fmt.Sprintf("Job %s/%s %s failed", entry.Queue, entry.Name, entry.JobID),
		"description": description,
		"link":        nil,
	}
	if _, err := d.alerts.Add(ctx, notifications.JobSuperAdminAlert, data, opts); err != nil {
		return fmt.Errorf("enqueue super admin alert for entry %s: %w", entry.ID, err)
	}
	return nil
}
