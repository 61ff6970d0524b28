package queues

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Elector elects one leader among the processes that run it with the same prefix and
// role, through a lease key in Redis ("<prefix>:nimara:leader:<role>"): the holder renews
// it every TTL/3, and another process takes it over once it expires.
type Elector struct {
	client redis.UniversalClient
	key    string
	id     string
	ttl    time.Duration
	logger *slog.Logger

	leader atomic.Bool
}

// NewElector returns an Elector for role. A ttl of zero means 15s. A nil logger discards
// logs.
func NewElector(client redis.UniversalClient, prefix, role string, ttl time.Duration,
	logger *slog.Logger) *Elector {
	if ttl <= 0 {
		ttl = 15 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{
		client: client,
		key:    prefix + ":nimara:leader:" + role,
		id:     uuid.NewString(),
		ttl:    ttl,
		logger: logger.With(slog.String("component", "elector"), slog.String("role", role)),
	}
}

// IsLeader reports whether this process held the lease at its last renewal.
func (e *Elector) IsLeader() bool { return e.leader.Load() }

// renewScript extends the lease if this process holds it, or takes it if it is free.
// It returns 1 when the caller holds the lease afterwards.
var renewScript = redis.NewScript(`
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
return 0
`)

// Run campaigns for the lease until ctx ends, then gives it up.
func (e *Elector) Run(ctx context.Context) {
	ticker := time.NewTicker(e.ttl / 3)
	defer ticker.Stop()

	for {
		e.renew(ctx)

		select {
		case <-ctx.Done():
			e.resign()
			return
		case <-ticker.C:
		}
	}
}

// renew runs one campaign step. A Redis error drops leadership, because the lease may
// expire before the next successful renewal.
func (e *Elector) renew(ctx context.Context) {
	held, err := renewScript.Run(ctx, e.client, []string{e.key}, e.id,
		e.ttl.Milliseconds()).Int()
	if err != nil && ctx.Err() == nil {
		e.logger.WarnContext(ctx, "Renewing the leader lease failed", slog.Any("err", err))
	}

	now := err == nil && held == 1
	if was := e.leader.Swap(now); was != now {
		e.logger.InfoContext(ctx, "Leadership changed", slog.Bool("leader", now))
	}
}

// resign deletes the lease if this process holds it, so another takes over at once.
func (e *Elector) resign() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	e.leader.Store(false)
	if err := releaseScript.Run(ctx, e.client, []string{e.key}, e.id).Err(); err != nil {
		e.logger.WarnContext(ctx, "Giving up the leader lease failed", slog.Any("err", err))
	}
}
