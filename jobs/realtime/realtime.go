// Package realtime is the catalog of the CRM's Socket.IO events. For every event it fixes
// the name, the rooms and the payload type, so a handler cannot send an event to a wrong
// room or with a wrong payload.
//
// Each event has a constructor that takes the ids of its rooms and a typed payload, and
// returns an Event ready to emit:
//
//	ev := realtime.NotificationNew(userID, realtime.NotificationNewPayload{...})
//	if err := ev.Emit(ctx, pub); err != nil {
//		return err
//	}
//
// When a room id is also a payload field (berthId for berth:updated, for example), the
// constructor takes it from the payload, so the two cannot disagree. JSON field names are
// camelCase, as the Node app's clients read them. Catalog lists every event for code that
// exports the contracts.
package realtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/portnimara/nimara/socketio/emitter"
)

// Room names. Ids are the CRM's ids: uuids for ports, berths, clients and interests, and
// Better Auth's text ids for users.
const (
	// GlobalRoom is joined by super admins in cross-port mode.
	GlobalRoom = "global"
)

// PortRoom returns the room of every user of a port, "port:{portId}".
func PortRoom(portID string) string { return "port:" + portID }

// UserRoom returns the room of one user's tabs and devices, "user:{userId}".
func UserRoom(userID string) string { return "user:" + userID }

// BerthRoom returns the room of users viewing a berth, "berth:{berthId}".
func BerthRoom(berthID string) string { return "berth:" + berthID }

// ClientRoom returns the room of users viewing a client, "client:{clientId}".
func ClientRoom(clientID string) string { return "client:" + clientID }

// InterestRoom returns the room of users viewing an interest, "interest:{interestId}".
func InterestRoom(interestID string) string { return "interest:" + interestID }

// Publisher sends one Socket.IO event with one argument, the payload, to the union of rooms.
// NewEmitterPublisher adapts *emitter.Emitter; tests use fakes.
type Publisher interface {
	Publish(ctx context.Context, rooms []string, event string, payload any) error
}

// NewEmitterPublisher returns a Publisher that broadcasts through e, so every Socket.IO
// server on e's Redis channels delivers the event to its sockets in the rooms.
func NewEmitterPublisher(e *emitter.Emitter) Publisher {
	return emitterPublisher{e: e}
}

type emitterPublisher struct{ e *emitter.Emitter }

func (p emitterPublisher) Publish(ctx context.Context, rooms []string, event string,
	payload any,
) error {
	return p.e.To(rooms...).Emit(ctx, event, payload)
}

// Event is one catalog event with its rooms and payload. Only the constructors of this
// package make non-zero Events.
type Event[P any] struct {
	name    string
	rooms   []string
	payload P
}

func newEvent[P any](name string, payload P, rooms ...string) Event[P] {
	return Event[P]{name: name, rooms: rooms, payload: payload}
}

// Name returns the Socket.IO event name, such as "notification:new".
func (e Event[P]) Name() string { return e.name }

// Rooms returns a copy of the rooms the event goes to.
func (e Event[P]) Rooms() []string { return append([]string(nil), e.rooms...) }

// Payload returns the event's payload.
func (e Event[P]) Payload() P { return e.payload }

// Emit sends the event through pub. It fails without sending when the Event is the zero
// value or when a room id is empty, because such an event would reach no user or the
// wrong ones.
func (e Event[P]) Emit(ctx context.Context, pub Publisher) error {
	if e.name == "" {
		return fmt.Errorf("realtime: emit of a zero Event: build events with the constructors")
	}
	for _, room := range e.rooms {
		if strings.HasSuffix(room, ":") {
			return fmt.Errorf("realtime: emit %s: room %q has an empty id", e.name, room)
		}
	}

	if err := pub.Publish(ctx, e.rooms, e.name, e.payload); err != nil {
		return fmt.Errorf("emit %s to %s: %w", e.name, strings.Join(e.rooms, ","), err)
	}
	return nil
}
