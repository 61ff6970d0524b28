package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// onRedisMessage runs on the subscriber goroutine. Responses are handled here; other
// messages go to the work queue, which keeps their order.
func (a *ShardedRedisAdapter) onRedisMessage(m *redis.Message) {
	msg, err := decodeMessage([]byte(m.Payload))
	if err != nil {
		a.drop(m.Channel, err)
		return
	}
	typ, _ := intValue(msg["type"])

	switch {
	case m.Channel == a.responseChannel:
		a.onResponse(m.Channel, typ, msg)
	case typ == messageFetchSocketsResponse || typ == messageServerSideEmitResponse ||
		typ == messageBroadcastClientCount || typ == messageBroadcastAck:
		// Node's ClusterAdapter accepts responses on any channel it reads.
		a.onResponse(m.Channel, typ, msg)
	default:
		a.work.push(func() { a.onMessage(m.Channel, typ, msg) })
	}
}

func (a *ShardedRedisAdapter) drop(channel string, err error) {
	a.logger.WarnContext(context.Background(), "Malformed message dropped",
		slog.String("channel", channel), slog.Any("err", err))
}

// onMessage handles a message of another server or of the emitter on a subscribed channel.
func (a *ShardedRedisAdapter) onMessage(channel string, typ int64, msg map[string]any) {
	if uid, _ := msg["uid"].(string); uid == a.uid {
		return
	}
	if nsp, _ := msg["nsp"].(string); nsp != a.nsp.Name() {
		a.logger.DebugContext(context.Background(), "Message for another namespace ignored",
			slog.String("channel", channel), slog.String("message_namespace", nsp))
		return
	}
	data, ok := msg["data"].(map[string]any)
	if !ok {
		a.drop(channel, fmt.Errorf("%w: data of type %d is %T", errMalformed, typ, msg["data"]))
		return
	}

	var err error
	switch typ {
	case messageBroadcast:
		err = a.onBroadcast(msg, data)
	case messageSocketsJoin, messageSocketsLeave, messageDisconnectSockets:
		err = a.applyRemote(typ, data)
	case messageFetchSockets:
		err = a.answerFetch(msg, data)
	case messageServerSideEmit:
		err = a.answerServerSideEmit(msg, data)
	default:
		err = fmt.Errorf("%w: unknown message type %d", errMalformed, typ)
	}
	if err != nil {
		a.drop(channel, err)
	}
}

// respond publishes a response on the requester's response channel.
func (a *ShardedRedisAdapter) respond(msg map[string]any, typ int, data notepack.Map) {
	requester, _ := msg["uid"].(string)
	err := a.publish(a.channel+requester+"#", typ, data)
	if err != nil {
		a.logger.ErrorContext(context.Background(), "Response not published to Redis",
			slog.Int("type", typ), slog.Any("err", err))
	}
}

func (a *ShardedRedisAdapter) onBroadcast(msg, data map[string]any) error {
	packet, _, err := decodePacket(data["packet"])
	if err != nil {
		return err
	}
	opts, err := decodeOptions(data["opts"])
	if err != nil {
		return err
	}

	id, withAck := data["requestId"]
	if !withAck {
		broadcastLocal(a, a.nsp, packet, opts)
		return nil
	}

	onCount := func(count uint64) {
		a.respond(msg, messageBroadcastClientCount, notepack.Map{
			{Key: "requestId", Value: id},
			{Key: "clientCount", Value: count},
		})
	}
	onAck := func(args []any, _ error) {
		value, err := notepack.Normalize(firstArgument(args))
		if err != nil {
			a.logger.ErrorContext(context.Background(), "Client acknowledgement not sent",
				slog.Any("err", err))
			return
		}
		a.respond(msg, messageBroadcastAck, notepack.Map{
			{Key: "requestId", Value: id},
			{Key: "packet", Value: value},
		})
	}
	broadcastWithAckLocal(a, a.nsp, packet, opts, onCount, onAck)
	return nil
}

func (a *ShardedRedisAdapter) applyRemote(typ int64, data map[string]any) error {
	opts, err := decodeOptions(data["opts"])
	if err != nil {
		return err
	}

	change := changeDisconnect
	switch typ {
	case messageSocketsJoin:
		change = changeJoin
	case messageSocketsLeave:
		change = changeLeave
	}
	return applySocketsChange(a.Adapter, change, opts, data)
}

func (a *ShardedRedisAdapter) answerFetch(msg, data map[string]any) error {
	opts, err := decodeOptions(data["opts"])
	if err != nil {
		return err
	}

	list, err := encodeSockets(localSockets(a.Adapter, opts))
	if err != nil {
		return err
	}
	a.respond(msg, messageFetchSocketsResponse, notepack.Map{
		{Key: "requestId", Value: data["requestId"]},
		{Key: "sockets", Value: list},
	})
	return nil
}

func (a *ShardedRedisAdapter) answerServerSideEmit(msg, data map[string]any) error {
	packet, ok := data["packet"].([]any)
	if !ok || len(packet) == 0 {
		return fmt.Errorf("%w: server-side emit packet is %T", errMalformed, data["packet"])
	}
	id, withAck := data["requestId"]
	if !withAck {
		a.nsp.OnServerSideEmit(packet)
		return nil
	}

	var once sync.Once
	ack := socket.Ack(func(args []any, _ error) {
		once.Do(func() {
			value, err := notepack.Normalize(firstArgument(args))
			if err != nil {
				a.logger.ErrorContext(context.Background(),
					"Server-side emit acknowledgement not sent", slog.Any("err", err))
				return
			}
			a.respond(msg, messageServerSideEmitResponse, notepack.Map{
				{Key: "requestId", Value: id},
				{Key: "packet", Value: value},
			})
		})
	})
	a.nsp.OnServerSideEmit(append(packet, ack))
	return nil
}

// onResponse matches a response to this adapter's acknowledged broadcasts and pending
// requests by request id.
func (a *ShardedRedisAdapter) onResponse(channel string, typ int64, msg map[string]any) {
	data, ok := msg["data"].(map[string]any)
	if !ok {
		a.drop(channel, fmt.Errorf("%w: response data is %T", errMalformed, msg["data"]))
		return
	}
	id, _ := data["requestId"].(string)

	switch typ {
	case messageBroadcastClientCount:
		if req, ok := a.acks.get(id); ok {
			a.reportClientCount(req, data["clientCount"], func(err error) {
				a.drop(channel, err)
			})
		}
	case messageBroadcastAck:
		if req, ok := a.acks.get(id); ok {
			value := data["packet"]
			a.callbacks.push(func() { req.reportAck(value) })
		}
	case messageFetchSocketsResponse, messageServerSideEmitResponse:
		// Each response type follows its request type: 7 gets 8 and 9 gets 10.
		if requestType, ok := a.requests.typeOf(id); ok && int64(requestType)+1 == typ {
			a.requests.deliver(id, data)
		}
	default:
		a.drop(channel, fmt.Errorf("%w: unknown response type %d", errMalformed, typ))
	}
}
