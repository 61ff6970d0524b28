package adapter

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// FetchSockets returns the sockets that opts select on every server. The returned function
// blocks until every server counted by ServerCount responded, or fails with an error wrapping
// ErrTimeout after the requests timeout, as Node does, without a partial result.
func (a *RedisAdapter) FetchSockets(opts *socket.BroadcastOptions,
) func(func([]socket.SocketDetails, error)) {
	return func(callback func([]socket.SocketDetails, error)) {
		callback(a.fetchSockets(opts))
	}
}

func (a *RedisAdapter) fetchSockets(opts *socket.BroadcastOptions,
) ([]socket.SocketDetails, error) {
	sockets := localSockets(a.Adapter, opts)
	if isLocal(opts) {
		return sockets, nil
	}

	expected, err := a.remoteServers()
	if err != nil || expected == 0 {
		return sockets, err
	}

	received := 0
	request := func(requestID string) notepack.Map {
		return notepack.Map{
			{Key: "uid", Value: a.uid},
			{Key: "requestId", Value: requestID},
			{Key: "type", Value: requestRemoteFetch},
			{Key: "opts", Value: encodeOptions(opts, false)},
		}
	}
	onResponse := func(response map[string]any) bool {
		// Node counts a reply before it checks it, but completes only on a valid one.
		received++
		list, ok := response["sockets"].([]any)
		if !ok {
			return false
		}
		sockets = a.appendRemoteSockets(sockets, list)
		return received >= expected
	}
	err = a.request(requestRemoteFetch, request, onResponse, func() error {
		return fmt.Errorf("fetch sockets: %d of %d servers responded: %w", received, expected,
			ErrTimeout)
	})
	if err != nil {
		return nil, err
	}
	return sockets, nil
}

// AllRooms returns the names of the rooms of every server, socket-id rooms included, as
// Node's adapter.allRooms() does.
func (a *RedisAdapter) AllRooms(ctx context.Context) ([]string, error) {
	rooms := types.NewSet[string]()
	for _, r := range a.Rooms().Keys() {
		rooms.Add(string(r))
	}

	expected, err := a.remoteServers()
	if err != nil {
		return nil, err
	}
	if expected > 0 {
		err := a.allRemoteRooms(ctx, expected, rooms)
		if err != nil {
			return nil, err
		}
	}
	return rooms.Keys(), nil
}

func (a *RedisAdapter) allRemoteRooms(ctx context.Context, expected int,
	rooms *types.Set[string],
) error {
	received := 0
	request := func(requestID string) notepack.Map {
		return notepack.Map{
			{Key: "uid", Value: a.uid},
			{Key: "requestId", Value: requestID},
			{Key: "type", Value: requestAllRooms},
		}
	}
	onResponse := func(response map[string]any) bool {
		received++
		list, ok := response["rooms"].([]any)
		if !ok {
			return false
		}
		for _, item := range list {
			if name, ok := stringValue(item); ok {
				rooms.Add(name)
			}
		}
		return received >= expected
	}
	done := make(chan error, 1)
	go func() {
		done <- a.request(requestAllRooms, request, onResponse, func() error {
			return fmt.Errorf("all rooms: %d of %d servers responded: %w", received, expected,
				ErrTimeout)
		})
	}()

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("all rooms: %w", ctx.Err())
	}
}

// request publishes a JSON request built by build, then waits until onResponse reports it
// complete or the requests timeout passes.
func (a *RedisAdapter) request(typ int, build func(requestID string) notepack.Map,
	onResponse func(map[string]any) bool, timeoutErr func() error,
) error {
	requestID := randomID()
	msg, err := notepack.Stringify(build(requestID))
	if err != nil {
		return fmt.Errorf("encode request of type %d: %w", typ, err)
	}

	return a.await(requestID, typ, a.cfg.timeout, onResponse, timeoutErr, func() error {
		return a.publish(a.requestChannel, msg)
	})
}

// AddSockets makes the sockets that opts select join rooms, here at once and on the other
// servers through Redis.
func (a *RedisAdapter) AddSockets(opts *socket.BroadcastOptions, rooms []socket.Room) {
	a.Adapter.AddSockets(opts, rooms)
	if !isLocal(opts) {
		a.publishRemote(requestRemoteJoin, opts, notepack.Pair{
			Key: "rooms", Value: roomStrings(rooms),
		})
	}
}

// DelSockets makes the sockets that opts select leave rooms, here and on the other servers.
func (a *RedisAdapter) DelSockets(opts *socket.BroadcastOptions, rooms []socket.Room) {
	a.Adapter.DelSockets(opts, rooms)
	if !isLocal(opts) {
		a.publishRemote(requestRemoteLeave, opts, notepack.Pair{
			Key: "rooms", Value: roomStrings(rooms),
		})
	}
}

// DisconnectSockets disconnects the sockets that opts select, here and on the other servers;
// close also closes their underlying connections.
func (a *RedisAdapter) DisconnectSockets(opts *socket.BroadcastOptions, close bool) {
	if !isLocal(opts) {
		a.publishRemote(requestRemoteDisconnect, opts, notepack.Pair{Key: "close", Value: close})
	}
	a.Adapter.DisconnectSockets(opts, close)
}

// publishRemote sends a join, leave or disconnect request, to which no server responds. Node
// senders apply such a request when it comes back from Redis; this adapter applies it at
// once and ignores its own copy, which gives the same result.
func (a *RedisAdapter) publishRemote(typ int, opts *socket.BroadcastOptions,
	last notepack.Pair,
) {
	msg, err := notepack.Stringify(notepack.Map{
		{Key: "uid", Value: a.uid},
		{Key: "type", Value: typ},
		{Key: "opts", Value: encodeOptions(opts, false)},
		last,
	})
	if err == nil {
		err = a.publish(a.requestChannel, msg)
	}
	if err != nil {
		a.logger.ErrorContext(context.Background(), "Request not published to Redis",
			slog.Int("type", typ), slog.Any("err", err))
	}
}

// ServerSideEmit sends packet, [event, args...], to the server-side listeners of the
// namespace on the other servers. When the last element is a socket.Ack, it is called once
// with one value per other server, or with the values received so far and an error
// wrapping ErrTimeout after the requests timeout. When the servers cannot be counted, the
// error is returned and the ack is not called.
func (a *RedisAdapter) ServerSideEmit(packet []any) error {
	packet, ack := splitAck(packet)
	data, err := normalizeData(packet)
	if err != nil {
		return fmt.Errorf("server-side emit: %w", err)
	}
	if ack == nil {
		msg, err := notepack.Stringify(notepack.Map{
			{Key: "uid", Value: a.uid},
			{Key: "type", Value: requestServerSideEmit},
			{Key: "data", Value: data},
		})
		if err != nil {
			return fmt.Errorf("server-side emit: %w", err)
		}
		return a.publish(a.requestChannel, msg)
	}

	expected, err := a.remoteServers()
	if err != nil {
		return fmt.Errorf("server-side emit: %w", err)
	}
	if expected == 0 {
		a.callbacks.push(func() { ack([]any{}, nil) })
		return nil
	}
	go a.serverSideEmitWithAck(data, expected, ack)
	return nil
}

func (a *RedisAdapter) serverSideEmitWithAck(data []any, expected int, ack socket.Ack) {
	responses := []any{}
	request := func(requestID string) notepack.Map {
		return notepack.Map{
			{Key: "uid", Value: a.uid},
			{Key: "requestId", Value: requestID},
			{Key: "type", Value: requestServerSideEmit},
			{Key: "data", Value: data},
		}
	}
	onResponse := func(response map[string]any) bool {
		responses = append(responses, response["data"])
		return len(responses) >= expected
	}
	err := a.request(requestServerSideEmit, request, onResponse, func() error {
		return fmt.Errorf("server-side emit: %d of %d servers responded: %w", len(responses),
			expected, ErrTimeout)
	})
	a.callbacks.push(func() { ack(responses, err) })
}
