package adapter

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io-go-parser/v2/parser"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// Message types of the sharded protocol, shared with socket.io-adapter's ClusterAdapter.
const (
	messageBroadcast              = 3
	messageSocketsJoin            = 4
	messageSocketsLeave           = 5
	messageDisconnectSockets      = 6
	messageFetchSockets           = 7
	messageFetchSocketsResponse   = 8
	messageServerSideEmit         = 9
	messageServerSideEmitResponse = 10
	messageBroadcastClientCount   = 11
	messageBroadcastAck           = 12
)

// nodeSocketIDLength is the length of Node socket ids (15 random bytes in base64). Node
// publishers in dynamic mode treat every room of another length as a public room.
const nodeSocketIDLength = 20

// ShardedBuilder creates a sharded Redis adapter for each namespace of a server. Pass it to
// socket.ServerOptions.SetAdapter.
type ShardedBuilder struct {
	cfg  config
	mode SubscriptionMode
}

// NewSharded returns a builder for sharded Redis adapters. It returns an error when
// opts.Client is nil or the subscription mode is unknown.
func NewSharded(opts ShardedOptions) (*ShardedBuilder, error) {
	cfg, err := newConfig(opts.Client, opts.ChannelPrefix, opts.RequestsTimeout, opts.Logger)
	if err != nil {
		return nil, err
	}
	mode := opts.SubscriptionMode
	switch mode {
	case "":
		mode = SubscriptionDynamic
	case SubscriptionStatic, SubscriptionDynamic, SubscriptionDynamicPrivate:
	default:
		return nil, fmt.Errorf("adapter: invalid subscription mode %q: use static, dynamic or "+
			"dynamic-private", mode)
	}
	return &ShardedBuilder{cfg: cfg, mode: mode}, nil
}

// New creates the adapter of namespace nsp and subscribes to its channels, waiting for
// Redis to confirm them as Builder.New does.
func (b *ShardedBuilder) New(nsp socket.Namespace) socket.Adapter {
	return newShardedAdapter(b.cfg, b.mode, nsp)
}

// ShardedRedisAdapter is the sharded Redis adapter of one namespace.
type ShardedRedisAdapter struct {
	socket.Adapter
	*core

	mode SubscriptionMode

	channel         string
	responseChannel string

	ps *redis.PubSub
}

// OfSharded returns the sharded Redis adapter of namespace nsp, and false when the namespace
// uses another adapter.
func OfSharded(nsp socket.Namespace) (*ShardedRedisAdapter, bool) {
	a, ok := nsp.Adapter().(*ShardedRedisAdapter)
	return a, ok
}

func newShardedAdapter(cfg config, mode SubscriptionMode, nsp socket.Namespace,
) *ShardedRedisAdapter {
	uid := randomHex(8)
	channel := cfg.key + "#" + nsp.Name() + "#"
	a := &ShardedRedisAdapter{
		Adapter:         socket.MakeAdapter(),
		core:            newCore(cfg, uid, nsp),
		mode:            mode,
		channel:         channel,
		responseChannel: channel + uid + "#",
	}
	a.countChannel = channel
	a.sharded = true
	a.Prototype(a)
	a.Construct(nsp)

	a.subscribe()
	return a
}

// subscribe holds the main and response channels of the namespace on one connection.
//
// NOTE: on a Redis Cluster the channels of one namespace hash to different slots, and one
// connection cannot SSUBSCRIBE across slots. Only standalone Redis is tested.
func (a *ShardedRedisAdapter) subscribe() {
	ctx := context.Background()
	a.ps = a.cfg.client.SSubscribe(ctx)
	a.sub = newSubscriber(a.ps, 2, a.logger, a.onRedisMessage)

	if a.mode != SubscriptionStatic {
		a.On("create-room", func(args ...any) { a.onRoomChange(args, true) })
		a.On("delete-room", func(args ...any) { a.onRoomChange(args, false) })
	}

	if err := a.ps.SSubscribe(ctx, a.channel, a.responseChannel); err != nil {
		a.logger.WarnContext(ctx, "Redis subscribe failed, retrying", slog.Any("err", err))
	}
	a.waitSubscribed(ctx)
}

// onRoomChange subscribes to the channel of a room created locally, or unsubscribes from
// the channel of a room deleted locally, when the subscription mode requires it.
func (a *ShardedRedisAdapter) onRoomChange(args []any, created bool) {
	if len(args) == 0 {
		return
	}
	room, ok := args[0].(socket.Room)
	if !ok || !a.subscribesTo(string(room)) {
		return
	}

	ctx := context.Background()
	channel := a.channel + string(room) + "#"
	var err error
	if created {
		err = a.ps.SSubscribe(ctx, channel)
	} else {
		err = a.ps.SUnsubscribe(ctx, channel)
	}
	if err != nil {
		a.logger.WarnContext(ctx, "Redis room subscription change failed",
			slog.String("room", string(room)), slog.Bool("subscribe", created),
			slog.Any("err", err))
	}
}

// subscribesTo reports whether the adapter holds a subscription to room's channel while the
// room has local sockets. In dynamic mode that excludes local socket-id rooms, except ids
// whose length is not 20: Node publishers send to those on the room channel.
func (a *ShardedRedisAdapter) subscribesTo(room string) bool {
	switch a.mode {
	case SubscriptionDynamicPrivate:
		return true
	case SubscriptionDynamic:
		_, private := a.Sids().Load(socket.SocketId(room))
		return !private || len(room) != nodeSocketIDLength
	}
	return false
}

// Uid returns the adapter's server id, unique per namespace and process.
func (a *ShardedRedisAdapter) Uid() string { return a.uid }

// Close drops the subscriptions, fails pending requests with ErrClosed and stops the
// adapter's goroutines.
func (a *ShardedRedisAdapter) Close() { a.shutdown() }

// ServerCount returns the number of servers subscribed to the namespace's main channel, this
// one included. When Redis cannot be asked it logs the error and returns 1.
func (a *ShardedRedisAdapter) ServerCount() int64 { return a.serverCount() }

// encodeMessage writes a message in the ClusterAdapter layout {type, data, uid, nsp}: as
// MessagePack when its type may carry binary and data does, as JSON otherwise.
func (a *ShardedRedisAdapter) encodeMessage(typ int, data notepack.Map) ([]byte, error) {
	msg := notepack.Map{
		{Key: "type", Value: typ},
		{Key: "data", Value: data},
		{Key: "uid", Value: a.uid},
		{Key: "nsp", Value: a.nsp.Name()},
	}
	switch typ {
	case messageBroadcast, messageFetchSocketsResponse, messageServerSideEmit,
		messageServerSideEmitResponse, messageBroadcastAck:
		if hasBinary(data) {
			return notepack.Encode(msg)
		}
	}
	return notepack.Stringify(msg)
}

func hasBinary(v any) bool {
	switch x := v.(type) {
	case []byte:
		return true
	case []any:
		for _, item := range x {
			if hasBinary(item) {
				return true
			}
		}
	case notepack.Map:
		for _, p := range x {
			if hasBinary(p.Value) {
				return true
			}
		}
	case map[string]any:
		for _, item := range x {
			if hasBinary(item) {
				return true
			}
		}
	}
	return false
}

// publish sends a message on channel, bounded by the requests timeout.
func (a *ShardedRedisAdapter) publish(channel string, typ int, data notepack.Map) error {
	msg, err := a.encodeMessage(typ, data)
	if err != nil {
		return fmt.Errorf("encode message of type %d: %w", typ, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.timeout)
	defer cancel()

	if err := a.cfg.client.SPublish(ctx, channel, msg).Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", channel, err)
	}
	return nil
}

// broadcastChannel applies the Node publisher rule: a broadcast without acknowledgement to
// exactly one room uses the room's channel in dynamic-private mode, and in dynamic mode
// unless the room looks like a Node socket id (20 characters).
func (a *ShardedRedisAdapter) broadcastChannel(opts *socket.BroadcastOptions) string {
	if a.mode == SubscriptionStatic || opts == nil || opts.Rooms == nil ||
		opts.Rooms.Len() != 1 {
		return a.channel
	}
	room := string(opts.Rooms.Keys()[0])
	if a.mode == SubscriptionDynamic && len(room) == nodeSocketIDLength {
		return a.channel
	}
	return a.channel + room + "#"
}

// encodeShardedPacket writes a packet as {type, data}; the message's nsp field names the
// namespace.
func encodeShardedPacket(packet *parser.Packet) (notepack.Map, error) {
	data, err := normalizeData(packet.Data)
	if err != nil {
		return nil, err
	}
	return notepack.Map{
		{Key: "type", Value: wirePacketType(packet.Type)},
		{Key: "data", Value: data},
	}, nil
}

// Broadcast publishes packet to the other servers, then delivers it to local sockets.
func (a *ShardedRedisAdapter) Broadcast(packet *parser.Packet, opts *socket.BroadcastOptions) {
	if !isLocal(opts) {
		encoded, err := encodeShardedPacket(packet)
		if err == nil {
			err = a.publish(a.broadcastChannel(opts), messageBroadcast, notepack.Map{
				{Key: "packet", Value: encoded},
				{Key: "opts", Value: encodeOptions(opts, true)},
			})
		}
		if err != nil {
			a.logger.ErrorContext(context.Background(), "Broadcast not published to Redis",
				slog.Any("err", err))
		}
	}
	broadcastLocal(a, a.nsp, packet, opts)
}

// BroadcastWithAck publishes packet with a request id on the main channel, so every server
// reports its client count and each client's acknowledgement, and delivers it locally.
func (a *ShardedRedisAdapter) BroadcastWithAck(packet *parser.Packet,
	opts *socket.BroadcastOptions, clientCount func(uint64), ack socket.Ack,
) {
	if !isLocal(opts) {
		if err := a.publishBroadcastWithAck(packet, opts, clientCount, ack); err != nil {
			a.logger.ErrorContext(context.Background(),
				"Broadcast with acknowledgement not published to Redis", slog.Any("err", err))
		}
	}
	broadcastWithAckLocal(a, a.nsp, packet, opts, clientCount, ack)
}

func (a *ShardedRedisAdapter) publishBroadcastWithAck(packet *parser.Packet,
	opts *socket.BroadcastOptions, clientCount func(uint64), ack socket.Ack,
) error {
	encoded, err := encodeShardedPacket(packet)
	if err != nil {
		return fmt.Errorf("encode broadcast: %w", err)
	}

	requestID := randomHex(8)
	a.addBroadcastAck(requestID, opts, clientCount, ack)

	return a.publish(a.channel, messageBroadcast, notepack.Map{
		{Key: "packet", Value: encoded},
		{Key: "requestId", Value: requestID},
		{Key: "opts", Value: encodeOptions(opts, true)},
	})
}
