package bullmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxPriority is the highest job priority Node bullmq accepts (2^21 - 1). Lower numbers run
// first, and priority 0 jobs run before every prioritized job.
const MaxPriority = 2097151

var addJobScript = loadScript("add_job")

// parentPolicyKeys are the stored option keys of the child failure policies. Node allows at
// most one of them per job, and copies the one that is set into the job's "parent" field.
var parentPolicyKeys = []string{"fpof", "cpof", "idof", "rdof"}

// BulkJob is one job of an AddBulk call.
type BulkJob struct {
	Name string
	Data any
	Opts JobOpts
}

// Add adds a job to the queue and returns it with its ID and Timestamp set. The job is
// delayed when opts.Delay is positive, prioritized when opts.Priority is positive, and
// otherwise pushed to wait (at the front of the line when opts.LIFO is set).
//
// data is stored as JSON encoded like JavaScript's JSON.stringify: a json.RawMessage is
// validated and compacted, and nil is stored as {} as Node stores undefined.
//
// When a job with the custom opts.JobID exists already, or the deduplication key of
// opts.Deduplication names a live job, nothing is created and the returned Job has the ID
// of that existing job, while its other fields describe this add. Use GetJob to read the
// stored job.
func (q *Queue) Add(ctx context.Context, name string, data any, opts JobOpts) (*Job, error) {
	req, err := q.newAddRequest(name, data, opts, time.Now())
	if err != nil {
		return nil, err
	}

	if err := q.ensureMeta(ctx); err != nil {
		return nil, err
	}

	cmd := addJobScript.Run(ctx, q.client, req.keys, req.args...)
	return req.finish(cmd)
}

// AddBulk adds the jobs in one pipeline and returns them in the same order. Each add is
// independent, as in Node: the batch is not atomic, and a failed add does not stop the
// others. On failure the returned slice holds nil for each job that was not added, and the
// error joins the failures. Options are validated before anything is sent.
func (q *Queue) AddBulk(ctx context.Context, jobs []BulkJob) ([]*Job, error) {
	now := time.Now()
	requests := make([]*addRequest, len(jobs))
	for i, bj := range jobs {
		req, err := q.newAddRequest(bj.Name, bj.Data, bj.Opts, now)
		if err != nil {
			return nil, fmt.Errorf("bullmq: bulk job %d: %w", i, err)
		}
		requests[i] = req
	}
	if len(requests) == 0 {
		return []*Job{}, nil
	}

	if err := q.ensureMeta(ctx); err != nil {
		return nil, err
	}

	// EVALSHA inside a pipeline cannot fall back to EVAL, so load the script first.
	if err := addJobScript.Load(ctx, q.client).Err(); err != nil {
		return nil, fmt.Errorf("bullmq: load add script: %w", err)
	}

	cmds := make([]*redis.Cmd, len(requests))
	_, err := q.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, req := range requests {
			cmds[i] = addJobScript.EvalSha(ctx, pipe, req.keys, req.args...)
		}
		return nil
	})
	if err != nil && allFailed(cmds) {
		return nil, fmt.Errorf("bullmq: add %d jobs to queue %s: %w", len(jobs), q.name, err)
	}

	added := make([]*Job, len(requests))
	var failures []error
	for i, req := range requests {
		job, err := req.finish(cmds[i])
		if err != nil {
			failures = append(failures, fmt.Errorf("bulk job %d: %w", i, err))
			continue
		}
		added[i] = job
	}
	return added, errors.Join(failures...)
}

// allFailed reports whether every command failed, as when the connection breaks.
func allFailed(cmds []*redis.Cmd) bool {
	for _, cmd := range cmds {
		if cmd.Err() == nil {
			return false
		}
	}
	return true
}

// ensureMeta writes the queue settings that Node's Queue constructor writes: the event
// stream length, always, and the version, only when no client has written one, so a 5.x
// version stays detectable (see PauseAuto). It runs once per Queue unless it fails.
func (q *Queue) ensureMeta(ctx context.Context) error {
	if q.opts.SkipMetaUpdate {
		return nil
	}

	q.metaMu.Lock()
	defer q.metaMu.Unlock()

	if q.metaWritten {
		return nil
	}

	meta := q.keys.meta()
	_, err := q.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, meta, "opts.maxLenEvents", q.opts.MaxLenEvents)
		pipe.HSetNX(ctx, meta, "version", "bullmq:"+Version)
		return nil
	})
	if err != nil {
		return fmt.Errorf("bullmq: write meta of queue %s: %w", q.name, err)
	}

	q.metaWritten = true
	return nil
}

// addRequest is one validated add: the script's keys and arguments, and the Job to return.
type addRequest struct {
	keys     []string
	args     []any
	job      *Job
	customID string
}

// addControl is the control argument of add_job.lua.
type addControl struct {
	Delay        string         `json:"delay"`
	Priority     string         `json:"priority"`
	LIFO         bool           `json:"lifo,omitempty"`
	Compat       string         `json:"compat"`
	Parent       string         `json:"parent,omitempty"`
	RepeatJobKey string         `json:"rjk,omitempty"`
	Dedup        *addDedup      `json:"de,omitempty"`
	Keys         map[string]int `json:"keys"`
	// WaitingChildren and DeferRelease are set by FlowProducer (see add_job.lua).
	WaitingChildren bool `json:"waitingChildren,omitempty"`
	DeferRelease    bool `json:"deferRelease,omitempty"`
}

type addDedup struct {
	ID               string `json:"id"`
	TTL              int64  `json:"ttl,omitempty"`
	Extend           bool   `json:"extend,omitempty"`
	Replace          bool   `json:"replace,omitempty"`
	KeepLastIfActive bool   `json:"keepLastIfActive,omitempty"`
	Reschedule       bool   `json:"reschedule,omitempty"`
}

func (q *Queue) newAddRequest(name string, data any, opts JobOpts,
	now time.Time) (*addRequest, error) {
	if err := validateJobOpts(opts); err != nil {
		return nil, err
	}

	dataJSON, err := encodeJobData(data)
	if err != nil {
		return nil, fmt.Errorf("bullmq: data of job %q: %w", name, err)
	}

	storedOpts, err := opts.storedOpts()
	if err != nil {
		return nil, fmt.Errorf("bullmq: options of job %q: %w", name, err)
	}

	timestamp := now
	if !opts.Timestamp.IsZero() {
		timestamp = opts.Timestamp
	}

	control := addControl{
		Delay:    strconv.FormatInt(opts.Delay.Milliseconds(), 10),
		Priority: strconv.Itoa(opts.Priority),
		LIFO:     opts.LIFO,
		Compat:   q.opts.PauseCompat.luaArg(),
		Keys:     map[string]int{},
	}

	k := q.keys
	keys := []string{
		k.wait(), k.paused(), k.meta(), k.id(), k.completed(), k.delayed(), k.active(),
		k.events(), k.marker(), k.prioritized(), k.pc(),
	}
	addKey := func(name, key string) {
		keys = append(keys, key)
		control.Keys[name] = len(keys) // Lua indexes KEYS from 1
	}

	if d := opts.Deduplication; d != nil {
		control.Dedup = &addDedup{
			ID: d.ID, TTL: d.TTL.Milliseconds(), Extend: d.Extend, Replace: d.Replace,
			KeepLastIfActive: d.KeepLastIfActive, Reschedule: d.Reschedule,
		}
		addKey("de", k.key("de:"+d.ID))
		addKey("dn", k.key("dn:"+d.ID))
	}

	if p := opts.Parent; p != nil {
		parentKey := p.Queue + ":" + p.ID
		field, err := parentField(p, opts.Extra)
		if err != nil {
			return nil, err
		}
		control.Parent = field
		addKey("parent", parentKey)
		addKey("deps", parentKey+":dependencies")
	}

	controlJSON, err := json.Marshal(control)
	if err != nil {
		return nil, fmt.Errorf("bullmq: encode add arguments: %w", err)
	}

	job := &Job{
		Name:      name,
		Data:      dataJSON,
		Opts:      opts,
		RawOpts:   string(storedOpts),
		Timestamp: timestamp.UnixMilli(),
		Delay:     opts.Delay.Milliseconds(),
		Priority:  opts.Priority,
		queue:     q,
	}
	if opts.Parent != nil {
		job.ParentKey = opts.Parent.Queue + ":" + opts.Parent.ID
		job.Parent = control.Parent
	}
	if opts.Deduplication != nil {
		job.DeduplicationID = opts.Deduplication.ID
	}

	return &addRequest{
		keys: keys,
		args: []any{
			k.base + ":", opts.JobID, name, strconv.FormatInt(job.Timestamp, 10),
			string(dataJSON), string(storedOpts), string(controlJSON),
		},
		job:      job,
		customID: opts.JobID,
	}, nil
}

// finish reads the script's reply: the job id, or a negative error code.
func (r *addRequest) finish(cmd *redis.Cmd) (*Job, error) {
	reply, err := cmd.Result()
	if err != nil {
		return nil, fmt.Errorf("bullmq: add job %q: %w", r.job.Name, err)
	}

	switch v := reply.(type) {
	case string:
		r.job.ID = v
		return r.job, nil
	case int64:
		return nil, &ScriptError{Code: int(v), JobID: r.customID, Command: "add"}
	}
	return nil, fmt.Errorf("bullmq: add job %q: unexpected script reply %v", r.job.Name, reply)
}

// encodeJobData encodes a job payload as Node stores it; nil becomes {} like undefined.
func encodeJobData(data any) (json.RawMessage, error) {
	if data == nil {
		return json.RawMessage("{}"), nil
	}
	if raw, ok := data.(json.RawMessage); ok && len(raw) == 0 {
		return json.RawMessage("{}"), nil
	}
	b, err := marshalJSON(data)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// parentField builds the job hash field "parent": {"id","queueKey"} plus the child failure
// policy flag, if one is set in extra.
func parentField(p *ParentRef, extra map[string]json.RawMessage) (string, error) {
	obj := orderedObject{}
	obj.add("id", p.ID)
	obj.add("queueKey", p.Queue)
	for _, key := range parentPolicyKeys {
		if string(extra[key]) == "true" {
			obj.add(key, true)
		}
	}
	b, err := obj.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("bullmq: encode parent of job: %w", err)
	}
	return string(b), nil
}

// validateJobOpts rejects the options Node's Queue.add rejects, and custom ids that would
// collide with the queue's own keys.
func validateJobOpts(opts JobOpts) error {
	if opts.JobID != "" {
		if err := validateCustomJobID(opts.JobID); err != nil {
			return err
		}
	}

	if opts.Priority < 0 || opts.Priority > MaxPriority {
		return fmt.Errorf("bullmq: invalid priority %d: must be between 0 and %d",
			opts.Priority, MaxPriority)
	}
	if opts.Delay < 0 {
		return fmt.Errorf("bullmq: invalid delay %s: must not be negative", opts.Delay)
	}
	if b := opts.Backoff; b != nil && (b.Jitter < 0 || b.Jitter > 1) {
		return fmt.Errorf("bullmq: invalid backoff jitter %g: must be between 0 and 1",
			b.Jitter)
	}

	if d := opts.Deduplication; d != nil {
		if d.ID == "" {
			return errors.New("bullmq: deduplication id is missing")
		}
		if opts.Parent != nil {
			return errors.New("bullmq: deduplication and parent cannot be used together")
		}
	}
	if p := opts.Parent; p != nil && (p.ID == "" || p.Queue == "") {
		return fmt.Errorf("bullmq: invalid parent %+v: id and queue are required", *p)
	}

	var policies []string
	for _, key := range parentPolicyKeys {
		if string(opts.Extra[key]) == "true" {
			policies = append(policies, key)
		}
	}
	if len(policies) > 1 {
		return fmt.Errorf("bullmq: options %s cannot be used together",
			strings.Join(policies, ", "))
	}
	return nil
}

// canonicalInteger matches the decimal strings that JavaScript could print for a number.
var canonicalInteger = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// validateCustomJobID applies Node's custom id rules: not "0" or "0:…", not an integer in
// canonical form, and ':' only in ids of exactly three parts (scheduler iterations). It also
// rejects ids that would name a queue key ("wait", "meta", …) or a deduplication key.
func validateCustomJobID(id string) error {
	if id == "0" || strings.HasPrefix(id, "0:") {
		return fmt.Errorf("bullmq: invalid job id %q: must not be '0' or start with '0:'", id)
	}
	if isJSIntegerString(id) {
		return fmt.Errorf("bullmq: invalid job id %q: custom ids must not be integers", id)
	}
	if strings.Contains(id, ":") && len(strings.Split(id, ":")) != 3 {
		return fmt.Errorf("bullmq: invalid job id %q: ':' is only allowed in ids of three "+
			"parts", id)
	}
	if reservedSuffixes[id] {
		return fmt.Errorf("bullmq: invalid job id %q: it is the name of a queue key", id)
	}
	if strings.HasPrefix(id, "de:") || strings.HasPrefix(id, "dn:") {
		return fmt.Errorf("bullmq: invalid job id %q: the prefixes 'de:' and 'dn:' name "+
			"deduplication keys", id)
	}
	return nil
}

// isJSIntegerString reports whether JavaScript's String(parseInt(id, 10)) equals id, the
// test Node applies to custom ids.
func isJSIntegerString(id string) bool {
	if !canonicalInteger.MatchString(id) {
		return false
	}
	f, err := strconv.ParseFloat(id, 64)
	if err != nil || math.Abs(f) >= 1e21 {
		return false // JavaScript prints such numbers in exponent form
	}
	if f == 0 {
		return id == "0" // String(-0) is "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64) == id
}
