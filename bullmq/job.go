package bullmq

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Job is one BullMQ job as stored in its hash "<prefix>:<queue>:<id>". Times are
// milliseconds since the Unix epoch, as BullMQ stores them.
type Job struct {
	ID   string
	Name string
	// Data is the payload as stored: JSON text, byte for byte.
	Data json.RawMessage
	Opts JobOpts
	// RawOpts is the stored "opts" JSON text.
	RawOpts         string
	Timestamp       int64
	Delay           int64
	Priority        int
	ProcessedOn     int64
	FinishedOn      int64
	ReturnValue     json.RawMessage
	FailedReason    string
	Stacktrace      []string
	AttemptsMade    int
	AttemptsStarted int
	StalledCounter  int
	Progress        json.RawMessage
	ParentKey       string
	// Parent is the stored "parent" JSON text, empty when the job has no parent.
	Parent string
	// RepeatJobKey is the id of the job scheduler (field "rjk") that produced the job.
	RepeatJobKey    string
	DeduplicationID string
	ProcessedBy     string
	// DeferredFailure (field "defa") is a failure recorded while the job was not running;
	// a worker fails such a job without running the processor.
	DeferredFailure string
	// Fields holds the whole hash as read, including fields this type does not model.
	Fields map[string]string

	queue *Queue
	token string
	// malformed records why the stored hash cannot be used, if it cannot.
	malformed error
}

// newJobFromHash decodes a job hash. A hash with invalid or missing fields still yields a
// Job, with the reason in malformed, so a worker can fail it with a clear message.
func newJobFromHash(q *Queue, id string, h map[string]string) *Job {
	return decodeJobHash(q, id, h, parseStoredOpts)
}

// decodeJobHash is newJobFromHash with the decoder of the opts field as a parameter.
func decodeJobHash(q *Queue, id string, h map[string]string,
	parseOpts func(string) (JobOpts, error)) *Job {
	j := &Job{ID: id, queue: q, Fields: h}
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}

	name, ok := h["name"]
	if !ok {
		bad("field name is missing")
	}
	j.Name = name

	if data, ok := h["data"]; ok {
		// One conversion serves the check and the job, which saves a copy of the data.
		j.Data = json.RawMessage(data)
		if !json.Valid(j.Data) {
			bad("field data is not valid JSON")
		}
	} else {
		bad("field data is missing")
		j.Data = json.RawMessage("{}")
	}

	j.RawOpts = h["opts"]
	if opts, err := parseOpts(j.RawOpts); err != nil {
		bad("field opts is not valid JSON")
	} else {
		j.Opts = opts
	}

	if _, ok := h["timestamp"]; !ok {
		bad("field timestamp is missing")
	}
	j.Timestamp = parseInt64(h["timestamp"])
	j.Delay = parseInt64(h["delay"])
	j.Priority = int(parseInt64(h["priority"]))
	j.ProcessedOn = parseInt64(h["processedOn"])
	j.FinishedOn = parseInt64(h["finishedOn"])
	if rv, ok := h["returnvalue"]; ok {
		j.ReturnValue = json.RawMessage(rv)
	}
	j.FailedReason = h["failedReason"]
	if st, ok := h["stacktrace"]; ok && st != "" {
		_ = json.Unmarshal([]byte(st), &j.Stacktrace) // lenient, as Node reads it
	}
	j.AttemptsMade = int(parseInt64(firstOf(h, "atm", "attemptsMade")))
	j.AttemptsStarted = int(parseInt64(h["ats"]))
	j.StalledCounter = int(parseInt64(firstOf(h, "stc", "stalledCounter")))
	if p, ok := h["progress"]; ok {
		j.Progress = json.RawMessage(p)
	}
	j.ParentKey = h["parentKey"]
	j.Parent = h["parent"]
	j.RepeatJobKey = h["rjk"]
	j.DeduplicationID = h["deid"]
	j.ProcessedBy = h["pb"]
	j.DeferredFailure = h["defa"]

	if len(problems) > 0 {
		j.malformed = fmt.Errorf("bullmq: job %s is malformed: %s", id, joinProblems(problems))
	}
	return j
}

// Malformed returns why the stored job cannot be processed, or nil.
func (j *Job) Malformed() error { return j.malformed }

// Queue returns the queue the job belongs to.
func (j *Job) Queue() *Queue { return j.queue }

// Token returns the lock token held for the job while a worker processes it.
func (j *Job) Token() string { return j.token }

// DecodeData decodes the job's JSON data into v.
func (j *Job) DecodeData(v any) error {
	if err := json.Unmarshal(j.Data, v); err != nil {
		return fmt.Errorf("bullmq: decode data of job %s: %w", j.ID, err)
	}
	return nil
}

func parseInt64(s string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0
		}
		return int64(f)
	}
	return n
}

func firstOf(h map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := h[k]; ok {
			return v
		}
	}
	return ""
}

func joinProblems(p []string) string {
	out := p[0]
	for _, s := range p[1:] {
		out += "; " + s
	}
	return out
}
