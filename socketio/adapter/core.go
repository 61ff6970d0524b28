package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zishang520/socket.io/v2/socket"
)

// core holds the state and lifecycle that the classic and sharded adapters share. It
// contains the namespace and server id, the subscriber connection, the work and callback
// queues, and the registries of pending requests and acknowledged broadcasts.
type core struct {
	cfg    config
	uid    string
	nsp    socket.Namespace
	logger *slog.Logger

	// countChannel is the channel on which every server of the namespace has exactly one
	// subscriber, so its subscriber count is the number of servers. sharded selects
	// SHARDNUMSUB instead of NUMSUB to read it.
	countChannel string
	sharded      bool

	sub       *subscriber
	work      *serialQueue
	callbacks *serialQueue
	requests  *pendingRegistry
	acks      *ackRegistry
	closeOnce sync.Once
}

func newCore(cfg config, uid string, nsp socket.Namespace) *core {
	logger := cfg.logger.With(slog.String("component", "socketio_adapter"),
		slog.String("namespace", nsp.Name()), slog.String("uid", uid))
	return &core{
		cfg:       cfg,
		uid:       uid,
		nsp:       nsp,
		logger:    logger,
		work:      newSerialQueue("work", logger),
		callbacks: newSerialQueue("callbacks", logger),
		requests:  newPendingRegistry(),
		acks:      newAckRegistry(),
	}
}

// waitSubscribed waits at most the requests timeout for Redis to confirm the subscriptions
// of c.sub, and logs a warning when it does not.
func (c *core) waitSubscribed(ctx context.Context) {
	if !c.sub.waitReady(c.cfg.timeout) {
		c.logger.WarnContext(ctx, "Redis subscriptions not confirmed in time",
			slog.Duration("timeout", c.cfg.timeout))
	}
}

// shutdown drops the subscriptions, fails pending requests with ErrClosed and stops the
// queues. Only its first call has an effect.
func (c *core) shutdown() {
	c.closeOnce.Do(func() {
		c.sub.close()
		c.requests.close(fmt.Errorf("adapter of namespace %s: %w", c.nsp.Name(), ErrClosed))
		c.work.stop()
		c.callbacks.stop()
	})
}

// serverCount returns the number of servers of the namespace, this one included. When Redis
// cannot be asked it logs the error and returns 1.
func (c *core) serverCount() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()

	n, err := countSubscribers(ctx, c.cfg.client, c.countChannel, c.sharded)
	if err != nil {
		c.logger.WarnContext(ctx, "Counting servers failed", slog.Any("err", err))
		return 1
	}
	return n
}

// remoteServers returns the number of other servers that will respond to a request.
func (c *core) remoteServers() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()

	n, err := countSubscribers(ctx, c.cfg.client, c.countChannel, c.sharded)
	if err != nil {
		return 0, err
	}
	return max(int(n)-1, 0), nil
}

// addBroadcastAck registers an acknowledged broadcast under requestID. It stays registered
// for the broadcast's timeout (opts.Flags.Timeout), or else the requests timeout.
func (c *core) addBroadcastAck(requestID string, opts *socket.BroadcastOptions,
	clientCount func(uint64), ack socket.Ack,
) {
	timeout := c.cfg.timeout
	single := false
	if opts != nil && opts.Flags != nil {
		if opts.Flags.Timeout != nil {
			timeout = *opts.Flags.Timeout
		}
		single = opts.Flags.ExpectSingleResponse
	}
	c.acks.add(requestID, &ackRequest{clientCount: clientCount, ack: ack, single: single},
		timeout)
}

// reportClientCount queues the client count of one server's response to an acknowledged
// broadcast. It calls drop instead when the value is not a valid count.
func (c *core) reportClientCount(req *ackRequest, count any, drop func(error)) {
	c.callbacks.push(func() {
		if !req.reportCount(count) {
			drop(fmt.Errorf("%w: client count %v", errMalformed, count))
		}
	})
}

// appendRemoteSockets decodes list, the sockets of a fetchSockets response, and appends them
// to sockets. It logs and skips each entry that cannot be decoded.
func (c *core) appendRemoteSockets(sockets []socket.SocketDetails, list []any,
) []socket.SocketDetails {
	for _, item := range list {
		s, err := decodeSocket(item)
		if err != nil {
			c.logger.WarnContext(context.Background(), "Socket in response dropped",
				slog.Any("err", err))
			continue
		}
		sockets = append(sockets, s)
	}
	return sockets
}

// await registers a request of type typ under requestID, sends it with publish, and blocks
// until onResponse reports it complete, timeout passes or the adapter closes.
func (c *core) await(requestID string, typ int, timeout time.Duration,
	onResponse func(map[string]any) bool, timeoutErr func() error, publish func() error,
) error {
	done := make(chan error, 1)
	req := &pendingRequest{
		typ:        typ,
		onResponse: onResponse,
		onDone:     func(err error) { done <- err },
	}
	if !c.requests.add(requestID, req, timeout, timeoutErr) {
		return fmt.Errorf("request of type %d: %w", typ, ErrClosed)
	}
	if err := publish(); err != nil {
		if c.requests.remove(requestID, req) {
			req.timer.Stop()
		}
		return err
	}
	return <-done
}

// splitAck removes a trailing socket.Ack from a server-side emit packet and returns it, or
// nil when the packet does not end with one.
func splitAck(packet []any) ([]any, socket.Ack) {
	n := len(packet)
	if n == 0 {
		return packet, nil
	}
	ack, ok := packet[n-1].(socket.Ack)
	if !ok || ack == nil {
		return packet, nil
	}
	return packet[:n-1], ack
}
