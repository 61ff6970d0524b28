package bullmq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	addJobSchedulerScript    = loadScript("add_job_scheduler")
	removeJobSchedulerScript = loadScript("remove_job_scheduler")
)

// RepeatOpts sets when a job scheduler creates jobs. Exactly one of Every and Pattern
// must be set.
type RepeatOpts struct {
	// Every is the interval between iterations, in whole milliseconds. The first iteration
	// runs at once unless Offset or StartDate is set.
	Every time.Duration
	// Pattern is a cron expression of five fields, or six with a leading seconds field,
	// with the semantics of the npm package cron-parser 5.x.
	Pattern string
	// TZ is the IANA time zone of Pattern. Default: the local zone of the process that
	// computes the next iteration, as in Node.
	TZ string
	// Limit is the number of iterations after which workers stop creating more.
	// Default 0: no limit.
	Limit int
	// StartDate is the earliest time of an iteration. Default: none.
	StartDate time.Time
	// EndDate is the latest time of an iteration; it must be in the future. Default: none.
	EndDate time.Time
	// Immediately runs the first iteration of a Pattern scheduler now, then follows the
	// pattern. It cannot be combined with StartDate.
	Immediately bool
	// Offset shifts the every-grid: iterations run at multiples of Every plus Offset.
	// Default 0: the grid starts at the first iteration.
	Offset time.Duration
}

// JobTemplate is the job each iteration of a scheduler creates.
type JobTemplate struct {
	// Name of every iteration. Default: the scheduler id.
	Name string
	// Data of every iteration, encoded as Queue.Add encodes it.
	Data any
	// Opts of every iteration. JobID, Delay and Deduplication are not allowed, because
	// the scheduler sets the id and the delay of each iteration.
	Opts JobOpts
}

// JobScheduler is a stored scheduler, read from "<prefix>:<queue>:repeat:<id>".
type JobScheduler struct {
	ID   string
	Name string
	// Next is the due time in ms of the pending iteration.
	Next           int64
	Every          time.Duration
	Pattern        string
	TZ             string
	Limit          int
	StartDate      int64
	EndDate        int64
	Offset         int64
	IterationCount int
	// Data is the template data JSON, empty when the hash stores none.
	Data json.RawMessage
	// RawOpts is the template opts JSON, empty when the hash stores none.
	RawOpts string
	// Fields holds the whole hash as read.
	Fields map[string]string
}

// ErrSchedulerNotFound is returned by GetJobScheduler for an unknown scheduler id.
var ErrSchedulerNotFound = errors.New("bullmq: job scheduler not found")

// UpsertJobScheduler creates the scheduler id, or replaces its settings and template, and
// creates its next iteration job "repeat:<id>:<ms>", which it returns. A pending iteration
// that has not started yet is replaced. Workers create each following iteration when they
// start the current one.
//
// It returns nil and no error when a Pattern has no fire time before EndDate.
func (q *Queue) UpsertJobScheduler(ctx context.Context, id string, repeat RepeatOpts,
	tmpl JobTemplate) (*Job, error) {
	if err := validateScheduler(id, repeat, tmpl); err != nil {
		return nil, err
	}

	name := tmpl.Name
	if name == "" {
		name = id
	}
	data, err := encodeJobData(tmpl.Data)
	if err != nil {
		return nil, fmt.Errorf("bullmq: data of job scheduler %q: %w", id, err)
	}
	templateOpts, err := templateStoredOpts(tmpl.Opts)
	if err != nil {
		return nil, fmt.Errorf("bullmq: options of job scheduler %q: %w", id, err)
	}

	now := time.Now()
	var nextMillis int64
	if repeat.Pattern != "" {
		next, ok, err := patternNext(repeat.Pattern, repeat.TZ, now, repeat.StartDate,
			repeat.EndDate, repeat.Immediately)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		nextMillis = max(next, now.UnixMilli())
	}

	iterOpts, err := firstIterationOpts(id, repeat, templateOpts, now, nextMillis)
	if err != nil {
		return nil, err
	}
	schedJSON, err := json.Marshal(schedulerFields(name, repeat))
	if err != nil {
		return nil, fmt.Errorf("bullmq: encode job scheduler %q: %w", id, err)
	}
	ctl, err := iterationControl(tmpl.Opts.Priority, tmpl.Opts.LIFO)
	if err != nil {
		return nil, err
	}

	if err := q.ensureMeta(ctx); err != nil {
		return nil, err
	}

	nextArg := ""
	if nextMillis > 0 {
		nextArg = strconv.FormatInt(nextMillis, 10)
	}
	templateArg := string(templateOpts)
	if templateArg == "{}" {
		templateArg = ""
	}
	scriptNow := time.Now().UnixMilli()
	reply, err := addJobSchedulerScript.Run(ctx, q.client, q.schedulerKeys(),
		q.keys.base+":", id, nextArg, string(schedJSON), string(data), templateArg,
		string(iterOpts), ctl, strconv.FormatInt(scriptNow, 10),
		q.opts.PauseCompat.luaArg()).Result()
	if err != nil {
		return nil, fmt.Errorf("bullmq: upsert job scheduler %q: %w", id, err)
	}
	if code, ok := reply.(int64); ok {
		return nil, &ScriptError{Code: int(code), JobID: id, Command: "upsertJobScheduler"}
	}

	arr, ok := reply.([]any)
	if !ok || len(arr) != 2 {
		return nil, fmt.Errorf("bullmq: upsert job scheduler %q: unexpected reply %v", id,
			reply)
	}
	jobID, _ := arr[0].(string)
	return q.GetJob(ctx, jobID)
}

// schedulerKeys are KEYS[1..11] of add_job_scheduler.lua and add_next_iteration.lua.
func (q *Queue) schedulerKeys() []string {
	k := q.keys
	return []string{k.repeat(), k.delayed(), k.wait(), k.paused(), k.meta(),
		k.prioritized(), k.marker(), k.id(), k.events(), k.pc(), k.active()}
}

// GetJobScheduler returns the scheduler id, or ErrSchedulerNotFound.
func (q *Queue) GetJobScheduler(ctx context.Context, id string) (*JobScheduler, error) {
	var score *redis.FloatCmd
	var hash *redis.MapStringStringCmd
	_, err := q.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		score = pipe.ZScore(ctx, q.keys.repeat(), id)
		hash = pipe.HGetAll(ctx, q.keys.repeat()+":"+id)
		return nil
	})
	if errors.Is(err, redis.Nil) || (err == nil && len(hash.Val()) == 0) {
		return nil, fmt.Errorf("bullmq: job scheduler %q of queue %s: %w", id, q.name,
			ErrSchedulerNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("bullmq: get job scheduler %q: %w", id, err)
	}
	return newJobScheduler(id, int64(score.Val()), hash.Val()), nil
}

// GetJobSchedulers returns the schedulers ranked start to end (inclusive, negative counts
// from the last) by the due time of their pending iteration, earliest first when asc.
// As Node does, it deletes the members whose scheduler hash is missing.
func (q *Queue) GetJobSchedulers(ctx context.Context, start, end int64,
	asc bool) ([]*JobScheduler, error) {
	var members []redis.Z
	var err error
	if asc {
		members, err = q.client.ZRangeWithScores(ctx, q.keys.repeat(), start, end).Result()
	} else {
		members, err = q.client.ZRevRangeWithScores(ctx, q.keys.repeat(), start, end).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("bullmq: list job schedulers of queue %s: %w", q.name, err)
	}

	hashes := make([]*redis.MapStringStringCmd, len(members))
	_, err = q.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, m := range members {
			hashes[i] = pipe.HGetAll(ctx, q.keys.repeat()+":"+m.Member.(string))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bullmq: read job schedulers of queue %s: %w", q.name, err)
	}

	out := make([]*JobScheduler, 0, len(members))
	for i, m := range members {
		id := m.Member.(string)
		if len(hashes[i].Val()) == 0 {
			if _, err := q.RemoveJobScheduler(ctx, id); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, newJobScheduler(id, int64(m.Score), hashes[i].Val()))
	}
	return out, nil
}

// RemoveJobScheduler deletes the scheduler and its pending iteration when that is still
// delayed, and reports whether the scheduler existed. An iteration already waiting or
// running is left alone.
func (q *Queue) RemoveJobScheduler(ctx context.Context, id string) (bool, error) {
	k := q.keys
	code, err := removeJobSchedulerScript.Run(ctx, q.client,
		[]string{k.repeat(), k.delayed(), k.events()}, k.base+":", id).Int64()
	if err != nil {
		return false, fmt.Errorf("bullmq: remove job scheduler %q: %w", id, err)
	}
	return code == 0, nil
}

func newJobScheduler(id string, next int64, h map[string]string) *JobScheduler {
	s := &JobScheduler{
		ID:             id,
		Name:           h["name"],
		Next:           next,
		Every:          time.Duration(parseInt64(h["every"])) * time.Millisecond,
		Pattern:        h["pattern"],
		TZ:             h["tz"],
		Limit:          int(parseInt64(h["limit"])),
		StartDate:      parseInt64(h["startDate"]),
		EndDate:        parseInt64(h["endDate"]),
		Offset:         parseInt64(h["offset"]),
		IterationCount: int(parseInt64(h["ic"])),
		RawOpts:        h["opts"],
		Fields:         h,
	}
	if d, ok := h["data"]; ok {
		s.Data = json.RawMessage(d)
	}
	return s
}

// validateScheduler applies the checks of Node's upsertJobScheduler.
func validateScheduler(id string, r RepeatOpts, tmpl JobTemplate) error {
	if id == "" {
		return errors.New("bullmq: job scheduler id is empty")
	}
	if (r.Every > 0) == (r.Pattern != "") {
		return fmt.Errorf("bullmq: job scheduler %q: set exactly one of Every and Pattern", id)
	}
	if r.Every < 0 || (r.Every > 0 && r.Every < time.Millisecond) {
		return fmt.Errorf("bullmq: job scheduler %q: invalid Every %s", id, r.Every)
	}
	if r.Immediately && !r.StartDate.IsZero() {
		return fmt.Errorf("bullmq: job scheduler %q: Immediately and StartDate cannot be "+
			"used together", id)
	}
	if !r.EndDate.IsZero() && r.EndDate.Before(time.Now()) {
		return fmt.Errorf("bullmq: job scheduler %q: EndDate %s is in the past", id,
			r.EndDate.Format(time.RFC3339))
	}
	if r.Limit < 0 {
		return fmt.Errorf("bullmq: job scheduler %q: invalid Limit %d", id, r.Limit)
	}
	if r.Pattern != "" {
		if _, err := parseCron(r.Pattern); err != nil {
			return err
		}
		if _, err := loadZone(r.TZ); err != nil {
			return err
		}
	}

	o := tmpl.Opts
	if o.JobID != "" || o.Delay != 0 || o.Deduplication != nil {
		return fmt.Errorf("bullmq: job scheduler %q: template options must not set JobID, "+
			"Delay or Deduplication", id)
	}
	o.JobID = ""
	return validateJobOpts(o)
}

// loadZone returns the IANA zone tz, or the local zone when tz is empty.
func loadZone(tz string) (*time.Location, error) {
	if tz == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("bullmq: invalid time zone %q: %w", tz, err)
	}
	return loc, nil
}

// patternNext returns the first fire time in ms strictly after max(now, startDate), as
// Node computes it with cron-parser, or false when there is none up to endDate. With
// immediately it returns now.
func patternNext(pattern, tz string, now, startDate, endDate time.Time,
	immediately bool) (int64, bool, error) {
	cron, err := parseCron(pattern)
	if err != nil {
		return 0, false, err
	}
	loc, err := loadZone(tz)
	if err != nil {
		return 0, false, err
	}
	if immediately {
		return time.Now().UnixMilli(), true, nil
	}

	from := now
	if startDate.After(from) {
		from = startDate
	}
	next, ok := cron.next(from, loc)
	if !ok || (!endDate.IsZero() && next.After(endDate)) {
		return 0, false, nil
	}
	return next.UnixMilli(), true, nil
}

// schedulerFields is the scheduler JSON of add_job_scheduler.lua.
func schedulerFields(name string, r RepeatOpts) map[string]string {
	f := map[string]string{"name": name}
	if r.Every > 0 {
		f["every"] = strconv.FormatInt(r.Every.Milliseconds(), 10)
	}
	if r.Pattern != "" {
		f["pattern"] = r.Pattern
	}
	if r.TZ != "" {
		f["tz"] = r.TZ
	}
	if r.Limit > 0 {
		f["limit"] = strconv.Itoa(r.Limit)
	}
	if !r.StartDate.IsZero() {
		f["startDate"] = strconv.FormatInt(r.StartDate.UnixMilli(), 10)
	}
	if !r.EndDate.IsZero() {
		f["endDate"] = strconv.FormatInt(r.EndDate.UnixMilli(), 10)
	}
	if r.Every > 0 && r.Offset > 0 {
		f["offset"] = strconv.FormatInt(r.Offset.Milliseconds(), 10)
	}
	return f
}

// templateStoredOpts encodes template options as Node stores them in the scheduler hash:
// the compact keys, without "attempts" unless it is set.
func templateStoredOpts(o JobOpts) (json.RawMessage, error) {
	raw, err := o.storedOpts()
	if err != nil {
		return nil, err
	}
	if o.Attempts != 0 {
		return raw, nil
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	obj.remove("attempts")
	return obj.MarshalJSON()
}

// firstIterationOpts builds the stored opts of the iteration an upsert creates, without
// "delay" and "jobId", which the script appends.
func firstIterationOpts(id string, r RepeatOpts, templateOpts json.RawMessage, now time.Time,
	nextMillis int64) (json.RawMessage, error) {
	obj, err := decodeObject(templateOpts)
	if err != nil {
		return nil, err
	}

	rep := orderedObject{}
	if r.Every > 0 {
		rep.add("every", r.Every.Milliseconds())
	}
	if r.Pattern != "" {
		rep.add("pattern", r.Pattern)
	}
	if r.TZ != "" {
		rep.add("tz", r.TZ)
	}
	if r.Limit > 0 {
		rep.add("limit", r.Limit)
	}
	if r.Every > 0 && r.Offset > 0 {
		rep.add("offset", r.Offset.Milliseconds())
	}
	rep.add("count", 1)
	if !r.StartDate.IsZero() {
		rep.add("startDate", r.StartDate.UnixMilli())
	}
	if !r.EndDate.IsZero() {
		rep.add("endDate", r.EndDate.UnixMilli())
	}

	obj.set("repeat", rep)
	obj.set("timestamp", now.UnixMilli())
	if nextMillis > 0 {
		obj.set("prevMillis", nextMillis)
	}
	obj.set("repeatJobKey", id)
	return obj.MarshalJSON()
}

// iterationControl is the control JSON of the scheduler scripts.
func iterationControl(priority int, lifo bool) (string, error) {
	b, err := json.Marshal(struct {
		Priority string `json:"priority"`
		LIFO     bool   `json:"lifo,omitempty"`
	}{strconv.Itoa(priority), lifo})
	if err != nil {
		return "", fmt.Errorf("bullmq: encode scheduler control: %w", err)
	}
	return string(b), nil
}

// decodeObject decodes a JSON object into an orderedObject that keeps the key order.
func decodeObject(raw []byte) (*orderedObject, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("bullmq: invalid JSON object: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("bullmq: invalid JSON object %q", truncate(string(raw), 64))
	}

	obj := &orderedObject{}
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bullmq: invalid JSON object: %w", err)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("bullmq: invalid JSON object: %w", err)
		}
		obj.add(keyTok.(string), value)
	}
	return obj, nil
}

// set replaces the value of key, or adds key at the end.
func (o *orderedObject) set(key string, value any) {
	for i, k := range o.keys {
		if k == key {
			o.values[i] = value
			return
		}
	}
	o.add(key, value)
}

// get returns the value of key.
func (o *orderedObject) get(key string) (any, bool) {
	for i, k := range o.keys {
		if k == key {
			return o.values[i], true
		}
	}
	return nil, false
}

// remove deletes key.
func (o *orderedObject) remove(key string) {
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			o.values = append(o.values[:i], o.values[i+1:]...)
			return
		}
	}
}
