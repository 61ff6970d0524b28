// Package redistest gives tests a Redis client and unique key names, so tests can share one
// Redis server and run in parallel without FLUSHDB.
//
// The server address comes from REDIS_URL (default redis://127.0.0.1:6379), the same variable
// that the Node peer in interop/peer.mjs reads. Tests fail when Redis does not respond to PING.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the Redis server used when REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379"

// cleanupTimeout bounds the key deletion that Prefix registers.
const cleanupTimeout = 30 * time.Second

// URL returns REDIS_URL, or DefaultURL when it is unset or empty.
func URL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Client returns a new client for URL and closes it when the test ends. It fails the test
// when the URL is invalid or the server does not respond to PING within 5 seconds.
func Client(t testing.TB) *redis.Client {
	t.Helper()

	client, err := newClient()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })

	return client
}

func newClient() (*redis.Client, error) {
	opts, err := redis.ParseURL(URL())
	if err != nil {
		return nil, fmt.Errorf("invalid REDIS_URL %q: %w", URL(), err)
	}
	client := redis.NewClient(opts)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis at %s does not respond to PING (start redis-server or set "+
			"REDIS_URL): %w", opts.Addr, err)
	}
	return client, nil
}

// Prefix returns a key prefix unique to this test, of the form nt{<8 hex digits>}. It
// contains no ':', so a BullMQ queue base key is <prefix>:<queue>, and its braces form a
// Redis Cluster hash tag. When the test ends, every key matching <prefix>:* is deleted.
//
// Cleanups run in reverse order of registration, so call Prefix before starting workers or
// peers whose own cleanup must stop them before their keys are deleted.
func Prefix(t testing.TB) string {
	t.Helper()

	prefix := "nt{" + randomHex(t) + "}"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()

		client, err := newClient()
		if err != nil {
			t.Errorf("redistest: deleting keys of prefix %s: %v", prefix, err)
			return
		}
		defer client.Close()

		if _, err := DeleteKeys(ctx, client, EscapePattern(prefix)+":*"); err != nil {
			t.Errorf("redistest: deleting keys of prefix %s: %v", prefix, err)
		}
	})

	return prefix
}

// QueueName returns a queue name unique to this test, of the form q<8 hex digits>.
func QueueName(t testing.TB) string {
	t.Helper()

	return "q" + randomHex(t)
}

// DeleteKeys deletes every key matching the glob pattern with SCAN and UNLINK, and returns
// how many keys it deleted. On a cluster client it scans every master. Keys written while it
// runs may survive.
func DeleteKeys(ctx context.Context, client redis.UniversalClient, pattern string) (int, error) {
	cluster, ok := client.(*redis.ClusterClient)
	if !ok {
		return deleteKeysOnNode(ctx, client, pattern)
	}

	var (
		mu      sync.Mutex
		deleted int
	)
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := deleteKeysOnNode(ctx, node, pattern)

		mu.Lock()
		deleted += n
		mu.Unlock()

		return err
	})
	return deleted, err
}

func deleteKeysOnNode(ctx context.Context, client redis.Cmdable, pattern string) (int, error) {
	const batchSize = 500

	deleted := 0
	batch := make([]string, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}

		// One UNLINK per key, so keys of different cluster slots never share a command.
		cmds, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, key := range batch {
				pipe.Unlink(ctx, key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("unlink %d keys: %w", len(batch), err)
		}

		for _, cmd := range cmds {
			deleted += int(cmd.(*redis.IntCmd).Val())
		}
		batch = batch[:0]
		return nil
	}

	iter := client.Scan(ctx, 0, pattern, batchSize).Iterator()
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) < batchSize {
			continue
		}
		if err := flush(); err != nil {
			return deleted, err
		}
	}
	if err := iter.Err(); err != nil {
		return deleted, fmt.Errorf("scan %q: %w", pattern, err)
	}

	if err := flush(); err != nil {
		return deleted, err
	}
	return deleted, nil
}

// EscapePattern escapes the glob characters *, ?, [, ] and \ in s, so s can be used as the
// literal part of a SCAN or KEYS pattern.
func EscapePattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func randomHex(t testing.TB) string {
	t.Helper()

	var buf [4]byte
	if _, err := rand.Read(buf[:]); err != nil {
		t.Fatalf("redistest: reading random bytes: %v", err)
	}
	return hex.EncodeToString(buf[:])
}
