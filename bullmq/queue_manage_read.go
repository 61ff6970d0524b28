package bullmq

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

var (
	getJobsScript              = loadScript("get_jobs")
	getCountsPerPriorityScript = loadScript("get_counts_per_priority")
)

// getJobsMaxIterations bounds how often one state's page window moves on to replace ids
// whose job hash is gone, as in Node.
const getJobsMaxIterations = 5

// GetJobs returns the jobs of the given states (default: active, completed, delayed,
// failed, prioritized, waiting, waiting-children), state by state in the order given, each
// state paged by start and end (inclusive, negative counts from the end, as LRANGE). By
// default lists are read from the job added last and sorted sets from the highest score
// (newest finished, latest due); asc reverses both. "waiting" reads the wait list; ask for
// "paused" to read the list a 5.x pause keeps. Ids whose hash is gone are skipped and the
// page is filled from the following ids, as Node's getJobs does.
func (q *Queue) GetJobs(ctx context.Context, states []string, start, end int,
	asc bool) ([]*Job, error) {
	if len(states) == 0 {
		states = defaultCountTypes
	}

	var keys []string
	args := []any{strconv.Itoa(start), strconv.Itoa(end), boolArg(asc),
		strconv.Itoa(getJobsMaxIterations)}
	seenState := map[string]bool{}
	for _, state := range states {
		if state == StateWaiting {
			state = "wait"
		}
		switch state {
		case "wait", StatePaused, StateActive, StateCompleted, StateFailed, StateDelayed,
			StatePrioritized, StateWaitingChildren:
		default:
			return nil, fmt.Errorf("bullmq: invalid job state %q for GetJobs", state)
		}
		if seenState[state] {
			continue
		}
		seenState[state] = true
		keys = append(keys, q.keys.key(state))
		args = append(args, state)
	}

	reply, err := getJobsScript.Run(ctx, q.client, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("bullmq: read jobs of queue %s: %w", q.name, err)
	}

	var jobs []*Job
	seenJob := map[string]bool{}
	for _, perState := range reply {
		entries, _ := perState.([]any)
		for _, entry := range entries {
			pair, ok := entry.([]any)
			if !ok || len(pair) != 2 {
				return nil, fmt.Errorf("bullmq: read jobs of queue %s: unexpected entry %v",
					q.name, entry)
			}
			id, _ := pair[0].(string)
			if seenJob[id] {
				continue
			}
			seenJob[id] = true
			jobs = append(jobs, newJobFromHash(q, id, fieldPairs(pair[1])))
		}
	}
	return jobs, nil
}

// fieldPairs converts a flat field, value reply into a map.
func fieldPairs(v any) map[string]string {
	flat, _ := v.([]any)
	h := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		field, _ := flat[i].(string)
		value, _ := flat[i+1].(string)
		h[field] = value
	}
	return h
}

// GetCountsPerPriority counts the ready jobs of each priority: for 0 the wait list (plus
// the paused list of a 5.x pause), for others the prioritized jobs of that priority.
func (q *Queue) GetCountsPerPriority(ctx context.Context,
	priorities ...int) (map[int]int64, error) {
	args := make([]any, len(priorities))
	for i, p := range priorities {
		if p < 0 || p > MaxPriority {
			return nil, fmt.Errorf("bullmq: invalid priority %d: must be 0 to %d", p,
				MaxPriority)
		}
		args[i] = strconv.Itoa(p)
	}
	if len(priorities) == 0 {
		return map[int]int64{}, nil
	}

	k := q.keys
	counts, err := getCountsPerPriorityScript.Run(ctx, q.client,
		[]string{k.wait(), k.prioritized(), k.paused()}, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("bullmq: count jobs per priority of queue %s: %w", q.name, err)
	}

	out := make(map[int]int64, len(priorities))
	for i, p := range priorities {
		out[p] = counts[i]
	}
	return out, nil
}

// Metrics are the per-minute counts of completed or failed jobs that workers with metrics
// enabled record, as Node's Queue.getMetrics returns them.
type Metrics struct {
	Meta MetricsMeta
	// Data are the counts of the closed minutes in the requested range, newest first.
	Data []int64
	// Count is the number of data points stored.
	Count int64
}

// MetricsMeta is the metrics hash: the total count and the start of the open minute.
type MetricsMeta struct {
	Count int64
	// PrevTS is the finish time in ms of the first job of the newest minute.
	PrevTS int64
	// PrevCount is Count before that job.
	PrevCount int64
}

// GetMetrics reads the metrics of "completed" or "failed" jobs. Start and end select data
// points (0 is the newest minute, -1 the oldest), as LRANGE does.
func (q *Queue) GetMetrics(ctx context.Context, kind string, start, end int64) (*Metrics,
	error) {
	if kind != StateCompleted && kind != StateFailed {
		return nil, fmt.Errorf("bullmq: invalid metrics kind %q: use %q or %q", kind,
			StateCompleted, StateFailed)
	}

	key := q.keys.key("metrics:" + kind)
	var meta *redis.SliceCmd
	var data *redis.StringSliceCmd
	var length *redis.IntCmd
	_, err := q.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		meta = pipe.HMGet(ctx, key, "count", "prevTS", "prevCount")
		data = pipe.LRange(ctx, key+":data", start, end)
		length = pipe.LLen(ctx, key+":data")
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bullmq: read %s metrics of queue %s: %w", kind, q.name, err)
	}

	m := &Metrics{Count: length.Val(), Data: make([]int64, 0, len(data.Val()))}
	values := meta.Val()
	m.Meta.Count = metricValue(values[0])
	m.Meta.PrevTS = metricValue(values[1])
	m.Meta.PrevCount = metricValue(values[2])
	for _, point := range data.Val() {
		m.Data = append(m.Data, parseInt64(point))
	}
	return m, nil
}

func metricValue(v any) int64 {
	s, _ := v.(string)
	return parseInt64(s)
}

// WorkerInfo is one worker connection found by GetWorkers: the fields of its CLIENT LIST
// line.
type WorkerInfo struct {
	// Name is the queue name, as Node reports it.
	Name string
	// RawName is the connection name: "<prefix>:<base64(queue)>" or that plus
	// ":w:<worker name>".
	RawName string
	// Addr is the client's address, and ID its Redis client id.
	Addr string
	ID   string
	// Fields holds every field of the CLIENT LIST line.
	Fields map[string]string
}

// GetWorkers lists the connections of the workers of this queue, Go or Node, by their
// client name (CLIENT LIST). A worker appears once its blocking connection exists. On a
// cluster, the node with the most matching connections is reported, as in Node.
func (q *Queue) GetWorkers(ctx context.Context) ([]WorkerInfo, error) {
	lists, err := q.clientLists(ctx)
	if err != nil {
		return nil, fmt.Errorf("bullmq: list workers of queue %s: %w", q.name, err)
	}

	base := q.prefix + ":" + base64.StdEncoding.EncodeToString([]byte(q.name))
	var best []WorkerInfo
	for _, list := range lists {
		workers := parseClientList(list, func(name string) bool {
			return name == base || strings.HasPrefix(name, base+":w:")
		}, q.name)
		if len(workers) > len(best) {
			best = workers
		}
	}
	return best, nil
}

// clientLists returns the CLIENT LIST output of the server, or of every master of a
// cluster.
func (q *Queue) clientLists(ctx context.Context) ([]string, error) {
	cluster, ok := q.client.(*redis.ClusterClient)
	if !ok {
		list, err := q.client.ClientList(ctx).Result()
		if err != nil {
			return nil, err
		}
		return []string{list}, nil
	}

	var mu sync.Mutex
	var lists []string
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		list, err := node.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		mu.Lock()
		lists = append(lists, list)
		mu.Unlock()
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return lists, nil
}

// parseClientList returns the connections of a CLIENT LIST output whose name matches.
func parseClientList(list string, match func(string) bool, queue string) []WorkerInfo {
	var out []WorkerInfo
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for _, pair := range strings.Fields(line) {
			key, value, _ := strings.Cut(pair, "=")
			fields[key] = value
		}
		name := fields["name"]
		if name == "" || !match(name) {
			continue
		}
		out = append(out, WorkerInfo{Name: queue, RawName: name, Addr: fields["addr"],
			ID: fields["id"], Fields: fields})
	}
	return out
}
