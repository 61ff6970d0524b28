package adapter

import (
	"sync/atomic"

	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io-go-parser/v2/parser"
	"github.com/zishang520/socket.io/v2/socket"
)

// Local delivery replaces the base adapter's Broadcast and BroadcastWithAck.
//
// NOTE: the base adapter of zishang520/socket.io v2.5.0 attaches a pre-encoded websocket
// frame to broadcast packets. The websocket transport of engine.io v2.5.0 returns after it
// wrote the first pre-encoded packet of a write batch, so the later packets of the batch are
// lost (transports/websocket.go, send). Batches form whenever a client reads slower than the
// server broadcasts. These functions deliver the same packets without the pre-encoded frame.

// selectSockets returns the connected local sockets that opts select: the sockets of any of
// opts.Rooms (every socket when there is none), minus the sockets of any of opts.Except.
func selectSockets(a socket.Adapter, nsp socket.Namespace, opts *socket.BroadcastOptions,
) []*socket.Socket {
	except := types.NewSet[socket.SocketId]()
	var rooms []socket.Room
	if opts != nil {
		if opts.Except != nil {
			for _, room := range opts.Except.Keys() {
				if ids, ok := a.Rooms().Load(room); ok {
					except.Add(ids.Keys()...)
				}
			}
		}
		if opts.Rooms != nil {
			rooms = opts.Rooms.Keys()
		}
	}

	var sockets []*socket.Socket
	add := func(id socket.SocketId) {
		if except.Has(id) {
			return
		}
		if s, ok := nsp.Sockets().Load(id); ok {
			sockets = append(sockets, s)
		}
	}

	if len(rooms) == 0 {
		a.Sids().Range(func(id socket.SocketId, _ *types.Set[socket.Room]) bool {
			add(id)
			return true
		})
		return sockets
	}

	seen := types.NewSet[socket.SocketId]()
	for _, room := range rooms {
		ids, ok := a.Rooms().Load(room)
		if !ok {
			continue
		}
		for _, id := range ids.Keys() {
			if !seen.Has(id) {
				seen.Add(id)
				add(id)
			}
		}
	}
	return sockets
}

func writeOptions(opts *socket.BroadcastOptions) *socket.WriteOptions {
	w := &socket.WriteOptions{}
	if opts != nil && opts.Flags != nil {
		w.Volatile = opts.Flags.Volatile
		w.Compress = opts.Flags.Compress
	}
	return w
}

// broadcastLocal delivers packet to the local sockets that opts select.
func broadcastLocal(a socket.Adapter, nsp socket.Namespace, packet *parser.Packet,
	opts *socket.BroadcastOptions,
) {
	packet.Nsp = nsp.Name()
	encoded := nsp.Server().Encoder().Encode(packet)
	w := writeOptions(opts)
	for _, s := range selectSockets(a, nsp, opts) {
		if notify := s.NotifyOutgoingListeners(); notify != nil {
			notify(packet)
		}
		s.Client().WriteToEngine(encoded, w)
	}
}

// broadcastWithAckLocal delivers packet with an acknowledgement id to the local sockets that
// opts select, registers ack for each of them, and reports their number to clientCount.
func broadcastWithAckLocal(a socket.Adapter, nsp socket.Namespace, packet *parser.Packet,
	opts *socket.BroadcastOptions, clientCount func(uint64), ack socket.Ack,
) {
	packet.Nsp = nsp.Name()
	// One id serves every socket, because the namespace counter is shared by all of them.
	id := nsp.Ids()
	packet.Id = &id
	encoded := nsp.Server().Encoder().Encode(packet)
	w := writeOptions(opts)

	var count atomic.Uint64
	for _, s := range selectSockets(a, nsp, opts) {
		count.Add(1)
		s.Acks().Store(id, ack)
		if notify := s.NotifyOutgoingListeners(); notify != nil {
			notify(packet)
		}
		s.Client().WriteToEngine(encoded, w)
	}
	clientCount(count.Load())
}

// localSockets returns the local sockets that opts select, through the base adapter.
func localSockets(local socket.Adapter, opts *socket.BroadcastOptions) []socket.SocketDetails {
	var sockets []socket.SocketDetails
	local.FetchSockets(opts)(func(list []socket.SocketDetails, _ error) {
		sockets = list
	})
	return sockets
}

// socketsChange is a join, leave or disconnect that another server published.
type socketsChange int

const (
	changeJoin socketsChange = iota
	changeLeave
	changeDisconnect
)

// applySocketsChange applies change to the local sockets that opts select, through the base
// adapter so that nothing is published again. fields is the message that carried the
// change. Its "rooms" name the rooms of a join or leave, and its "close" flag makes a
// disconnect close the underlying connections.
func applySocketsChange(local socket.Adapter, change socketsChange,
	opts *socket.BroadcastOptions, fields map[string]any,
) error {
	if change == changeDisconnect {
		closeConn, _ := fields["close"].(bool)
		local.DisconnectSockets(opts, closeConn)
		return nil
	}

	rooms, err := roomSet(fields["rooms"])
	if err != nil {
		return err
	}
	if change == changeJoin {
		local.AddSockets(opts, rooms.Keys())
	} else {
		local.DelSockets(opts, rooms.Keys())
	}
	return nil
}
