package emitter_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/socketio/emitter"
	"github.com/portnimara/nimara/socketio/internal/siotest"
)

// message is one publication seen by a test subscriber.
type message struct {
	Channel string
	Payload []byte
}

// newSubscribedEmitter returns an emitter with a key that no other test uses, and the
// subscription that receives its publications.
func newSubscribedEmitter(t *testing.T) (*emitter.Emitter, string, <-chan message) {
	t.Helper()
	client := siotest.Redis(t)
	key := siotest.UniqueKey(t)
	sub := subscribe(t, client, key)
	return emitter.New(client, emitter.Options{Key: key}), key, sub
}

// subscribe receives every publication whose channel starts with key, until the test ends.
func subscribe(t *testing.T, client *redis.Client, key string) <-chan message {
	t.Helper()
	ctx := context.Background()
	ps := client.PSubscribe(ctx, key+"*")
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("psubscribe %s*: %v", key, err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	out := make(chan message, 1024)
	go func() {
		defer close(out)
		for m := range ps.Channel() {
			out <- message{Channel: m.Channel, Payload: []byte(m.Payload)}
		}
	}()
	return out
}

// receive returns the next n publications, failing the test after timeout.
func receive(t *testing.T, ch <-chan message, n int, timeout time.Duration) []message {
	t.Helper()
	var got []message
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("subscription closed after %d of %d messages", len(got), n)
			}
			got = append(got, m)
		case <-deadline:
			t.Fatalf("timed out after %s with %d of %d messages", timeout, len(got), n)
		}
	}
	return got
}

// expectNone fails if a publication arrives within wait.
func expectNone(t *testing.T, ch <-chan message, wait time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected publication on %s: %x", m.Channel, m.Payload)
	case <-time.After(wait):
	}
}
