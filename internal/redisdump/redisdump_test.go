package redisdump_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/internal/redisdump"
	"github.com/portnimara/nimara/internal/redistest"
)

// scenario holds what differs between two runs that should compare equal.
type scenario struct {
	prefix, queue string
	now           int64 // ms
	uuid          string
}

// write stores a small BullMQ-like data set: a job hash, its lock, the wait list, the
// completed, delayed, prioritized and marker sorted sets, a stalled set, the events stream
// and a job scheduler iteration.
func (s scenario) write(t *testing.T, client *redis.Client) {
	t.Helper()

	ctx := context.Background()
	base := s.prefix + ":" + s.queue
	ms := func(offset int64) string { return strconv.FormatInt(s.now+offset, 10) }

	_, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, base+":1",
			"name", "greet",
			"data", `{"to":"a\/b","n":1}`,
			"opts", `{"delay":0,"attempts":3,"backoff":{"type":"fixed","delay":`+ms(0)+`}}`,
			"timestamp", ms(0),
			"processedOn", ms(5),
			"parentKey", base+":parent",
			"pb", "worker-"+s.uuid,
			"stacktrace", `["Error: boom\n    at x.js:1", "Error: boom\n    at y.js:2"]`,
			"failedReason", "timed out at "+ms(7),
		)
		pipe.Set(ctx, base+":1:lock", s.uuid+":12", 30*time.Second)
		pipe.LPush(ctx, base+":wait", "3", "2")
		pipe.ZAdd(ctx, base+":completed",
			redis.Z{Score: float64(s.now + 10), Member: "5"},
			redis.Z{Score: float64(s.now + 20), Member: "4"},
		)
		pipe.ZAdd(ctx, base+":delayed",
			redis.Z{Score: float64((s.now+60000)*4096 + 1), Member: "7"},
			redis.Z{Score: float64((s.now + 60000) * 4096), Member: "6"},
		)
		pipe.ZAdd(ctx, base+":prioritized", redis.Z{Score: 5<<32 + 1, Member: "8"})
		pipe.ZAdd(ctx, base+":marker",
			redis.Z{Score: 0, Member: "0"},
			redis.Z{Score: float64(s.now) + 60000.5, Member: "1"},
		)
		pipe.SAdd(ctx, base+":stalled", "2", "10")
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: base + ":events",
			Values: []any{"event", "added", "jobId", "1", "name", "greet"},
		})
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: base + ":events",
			Values: []any{"event", "delayed", "jobId", "6", "delay", ms(60000)},
		})
		pipe.HSet(ctx, base+":repeat:daily:"+ms(86400000), "name", "report")
		return nil
	})
	if err != nil {
		t.Fatalf("writing scenario under %s: %v", s.prefix, err)
	}
}

func newScenario(t *testing.T, now int64, uuid string) scenario {
	t.Helper()

	return scenario{
		prefix: redistest.Prefix(t),
		queue:  redistest.QueueName(t),
		now:    now,
		uuid:   uuid,
	}
}

func (s scenario) dump(
	t *testing.T,
	client *redis.Client,
	opts *redisdump.Opts,
) redisdump.Snapshot {
	t.Helper()

	if opts == nil {
		opts = &redisdump.Opts{}
	}
	opts.Replace = map[string]string{s.queue: "<Q>"}
	return redisdump.MustDump(t, client, s.prefix, opts)
}

const wantDefault = `<P>:<Q>:1 hash
  data = {"n":1,"to":"a/b"}
  failedReason = timed out at <ts>
  name = greet
  opts = {"attempts":3,"backoff":{"delay":"<ts>","type":"fixed"},"delay":0}
  parentKey = <P>:<Q>:parent
  pb = worker-<uuid>
  processedOn = <ts>
  stacktrace = ["<stack>","<stack>"]
  timestamp = <ts>
<P>:<Q>:1:lock string ttl
  <token>
<P>:<Q>:completed zset
  5 @ <ts#0>
  4 @ <ts#1>
<P>:<Q>:delayed zset
  6 @ <ts*4096#0>
  7 @ <ts*4096#1>
<P>:<Q>:events stream
  #0 event = added
  #0 jobId = 1
  #0 name = greet
  #1 event = delayed
  #1 jobId = 6
  #1 delay = <ts>
<P>:<Q>:marker zset
  0 @ 0
  1 @ <ts#0>
<P>:<Q>:prioritized zset
  8 @ 21474836481
<P>:<Q>:repeat:daily:<ts> hash
  name = report
<P>:<Q>:stalled set
  10
  2
<P>:<Q>:wait list
  2
  3
`

func TestDump_DefaultRules(t *testing.T) {
	t.Parallel()

	client := redistest.Client(t)
	s := newScenario(t, 1796397548080, "0b7e7f4e-2c1a-4d5e-9f00-1234567890ab")
	s.write(t, client)

	got := s.dump(t, client, nil).String()
	if got != wantDefault {
		t.Errorf("String() mismatch\ngot:\n%s\nwant:\n%s", got, wantDefault)
	}
}

func TestDump_EqualAcrossRuns(t *testing.T) {
	t.Parallel()

	client := redistest.Client(t)
	a := newScenario(t, 1796397548080, "0b7e7f4e-2c1a-4d5e-9f00-1234567890ab")
	b := newScenario(t, 1700000000123, "c3d4e5f6-0000-4111-8222-abcdefabcdef")
	a.write(t, client)
	b.write(t, client)

	if diff := redisdump.Diff(a.dump(t, client, nil), b.dump(t, client, nil)); diff != "" {
		t.Errorf("runs with different prefixes, times and UUIDs differ:\n%s", diff)
	}
}

func TestDump_KeepOptions(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := redistest.Client(t)
	s := newScenario(t, 1796397548080, "0b7e7f4e-2c1a-4d5e-9f00-1234567890ab")
	s.write(t, client)

	snapshot := s.dump(t, client, &redisdump.Opts{
		KeepJSON:       true,
		KeepStacks:     true,
		KeepTokens:     true,
		KeepUUIDs:      true,
		KeepTimestamps: true,
		KeepScores:     true,
		KeepStreamIDs:  true,
		IgnoreTTL:      true,
	})

	job, ok := snapshot.Get("<P>:<Q>:1")
	if !ok {
		t.Fatalf("key <P>:<Q>:1 missing from:\n%s", snapshot)
	}
	checks := map[string]string{
		"data":        `{"to":"a\/b","n":1}`,
		"timestamp":   "1796397548080",
		"pb":          "worker-0b7e7f4e-2c1a-4d5e-9f00-1234567890ab",
		"parentKey":   "<P>:<Q>:parent",
		"stacktrace":  `["Error: boom\n    at x.js:1", "Error: boom\n    at y.js:2"]`,
		"processedOn": "1796397548085",
	}
	for field, want := range checks {
		if got, _ := job.Field(field); got != want {
			t.Errorf("field %s = %q, want %q", field, got, want)
		}
	}

	lock, ok := snapshot.Get("<P>:<Q>:1:lock")
	if !ok {
		t.Fatalf("key <P>:<Q>:1:lock missing from:\n%s", snapshot)
	}
	if lock.Value != s.uuid+":12" {
		t.Errorf("lock value = %q, want the token %s:12", lock.Value, s.uuid)
	}
	if lock.HasTTL {
		t.Errorf("lock HasTTL = true with IgnoreTTL")
	}

	delayed, _ := snapshot.Get("<P>:<Q>:delayed")
	wantScore := strconv.FormatInt((s.now+60000)*4096, 10)
	if len(delayed.Members) != 2 || delayed.Members[0].Score != wantScore {
		t.Errorf("delayed members = %+v, want first score %s", delayed.Members, wantScore)
	}

	events, _ := snapshot.Get("<P>:<Q>:events")
	ids, err := client.XRange(ctx, s.prefix+":"+s.queue+":events", "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	if len(events.Entries) != 2 || events.Entries[0].ID != ids[0].ID {
		t.Errorf("events entries = %+v, want ids from XRANGE %+v", events.Entries, ids)
	}

	if _, ok := snapshot.Get("<P>:<Q>:repeat:daily:1796483948080"); !ok {
		t.Errorf("scheduler key with its timestamp missing from:\n%s", snapshot)
	}
}

func TestDump_OnlyKeysUnderPrefix(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t)

	// The neighbour starts with the prefix text but not with "<prefix>:".
	neighbour := prefix + "x:foo"
	t.Cleanup(func() { client.Del(context.Background(), neighbour) })

	for _, key := range []string{prefix + ":a", neighbour} {
		if err := client.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}

	got := redisdump.MustDump(t, client, prefix, nil).String()
	if want := "<P>:a string\n  v\n"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	if _, err := redisdump.Dump(ctx, client, "", nil); err == nil {
		t.Errorf("Dump with an empty prefix returned no error")
	}
}

func TestDump_StreamFieldOrder(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := redistest.Client(t)
	prefix := redistest.Prefix(t)

	// Enough fields to rule out a map that happens to iterate in order.
	values := make([]any, 0, 40)
	var want strings.Builder
	want.WriteString("<P>:s stream\n")
	for i := 19; i >= 0; i-- {
		name := fmt.Sprintf("f%02d", i)
		values = append(values, name, i)
		fmt.Fprintf(&want, "  #0 %s = %d\n", name, i)
	}
	err := client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + ":s", Values: values}).Err()
	if err != nil {
		t.Fatalf("XADD: %v", err)
	}

	got := redisdump.MustDump(t, client, prefix, nil).String()
	if got != want.String() {
		t.Errorf("String() mismatch\ngot:\n%s\nwant:\n%s", got, want.String())
	}
}

func TestDiff_ShowsChangedAndMissingKeys(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	client := redistest.Client(t)
	a := newScenario(t, 1796397548080, "0b7e7f4e-2c1a-4d5e-9f00-1234567890ab")
	b := newScenario(t, 1796397548080, "0b7e7f4e-2c1a-4d5e-9f00-1234567890ab")
	a.write(t, client)
	b.write(t, client)

	baseB := b.prefix + ":" + b.queue
	_, err := client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, baseB+":1", "name", "other")
		pipe.Persist(ctx, baseB+":1:lock")
		pipe.Del(ctx, baseB+":stalled")
		pipe.Set(ctx, baseB+":id", "9", 0)
		return nil
	})
	if err != nil {
		t.Fatalf("changing run b: %v", err)
	}

	diff := redisdump.Diff(a.dump(t, client, nil), b.dump(t, client, nil))
	for _, want := range []string{
		" <P>:<Q>:1 hash\n",
		"-  name = greet\n+  name = other\n",
		"-<P>:<Q>:1:lock string ttl\n+<P>:<Q>:1:lock string\n",
		"+<P>:<Q>:id string\n+  9\n",
		"-<P>:<Q>:stalled set\n-  10\n-  2\n",
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("Diff lacks %q; diff:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "<P>:<Q>:wait") {
		t.Errorf("Diff mentions the unchanged wait list:\n%s", diff)
	}
}

func TestDiff_Lines(t *testing.T) {
	t.Parallel()

	listKey := func(items ...string) redisdump.Snapshot {
		return redisdump.Snapshot{Keys: []redisdump.Key{{Name: "<P>:l", Type: "list", Items: items}}}
	}

	tests := []struct {
		name string
		a, b redisdump.Snapshot
		want string
	}{
		{
			name: "Equal",
			a:    listKey("1", "2"),
			b:    listKey("1", "2"),
			want: "",
		},
		{
			name: "Inserted",
			a:    listKey("1", "3"),
			b:    listKey("1", "2", "3"),
			want: " <P>:l list\n   1\n+  2\n   3\n",
		},
		{
			name: "Replaced",
			a:    listKey("1", "2", "3"),
			b:    listKey("1", "x", "3"),
			want: " <P>:l list\n   1\n-  2\n+  x\n   3\n",
		},
		{
			name: "QuotedValues",
			a:    listKey("", " padded", "two\nlines"),
			b:    redisdump.Snapshot{},
			want: "-<P>:l list\n-  \"\"\n-  \" padded\"\n-  \"two\\nlines\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := redisdump.Diff(tt.a, tt.b); got != tt.want {
				t.Errorf("Diff() = %q, want %q", got, tt.want)
			}
		})
	}
}
