package emitter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// message is one publication seen by a test subscriber.
type message struct {
	Channel string
	Payload []byte
}

// testRedis connects to TEST_REDIS_URL (default redis://127.0.0.1:6379/15). Without a server
// the test is skipped locally and fails when CI is set.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/15"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("invalid TEST_REDIS_URL %q: %v", url, err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s unreachable: %v", url, err)
		}
		t.Skipf("Redis at %s unreachable: %v", url, err)
	}
	return client
}

// uniqueKey returns a channel prefix no other test uses.
func uniqueKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "nimara-test-" + hex.EncodeToString(b)
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
