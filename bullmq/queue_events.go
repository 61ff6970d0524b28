package bullmq

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Names of the events that BullMQ scripts write to a queue's events stream.
const (
	EventAdded            = "added"
	EventWaiting          = "waiting"
	EventDelayed          = "delayed"
	EventActive           = "active"
	EventProgress         = "progress"
	EventCompleted        = "completed"
	EventFailed           = "failed"
	EventRetriesExhausted = "retries-exhausted"
	EventStalled          = "stalled"
	EventDrained          = "drained"
	EventPaused           = "paused"
	EventResumed          = "resumed"
	EventDuplicated       = "duplicated"
	EventDeduplicated     = "deduplicated"
	EventRemoved          = "removed"
	EventCleaned          = "cleaned"
	EventWaitingChildren  = "waiting-children"
)

// Event is one entry of a queue's events stream. Fields that the event does not carry
// are zero.
type Event struct {
	// ID is the stream entry id, such as "1718000000000-0".
	ID string
	// Name is the event name, one of the Event… constants or a custom name.
	Name  string
	JobID string
	// JobName is the job's name, in "added" events.
	JobName string
	// Prev is the state the job left, such as "delayed" or "active".
	Prev string
	// ReturnValue is the return value JSON of a "completed" event.
	ReturnValue json.RawMessage
	// FailedReason is the error message of a "failed" event.
	FailedReason string
	// Data is the progress JSON of a "progress" event.
	Data json.RawMessage
	// Delay is the due time in ms since the epoch of a "delayed" event (not a duration).
	Delay int64
	// AttemptsMade is the attempt count of a "retries-exhausted" event.
	AttemptsMade int
	// Count is the number of jobs of a "cleaned" event.
	Count int
	// DeduplicationID and DeduplicatedJobID describe a "deduplicated" event.
	DeduplicationID   string
	DeduplicatedJobID string
	// Fields holds every field of the entry, including "event".
	Fields map[string]string
}

// QueueEventsOpts configures a QueueEvents reader.
type QueueEventsOpts struct {
	// Prefix is the first part of every key. Default "bull".
	Prefix string
	// LastEventID is the stream id after which reading starts. Default "$": only events
	// written after Run starts.
	LastEventID string
	// BlockTimeout bounds one XREAD BLOCK call, so a dropped connection is noticed within
	// it. Default 10s.
	BlockTimeout time.Duration
	// Logger receives read errors and retries. Default: logs are discarded.
	Logger *slog.Logger
}

// QueueEvents reads a queue's events stream, as Node's QueueEvents does, and delivers each
// entry once, in stream order, to every subscription. It reads with XREAD BLOCK on a
// connection of its own, named "<prefix>:<base64(queue)>:qe" for a *redis.Client or
// *redis.ClusterClient. After a Redis error it logs, backs off and reads again from the
// last delivered entry, so no entry is lost or delivered twice while it stays in the
// stream (the stream is trimmed to about meta "opts.maxLenEvents" entries).
type QueueEvents struct {
	client redis.UniversalClient
	queue  string
	keys   queueKeys
	opts   QueueEventsOpts
	logger *slog.Logger

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	lastID string

	ready     chan struct{}
	readyOnce sync.Once
	running   atomic.Bool
}

// Subscription receives the events of a QueueEvents. The reader waits for a subscriber
// that does not keep up, so each subscriber must read its channel until it calls Close.
type Subscription struct {
	ch     chan Event
	filter func(*Event) bool
	done   chan struct{}
	once   sync.Once
	qe     *QueueEvents
}

// Events returns the channel of delivered events.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Close stops delivery to the subscription. The channel is not closed.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.qe.mu.Lock()
		delete(s.qe.subs, s)
		s.qe.mu.Unlock()
		close(s.done)
	})
}

// NewQueueEvents returns a reader of the events of queue. Call Run to start reading. The
// client is shared and never closed by the reader.
func NewQueueEvents(client redis.UniversalClient, queue string,
	opts QueueEventsOpts) *QueueEvents {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.LastEventID == "" {
		opts.LastEventID = "$"
	}
	if opts.BlockTimeout <= 0 {
		opts.BlockTimeout = 10 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &QueueEvents{
		client: client,
		queue:  queue,
		keys:   newQueueKeys(opts.Prefix, queue),
		opts:   opts,
		logger: logger.With(slog.String("component", "queue_events"),
			slog.String("queue", queue)),
		subs:  map[*Subscription]struct{}{},
		ready: make(chan struct{}),
	}
}

// Subscribe returns a subscription to every event read from now on. buffer is the
// channel's capacity.
func (qe *QueueEvents) Subscribe(buffer int) *Subscription {
	return qe.subscribe(nil, buffer)
}

func (qe *QueueEvents) subscribe(filter func(*Event) bool, buffer int) *Subscription {
	s := &Subscription{ch: make(chan Event, max(buffer, 0)), filter: filter,
		done: make(chan struct{}), qe: qe}
	qe.mu.Lock()
	qe.subs[s] = struct{}{}
	qe.mu.Unlock()
	return s
}

// WaitReady blocks until Run has fixed the stream position it reads from, so every event
// written afterwards will be delivered, or until ctx ends.
func (qe *QueueEvents) WaitReady(ctx context.Context) error {
	select {
	case <-qe.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bullmq: waiting for events reader of queue %s: %w", qe.queue,
			ctx.Err())
	}
}

// LastEventID returns the id of the last delivered entry, or the starting position when
// nothing was delivered yet. A new QueueEvents started from it continues without a gap.
func (qe *QueueEvents) LastEventID() string {
	qe.mu.Lock()
	defer qe.mu.Unlock()

	if qe.lastID == "" {
		return qe.opts.LastEventID
	}
	return qe.lastID
}

// Run reads and delivers events until ctx ends, then returns nil. Redis errors are logged
// and retried with backoff. Run returns an error only for an invalid queue name or a
// second concurrent call. A later Run continues after the last delivered entry.
func (qe *QueueEvents) Run(ctx context.Context) error {
	if err := validateQueueName(qe.queue); err != nil {
		return err
	}
	if !qe.running.CompareAndSwap(false, true) {
		return fmt.Errorf("bullmq: events reader of queue %q is already running", qe.queue)
	}
	defer qe.running.Store(false)

	reader, closeReader := newNamedClient(qe.client, qe.connectionName())
	defer closeReader()
	stop := context.AfterFunc(ctx, closeReader)
	defer stop()

	qe.logger.InfoContext(ctx, "Events reader starting")
	if !qe.resolveStart(ctx, reader) {
		return nil
	}
	qe.readyOnce.Do(func() { close(qe.ready) })

	failures := 0
	for ctx.Err() == nil {
		streams, err := reader.XRead(ctx, &redis.XReadArgs{
			Streams: []string{qe.keys.events(), qe.LastEventID()},
			Count:   1000,
			Block:   qe.opts.BlockTimeout,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			qe.logger.WarnContext(ctx, "Reading events failed, retrying", slog.Any("err", err),
				slog.Int("attempt", failures), slog.String("last_event_id", qe.LastEventID()))
			sleepFor(ctx, retryDelay(failures))
			continue
		}
		failures = 0

		for _, stream := range streams {
			for _, msg := range stream.Messages {
				if !qe.deliver(ctx, qe.newEvent(ctx, msg)) {
					break
				}
			}
		}
	}

	qe.logger.InfoContext(ctx, "Events reader stopped")
	return nil
}

// resolveStart replaces a starting position of "$" by the id of the stream's last entry
// ("0-0" for an empty stream), so events written while Run waits between two reads, or
// reconnects, are not skipped. It retries until it succeeds or ctx ends.
func (qe *QueueEvents) resolveStart(ctx context.Context, reader redis.UniversalClient) bool {
	if qe.LastEventID() != "$" {
		return true
	}

	for failures := 1; ctx.Err() == nil; failures++ {
		last, err := reader.XRevRangeN(ctx, qe.keys.events(), "+", "-", 1).Result()
		if err == nil {
			start := "0-0"
			if len(last) > 0 {
				start = last[0].ID
			}
			qe.mu.Lock()
			qe.lastID = start
			qe.mu.Unlock()
			return true
		}
		qe.logger.WarnContext(ctx, "Reading the last event id failed, retrying",
			slog.Any("err", err), slog.Int("attempt", failures))
		sleepFor(ctx, retryDelay(failures))
	}
	return false
}

// deliver sends ev to every matching subscription and then records its id. It reports
// false when ctx ended first.
func (qe *QueueEvents) deliver(ctx context.Context, ev Event) bool {
	qe.mu.Lock()
	subs := make([]*Subscription, 0, len(qe.subs))
	for s := range qe.subs {
		if s.filter == nil || s.filter(&ev) {
			subs = append(subs, s)
		}
	}
	qe.mu.Unlock()

	for _, s := range subs {
		select {
		case s.ch <- ev:
		case <-s.done:
		case <-ctx.Done():
			return false
		}
	}

	qe.mu.Lock()
	qe.lastID = ev.ID
	qe.mu.Unlock()
	return true
}

// newEvent decodes a stream entry. A "returnvalue" or progress "data" that is not valid
// JSON is left out of ReturnValue and Data (it stays in Fields) and logged.
func (qe *QueueEvents) newEvent(ctx context.Context, msg redis.XMessage) Event {
	ev := Event{ID: msg.ID, Fields: make(map[string]string, len(msg.Values))}
	for k, v := range msg.Values {
		s, _ := v.(string)
		ev.Fields[k] = s
	}

	f := ev.Fields
	ev.Name = f["event"]
	ev.JobID = f["jobId"]
	ev.JobName = f["name"]
	ev.Prev = f["prev"]
	ev.FailedReason = f["failedReason"]
	ev.DeduplicationID = f["deduplicationId"]
	ev.DeduplicatedJobID = f["deduplicatedJobId"]
	ev.Delay = parseInt64(f["delay"])
	ev.AttemptsMade = int(parseInt64(f["attemptsMade"]))
	ev.Count = int(parseInt64(f["count"]))
	ev.ReturnValue = qe.jsonField(ctx, &ev, "returnvalue")
	ev.Data = qe.jsonField(ctx, &ev, "data")
	return ev
}

func (qe *QueueEvents) jsonField(ctx context.Context, ev *Event, field string) json.RawMessage {
	value, ok := ev.Fields[field]
	if !ok {
		return nil
	}
	if !json.Valid([]byte(value)) {
		qe.logger.WarnContext(ctx, "Event field is not valid JSON", slog.String("event", ev.Name),
			slog.String("job_id", ev.JobID), slog.String("field", field),
			slog.String("event_id", ev.ID))
		return nil
	}
	return json.RawMessage(value)
}

// connectionName is the client name Node's QueueEvents uses, "<prefix>:<base64(queue)>:qe".
func (qe *QueueEvents) connectionName() string {
	return qe.opts.Prefix + ":" + base64.StdEncoding.EncodeToString([]byte(qe.queue)) + ":qe"
}

// retryDelay is the wait after n consecutive read errors: 100ms doubling to 5s.
func retryDelay(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// sleepFor waits d or until ctx ends.
func sleepFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()

	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
