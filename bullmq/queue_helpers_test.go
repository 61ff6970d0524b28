package bullmq

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redistest"
)

// newTestQueue returns a queue with a unique prefix and name, and the client it uses.
func newTestQueue(t *testing.T, opts QueueOpts) (*Queue, *redis.Client) {
	t.Helper()

	client := redistest.Client(t)
	opts.Prefix = redistest.Prefix(t)
	return NewQueue(client, redistest.QueueName(t), opts), client
}

func testContext(t *testing.T) context.Context {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// streamEvents returns the entries of the queue's events stream, each as
// "name field=value ...", in stream order. It reads the raw reply, because the parsed
// entries of go-redis lose the field order.
func streamEvents(t *testing.T, client *redis.Client, q *Queue) []string {
	t.Helper()

	reply, err := client.Do(context.Background(), "XRANGE", q.keys.events(), "-", "+").Slice()
	if err != nil {
		t.Fatalf("XRANGE events: %v", err)
	}

	out := make([]string, 0, len(reply))
	for _, raw := range reply {
		fields := raw.([]any)[1].([]any)

		var b strings.Builder
		for i := 0; i+1 < len(fields); i += 2 {
			name, value := fields[i].(string), fields[i+1].(string)
			if i == 0 && name == "event" {
				b.WriteString(value)
				continue
			}
			b.WriteString(" " + name + "=" + value)
		}
		out = append(out, b.String())
	}
	return out
}

func mustAdd(t *testing.T, q *Queue, name string, data any, opts JobOpts) *Job {
	t.Helper()

	job, err := q.Add(testContext(t), name, data, opts)
	if err != nil {
		t.Fatalf("Add(%q): %v", name, err)
	}
	return job
}

func listRange(t *testing.T, client redis.Cmdable, key string) []string {
	t.Helper()

	ids, err := client.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatalf("LRANGE %s: %v", key, err)
	}
	return ids
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func redisZ(score float64, member string) redis.Z {
	return redis.Z{Score: score, Member: member}
}
