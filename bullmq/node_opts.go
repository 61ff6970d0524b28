package bullmq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// nodeOptParsers reads each option name that Node's queue.add accepts and this package
// models. Options that only Node implements (parent, repeat, sizeLimit, …) are not listed,
// so ParseNodeJobOpts rejects them instead of dropping them.
var nodeOptParsers = map[string]func(*JobOpts, json.RawMessage) error{
	"jobId": func(o *JobOpts, v json.RawMessage) error {
		return decodeNodeString(v, &o.JobID)
	},
	"delay": func(o *JobOpts, v json.RawMessage) error {
		ms, err := decodeNodeInt(v, 0)
		o.Delay = time.Duration(ms) * time.Millisecond
		return err
	},
	"priority": func(o *JobOpts, v json.RawMessage) error {
		n, err := decodeNodeInt(v, 0)
		o.Priority = int(n)
		return err
	},
	"lifo": func(o *JobOpts, v json.RawMessage) error {
		return decodeNodeBool(v, &o.LIFO)
	},
	"attempts": func(o *JobOpts, v json.RawMessage) error {
		n, err := decodeNodeInt(v, 0)
		o.Attempts = int(n)
		return err
	},
	"backoff": func(o *JobOpts, v json.RawMessage) error {
		b, err := parseNodeBackoff(v)
		o.Backoff = b
		return err
	},
	"removeOnComplete": func(o *JobOpts, v json.RawMessage) error {
		r, err := parseNodeRetention(v)
		o.RemoveOnComplete = r
		return err
	},
	"removeOnFail": func(o *JobOpts, v json.RawMessage) error {
		r, err := parseNodeRetention(v)
		o.RemoveOnFail = r
		return err
	},
	"deduplication": func(o *JobOpts, v json.RawMessage) error {
		d, err := parseNodeDeduplication(v)
		o.Deduplication = d
		return err
	},
	"timestamp": func(o *JobOpts, v json.RawMessage) error {
		ms, err := decodeNodeInt(v, 0)
		if err == nil {
			o.Timestamp = time.UnixMilli(ms)
		}
		return err
	},
	"keepLogs": func(o *JobOpts, v json.RawMessage) error {
		n, err := decodeNodeInt(v, 0)
		o.KeepLogs = int(n)
		return err
	},
	"stackTraceLimit": func(o *JobOpts, v json.RawMessage) error {
		n, err := decodeNodeInt(v, 0)
		o.StackTraceLimit = int(n)
		return err
	},
}

// ParseNodeJobOpts converts job options written as for Node's queue.add (a JSON object with
// the keys jobId, delay, priority, lifo, attempts, backoff, removeOnComplete, removeOnFail,
// deduplication, timestamp, keepLogs and stackTraceLimit) to JobOpts. Times are in
// milliseconds, as in Node; removeOnComplete/removeOnFail ages are in seconds. Unknown keys,
// wrong JSON types, null values, fractions and negative numbers are errors that name the
// option. Empty input or whitespace means no options. Value ranges that Queue.Add checks,
// such as the priority limit and custom job id rules, are left to Add.
func ParseNodeJobOpts(raw []byte) (JobOpts, error) {
	var opts JobOpts
	if len(bytes.TrimSpace(raw)) == 0 {
		return opts, nil
	}

	fields, err := decodeNodeObject(raw)
	if err != nil {
		return opts, fmt.Errorf("bullmq: invalid job options: %w", err)
	}

	for _, name := range sortedKeys(fields) {
		parse, ok := nodeOptParsers[name]
		if !ok {
			return opts, fmt.Errorf("bullmq: unknown job option %q: supported options are %s",
				name, strings.Join(supportedNodeOpts(), ", "))
		}
		if err := parse(&opts, fields[name]); err != nil {
			return opts, fmt.Errorf("bullmq: invalid job option %s: %w", name, err)
		}
	}
	return opts, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func supportedNodeOpts() []string {
	return sortedKeys(nodeOptParsers)
}

// decodeNodeObject decodes a JSON object into its raw fields and rejects other JSON types.
// When a key repeats, the last value wins, as in encoding/json and JSON.parse.
func decodeNodeObject(raw []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return nil, err
	}
	return fields, nil
}

func jsonType(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func decodeNodeString(v json.RawMessage, dst *string) error {
	if jsonType(v) != "a string" {
		return fmt.Errorf("must be a string, got %s", jsonType(v))
	}
	return json.Unmarshal(v, dst)
}

func decodeNodeBool(v json.RawMessage, dst *bool) error {
	if jsonType(v) != "a boolean" {
		return fmt.Errorf("must be true or false, got %s", jsonType(v))
	}
	return json.Unmarshal(v, dst)
}

// decodeNodeInt reads a whole number not below minimum. JSON numbers such as 1e3 are
// accepted when their value is whole.
func decodeNodeInt(v json.RawMessage, minimum int64) (int64, error) {
	f, err := decodeNodeNumber(v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("must be a whole number, got %s", bytes.TrimSpace(v))
	}
	if int64(f) < minimum {
		return 0, fmt.Errorf("must be at least %d, got %s", minimum, bytes.TrimSpace(v))
	}
	return int64(f), nil
}

func decodeNodeNumber(v json.RawMessage) (float64, error) {
	if jsonType(v) != "a number" {
		return 0, fmt.Errorf("must be a number, got %s", jsonType(v))
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, err
	}
	return f, nil
}

// parseNodeBackoff reads a number (a fixed delay in ms) or {type, delay, jitter}.
func parseNodeBackoff(v json.RawMessage) (*Backoff, error) {
	if jsonType(v) == "a number" {
		ms, err := decodeNodeInt(v, 0)
		if err != nil {
			return nil, err
		}
		return &Backoff{Type: BackoffFixed, Delay: time.Duration(ms) * time.Millisecond}, nil
	}
	if jsonType(v) != "an object" {
		return nil, fmt.Errorf("must be a number of milliseconds or {type, delay, jitter}, "+
			"got %s", jsonType(v))
	}

	fields, err := decodeNodeObject(v)
	if err != nil {
		return nil, err
	}
	b := &Backoff{}
	for _, name := range sortedKeys(fields) {
		fv := fields[name]
		switch name {
		case "type":
			err = decodeNodeString(fv, &b.Type)
		case "delay":
			var ms int64
			ms, err = decodeNodeInt(fv, 0)
			b.Delay = time.Duration(ms) * time.Millisecond
		case "jitter":
			b.Jitter, err = decodeNodeNumber(fv)
		default:
			err = errors.New("unknown field: use type, delay and jitter")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if b.Type == "" {
		return nil, errors.New("type is missing: use fixed, exponential or a custom name")
	}
	return b, nil
}

// parseNodeRetention reads true, false, a count of jobs to keep, or {age, count, limit}
// with age in seconds.
func parseNodeRetention(v json.RawMessage) (*Retention, error) {
	switch jsonType(v) {
	case "a boolean":
		var remove bool
		_ = json.Unmarshal(v, &remove)
		if remove {
			return RemoveJob(), nil
		}
		return KeepJobs(), nil
	case "a number":
		n, err := decodeNodeInt(v, 0)
		if err != nil {
			return nil, err
		}
		return KeepLast(int(n)), nil
	case "an object":
	default:
		return nil, fmt.Errorf("must be true, false, a job count or {age, count, limit}, "+
			"got %s", jsonType(v))
	}

	fields, err := decodeNodeObject(v)
	if err != nil {
		return nil, err
	}
	var age, count, limit int64
	for _, name := range sortedKeys(fields) {
		fv := fields[name]
		switch name {
		case "age":
			age, err = decodeNodeInt(fv, 0)
		case "count":
			count, err = decodeNodeInt(fv, 0)
		case "limit":
			limit, err = decodeNodeInt(fv, 0)
		default:
			err = errors.New("unknown field: use age, count and limit")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return KeepFor(time.Duration(age)*time.Second, int(count), int(limit)), nil
}

// parseNodeDeduplication reads {id, ttl, extend, replace, keepLastIfActive} with ttl in ms.
func parseNodeDeduplication(v json.RawMessage) (*Deduplication, error) {
	if jsonType(v) != "an object" {
		return nil, fmt.Errorf("must be {id, ttl, extend, replace, keepLastIfActive}, got %s",
			jsonType(v))
	}
	fields, err := decodeNodeObject(v)
	if err != nil {
		return nil, err
	}

	d := &Deduplication{}
	for _, name := range sortedKeys(fields) {
		fv := fields[name]
		switch name {
		case "id":
			err = decodeNodeString(fv, &d.ID)
		case "ttl":
			var ms int64
			ms, err = decodeNodeInt(fv, 0)
			d.TTL = time.Duration(ms) * time.Millisecond
		case "extend":
			err = decodeNodeBool(fv, &d.Extend)
		case "replace":
			err = decodeNodeBool(fv, &d.Replace)
		case "keepLastIfActive":
			err = decodeNodeBool(fv, &d.KeepLastIfActive)
		default:
			err = errors.New("unknown field: use id, ttl, extend, replace and keepLastIfActive")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if d.ID == "" {
		return nil, errors.New("id is missing")
	}
	return d, nil
}
