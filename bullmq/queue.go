package bullmq

import (
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Version is the Node bullmq release whose Redis data these scripts reproduce. It is
// written to the meta hash as "bullmq:<Version>" when no client has written one.
const Version = "6.7.6"

// Queue adds and inspects the jobs of one BullMQ queue.
type Queue struct {
	client redis.UniversalClient
	name   string
	prefix string
	keys   queueKeys
	opts   QueueOpts
	logger *slog.Logger

	// metaMu guards metaWritten, set once the meta hash holds this queue's settings.
	metaMu      sync.Mutex
	metaWritten bool
}

// NewQueue returns a Queue for name. The client is shared and never closed by the queue.
func NewQueue(client redis.UniversalClient, name string, opts QueueOpts) *Queue {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxLenEvents <= 0 {
		opts.MaxLenEvents = 10000
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Queue{
		client: client,
		name:   name,
		prefix: opts.Prefix,
		keys:   newQueueKeys(opts.Prefix, name),
		opts:   opts,
		logger: logger.With(slog.String("queue", name)),
	}
}

// Name returns the queue name.
func (q *Queue) Name() string { return q.name }

// Prefix returns the key prefix.
func (q *Queue) Prefix() string { return q.prefix }

// Key returns the queue's base key, "<prefix>:<name>".
func (q *Queue) Key() string { return q.keys.base }

// Client returns the Redis client the queue uses.
func (q *Queue) Client() redis.UniversalClient { return q.client }
