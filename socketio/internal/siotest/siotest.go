// Package siotest contains the test helpers that the adapter and emitter tests share: a
// Redis client for TEST_REDIS_URL or REDIS_URL, unique channel prefixes, the interop
// directory with the Node peers, and a writer that forwards a process's output to the test
// log.
//
// Only tests import it.
package siotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the Redis server used when neither TEST_REDIS_URL nor REDIS_URL is set.
const DefaultRedisURL = "redis://127.0.0.1:6379/15"

// RedisURL returns TEST_REDIS_URL, then REDIS_URL (the variable the rest of the test suite
// reads), or DefaultRedisURL. Tests pass it to the Node peers so both sides use one server.
func RedisURL() string {
	for _, name := range []string{"TEST_REDIS_URL", "REDIS_URL"} {
		if url := os.Getenv(name); url != "" {
			return url
		}
	}
	return DefaultRedisURL
}

// Redis connects to RedisURL, as ConnectRedis does.
func Redis(t *testing.T) *redis.Client {
	t.Helper()
	return ConnectRedis(t, RedisURL())
}

// ConnectRedis returns a client for url and closes it when the test ends. When the server
// does not respond to PING within 2 seconds, the test is skipped, or fails when CI is set.
func ConnectRedis(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("invalid Redis URL %q: %v", url, err)
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

// UniqueKey returns a channel prefix that no other test uses.
func UniqueKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "nimara-test-" + hex.EncodeToString(b)
}

// InteropDir returns the absolute path of the repository's interop directory, which
// contains the Node peers. It fails the test when node is not in PATH or the npm package
// module, such as "@socket.io/redis-adapter", is not installed there.
func InteropDir(t *testing.T, module string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("locate interop directory: %v", err)
	}
	dir := filepath.Join(root, "interop")

	modules := filepath.Join(dir, "node_modules", filepath.FromSlash(module))
	if _, err := os.Stat(modules); err != nil {
		t.Fatalf("Node peers missing in %s: run `npm ci` there first (%v)", dir, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found in PATH: %v", err)
	}
	return dir
}

// moduleRoot returns the nearest directory at or above the working directory that contains
// go.mod. go test runs each test in its package directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// LogWriter forwards each write, with a prefix and without its trailing newline, to the
// test log until the test ends. Later writes are discarded, because t.Log panics once the
// test has finished.
type LogWriter struct {
	t      *testing.T
	prefix string

	mu   sync.Mutex
	done bool
}

// NewLogWriter returns a LogWriter for t that stops forwarding when the test ends. Create it
// before the process that writes to it, so that the cleanup stopping the process runs first.
func NewLogWriter(t *testing.T, prefix string) *LogWriter {
	w := &LogWriter{t: t, prefix: prefix}
	t.Cleanup(w.stop)
	return w
}

// Write logs b as one test log line.
func (w *LogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(w.prefix + strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *LogWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
