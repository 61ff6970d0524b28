package bullmq

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// PauseCompat selects how a Go queue pauses and where Go places ready jobs while the queue is
// paused. Node bullmq 6.x keeps ready jobs in the wait list during a pause. 5.x renames wait
// to paused and sends new jobs to the paused list. On resume it renames paused back over
// wait, which would drop any job another client pushed to wait in the meantime.
type PauseCompat int

const (
	// PauseAuto, the default, pauses 6.x style unless the queue's meta version names a 5.x
	// client. While the queue is paused, Go writes ready jobs to the paused list whenever that
	// list exists, so a 5.x resume carries them over instead of overwriting them.
	PauseAuto PauseCompat = iota
	// PauseV6 always behaves as Node bullmq 6.x.
	PauseV6
	// PauseV5 always behaves as Node bullmq 5.x: pause renames wait to paused and every ready
	// job written while paused goes to the paused list. Use it when 5.x peers may resume.
	PauseV5
)

// luaArg is the mode value passed to the scripts.
func (c PauseCompat) luaArg() string {
	switch c {
	case PauseV6:
		return "v6"
	case PauseV5:
		return "v5"
	default:
		return "auto"
	}
}

// QueueOpts configures a Queue.
type QueueOpts struct {
	// Prefix is the first part of every key. Default "bull".
	Prefix string
	// MaxLenEvents is the approximate maximum length of the events stream, stored in the
	// queue's meta hash by the first Queue that writes it. Default 10000.
	MaxLenEvents int
	// PauseCompat selects pause behaviour with 5.x peers. Default PauseAuto.
	PauseCompat PauseCompat
	// SkipMetaUpdate leaves the meta hash's version and maxLenEvents fields alone.
	SkipMetaUpdate bool
	// Logger receives the queue's logs. Default slog.Default().
	Logger *slog.Logger
}

// BackoffType names a retry backoff strategy.
const (
	BackoffFixed       = "fixed"
	BackoffExponential = "exponential"
)

// Backoff decides the delay before a retry. Type is "fixed", "exponential" or the name of a
// custom strategy registered on the worker.
type Backoff struct {
	Type  string
	Delay time.Duration
	// Jitter in [0, 1] randomizes the delay downwards by up to that fraction.
	Jitter float64
}

// Retention is the policy for a job that completes or fails for good. It mirrors
// Node's removeOnComplete and removeOnFail: true, false, a count, or {age, count, limit}.
type Retention struct {
	kind   int // 0 keep all (false), 1 remove (true), 2 count, 3 age/count
	count  int
	age    time.Duration
	limit  int
	hasCnt bool
}

// RemoveJob deletes the job as soon as it finishes (Node: true).
func RemoveJob() *Retention { return &Retention{kind: 1} }

// KeepJobs keeps every finished job (Node: false).
func KeepJobs() *Retention { return &Retention{kind: 0} }

// KeepLast keeps only the newest n finished jobs of the set (Node: a number).
func KeepLast(n int) *Retention { return &Retention{kind: 2, count: n} }

// KeepFor keeps finished jobs for age (whole seconds), and at most count of them when count
// is positive (Node: {age, count}). Limit caps the deletions per finish call (default 1000).
func KeepFor(age time.Duration, count, limit int) *Retention {
	return &Retention{kind: 3, age: age, count: count, hasCnt: count > 0, limit: limit}
}

// MarshalJSON stores the retention in Node's option shape.
func (r *Retention) MarshalJSON() ([]byte, error) {
	switch r.kind {
	case 0:
		return []byte("false"), nil
	case 1:
		return []byte("true"), nil
	case 2:
		return json.Marshal(r.count)
	}
	obj := orderedObject{}
	obj.add("age", int64(r.age/time.Second))
	if r.hasCnt {
		obj.add("count", r.count)
	}
	if r.limit > 0 {
		obj.add("limit", r.limit)
	}
	return obj.MarshalJSON()
}

// UnmarshalJSON reads any of Node's shapes.
func (r *Retention) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case bool:
		if t {
			*r = Retention{kind: 1}
		} else {
			*r = Retention{kind: 0}
		}
	case float64:
		*r = Retention{kind: 2, count: int(t)}
	case map[string]any:
		*r = Retention{kind: 3}
		if a, ok := t["age"].(float64); ok {
			r.age = time.Duration(a) * time.Second
		}
		if c, ok := t["count"].(float64); ok {
			r.count, r.hasCnt = int(c), true
		}
		if l, ok := t["limit"].(float64); ok {
			r.limit = int(l)
		}
	default:
		return fmt.Errorf("bullmq: invalid retention %s", b)
	}
	return nil
}

// keepJobs is the retention passed to the finish script: count -1 keeps all, 0 removes.
type keepJobs struct {
	Count int
	Age   int64 // seconds, 0 for no age limit
	Limit int   // max jobs removed by age per call, 0 for the script's default
}

// args returns the retention arguments of move_to_finished.lua: count, age and limit, with
// "" for an unset age or limit.
func (k keepJobs) args() []any {
	age, limit := "", ""
	if k.Age != 0 {
		age = strconv.FormatInt(k.Age, 10)
	}
	if k.Limit != 0 {
		limit = strconv.Itoa(k.Limit)
	}
	return []any{strconv.Itoa(k.Count), age, limit}
}

func (r *Retention) keepJobs() keepJobs {
	if r == nil {
		return keepJobs{Count: -1}
	}
	switch r.kind {
	case 0:
		return keepJobs{Count: -1}
	case 1:
		return keepJobs{Count: 0}
	case 2:
		return keepJobs{Count: r.count}
	}
	k := keepJobs{Count: -1, Age: int64(r.age / time.Second), Limit: r.limit}
	if r.hasCnt {
		k.Count = r.count
	}
	return k
}

// Deduplication makes an add return the existing job while a job with the same ID owns the
// deduplication key (stored under opts "de").
type Deduplication struct {
	ID string
	// TTL bounds how long the key lives (throttle mode). Zero: until the owner finishes.
	TTL time.Duration
	// Extend renews the TTL on every deduplicated add (debounce).
	Extend bool
	// Replace swaps a delayed owner for the new job.
	Replace bool
	// KeepLastIfActive stores the latest deduplicated add and enqueues it when the active
	// owner finishes.
	KeepLastIfActive bool
	// Reschedule moves a delayed owner to the deduplicated add's delay, counted from that
	// add's timestamp (Node bullmq 6.x; 5.x stores the flag but ignores it). Replace wins
	// over it.
	Reschedule bool
}

// ParentRef names the parent of a job in a flow.
type ParentRef struct {
	ID string
	// Queue is the parent's queue base key, "<prefix>:<queue>".
	Queue string
}

// JobOpts are the options of one job, with Node's names. Zero values are not stored,
// except Attempts, which Node always stores.
type JobOpts struct {
	JobID            string
	Delay            time.Duration
	Priority         int
	LIFO             bool
	Attempts         int
	Backoff          *Backoff
	RemoveOnComplete *Retention
	RemoveOnFail     *Retention
	Deduplication    *Deduplication
	// Timestamp replaces the creation time (default: now).
	Timestamp       time.Time
	KeepLogs        int
	StackTraceLimit int
	Parent          *ParentRef

	// Extra holds stored option keys this package does not model, preserved on read and
	// written back when the options are stored again.
	Extra map[string]json.RawMessage
}
