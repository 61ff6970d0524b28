// Package adapter connects zishang520/socket.io v2 servers to a cluster of Socket.IO servers
// through Redis, speaking the protocol of the Node package @socket.io/redis-adapter 8.3.0.
// Go and Node servers can share one cluster: broadcasts, room changes, disconnects,
// fetchSockets, server-side emits and acknowledgements cross between them, and
// @socket.io/redis-emitter 5.1.0 (or the Go emitter package) reaches both.
//
// New returns the builder for the classic protocol (createAdapter: PUBLISH, SUBSCRIBE and
// PSUBSCRIBE); NewSharded the one for the sharded protocol (createShardedAdapter: SPUBLISH
// and SSUBSCRIBE, Redis 7.0 or later). The two protocols cannot be mixed in one cluster.
//
//	builder, err := adapter.New(adapter.Options{Client: rdb, Logger: logger})
//	if err != nil {
//		return err
//	}
//	opts := socket.DefaultServerOptions()
//	opts.SetAdapter(builder)
//	io := socket.NewServer(nil, opts)
//
// Each namespace gets its own adapter, with its own id, subscriber connection and channels,
// as in Node. Cluster operations block the calling goroutine until every server responded or
// the requests timeout passed. Keep connection-state recovery off: the Node adapters do not
// support it either, and with it every socket.Emit would be published to Redis.
package adapter

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/zishang520/socket.io-go-parser/v2/parser"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// Request and response types of the classic protocol's request and response channels.
const (
	requestSockets          = 0
	requestAllRooms         = 1
	requestRemoteJoin       = 2
	requestRemoteLeave      = 3
	requestRemoteDisconnect = 4
	requestRemoteFetch      = 5
	requestServerSideEmit   = 6
	requestBroadcast        = 7
	responseClientCount     = 8
	responseBroadcastAck    = 9
)

// Builder creates a classic Redis adapter for each namespace of a server. Pass it to
// socket.ServerOptions.SetAdapter.
type Builder struct {
	cfg      config
	specific bool
}

// New returns a builder for classic Redis adapters. It returns an error when opts.Client
// is nil.
func New(opts Options) (*Builder, error) {
	cfg, err := newConfig(opts.Client, opts.Key, opts.RequestsTimeout, opts.Logger)
	if err != nil {
		return nil, err
	}
	return &Builder{cfg: cfg, specific: opts.PublishOnSpecificResponseChannel}, nil
}

// New creates the adapter of namespace nsp and subscribes to its channels. It waits at most
// the requests timeout for Redis to confirm the subscriptions. After that it logs a warning
// and returns, and the subscriptions become active once Redis is reachable.
func (b *Builder) New(nsp socket.Namespace) socket.Adapter {
	return newRedisAdapter(b.cfg, b.specific, nsp)
}

// RedisAdapter is the classic Redis adapter of one namespace. The server calls its methods;
// applications reach it through Of for AllRooms and Uid.
type RedisAdapter struct {
	socket.Adapter
	*core

	specific bool

	channel                 string
	requestChannel          string
	responseChannel         string
	specificResponseChannel string
}

// Of returns the classic Redis adapter of namespace nsp, and false when the namespace uses
// another adapter.
func Of(nsp socket.Namespace) (*RedisAdapter, bool) {
	a, ok := nsp.Adapter().(*RedisAdapter)
	return a, ok
}

func newRedisAdapter(cfg config, specific bool, nsp socket.Namespace) *RedisAdapter {
	uid := randomID()
	a := &RedisAdapter{
		Adapter:         socket.MakeAdapter(),
		core:            newCore(cfg, uid, nsp),
		specific:        specific,
		channel:         cfg.key + "#" + nsp.Name() + "#",
		requestChannel:  cfg.key + "-request#" + nsp.Name() + "#",
		responseChannel: cfg.key + "-response#" + nsp.Name() + "#",
	}
	a.specificResponseChannel = a.responseChannel + uid + "#"
	a.countChannel = a.requestChannel
	a.Prototype(a)
	a.Construct(nsp)

	a.subscribe()
	return a
}

// subscribe holds the four subscriptions of a Node server: the broadcast pattern, the
// request channel, the shared response channel and the server's own response channel. The
// request channel must have exactly one subscriber per server, because Node servers count
// servers with PUBSUB NUMSUB on it and wait for that many responses.
func (a *RedisAdapter) subscribe() {
	ctx := context.Background()
	ps := a.cfg.client.Subscribe(ctx)
	a.sub = newSubscriber(ps, 4, a.logger, a.onRedisMessage)

	if err := ps.PSubscribe(ctx, a.channel+"*"); err != nil {
		a.logger.WarnContext(ctx, "Redis subscribe failed, retrying", slog.Any("err", err))
	}
	err := ps.Subscribe(ctx, a.requestChannel, a.responseChannel, a.specificResponseChannel)
	if err != nil {
		a.logger.WarnContext(ctx, "Redis subscribe failed, retrying", slog.Any("err", err))
	}

	a.waitSubscribed(ctx)
}

// Uid returns the adapter's server id, unique per namespace and process.
func (a *RedisAdapter) Uid() string { return a.uid }

// Close drops the subscriptions, fails pending requests with ErrClosed and stops the
// adapter's goroutines. The server calls it on shutdown.
func (a *RedisAdapter) Close() { a.shutdown() }

// ServerCount returns the number of servers subscribed to the namespace's request channel,
// this one included. When Redis cannot be asked it logs the error and returns 1.
func (a *RedisAdapter) ServerCount() int64 { return a.serverCount() }

// publish sends msg on channel, bounded by the requests timeout.
func (a *RedisAdapter) publish(channel string, msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.timeout)
	defer cancel()

	if err := a.cfg.client.Publish(ctx, channel, msg).Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", channel, err)
	}
	return nil
}

// isLocal reports whether opts carry the local flag, which keeps an operation off Redis.
func isLocal(opts *socket.BroadcastOptions) bool {
	return opts != nil && opts.Flags != nil && opts.Flags.Local
}

// encodePacket writes a packet in the Node key order type, data, nsp.
func (a *RedisAdapter) encodePacket(packet *parser.Packet) (notepack.Map, error) {
	data, err := normalizeData(packet.Data)
	if err != nil {
		return nil, err
	}
	return notepack.Map{
		{Key: "type", Value: wirePacketType(packet.Type)},
		{Key: "data", Value: data},
		{Key: "nsp", Value: a.nsp.Name()},
	}, nil
}

// Broadcast publishes packet to the other servers, then delivers it to local sockets. A
// broadcast to exactly one room goes to that room's channel, so servers without a socket in
// the room can drop it unread. Any other broadcast goes to the namespace channel.
func (a *RedisAdapter) Broadcast(packet *parser.Packet, opts *socket.BroadcastOptions) {
	if !isLocal(opts) {
		if err := a.publishBroadcast(packet, opts); err != nil {
			a.logger.ErrorContext(context.Background(), "Broadcast not published to Redis",
				slog.Any("err", err))
		}
	}
	broadcastLocal(a, a.nsp, packet, opts)
}

func (a *RedisAdapter) publishBroadcast(packet *parser.Packet, opts *socket.BroadcastOptions,
) error {
	encoded, err := a.encodePacket(packet)
	if err != nil {
		return fmt.Errorf("encode broadcast: %w", err)
	}
	msg, err := notepack.Encode([]any{a.uid, encoded, encodeOptions(opts, true)})
	if err != nil {
		return fmt.Errorf("encode broadcast: %w", err)
	}

	channel := a.channel
	if opts != nil && opts.Rooms != nil && opts.Rooms.Len() == 1 {
		channel += string(opts.Rooms.Keys()[0]) + "#"
	}
	return a.publish(channel, msg)
}

// BroadcastWithAck publishes packet as a request, to which every server responds with its
// client count and then with each client's acknowledgement, and delivers it locally.
func (a *RedisAdapter) BroadcastWithAck(packet *parser.Packet, opts *socket.BroadcastOptions,
	clientCount func(uint64), ack socket.Ack,
) {
	if !isLocal(opts) {
		if err := a.publishBroadcastWithAck(packet, opts, clientCount, ack); err != nil {
			a.logger.ErrorContext(context.Background(),
				"Broadcast with acknowledgement not published to Redis", slog.Any("err", err))
		}
	}
	broadcastWithAckLocal(a, a.nsp, packet, opts, clientCount, ack)
}

func (a *RedisAdapter) publishBroadcastWithAck(packet *parser.Packet,
	opts *socket.BroadcastOptions, clientCount func(uint64), ack socket.Ack,
) error {
	encoded, err := a.encodePacket(packet)
	if err != nil {
		return fmt.Errorf("encode broadcast: %w", err)
	}
	requestID := randomID()
	msg, err := notepack.Encode(notepack.Map{
		{Key: "uid", Value: a.uid},
		{Key: "requestId", Value: requestID},
		{Key: "type", Value: requestBroadcast},
		{Key: "packet", Value: encoded},
		{Key: "opts", Value: encodeOptions(opts, true)},
	})
	if err != nil {
		return fmt.Errorf("encode broadcast: %w", err)
	}

	a.addBroadcastAck(requestID, opts, clientCount, ack)
	return a.publish(a.requestChannel, msg)
}
