package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKey is the channel prefix used when a Key or ChannelPrefix option is empty, the
// default of @socket.io/redis-adapter 8.x.
const DefaultKey = "socket.io"

// DefaultRequestsTimeout bounds cluster requests when Options.RequestsTimeout is zero, the
// default of @socket.io/redis-adapter 8.x (5000 ms).
const DefaultRequestsTimeout = 5 * time.Second

// ErrTimeout is wrapped by the errors of cluster requests that did not get every expected
// response in time.
var ErrTimeout = errors.New("timed out waiting for responses")

// ErrClosed is wrapped by the errors of cluster requests that were pending when the adapter
// closed.
var ErrClosed = errors.New("adapter closed")

// Options configures a classic Redis adapter (the createAdapter protocol).
type Options struct {
	// Client publishes messages, runs PUBSUB NUMSUB and opens the subscriber connections
	// (one per namespace). It must be connected before socket.NewServer runs, because the
	// server creates namespace "/" at once. Required.
	Client redis.UniversalClient

	// Key is the prefix of every channel name. Every server and emitter of one cluster uses
	// the same key. Default "socket.io".
	Key string

	// RequestsTimeout bounds fetchSockets, allRooms and server-side emits with
	// acknowledgements, and an acknowledged broadcast when its own timeout is unset.
	// Default 5 seconds.
	RequestsTimeout time.Duration

	// PublishOnSpecificResponseChannel sends responses on the requester's own response
	// channel instead of the channel shared by the namespace. Acknowledgements of
	// server-side emits always use the shared channel, as in Node. Default false.
	PublishOnSpecificResponseChannel bool

	// Logger receives one line per dropped message, Redis outage and recovery. Default: no
	// logging.
	Logger *slog.Logger
}

// SubscriptionMode selects which room channels a sharded adapter subscribes to.
type SubscriptionMode string

const (
	// SubscriptionStatic uses only the namespace's main channel and the server's own
	// response channel.
	SubscriptionStatic SubscriptionMode = "static"

	// SubscriptionDynamic also subscribes to the channel of each public room with a local
	// socket. Socket-id rooms count as private, except ids whose length is not 20: Node
	// publishers take any other length for a public room, and Go socket ids are 24 long.
	SubscriptionDynamic SubscriptionMode = "dynamic"

	// SubscriptionDynamicPrivate subscribes to the channel of every room with a local
	// socket, socket-id rooms included.
	SubscriptionDynamicPrivate SubscriptionMode = "dynamic-private"
)

// ShardedOptions configures a sharded Redis adapter (the createShardedAdapter protocol,
// SPUBLISH and SSUBSCRIBE, Redis 7.0 or later).
type ShardedOptions struct {
	// Client publishes messages, runs PUBSUB SHARDNUMSUB and opens the subscriber
	// connections (one per namespace). Required.
	Client redis.UniversalClient

	// ChannelPrefix is the prefix of every channel name. Default "socket.io".
	ChannelPrefix string

	// SubscriptionMode is static, dynamic or dynamic-private, and must match the other
	// servers of the cluster. Default dynamic.
	SubscriptionMode SubscriptionMode

	// RequestsTimeout bounds fetchSockets and server-side emits with acknowledgements, and an
	// acknowledged broadcast when its own timeout is unset. Default 5 seconds, the fixed
	// timeout of the Node sharded adapter.
	RequestsTimeout time.Duration

	// Logger receives one line per dropped message, Redis outage and recovery. Default: no
	// logging.
	Logger *slog.Logger
}

// config holds the settings both adapter kinds share, with defaults applied.
type config struct {
	client  redis.UniversalClient
	key     string
	timeout time.Duration
	logger  *slog.Logger
}

func newConfig(client redis.UniversalClient, key string, timeout time.Duration,
	logger *slog.Logger,
) (config, error) {
	if client == nil {
		return config{}, errors.New("adapter: Client option is required")
	}
	if key == "" {
		key = DefaultKey
	}
	if timeout <= 0 {
		timeout = DefaultRequestsTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return config{client: client, key: key, timeout: timeout, logger: logger}, nil
}

// countSubscribers returns the number of subscriber connections of channel, summed over
// every node of a Redis Cluster, as the Node adapters do. sharded selects SHARDNUMSUB.
func countSubscribers(ctx context.Context, client redis.UniversalClient, channel string,
	sharded bool,
) (int64, error) {
	query := func(ctx context.Context, c redis.Cmdable) (int64, error) {
		cmd := c.PubSubNumSub(ctx, channel)
		if sharded {
			cmd = c.PubSubShardNumSub(ctx, channel)
		}
		counts, err := cmd.Result()
		if err != nil {
			return 0, fmt.Errorf("count subscribers of %s: %w", channel, err)
		}
		return counts[channel], nil
	}

	cluster, ok := client.(*redis.ClusterClient)
	if !ok {
		return query(ctx, client)
	}

	// NOTE: go-redis may place a subscriber connection on a replica, so every shard node is
	// asked, as ioredis does. Not tested against a real Redis Cluster.
	var total atomic.Int64
	err := cluster.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := query(ctx, node)
		total.Add(n)
		return err
	})
	return total.Load(), err
}
