package adapter

import (
	"fmt"
	"strings"

	"github.com/zishang520/engine.io/v2/types"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/internal/notepack"
)

// remoteSocket is a socket of another server, as a fetchSockets response describes it.
type remoteSocket struct {
	id        socket.SocketId
	handshake *socket.Handshake
	rooms     *types.Set[socket.Room]
	data      any
}

func (r *remoteSocket) Id() socket.SocketId            { return r.id }
func (r *remoteSocket) Handshake() *socket.Handshake   { return r.handshake }
func (r *remoteSocket) Rooms() *types.Set[socket.Room] { return r.rooms }
func (r *remoteSocket) Data() any                      { return r.data }

// encodeSocket writes a local socket the way a Node server describes its sockets, so Node
// code reading handshake.headers["cookie"] or handshake.query.token works on Go sockets too.
// A socket without data gets {}, the Node default.
func encodeSocket(s socket.SocketDetails) (notepack.Map, error) {
	data, err := notepack.Normalize(s.Data())
	if err != nil {
		return nil, fmt.Errorf("data of socket %s: %w", s.Id(), err)
	}
	if data == nil {
		data = notepack.Map{}
	}

	handshake, err := encodeHandshake(s.Handshake(), requestHost(s))
	if err != nil {
		return nil, fmt.Errorf("handshake of socket %s: %w", s.Id(), err)
	}

	return notepack.Map{
		{Key: "id", Value: string(s.Id())},
		{Key: "handshake", Value: handshake},
		{Key: "rooms", Value: roomList(s.Rooms())},
		{Key: "data", Value: data},
	}, nil
}

// encodeSockets writes local sockets as the sockets list of a fetchSockets response.
func encodeSockets(sockets []socket.SocketDetails) ([]any, error) {
	list := make([]any, 0, len(sockets))
	for _, s := range sockets {
		encoded, err := encodeSocket(s)
		if err != nil {
			return nil, err
		}
		list = append(list, encoded)
	}
	return list, nil
}

// requestHost returns the Host header of a local socket's handshake request. net/http keeps
// it out of the header map that zishang520 copies, while Node sockets list it.
func requestHost(s socket.SocketDetails) string {
	local, ok := s.(*socket.Socket)
	if !ok || local.Request() == nil || local.Request().Request() == nil {
		return ""
	}
	return local.Request().Request().Host
}

func encodeHandshake(h *socket.Handshake, host string) (notepack.Map, error) {
	if h == nil {
		return notepack.Map{}, nil
	}

	// Go maps have no order; Stringify sorts the keys of a map[string]any.
	headers := map[string]any{}
	for name, values := range h.Headers {
		lower := strings.ToLower(name)
		separator := ", "
		if lower == "cookie" {
			separator = "; "
		}
		headers[lower] = strings.Join(values, separator)
	}
	if _, ok := headers["host"]; !ok && host != "" {
		headers["host"] = host
	}

	query := map[string]any{}
	for name, values := range h.Query {
		var value any = strings.Join(values, "")
		if len(values) > 1 {
			list := make([]any, len(values))
			for i, v := range values {
				list[i] = v
			}
			value = list
		}
		query[name] = value
	}

	auth, err := notepack.Normalize(h.Auth)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if auth == nil {
		auth = notepack.Map{}
	}

	return notepack.Map{
		{Key: "headers", Value: headers},
		{Key: "time", Value: h.Time},
		{Key: "address", Value: h.Address},
		{Key: "xdomain", Value: h.Xdomain},
		{Key: "secure", Value: h.Secure},
		{Key: "issued", Value: h.Issued},
		{Key: "url", Value: h.Url},
		{Key: "query", Value: query},
		{Key: "auth", Value: auth},
	}, nil
}

// decodeSocket reads one entry of a fetchSockets response.
func decodeSocket(v any) (*remoteSocket, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: socket is %T instead of a map", errMalformed, v)
	}
	id, ok := m["id"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: socket id is %T", errMalformed, m["id"])
	}
	rooms, err := roomSet(m["rooms"])
	if err != nil {
		return nil, err
	}
	return &remoteSocket{
		id:        socket.SocketId(id),
		handshake: decodeHandshake(m["handshake"]),
		rooms:     rooms,
		data:      m["data"],
	}, nil
}

// decodeHandshake accepts the Node form (string values, lower-case header names) and the
// zishang520 form (lists of strings); unknown types of a field leave it empty.
func decodeHandshake(v any) *socket.Handshake {
	m, _ := v.(map[string]any)
	h := &socket.Handshake{
		Headers: stringLists(m["headers"]),
		Query:   stringLists(m["query"]),
		Auth:    m["auth"],
	}
	h.Time, _ = stringValue(m["time"])
	h.Address, _ = stringValue(m["address"])
	h.Url, _ = stringValue(m["url"])
	h.Xdomain, _ = m["xdomain"].(bool)
	h.Secure, _ = m["secure"].(bool)
	h.Issued, _ = intValue(m["issued"])
	return h
}

func stringLists(v any) map[string][]string {
	out := map[string][]string{}
	m, _ := v.(map[string]any)
	for key, value := range m {
		switch x := value.(type) {
		case []any:
			for _, item := range x {
				if s, ok := stringValue(item); ok {
					out[key] = append(out[key], s)
				}
			}
		default:
			if s, ok := stringValue(x); ok {
				out[key] = []string{s}
			}
		}
	}
	return out
}
