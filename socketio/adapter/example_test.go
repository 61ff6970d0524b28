package adapter_test

import (
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zishang520/socket.io/v2/socket"

	"github.com/portnimara/nimara/socketio/adapter"
)

// A zishang520 server joins a cluster of Node Socket.IO servers that use createAdapter with
// the default key.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	builder, err := adapter.New(adapter.Options{
		Client:          rdb,
		RequestsTimeout: 5 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		panic(err)
	}

	opts := socket.DefaultServerOptions()
	opts.SetAdapter(builder)
	io := socket.NewServer(nil, opts)
	http.Handle("/socket.io/", io.ServeHandler(nil))

	// Every broadcast reaches the clients of all servers of the cluster.
	io.To("port:7").Emit("berth:statusChanged", map[string]any{"id": 7, "status": "docked"})
}

// Servers that use createShardedAdapter (Redis 7 sharded pub/sub) need the sharded builder
// with the same subscription mode.
func ExampleNewSharded() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	builder, err := adapter.NewSharded(adapter.ShardedOptions{
		Client:           rdb,
		SubscriptionMode: adapter.SubscriptionDynamic,
	})
	if err != nil {
		panic(err)
	}

	opts := socket.DefaultServerOptions()
	opts.SetAdapter(builder)
	_ = socket.NewServer(nil, opts)
}
