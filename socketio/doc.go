// Package socketio is the root of nimara's Socket.IO tree: Go code that shares a Redis
// deployment with Node Socket.IO servers and publishes the same bytes as the Node packages on
// the wire.
//
// Subpackages:
//
//   - adapter makes a github.com/zishang520/socket.io/v2 server a member of a cluster of
//     Socket.IO servers, speaking the protocol of @socket.io/redis-adapter 8.3.0: the
//     classic protocol (createAdapter) or the sharded one (createShardedAdapter, Redis 7).
//     Go and Node servers can share one cluster.
//   - emitter publishes events, room changes and disconnects from processes that are not
//     Socket.IO servers, byte for byte as @socket.io/redis-emitter 5.1.0 does. It reaches
//     servers of the classic protocol only.
//   - internal/notepack is the MessagePack codec those messages use, matching notepack.io
//     3.0.1.
//
// Example, a gateway that joins a cluster of Node servers using the default key:
//
//	builder, err := adapter.New(adapter.Options{
//		Client:          rdb, // a connected redis.UniversalClient
//		Key:             "socket.io",
//		RequestsTimeout: 5 * time.Second,
//		Logger:          logger,
//	})
//	if err != nil {
//		return err
//	}
//	opts := socket.DefaultServerOptions()
//	opts.SetAdapter(builder)
//	io := socket.NewServer(nil, opts)
//	http.Handle("/socket.io/", io.ServeHandler(nil))
//
// Example, from a worker:
//
//	e := emitter.New(rdb, emitter.Options{})
//	err := e.To("port:7").Emit(ctx, "berth:statusChanged", BerthStatus{ID: 7})
package socketio
