package bullmq

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// storedOpts encodes the options with the compact keys Node stores in the job hash field
// "opts". Attempts is always present, as Node writes it; the other keys only when set.
func (o JobOpts) storedOpts() ([]byte, error) {
	obj := orderedObject{}
	obj.add("attempts", o.Attempts)
	if o.Backoff != nil {
		b := orderedObject{}
		b.add("type", o.Backoff.Type)
		b.add("delay", o.Backoff.Delay.Milliseconds())
		if o.Backoff.Jitter > 0 {
			b.add("jitter", o.Backoff.Jitter)
		}
		obj.add("backoff", b)
	}
	if o.Delay > 0 {
		obj.add("delay", o.Delay.Milliseconds())
	}
	if o.Priority > 0 {
		obj.add("priority", o.Priority)
	}
	if o.LIFO {
		obj.add("lifo", true)
	}
	if !o.Timestamp.IsZero() {
		obj.add("timestamp", o.Timestamp.UnixMilli())
	}
	if o.JobID != "" {
		obj.add("jobId", o.JobID)
	}
	if o.RemoveOnComplete != nil {
		obj.add("removeOnComplete", o.RemoveOnComplete)
	}
	if o.RemoveOnFail != nil {
		obj.add("removeOnFail", o.RemoveOnFail)
	}
	if o.KeepLogs > 0 {
		obj.add("kl", o.KeepLogs)
	}
	if o.StackTraceLimit > 0 {
		obj.add("stackTraceLimit", o.StackTraceLimit)
	}
	if o.Parent != nil {
		p := orderedObject{}
		p.add("id", o.Parent.ID)
		p.add("queue", o.Parent.Queue)
		obj.add("parent", p)
	}
	if d := o.Deduplication; d != nil {
		de := orderedObject{}
		de.add("id", d.ID)
		if d.TTL > 0 {
			de.add("ttl", d.TTL.Milliseconds())
		}
		if d.Extend {
			de.add("extend", true)
		}
		if d.Replace {
			de.add("replace", true)
		}
		if d.KeepLastIfActive {
			de.add("keepLastIfActive", true)
		}
		if d.Reschedule {
			de.add("reschedule", true)
		}
		obj.add("de", de)
	}
	extra := make([]string, 0, len(o.Extra))
	for k := range o.Extra {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, k := range extra {
		obj.add(k, o.Extra[k])
	}
	return obj.MarshalJSON()
}

// wireOpts is the stored opts object as decoded from JSON.
type wireOpts struct {
	Attempts         *float64        `json:"attempts"`
	Backoff          json.RawMessage `json:"backoff"`
	Delay            *float64        `json:"delay"`
	Priority         *float64        `json:"priority"`
	LIFO             *bool           `json:"lifo"`
	Timestamp        *float64        `json:"timestamp"`
	JobID            *string         `json:"jobId"`
	RemoveOnComplete *Retention      `json:"removeOnComplete"`
	RemoveOnFail     *Retention      `json:"removeOnFail"`
	KeepLogs         *float64        `json:"kl"`
	StackTraceLimit  *float64        `json:"stackTraceLimit"`
	Parent           *struct {
		ID    string `json:"id"`
		Queue string `json:"queue"`
	} `json:"parent"`
	De *struct {
		ID               string   `json:"id"`
		TTL              *float64 `json:"ttl"`
		Extend           bool     `json:"extend"`
		Replace          bool     `json:"replace"`
		KeepLastIfActive bool     `json:"keepLastIfActive"`
		Reschedule       bool     `json:"reschedule"`
	} `json:"de"`
}

var modelledOptKeys = map[string]bool{
	"attempts": true, "backoff": true, "delay": true, "priority": true, "lifo": true,
	"timestamp": true, "jobId": true, "removeOnComplete": true, "removeOnFail": true,
	"kl": true, "stackTraceLimit": true, "parent": true, "de": true,
}

// parseStoredOpts decodes the "opts" field of a job hash. Keys it does not model go to Extra.
func parseStoredOpts(raw string) (JobOpts, error) {
	var o JobOpts
	if raw == "" {
		return o, nil
	}
	var w wireOpts
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return o, fmt.Errorf("bullmq: invalid job opts: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		return o, fmt.Errorf("bullmq: invalid job opts: %w", err)
	}
	for k, v := range all {
		if !modelledOptKeys[k] {
			if o.Extra == nil {
				o.Extra = map[string]json.RawMessage{}
			}
			o.Extra[k] = v
		}
	}
	if w.Attempts != nil {
		o.Attempts = int(*w.Attempts)
	}
	if len(w.Backoff) > 0 && string(w.Backoff) != "null" {
		b, err := parseBackoff(w.Backoff)
		if err != nil {
			return o, err
		}
		o.Backoff = b
	}
	if w.Delay != nil {
		o.Delay = time.Duration(*w.Delay) * time.Millisecond
	}
	if w.Priority != nil {
		o.Priority = int(*w.Priority)
	}
	if w.LIFO != nil {
		o.LIFO = *w.LIFO
	}
	if w.Timestamp != nil {
		o.Timestamp = time.UnixMilli(int64(*w.Timestamp))
	}
	if w.JobID != nil {
		o.JobID = *w.JobID
	}
	o.RemoveOnComplete, o.RemoveOnFail = w.RemoveOnComplete, w.RemoveOnFail
	if w.KeepLogs != nil {
		o.KeepLogs = int(*w.KeepLogs)
	}
	if w.StackTraceLimit != nil {
		o.StackTraceLimit = int(*w.StackTraceLimit)
	}
	if w.Parent != nil {
		o.Parent = &ParentRef{ID: w.Parent.ID, Queue: w.Parent.Queue}
	}
	if w.De != nil {
		d := &Deduplication{ID: w.De.ID, Extend: w.De.Extend, Replace: w.De.Replace,
			KeepLastIfActive: w.De.KeepLastIfActive, Reschedule: w.De.Reschedule}
		if w.De.TTL != nil {
			d.TTL = time.Duration(*w.De.TTL) * time.Millisecond
		}
		o.Deduplication = d
	}
	return o, nil
}

// parseBackoff reads a number (fixed delay in ms) or {type, delay, jitter}.
func parseBackoff(raw json.RawMessage) (*Backoff, error) {
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil {
		return &Backoff{Type: BackoffFixed, Delay: time.Duration(n) * time.Millisecond}, nil
	}
	var b struct {
		Type   string  `json:"type"`
		Delay  float64 `json:"delay"`
		Jitter float64 `json:"jitter"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("bullmq: invalid backoff %s: %w", raw, err)
	}
	return &Backoff{Type: b.Type, Delay: time.Duration(b.Delay) * time.Millisecond,
		Jitter: b.Jitter}, nil
}
