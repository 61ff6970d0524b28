package adapter

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io-go-parser/v2/parser"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// packetTypeEvent is the Socket.IO EVENT packet type on the wire. Binary arguments still
// travel as EVENT: each receiving server turns the packet into BINARY_EVENT for its clients.
const packetTypeEvent = 2

// errMalformed is wrapped by the errors of messages that do not have the expected shape.
var errMalformed = errors.New("malformed message")

// decodeMessage parses a request or response: JSON when the first byte is "{", as the Node
// adapters decide, MessagePack otherwise. The result must be a map.
func decodeMessage(data []byte) (map[string]any, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty payload", errMalformed)
	}

	var tree any
	var err error
	if data[0] == '{' {
		tree, err = notepack.ParseJSON(data)
	} else {
		tree, err = notepack.Decode(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}

	m, ok := plain(tree).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %T instead of a map", errMalformed, tree)
	}
	return m, nil
}

// plain turns the ordered maps of a parsed JSON tree into map[string]any, the form the
// zishang520 parser walks when it looks for binary values and that user code expects.
func plain(v any) any {
	switch x := v.(type) {
	case notepack.Map:
		m := make(map[string]any, len(x))
		for _, p := range x {
			m[p.Key] = plain(p.Value)
		}
		return m
	case map[string]any:
		for k, item := range x {
			x[k] = plain(item)
		}
		return x
	case []any:
		for i, item := range x {
			x[i] = plain(item)
		}
		return x
	default:
		return v
	}
}

// intValue returns v as an integer when it is a whole number of any decoded numeric type.
func intValue(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.Abs(x) > 1<<62 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// stringValue returns v as a string; JS peers may send numbers where Go sends strings (a
// room named 7), so whole numbers are converted as JS would print them.
func stringValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64, uint64, float64:
		b, err := notepack.Stringify(x)
		return string(b), err == nil
	}
	return "", false
}

// roomSet converts a decoded list of room names; a missing list is the empty set.
func roomSet(v any) (*types.Set[socket.Room], error) {
	set := types.NewSet[socket.Room]()
	if v == nil {
		return set, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: room list is %T", errMalformed, v)
	}
	for _, item := range list {
		name, ok := stringValue(item)
		if !ok {
			return nil, fmt.Errorf("%w: room name is %T", errMalformed, item)
		}
		set.Add(socket.Room(name))
	}
	return set, nil
}

// roomList returns the rooms as a non-nil list, so an empty set encodes as [] and not null.
func roomList(set *types.Set[socket.Room]) []any {
	if set == nil {
		return []any{}
	}
	keys := set.Keys()
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

// roomStrings is roomList for a plain slice of rooms.
func roomStrings(rooms []socket.Room) []any {
	out := make([]any, len(rooms))
	for i, r := range rooms {
		out[i] = string(r)
	}
	return out
}

// encodeFlags writes only the flags that are set, in the Node form: compress only when true
// (Node servers compress unless compress is false, and Go cannot tell false from unset),
// timeout in milliseconds.
func encodeFlags(f *socket.BroadcastFlags) notepack.Map {
	flags := notepack.Map{}
	if f == nil {
		return flags
	}
	if f.Volatile {
		flags = append(flags, notepack.Pair{Key: "volatile", Value: true})
	}
	if f.Compress {
		flags = append(flags, notepack.Pair{Key: "compress", Value: true})
	}
	if f.Timeout != nil {
		flags = append(flags, notepack.Pair{Key: "timeout", Value: f.Timeout.Milliseconds()})
	}
	if f.ExpectSingleResponse {
		flags = append(flags, notepack.Pair{Key: "expectSingleResponse", Value: true})
	}
	return flags
}

// decodeFlags reads the flags a local delivery uses. An absent compress flag means true,
// the Node default.
func decodeFlags(v any) *socket.BroadcastFlags {
	flags := &socket.BroadcastFlags{}
	flags.Compress = true
	m, _ := v.(map[string]any)
	if volatile, ok := m["volatile"].(bool); ok {
		flags.Volatile = volatile
	}
	if compress, ok := m["compress"].(bool); ok {
		flags.Compress = compress
	}
	if ms, ok := intValue(m["timeout"]); ok {
		timeout := time.Duration(ms) * time.Millisecond
		flags.Timeout = &timeout
	}
	return flags
}

// encodeOptions writes the rooms, except and flags of a broadcast in the key order of the
// Node adapters.
func encodeOptions(opts *socket.BroadcastOptions, withFlags bool) notepack.Map {
	if opts == nil {
		opts = &socket.BroadcastOptions{}
	}
	out := notepack.Map{
		{Key: "rooms", Value: roomList(opts.Rooms)},
		{Key: "except", Value: roomList(opts.Except)},
	}
	if withFlags {
		out = append(out, notepack.Pair{Key: "flags", Value: encodeFlags(opts.Flags)})
	}
	return out
}

// decodeOptions reads the options map of a broadcast or request. The map itself is required,
// as in Node, where a missing one throws.
func decodeOptions(v any) (*socket.BroadcastOptions, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: options are %T instead of a map", errMalformed, v)
	}
	rooms, err := roomSet(m["rooms"])
	if err != nil {
		return nil, err
	}
	except, err := roomSet(m["except"])
	if err != nil {
		return nil, err
	}
	flags := decodeFlags(m["flags"])
	return &socket.BroadcastOptions{Rooms: rooms, Except: except, Flags: flags}, nil
}

// wirePacketType translates the ASCII packet types of the zishang520 parser into the
// integers of the protocol. BINARY_EVENT becomes EVENT, because Node receivers re-encode the
// packet and a type-5 packet reaches clients as a frame they cannot parse.
func wirePacketType(t parser.PacketType) int {
	if t == parser.BINARY_EVENT {
		return packetTypeEvent
	}
	return int(t - '0')
}

// goPacketType is the reverse of wirePacketType.
func goPacketType(v any) (parser.PacketType, error) {
	n, ok := intValue(v)
	if !ok || n < 0 || n > 6 {
		return 0, fmt.Errorf("%w: packet type %v", errMalformed, v)
	}
	if n == 5 {
		return parser.EVENT, nil
	}
	return parser.PacketType('0' + n), nil
}

// normalizeData converts the arguments of a packet into the JSON-shaped tree the codecs
// accept, keeping []byte as binary.
func normalizeData(data any) ([]any, error) {
	list, ok := data.([]any)
	if !ok {
		return nil, fmt.Errorf("packet data is %T instead of a list", data)
	}
	out := make([]any, len(list))
	for i, item := range list {
		v, err := notepack.Normalize(item)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// decodePacket reads a packet map {type, data[, nsp]}.
func decodePacket(v any) (*parser.Packet, map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%w: packet is %T instead of a map", errMalformed, v)
	}
	typ, err := goPacketType(m["type"])
	if err != nil {
		return nil, nil, err
	}
	data, ok := m["data"].([]any)
	if !ok {
		return nil, nil, fmt.Errorf("%w: packet data is %T instead of a list", errMalformed,
			m["data"])
	}
	return &parser.Packet{Type: typ, Data: data}, m, nil
}

// firstArgument returns the value Node forwards for a client or server acknowledgement:
// its first argument, or nil when there is none.
func firstArgument(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

// randomHex returns n random bytes as 2n hex characters.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomID returns a 6-character id from the alphabet of the uid2 package that the Node
// classic adapter uses for server uids and request ids.
func randomID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]%64]
	}
	return string(b)
}
