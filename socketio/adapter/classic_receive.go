package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// onRedisMessage runs on the subscriber goroutine. It handles responses at once, because a
// user listener that waits for one must not wait behind other work. Broadcasts and requests
// go to the work queue, which keeps their order.
func (a *RedisAdapter) onRedisMessage(m *redis.Message) {
	payload := []byte(m.Payload)
	switch {
	case m.Pattern != "":
		a.work.push(func() { a.onBroadcast(m.Channel, payload) })
	case m.Channel == a.requestChannel:
		a.work.push(func() { a.onRequest(payload) })
	case m.Channel == a.responseChannel || m.Channel == a.specificResponseChannel:
		a.onResponse(m.Channel, payload)
	}
}

// drop logs one line for a message that cannot be used.
func (a *RedisAdapter) drop(channel string, err error) {
	a.logger.WarnContext(context.Background(), "Malformed message dropped",
		slog.String("channel", channel), slog.Any("err", err))
}

// ignore logs a message for another namespace at debug level. It is not an error: a
// namespace whose name contains glob characters receives the broadcasts of others.
func (a *RedisAdapter) ignore(channel, nsp string) {
	a.logger.DebugContext(context.Background(), "Message for another namespace ignored",
		slog.String("channel", channel), slog.String("message_namespace", nsp))
}

// onBroadcast delivers a broadcast of another server to the local sockets it targets.
func (a *RedisAdapter) onBroadcast(channel string, payload []byte) {
	// The pattern is not escaped, so a namespace name with glob characters would match
	// other namespaces' channels too.
	if !strings.HasPrefix(channel, a.channel) || !strings.HasSuffix(channel, "#") {
		return
	}
	room := strings.TrimSuffix(channel[len(a.channel):], "#")
	if room != "" && !a.hasRoom(room) {
		return
	}

	tree, err := notepack.Decode(payload)
	if err != nil {
		a.drop(channel, err)
		return
	}
	parts, ok := tree.([]any)
	if !ok || len(parts) < 3 {
		a.drop(channel, fmt.Errorf("%w: broadcast is %T instead of [uid, packet, opts]",
			errMalformed, tree))
		return
	}
	if uid, _ := parts[0].(string); uid == a.uid {
		return
	}

	packet, fields, err := decodePacket(parts[1])
	if err != nil {
		a.drop(channel, err)
		return
	}
	nsp, ok := fields["nsp"].(string)
	if !ok {
		nsp = "/"
	}
	if nsp != a.nsp.Name() {
		a.ignore(channel, nsp)
		return
	}
	opts, err := decodeOptions(parts[2])
	if err != nil {
		a.drop(channel, err)
		return
	}
	broadcastLocal(a, a.nsp, packet, opts)
}

func (a *RedisAdapter) hasRoom(room string) bool {
	_, ok := a.Rooms().Load(socket.Room(room))
	return ok
}

// onRequest responds to or applies a request of another server or of an emitter.
func (a *RedisAdapter) onRequest(payload []byte) {
	request, err := decodeMessage(payload)
	if err != nil {
		a.drop(a.requestChannel, err)
		return
	}
	uid, _ := request["uid"].(string)
	if uid == a.uid {
		return
	}
	typ, ok := intValue(request["type"])
	if !ok {
		a.drop(a.requestChannel, fmt.Errorf("%w: request type %v", errMalformed,
			request["type"]))
		return
	}

	switch typ {
	case requestSockets:
		err = a.answerSockets(request)
	case requestAllRooms:
		err = a.answerAllRooms(request)
	case requestRemoteJoin, requestRemoteLeave, requestRemoteDisconnect:
		err = a.applyRemote(typ, request)
	case requestRemoteFetch:
		err = a.answerFetch(request)
	case requestServerSideEmit:
		err = a.answerServerSideEmit(request)
	case requestBroadcast:
		err = a.answerBroadcast(request)
	default:
		err = fmt.Errorf("%w: unknown request type %d", errMalformed, typ)
	}
	if err != nil {
		a.drop(a.requestChannel, err)
	}
}

// respond publishes a response on the shared response channel, or on the requester's own
// channel when PublishOnSpecificResponseChannel is set.
func (a *RedisAdapter) respond(request map[string]any, msg []byte) error {
	channel := a.responseChannel
	if uid, _ := request["uid"].(string); a.specific {
		channel += uid + "#"
	}
	return a.publish(channel, msg)
}

// respondJSON encodes response as JSON and publishes it as respond does.
func (a *RedisAdapter) respondJSON(request map[string]any, response notepack.Map) error {
	msg, err := notepack.Stringify(response)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return a.respond(request, msg)
}

func requestID(request map[string]any) (string, error) {
	id, ok := request["requestId"].(string)
	if !ok {
		return "", fmt.Errorf("%w: request id is %T", errMalformed, request["requestId"])
	}
	return id, nil
}

func (a *RedisAdapter) answerSockets(request map[string]any) error {
	id, err := requestID(request)
	if err != nil || a.requests.has(id) {
		return err
	}
	rooms, err := roomSet(request["rooms"])
	if err != nil {
		return err
	}
	ids := a.Sockets(rooms).Keys()
	list := make([]any, len(ids))
	for i, sid := range ids {
		list[i] = string(sid)
	}
	return a.respondJSON(request, notepack.Map{
		{Key: "requestId", Value: id},
		{Key: "sockets", Value: list},
	})
}

func (a *RedisAdapter) answerAllRooms(request map[string]any) error {
	id, err := requestID(request)
	if err != nil || a.requests.has(id) {
		return err
	}
	rooms := a.Rooms().Keys()
	list := make([]any, len(rooms))
	for i, r := range rooms {
		list[i] = string(r)
	}
	return a.respondJSON(request, notepack.Map{
		{Key: "requestId", Value: id},
		{Key: "rooms", Value: list},
	})
}

// applyRemote handles join, leave and disconnect requests. The opts form targets rooms. The
// legacy form, which 8.x servers no longer send, targets one socket by id and gets a
// response.
func (a *RedisAdapter) applyRemote(typ int64, request map[string]any) error {
	if request["opts"] == nil {
		return a.applyLegacy(typ, request)
	}
	opts, err := decodeOptions(request["opts"])
	if err != nil {
		return err
	}

	change := changeDisconnect
	switch typ {
	case requestRemoteJoin:
		change = changeJoin
	case requestRemoteLeave:
		change = changeLeave
	}
	return applySocketsChange(a.Adapter, change, opts, request)
}

func (a *RedisAdapter) applyLegacy(typ int64, request map[string]any) error {
	sid, _ := request["sid"].(string)
	s, ok := a.nsp.Sockets().Load(socket.SocketId(sid))
	if !ok {
		return nil
	}
	id, err := requestID(request)
	if err != nil {
		return err
	}

	room, _ := stringValue(request["room"])
	switch typ {
	case requestRemoteJoin:
		s.Join(socket.Room(room))
	case requestRemoteLeave:
		s.Leave(socket.Room(room))
	default:
		closeConn, _ := request["close"].(bool)
		s.Disconnect(closeConn)
	}
	return a.respondJSON(request, notepack.Map{{Key: "requestId", Value: id}})
}

func (a *RedisAdapter) answerFetch(request map[string]any) error {
	id, err := requestID(request)
	if err != nil || a.requests.has(id) {
		return err
	}
	opts, err := decodeOptions(request["opts"])
	if err != nil {
		return err
	}

	list, err := encodeSockets(localSockets(a.Adapter, opts))
	if err != nil {
		return err
	}
	return a.respondJSON(request, notepack.Map{
		{Key: "requestId", Value: id},
		{Key: "sockets", Value: list},
	})
}

// answerServerSideEmit calls the namespace's server-side listeners. A request with a
// requestId key, even a null one, expects an acknowledgement, so the listeners get a
// socket.Ack as their last argument. Its first call publishes the first value on the shared
// response channel, whatever PublishOnSpecificResponseChannel is set to, as in Node.
func (a *RedisAdapter) answerServerSideEmit(request map[string]any) error {
	data, ok := request["data"].([]any)
	if !ok || len(data) == 0 {
		return fmt.Errorf("%w: server-side emit data is %T", errMalformed, request["data"])
	}
	id, withAck := request["requestId"]
	if !withAck {
		a.nsp.OnServerSideEmit(data)
		return nil
	}

	var once sync.Once
	ack := socket.Ack(func(args []any, _ error) {
		once.Do(func() {
			err := a.publishServerSideEmitAck(id, firstArgument(args))
			if err != nil {
				a.logger.ErrorContext(context.Background(),
					"Server-side emit acknowledgement not sent", slog.Any("err", err))
			}
		})
	})
	a.nsp.OnServerSideEmit(append(data, ack))
	return nil
}

func (a *RedisAdapter) publishServerSideEmitAck(id any, value any) error {
	normalized, err := notepack.Normalize(value)
	if err != nil {
		return fmt.Errorf("encode acknowledgement: %w", err)
	}
	msg, err := notepack.Stringify(notepack.Map{
		{Key: "type", Value: requestServerSideEmit},
		{Key: "requestId", Value: id},
		{Key: "data", Value: normalized},
	})
	if err != nil {
		return fmt.Errorf("encode acknowledgement: %w", err)
	}
	return a.publish(a.responseChannel, msg)
}

// answerBroadcast delivers an acknowledged broadcast to local sockets, then reports the
// number of sockets reached (JSON, type 8) and each client's first acknowledgement argument
// (MessagePack, type 9). Only rooms and except apply; the flags stay with the requester.
func (a *RedisAdapter) answerBroadcast(request map[string]any) error {
	id, err := requestID(request)
	if err != nil {
		return err
	}
	if _, own := a.acks.get(id); own {
		return nil
	}
	packet, _, err := decodePacket(request["packet"])
	if err != nil {
		return err
	}
	opts, err := decodeOptions(request["opts"])
	if err != nil {
		return err
	}
	opts.Flags = nil

	onCount := func(count uint64) {
		err := a.respondJSON(request, notepack.Map{
			{Key: "type", Value: responseClientCount},
			{Key: "requestId", Value: id},
			{Key: "clientCount", Value: count},
		})
		if err != nil {
			a.logger.ErrorContext(context.Background(), "Client count not sent",
				slog.Any("err", err))
		}
	}
	onAck := func(args []any, _ error) {
		if err := a.publishBroadcastAck(request, id, firstArgument(args)); err != nil {
			a.logger.ErrorContext(context.Background(), "Client acknowledgement not sent",
				slog.Any("err", err))
		}
	}
	broadcastWithAckLocal(a, a.nsp, packet, opts, onCount, onAck)
	return nil
}

func (a *RedisAdapter) publishBroadcastAck(request map[string]any, id string, value any,
) error {
	normalized, err := notepack.Normalize(value)
	if err != nil {
		return fmt.Errorf("encode acknowledgement: %w", err)
	}
	msg, err := notepack.Encode(notepack.Map{
		{Key: "type", Value: responseBroadcastAck},
		{Key: "requestId", Value: id},
		{Key: "packet", Value: normalized},
	})
	if err != nil {
		return fmt.Errorf("encode acknowledgement: %w", err)
	}
	return a.respond(request, msg)
}

// onResponse matches a response to a pending request of this adapter by its requestId and
// ignores the others, which belong to other servers on the shared channel.
func (a *RedisAdapter) onResponse(channel string, payload []byte) {
	response, err := decodeMessage(payload)
	if err != nil {
		a.drop(channel, err)
		return
	}
	id, _ := response["requestId"].(string)

	if req, ok := a.acks.get(id); ok {
		typ, _ := intValue(response["type"])
		switch typ {
		case responseClientCount:
			a.reportClientCount(req, response["clientCount"], func(err error) {
				a.drop(channel, err)
			})
		case responseBroadcastAck:
			value := response["packet"]
			a.callbacks.push(func() { req.reportAck(value) })
		}
		return
	}

	a.requests.deliver(id, response)
}
