// Package socketio is the root of nimara's Socket.IO tree: Go code that shares a Redis
// deployment with Node Socket.IO servers and publishes the same bytes as the Node packages on
// the wire.
//
// Subpackages:
//
//   - emitter publishes events, room changes and disconnects from processes that are not
//     Socket.IO servers, byte for byte as @socket.io/redis-emitter 5.1.0 does.
//   - internal/notepack is the MessagePack codec those messages use, matching notepack.io
//     3.0.1.
//
// Example, from a worker:
//
//	e := emitter.New(rdb, emitter.Options{})
//	err := e.To("port:7").Emit(ctx, "berth:statusChanged", BerthStatus{ID: 7})
package socketio
