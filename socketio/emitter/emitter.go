// Package emitter publishes Socket.IO broadcasts and cluster requests to Redis, producing
// the same channels and bytes as the Node package @socket.io/redis-emitter 5.1.0. Servers
// that run @socket.io/redis-adapter 8.x with createAdapter (or a Go adapter speaking the same
// protocol) deliver them to their clients.
//
// The emitter only publishes: it holds no subscription, receives no acknowledgements and
// cannot fetch sockets. Operators are immutable, so a partly built operator can be shared:
//
//	e := emitter.New(rdb, emitter.Options{Key: "socket.io"})
//	port := e.Of("/admin").To("port:7")
//	if err := port.Except("user:2").Emit(ctx, "berth:statusChanged", status); err != nil {
//		return err
//	}
//	if err := port.SocketsJoin(ctx, "port:7:watchers"); err != nil {
//		return err
//	}
//
// Event arguments may be any value encoding/json can write. They are converted the way
// encoding/json presents them (json tags, struct field order, MarshalJSON), except that
// []byte stays binary, so clients receive a Buffer or ArrayBuffer rather than base64. Go maps
// have no key order, so their keys are sorted; JS objects keep insertion order, so use a
// struct when the key order on the wire matters.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// DefaultKey is the channel prefix used when Options.Key is empty, the default of the Node
// adapter and emitter.
const DefaultKey = "socket.io"

// uid is the sender id the Node emitter writes into broadcasts and server-side emits.
const uid = "emitter"

// packetTypeEvent is the Socket.IO EVENT packet type. Binary arguments still travel as EVENT;
// each receiving server turns the packet into BINARY_EVENT for its clients.
const packetTypeEvent = 2

// Request types of the classic Redis adapter's request channel.
const (
	requestRemoteJoin       = 2
	requestRemoteLeave      = 3
	requestRemoteDisconnect = 4
	requestServerSideEmit   = 6
)

var (
	// ErrReservedEvent is returned when an event name is one Socket.IO reserves for itself.
	ErrReservedEvent = errors.New("reserved event name")
	// ErrAckNotSupported is returned when ServerSideEmit gets a function as an argument: the
	// emitter subscribes to nothing, so it could never receive the acknowledgements.
	ErrAckNotSupported = errors.New("acknowledgements are not supported by the emitter")
)

// reservedEvents are the names Socket.IO uses for its own events; servers would not deliver
// them as user events.
var reservedEvents = []string{
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
}

// Options configures an Emitter.
type Options struct {
	// Key is the prefix of every channel name. It must equal the key of the servers'
	// adapters. Default "socket.io".
	Key string
}

// Emitter publishes to one namespace. It is safe for concurrent use.
type Emitter struct {
	client redis.UniversalClient
	key    string
	nsp    string
}

// New returns an emitter for the main namespace "/". It panics if client is nil.
func New(client redis.UniversalClient, opts Options) *Emitter {
	if client == nil {
		panic("emitter: New called with a nil Redis client")
	}
	key := opts.Key
	if key == "" {
		key = DefaultKey
	}
	return &Emitter{client: client, key: key, nsp: "/"}
}

// Of returns an emitter for namespace nsp; a missing leading slash is added, so "admin" and
// "/admin" are the same namespace and "" is "/".
func (e *Emitter) Of(nsp string) *Emitter {
	if !strings.HasPrefix(nsp, "/") {
		nsp = "/" + nsp
	}
	return &Emitter{client: e.client, key: e.key, nsp: nsp}
}

// Namespace returns the namespace the emitter publishes to.
func (e *Emitter) Namespace() string { return e.nsp }

func (e *Emitter) operator() *BroadcastOperator { return &BroadcastOperator{emitter: e} }

// To returns an operator that targets sockets in any of rooms.
func (e *Emitter) To(rooms ...string) *BroadcastOperator { return e.operator().To(rooms...) }

// In is an alias of To.
func (e *Emitter) In(rooms ...string) *BroadcastOperator { return e.operator().To(rooms...) }

// Except returns an operator that skips sockets in any of rooms.
func (e *Emitter) Except(rooms ...string) *BroadcastOperator {
	return e.operator().Except(rooms...)
}

// Volatile returns an operator whose events may be dropped for clients that are not ready.
func (e *Emitter) Volatile() *BroadcastOperator { return e.operator().Volatile() }

// Compress returns an operator with the compress flag set to compress.
func (e *Emitter) Compress(compress bool) *BroadcastOperator {
	return e.operator().Compress(compress)
}

// Emit publishes event ev with args to every socket of the namespace.
func (e *Emitter) Emit(ctx context.Context, ev string, args ...any) error {
	return e.operator().Emit(ctx, ev, args...)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.operator().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.operator().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace; close also closes the
// underlying connections.
func (e *Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.operator().DisconnectSockets(ctx, close)
}

// ServerSideEmit sends event ev with args to the server-side listeners of the namespace on
// every server, as JSON on the request channel. Unlike Emit it does not check for reserved
// event names, like the Node emitter. It returns ErrAckNotSupported if an argument is a
// function.
func (e *Emitter) ServerSideEmit(ctx context.Context, ev string, args ...any) error {
	for _, a := range args {
		if a != nil && reflect.TypeOf(a).Kind() == reflect.Func {
			return fmt.Errorf("emitter: server-side emit of %q: %w", ev, ErrAckNotSupported)
		}
	}
	data, err := eventData(ev, args)
	if err != nil {
		return fmt.Errorf("emitter: server-side emit of %q: %w", ev, err)
	}
	msg, err := notepack.Stringify(notepack.Map{
		{Key: "uid", Value: uid},
		{Key: "type", Value: requestServerSideEmit},
		{Key: "data", Value: data},
	})
	if err != nil {
		return fmt.Errorf("emitter: server-side emit of %q: %w", ev, err)
	}
	return e.publish(ctx, e.requestChannel(), msg)
}

func (e *Emitter) broadcastChannel() string { return e.key + "#" + e.nsp + "#" }

func (e *Emitter) requestChannel() string { return e.key + "-request#" + e.nsp + "#" }

func (e *Emitter) publish(ctx context.Context, channel string, msg []byte) error {
	if err := e.client.Publish(ctx, channel, msg).Err(); err != nil {
		return fmt.Errorf("emitter: publish to %s: %w", channel, err)
	}
	return nil
}

// flag is one broadcast flag; flags keep the order in which they were first set, because the
// Node emitter builds them with Object.assign.
type flag struct {
	name  string
	value bool
}

// BroadcastOperator is a set of target rooms, excluded rooms and flags. Every method that
// changes it returns a new operator and leaves the receiver as it was.
type BroadcastOperator struct {
	emitter *Emitter
	rooms   []string
	except  []string
	flags   []flag
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	return &BroadcastOperator{
		emitter: b.emitter,
		rooms:   slices.Clone(b.rooms),
		except:  slices.Clone(b.except),
		flags:   slices.Clone(b.flags),
	}
}

// addUnique appends the names not yet in set, keeping insertion order like a JS Set.
func addUnique(set []string, names []string) []string {
	for _, n := range names {
		if !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	return set
}

// To returns an operator that also targets sockets in any of rooms.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	out := b.clone()
	out.rooms = addUnique(out.rooms, rooms)
	return out
}

// In is an alias of To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except returns an operator that also skips sockets in any of rooms, even when they are in a
// target room.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	out := b.clone()
	out.except = addUnique(out.except, rooms)
	return out
}

// Volatile returns an operator whose events may be dropped for clients that are not ready.
func (b *BroadcastOperator) Volatile() *BroadcastOperator { return b.withFlag("volatile", true) }

// Compress returns an operator with the compress flag set. Servers compress by default, so
// only Compress(false) changes delivery.
func (b *BroadcastOperator) Compress(compress bool) *BroadcastOperator {
	return b.withFlag("compress", compress)
}

func (b *BroadcastOperator) withFlag(name string, value bool) *BroadcastOperator {
	out := b.clone()
	for i := range out.flags {
		if out.flags[i].name == name {
			out.flags[i].value = value
			return out
		}
	}
	out.flags = append(out.flags, flag{name: name, value: value})
	return out
}

// Emit publishes event ev with args to the targeted sockets. It returns an error wrapping
// ErrReservedEvent for a reserved name, and an error if an argument cannot be converted
// (a function or channel, for example); nothing is published in either case.
func (b *BroadcastOperator) Emit(ctx context.Context, ev string, args ...any) error {
	if slices.Contains(reservedEvents, ev) {
		return fmt.Errorf("emitter: emit %q: %w", ev, ErrReservedEvent)
	}
	data, err := eventData(ev, args)
	if err != nil {
		return fmt.Errorf("emitter: emit %q: %w", ev, err)
	}
	flags := make(notepack.Map, 0, len(b.flags))
	for _, f := range b.flags {
		flags = append(flags, notepack.Pair{Key: f.name, Value: f.value})
	}
	msg, err := notepack.Encode([]any{
		uid,
		notepack.Map{
			{Key: "type", Value: packetTypeEvent},
			{Key: "data", Value: data},
			{Key: "nsp", Value: b.emitter.nsp},
		},
		notepack.Map{
			{Key: "rooms", Value: stringList(b.rooms)},
			{Key: "flags", Value: flags},
			{Key: "except", Value: stringList(b.except)},
		},
	})
	if err != nil {
		return fmt.Errorf("emitter: emit %q: %w", ev, err)
	}
	// Receivers skip a room channel without decoding when they host no socket in that room,
	// so only a single-room broadcast may use one.
	channel := b.emitter.broadcastChannel()
	if len(b.rooms) == 1 {
		channel += b.rooms[0] + "#"
	}
	return b.emitter.publish(ctx, channel, msg)
}

// SocketsJoin makes the targeted sockets join rooms, on every server.
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.publishRequest(ctx, requestRemoteJoin, notepack.Pair{
		Key: "rooms", Value: stringList(rooms),
	})
}

// SocketsLeave makes the targeted sockets leave rooms, on every server.
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.publishRequest(ctx, requestRemoteLeave, notepack.Pair{
		Key: "rooms", Value: stringList(rooms),
	})
}

// DisconnectSockets disconnects the targeted sockets; close also closes their underlying
// connections.
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.publishRequest(ctx, requestRemoteDisconnect, notepack.Pair{
		Key: "close", Value: close,
	})
}

// publishRequest sends a JSON request without uid or requestId, as the Node emitter does;
// servers answer none of these. Flags do not apply to requests.
func (b *BroadcastOperator) publishRequest(ctx context.Context, typ int, last notepack.Pair,
) error {
	msg, err := notepack.Stringify(notepack.Map{
		{Key: "type", Value: typ},
		{Key: "opts", Value: notepack.Map{
			{Key: "rooms", Value: stringList(b.rooms)},
			{Key: "except", Value: stringList(b.except)},
		}},
		last,
	})
	if err != nil {
		return fmt.Errorf("emitter: encode request of type %d: %w", typ, err)
	}
	return b.emitter.publish(ctx, b.emitter.requestChannel(), msg)
}

// eventData returns [ev, args...] with every argument normalized.
func eventData(ev string, args []any) ([]any, error) {
	data := make([]any, 0, len(args)+1)
	data = append(data, ev)
	for i, a := range args {
		v, err := notepack.Normalize(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		data = append(data, v)
	}
	return data, nil
}

// stringList returns names as a non-nil []any, so an empty list encodes as [] and not null.
func stringList(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}
