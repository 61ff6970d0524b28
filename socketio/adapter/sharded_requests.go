package adapter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// AddSockets makes the sockets that opts select join rooms, here and on the other servers.
func (a *ShardedRedisAdapter) AddSockets(opts *socket.BroadcastOptions, rooms []socket.Room) {
	if !isLocal(opts) {
		a.publishOrLog(messageSocketsJoin, notepack.Map{
			{Key: "opts", Value: encodeOptions(opts, true)},
			{Key: "rooms", Value: roomStrings(rooms)},
		})
	}
	a.Adapter.AddSockets(opts, rooms)
}

// DelSockets makes the sockets that opts select leave rooms, here and on the other servers.
func (a *ShardedRedisAdapter) DelSockets(opts *socket.BroadcastOptions, rooms []socket.Room) {
	if !isLocal(opts) {
		a.publishOrLog(messageSocketsLeave, notepack.Map{
			{Key: "opts", Value: encodeOptions(opts, true)},
			{Key: "rooms", Value: roomStrings(rooms)},
		})
	}
	a.Adapter.DelSockets(opts, rooms)
}

// DisconnectSockets disconnects the sockets that opts select, here and on the other servers;
// close also closes their underlying connections.
func (a *ShardedRedisAdapter) DisconnectSockets(opts *socket.BroadcastOptions, close bool) {
	if !isLocal(opts) {
		a.publishOrLog(messageDisconnectSockets, notepack.Map{
			{Key: "opts", Value: encodeOptions(opts, true)},
			{Key: "close", Value: close},
		})
	}
	a.Adapter.DisconnectSockets(opts, close)
}

func (a *ShardedRedisAdapter) publishOrLog(typ int, data notepack.Map) {
	if err := a.publish(a.channel, typ, data); err != nil {
		a.logger.ErrorContext(context.Background(), "Message not published to Redis",
			slog.Int("type", typ), slog.Any("err", err))
	}
}

// FetchSockets returns the sockets that opts select on every server. The returned function
// blocks until every other server responded, or fails with an error wrapping ErrTimeout after
// the broadcast timeout (opts.Flags.Timeout) or else the requests timeout.
func (a *ShardedRedisAdapter) FetchSockets(opts *socket.BroadcastOptions,
) func(func([]socket.SocketDetails, error)) {
	return func(callback func([]socket.SocketDetails, error)) {
		callback(a.fetchSockets(opts))
	}
}

func (a *ShardedRedisAdapter) fetchSockets(opts *socket.BroadcastOptions,
) ([]socket.SocketDetails, error) {
	sockets := localSockets(a.Adapter, opts)
	if isLocal(opts) {
		return sockets, nil
	}

	expected, err := a.remoteServers()
	if err != nil || expected == 0 {
		return sockets, err
	}

	timeout := a.cfg.timeout
	if opts != nil && opts.Flags != nil && opts.Flags.Timeout != nil && *opts.Flags.Timeout > 0 {
		timeout = *opts.Flags.Timeout
	}
	received := 0
	onResponse := func(data map[string]any) bool {
		received++
		list, _ := data["sockets"].([]any)
		sockets = a.appendRemoteSockets(sockets, list)
		return received >= expected
	}
	err = a.request(messageFetchSockets, timeout, func(requestID string) notepack.Map {
		return notepack.Map{
			{Key: "opts", Value: encodeOptions(opts, true)},
			{Key: "requestId", Value: requestID},
		}
	}, onResponse, func() error {
		return fmt.Errorf("fetch sockets: %d of %d servers responded: %w", received, expected,
			ErrTimeout)
	})
	if err != nil {
		return nil, err
	}
	return sockets, nil
}

// request publishes a message built by build on the main channel and waits until
// onResponse reports it complete or timeout passes.
func (a *ShardedRedisAdapter) request(typ int, timeout time.Duration,
	build func(requestID string) notepack.Map, onResponse func(map[string]any) bool,
	timeoutErr func() error,
) error {
	requestID := randomHex(8)
	return a.await(requestID, typ, timeout, onResponse, timeoutErr, func() error {
		return a.publish(a.channel, typ, build(requestID))
	})
}

// ServerSideEmit sends packet, [event, args...], to the server-side listeners of the
// namespace on the other servers. When the last element is a socket.Ack, it is called once
// with one value per other server, or with the values received so far and an error
// wrapping ErrTimeout after the requests timeout. When the servers cannot be counted, the
// error is returned and the ack is not called.
func (a *ShardedRedisAdapter) ServerSideEmit(packet []any) error {
	packet, ack := splitAck(packet)
	data, err := normalizeData(packet)
	if err != nil {
		return fmt.Errorf("server-side emit: %w", err)
	}
	if ack == nil {
		return a.publish(a.channel, messageServerSideEmit, notepack.Map{
			{Key: "packet", Value: data},
		})
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

func (a *ShardedRedisAdapter) serverSideEmitWithAck(data []any, expected int, ack socket.Ack) {
	responses := []any{}
	onResponse := func(response map[string]any) bool {
		responses = append(responses, response["packet"])
		return len(responses) >= expected
	}
	err := a.request(messageServerSideEmit, a.cfg.timeout, func(requestID string) notepack.Map {
		return notepack.Map{
			{Key: "requestId", Value: requestID},
			{Key: "packet", Value: data},
		}
	}, onResponse, func() error {
		return fmt.Errorf("server-side emit: %d of %d servers responded: %w", len(responses),
			expected, ErrTimeout)
	})
	a.callbacks.push(func() { ack(responses, err) })
}
