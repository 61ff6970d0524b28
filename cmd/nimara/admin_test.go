package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portnimara/nimara/bullmq"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/queues"
)

// adminEnv is the environment of an admin command test: Redis with its own key prefix.
type adminEnv struct {
	env    map[string]string
	client *redis.Client
	prefix string
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()

	prefix := redistest.Prefix(t)
	return &adminEnv{
		env:    map[string]string{"REDIS_URL": redistest.URL(), "NIMARA_PREFIX": prefix},
		client: redistest.Client(t),
		prefix: prefix,
	}
}

func (e *adminEnv) queue(name string) *bullmq.Queue {
	return bullmq.NewQueue(e.client, name, bullmq.QueueOpts{Prefix: e.prefix})
}

// terminal selects the streams of a test run: terminals or pipes, and the stdin text.
type terminal struct {
	tty   bool
	stdin string
}

// run runs args in-process with streams that are terminals or not, and returns the exit
// code and both outputs.
func (e *adminEnv) run(t *testing.T, term terminal, args ...string) (int, string, string) {
	t.Helper()

	f, out, errOut := testFactory(e.env)
	f.In = strings.NewReader(term.stdin)
	f.InTTY, f.OutTTY, f.ErrTTY = term.tty, term.tty, term.tty
	code := run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

var (
	onTTY = terminal{tty: true}
	piped = terminal{}
)

// compact returns raw without insignificant whitespace.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// failJobs adds n jobs named name to queue and fails each for good with reason.
func (e *adminEnv) failJobs(t *testing.T, queue, name, reason string, n int) []string {
	t.Helper()

	ctx := context.Background()
	var ids []string
	for range n {
		job, err := e.queue(queue).Add(ctx, name, map[string]any{"n": len(ids)},
			bullmq.JobOpts{Attempts: 1})
		if err != nil {
			t.Fatalf("add: %v", err)
		}
		ids = append(ids, job.ID)
	}

	w := bullmq.NewWorker(e.client, queue, func(context.Context, *bullmq.Job) (any, error) {
		return nil, errors.New(reason)
	}, bullmq.WorkerOpts{Prefix: e.prefix, Concurrency: 1}) // fail in id order: newest last
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	waitUntil(t, 30*time.Second, "the jobs to fail", func() bool {
		counts, _ := e.queue(queue).GetJobCounts(ctx, "failed")
		return counts["failed"] >= int64(len(ids))
	})
	cancel()
	<-done
	return ids
}

func TestQueuesLs_Output(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	e := newAdminEnv(t)
	e.failJobs(t, "email", "send", "smtp down", 1)
	for range 2 {
		if _, err := e.queue("email").Add(ctx, "send", nil, bullmq.JobOpts{}); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	if err := e.queue("ai").Pause(ctx); err != nil {
		t.Fatalf("pause: %v", err)
	}

	code, out, _ := e.run(t, onTTY, "queues", "ls")
	if code != 0 {
		t.Fatalf("queues ls exit code = %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 12 || !strings.HasPrefix(lines[0], "QUEUE") {
		t.Fatalf("queues ls on a terminal = %q, want a header and 11 rows", out)
	}
	if fields := strings.Fields(lines[1]); strings.Join(fields, " ") != "email no 5 5 2 0 0 0 0 1" {
		t.Errorf("email row = %q", lines[1])
	}

	code, out, _ = e.run(t, piped, "queues", "ls")
	if code != 0 || strings.Contains(out, "QUEUE") {
		t.Fatalf("queues ls piped = %d %q, want no header", code, out)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if rows[0] != "email\tno\t5\t5\t2\t0\t0\t0\t0\t1" {
		t.Errorf("piped email row = %q", rows[0])
	}
	if !strings.HasPrefix(rows[8], "ai\tyes\t") || !strings.HasPrefix(rows[10], "dead-letter\t") {
		t.Errorf("piped rows 9 and 11 = %q, %q; want ai paused, then dead-letter", rows[8],
			rows[10])
	}

	code, out, _ = e.run(t, piped, "queues", "ls", "--json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("queues ls --json = %d, %v: %q", code, err, out)
	}
	if got[0]["name"] != "email" || got[0]["waiting"] != 2.0 || got[0]["failed"] != 1.0 ||
		got[0]["max_attempts"] != 5.0 {
		t.Errorf("email JSON = %v", got[0])
	}
}

func TestJobsLsAndGet_Output(t *testing.T) {
	t.Parallel()

	e := newAdminEnv(t)
	ids := e.failJobs(t, "webhooks", "deliver", "HTTP 500\nfrom the endpoint", 2)

	code, out, _ := e.run(t, onTTY, "jobs", "ls", "webhooks", "--state", "failed")
	if code != 0 || !strings.HasPrefix(out, "ID") {
		t.Fatalf("jobs ls on a terminal = %d %q, want a table", code, out)
	}
	if !strings.Contains(out, "HTTP 500 from the endpoint") {
		t.Errorf("jobs ls table = %q, want the reason on one line", out)
	}

	code, out, _ = e.run(t, piped, "jobs", "ls", "webhooks", "--state", "failed")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("jobs ls piped = %d %q, want two rows", code, out)
	}
	if !strings.HasPrefix(lines[0], ids[1]+"\tdeliver\tfailed\t1\t0\t") {
		t.Errorf("first piped row = %q, want the newest job %s", lines[0], ids[1])
	}

	code, out, _ = e.run(t, piped, "jobs", "ls", "webhooks", "--state", "failed", "--json")
	var jobs []jobRow
	if err := json.Unmarshal([]byte(out), &jobs); code != 0 || err != nil || len(jobs) != 2 {
		t.Fatalf("jobs ls --json = %d, %v: %q", code, err, out)
	}
	if jobs[0].FailedReason != "HTTP 500\nfrom the endpoint" || jobs[0].Data != nil {
		t.Errorf("jobs ls --json first job = %+v", jobs[0])
	}

	code, out, _ = e.run(t, onTTY, "jobs", "get", "webhooks", ids[0])
	if code != 0 || !strings.Contains(out, "state:          failed\n") ||
		!strings.Contains(out, `data:           {"n":0}`) {
		t.Errorf("jobs get on a terminal = %d %q", code, out)
	}
	code, out, _ = e.run(t, piped, "jobs", "get", "webhooks", ids[0])
	if code != 0 || !strings.Contains(out, "state\tfailed\n") {
		t.Errorf("jobs get piped = %d %q", code, out)
	}
	code, out, _ = e.run(t, piped, "jobs", "get", "webhooks", ids[0], "--json")
	var job jobRow
	if err := json.Unmarshal([]byte(out), &job); code != 0 || err != nil {
		t.Fatalf("jobs get --json = %d, %v", code, err)
	}
	if job.State != "failed" || compact(job.Data) != `{"n":0}` || len(job.Stacktrace) != 1 {
		t.Errorf("jobs get --json = %+v", job)
	}

	code, _, errOut := e.run(t, piped, "jobs", "get", "webhooks", "nope")
	if code != 1 || !strings.Contains(errOut, "job nope not found in queue webhooks") {
		t.Errorf("jobs get of a missing job = %d %q, want exit 1 and not found", code, errOut)
	}
}

func TestJobsAdd_Output(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	e := newAdminEnv(t)
	data := `{"userId":"u-1","type":"welcome","title":"Hi"}`

	code, out, errOut := e.run(t, onTTY, "jobs", "add", "notifications", "create",
		"--data", data, "--opts", `{"jobId":"tty-1"}`)
	if code != 0 || out != "tty-1\n" {
		t.Errorf("jobs add on a terminal = %d %q %q, want the job id", code, out, errOut)
	}
	code, out, errOut = e.run(t, piped, "jobs", "add", "notifications", "create",
		"--data", data, "--opts", `{"jobId":"piped-1"}`)
	if code != 0 || out != "piped-1\n" {
		t.Errorf("jobs add piped = %d %q %q, want the job id", code, out, errOut)
	}
	code, out, errOut = e.run(t, piped, "jobs", "add", "notifications", "create",
		"--data", data, "--opts", `{"jobId":"json-1"}`, "--json")
	if code != 0 || out != "{\n  \"id\": \"json-1\"\n}\n" {
		t.Errorf("jobs add --json = %d %q %q, want {\"id\": \"json-1\"}", code, out, errOut)
	}

	rejected := [][]string{
		{"notifications", "nosuchname", "--data", "{}"},
		{"notifications", "create", "--data", "{}"},
		{"notifications", "create", "--data", `{"userId":1}`},
	}
	for _, args := range rejected {
		code, out, errOut = e.run(t, piped, append([]string{"jobs", "add"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "Usage:") {
			t.Errorf("jobs add %v = %d %q %q, want exit 2 with the usage", args, code, out,
				errOut)
		}
	}
	counts, err := e.queue("notifications").GetJobCounts(ctx, "waiting", "prioritized")
	if err != nil {
		t.Fatalf("count jobs: %v", err)
	}
	if n := counts["waiting"] + counts["prioritized"]; n != 3 {
		t.Errorf("jobs in the notifications queue = %d, want only the 3 valid ones", n)
	}
}

func TestJobsRetryPromoteRm(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	e := newAdminEnv(t)
	ids := e.failJobs(t, "export", "csv", "disk full", 2)

	code, out, _ := e.run(t, onTTY, "jobs", "retry", "export", ids[0])
	if code != 0 || out != "Retried job "+ids[0]+"\n" {
		t.Errorf("jobs retry = %d %q", code, out)
	}
	if state, _ := e.queue("export").GetJobState(ctx, ids[0]); state != "waiting" {
		t.Errorf("retried job state = %s, want waiting", state)
	}
	code, out, _ = e.run(t, piped, "jobs", "retry", "export", "--all")
	if code != 0 || out != "" {
		t.Errorf("jobs retry --all piped = %d %q, want no output", code, out)
	}
	if state, _ := e.queue("export").GetJobState(ctx, ids[1]); state != "waiting" {
		t.Errorf("job state after retry --all = %s, want waiting", state)
	}

	delayed, err := e.queue("export").Add(ctx, "pdf", nil, bullmq.JobOpts{Delay: time.Hour})
	if err != nil {
		t.Fatalf("add delayed: %v", err)
	}
	if code, _, errOut := e.run(t, piped, "jobs", "promote", "export", delayed.ID); code != 0 {
		t.Errorf("jobs promote = %d: %s", code, errOut)
	}
	if state, _ := e.queue("export").GetJobState(ctx, delayed.ID); state != "waiting" {
		t.Errorf("promoted job state = %s, want waiting", state)
	}

	// rm is destructive: it needs a terminal to ask, or --yes.
	code, _, errOut := e.run(t, piped, "jobs", "rm", "export", ids[0])
	if code != 2 || !strings.Contains(errOut, "run in a terminal to confirm, or pass --yes") {
		t.Errorf("jobs rm without a terminal = %d %q, want exit 2", code, errOut)
	}
	code, _, errOut = e.run(t, terminal{tty: true, stdin: "n\n"}, "jobs", "rm", "export", ids[0])
	if code != 3 || !strings.Contains(errOut, "Delete 1 jobs of queue export? [y/N] ") {
		t.Errorf("jobs rm declined = %d %q, want exit 3 after the question", code, errOut)
	}
	if _, err := e.queue("export").GetJob(ctx, ids[0]); err != nil {
		t.Errorf("job after a declined rm: %v, want it kept", err)
	}

	code, out, errOut = e.run(t, terminal{tty: true, stdin: "y\n"}, "jobs", "rm", "export",
		ids[0], ids[1])
	if code != 0 || out != "Deleted job "+ids[0]+"\nDeleted job "+ids[1]+"\n" {
		t.Errorf("jobs rm confirmed = %d %q", code, out)
	}
	if !strings.Contains(errOut, "Deleting [##############################] 2/2") {
		t.Errorf("jobs rm stderr = %q, want a full progress bar", errOut)
	}
	for _, id := range ids {
		if _, err := e.queue("export").GetJob(ctx, id); !errors.Is(err, bullmq.ErrJobNotFound) {
			t.Errorf("job %s after rm: %v, want not found", id, err)
		}
	}

	code, _, errOut = e.run(t, piped, "jobs", "rm", "export", "missing", "--yes")
	if code != 1 || !strings.Contains(errOut, "job missing not found") {
		t.Errorf("jobs rm of a missing job = %d %q, want exit 1", code, errOut)
	}
}

func TestQueuesPauseDrainClean(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	e := newAdminEnv(t)
	e.failJobs(t, "reports", "generate", "timeout", 2)
	for _, delay := range []time.Duration{0, time.Hour} {
		if _, err := e.queue("reports").Add(ctx, "generate", nil,
			bullmq.JobOpts{Delay: delay}); err != nil {
			t.Fatalf("add: %v", err)
		}
	}

	code, out, _ := e.run(t, onTTY, "queues", "pause", "reports")
	if paused, _ := e.queue("reports").IsPaused(ctx); code != 0 || !paused ||
		out != "Paused queue reports\n" {
		t.Errorf("queues pause = %d %q, paused %v", code, out, paused)
	}
	code, out, _ = e.run(t, piped, "queues", "resume", "reports")
	if paused, _ := e.queue("reports").IsPaused(ctx); code != 0 || paused || out != "" {
		t.Errorf("queues resume piped = %d %q, paused %v", code, out, paused)
	}

	code, _, _ = e.run(t, terminal{tty: true, stdin: "\n"}, "queues", "drain", "reports")
	if code != 3 {
		t.Errorf("queues drain with an empty answer = %d, want 3", code)
	}
	code, out, _ = e.run(t, piped, "queues", "drain", "reports", "--yes")
	counts, _ := e.queue("reports").GetJobCounts(ctx, "waiting", "delayed")
	if code != 0 || counts["waiting"] != 0 || counts["delayed"] != 1 {
		t.Errorf("queues drain = %d, counts %v; want waiting gone, delayed kept", code, counts)
	}
	if out != "Deleted 1 jobs of queue reports: 1 waiting, 0 prioritized\n" {
		t.Errorf("queues drain piped = %q, want a one-line summary", out)
	}

	if _, err := e.queue("reports").Add(ctx, "generate", nil,
		bullmq.JobOpts{Priority: 2}); err != nil {
		t.Fatalf("add prioritized: %v", err)
	}
	code, out, _ = e.run(t, terminal{tty: true, stdin: "y\n"}, "queues", "drain", "reports",
		"--delayed")
	if code != 0 || out != "Deleted 2 jobs of queue reports: 0 waiting, 1 prioritized, "+
		"1 delayed\n" {
		t.Errorf("queues drain --delayed on a terminal = %d %q, want a one-line summary",
			code, out)
	}
	code, out, _ = e.run(t, piped, "queues", "drain", "reports", "--delayed", "--yes",
		"--json")
	if code != 0 || compact([]byte(out)) != `{"queue":"reports","deleted":0,"waiting":0,`+
		`"prioritized":0,"delayed":0}` {
		t.Errorf("queues drain --json = %d %q", code, out)
	}

	code, out, _ = e.run(t, piped, "queues", "clean", "reports", "--state", "failed",
		"--grace", "0s", "--yes", "--json")
	var cleaned struct {
		Queue   string   `json:"queue"`
		State   string   `json:"state"`
		Deleted []string `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(out), &cleaned); code != 0 || err != nil {
		t.Fatalf("queues clean --json = %d, %v: %q", code, err, out)
	}
	if cleaned.Queue != "reports" || cleaned.State != "failed" || len(cleaned.Deleted) != 2 {
		t.Errorf("queues clean --json = %+v, want two failed jobs", cleaned)
	}
}

// seedDeadLetter fails n jobs of queue and records them in the dead-letter queue.
func (e *adminEnv) seedDeadLetter(t *testing.T, queue string, n int) *queues.DeadLetter {
	t.Helper()

	e.failJobs(t, queue, "boom", "exploded", n)
	dl := queues.NewDeadLetter(e.client, queues.DeadLetterConfig{Prefix: e.prefix})
	if got, err := queues.NewSweeper(dl).Sweep(context.Background()); err != nil || got != n {
		t.Fatalf("Sweep() = %d, %v; want %d", got, err, n)
	}
	return dl
}

func TestDLQ_LsShowRetryPurge(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	e := newAdminEnv(t)
	e.seedDeadLetter(t, "email", 2)
	dl := e.seedDeadLetter(t, "import", 1)

	code, out, _ := e.run(t, onTTY, "dlq", "ls")
	if code != 0 || !strings.HasPrefix(out, "ID") || strings.Count(out, "\n") != 4 {
		t.Errorf("dlq ls on a terminal = %d %q, want a header and 3 rows", code, out)
	}
	code, out, _ = e.run(t, piped, "dlq", "ls", "--queue", "email")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "\temail\t") ||
		!strings.HasSuffix(lines[0], "\texploded") {
		t.Errorf("dlq ls --queue email piped = %d %q", code, out)
	}
	code, out, _ = e.run(t, piped, "dlq", "ls", "--json")
	var entries []entryRow
	if err := json.Unmarshal([]byte(out), &entries); code != 0 || err != nil || len(entries) != 3 {
		t.Fatalf("dlq ls --json = %d, %v: %q", code, err, out)
	}
	importEntry := entries[0]
	if importEntry.Queue != "import" || importEntry.AttemptsMade != 1 ||
		importEntry.FailedReason != "exploded" {
		t.Errorf("newest entry = %+v, want the import failure", importEntry)
	}

	code, out, _ = e.run(t, piped, "dlq", "show", importEntry.ID, "--json")
	var shown entryRow
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil {
		t.Fatalf("dlq show --json = %d, %v", code, err)
	}
	if compact(shown.Data) != `{"n":0}` || compact(shown.Opts) != `{"attempts":1}` ||
		len(shown.Stacktrace) != 1 {
		t.Errorf("dlq show --json = %+v", shown)
	}
	code, out, _ = e.run(t, onTTY, "dlq", "show", importEntry.ID)
	if code != 0 || !strings.Contains(out, "queue:          import\n") {
		t.Errorf("dlq show on a terminal = %d %q", code, out)
	}
	code, _, errOut := e.run(t, piped, "dlq", "show", "email-9-9")
	if code != 1 || !strings.Contains(errOut, "dead-letter entry not found: email-9-9") {
		t.Errorf("dlq show of a missing entry = %d %q", code, errOut)
	}

	code, out, _ = e.run(t, piped, "dlq", "retry", importEntry.ID, "--json")
	var outcomes []retryRow
	if err := json.Unmarshal([]byte(out), &outcomes); code != 0 || err != nil {
		t.Fatalf("dlq retry --json = %d, %v: %q", code, err, out)
	}
	if len(outcomes) != 1 || outcomes[0].Action != "retried" || outcomes[0].Queue != "import" {
		t.Errorf("dlq retry outcomes = %+v", outcomes)
	}
	if state, _ := e.queue("import").GetJobState(ctx, importEntry.JobID); state != "waiting" {
		t.Errorf("retried job state = %s, want waiting", state)
	}

	code, _, _ = e.run(t, piped, "dlq", "retry", "--all")
	if code != 2 {
		t.Errorf("dlq retry --all without a terminal or --yes = %d, want 2", code)
	}

	code, out, _ = e.run(t, piped, "dlq", "purge", "--older-than", "1h", "--yes", "--json")
	if code != 0 || strings.TrimSpace(out) != `{
  "deleted": []
}` {
		t.Errorf("dlq purge --older-than 1h = %d %q, want nothing deleted", code, out)
	}
	code, out, errOut = e.run(t, terminal{tty: true, stdin: "yes\n"}, "dlq", "purge")
	if code != 0 || !strings.HasSuffix(out, "Deleted 2 dead-letter entries\n") {
		t.Errorf("dlq purge confirmed = %d %q", code, out)
	}
	if !strings.Contains(errOut, "Delete every dead-letter entry? [y/N] ") ||
		!strings.Contains(errOut, "Purging [###") {
		t.Errorf("dlq purge stderr = %q, want the question and a progress bar", errOut)
	}
	if n, _ := dl.Size(ctx); n != 0 {
		t.Errorf("dead-letter size after purge = %d, want 0", n)
	}
	if counts, _ := e.queue("email").GetJobCounts(ctx, "failed"); counts["failed"] != 2 {
		t.Errorf("email failed jobs after purge = %d, want 2 kept", counts["failed"])
	}
}

func TestContracts_Output(t *testing.T) {
	t.Parallel()

	e := &adminEnv{env: map[string]string{}}
	code, out, _ := e.run(t, piped, "contracts", "--format", "ts")
	if code != 0 || !strings.HasPrefix(out, "// Code generated by `nimara contracts`.") {
		t.Errorf("contracts --format ts = %d, starts %.60q", code, out)
	}
	code, out, _ = e.run(t, piped, "contracts", "--format", "json-schema")
	if code != 0 || !json.Valid([]byte(out)) {
		t.Errorf("contracts --format json-schema = %d, valid JSON %v", code, json.Valid([]byte(out)))
	}

	dir := filepath.Join(t.TempDir(), "generated")
	code, out, _ = e.run(t, onTTY, "contracts", "--out", dir)
	if code != 0 || !strings.Contains(out, "Wrote "+filepath.Join(dir, contractTSFile)) {
		t.Errorf("contracts --out on a terminal = %d %q", code, out)
	}
	for _, name := range []string{contractTSFile, contractSchemaFile} {
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.Size() == 0 {
			t.Errorf("contract file %s: %v", name, err)
		}
	}
	if code, out, _ = e.run(t, piped, "contracts", "--out", dir); code != 0 || out != "" {
		t.Errorf("contracts --out piped = %d %q, want no output", code, out)
	}
}

func TestHelpExitCodes(t *testing.T) {
	t.Parallel()

	e := &adminEnv{env: map[string]string{}}
	code, out, _ := e.run(t, piped, "help", "exit-codes")
	if code != 0 {
		t.Fatalf("help exit-codes = %d", code)
	}
	for _, want := range []string{"  0  Success", "  1  Failure", "  2  Usage error",
		"  3  Cancelled"} {
		if !strings.Contains(out, want) {
			t.Errorf("help exit-codes lacks %q:\n%s", want, out)
		}
	}

	code, _, errOut := e.run(t, piped, "dlq", "bogus")
	if code != 2 || !strings.Contains(errOut, `unknown command "bogus" for "nimara dlq"`) {
		t.Errorf("dlq bogus = %d %q, want exit 2", code, errOut)
	}
}

func TestLs_LongFailedReasonPipedWhole(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	e := newAdminEnv(t)
	reason := "upstream rejected the payload: " + strings.Repeat("field invalid; ", 6) + "end"
	e.failJobs(t, "webhooks", "deliver", reason, 1)
	dl := queues.NewDeadLetter(e.client, queues.DeadLetterConfig{Prefix: e.prefix})
	if got, err := queues.NewSweeper(dl).Sweep(ctx); err != nil || got != 1 {
		t.Fatalf("Sweep() = %d, %v; want 1", got, err)
	}

	for _, args := range [][]string{
		{"jobs", "ls", "webhooks", "--state", "failed"},
		{"dlq", "ls"},
	} {
		code, out, _ := e.run(t, piped, args...)
		if code != 0 || !strings.HasSuffix(out, "\t"+reason+"\n") {
			t.Errorf("%v piped = %d %q, want the whole reason in the last column", args,
				code, out)
		}
		if strings.Contains(out, "…") {
			t.Errorf("%v piped = %q, want no ellipsis", args, out)
		}

		code, out, _ = e.run(t, onTTY, args...)
		if code != 0 || !strings.Contains(out, reason[:59]+"…") {
			t.Errorf("%v on a terminal = %d %q, want the reason cut to 60 runes", args,
				code, out)
		}
	}
}

func TestHelp_ConfirmationCommandsNoJSON(t *testing.T) {
	t.Parallel()

	e := &adminEnv{env: map[string]string{}}
	for _, args := range [][]string{
		{"queues", "pause"}, {"queues", "resume"}, {"jobs", "retry"}, {"jobs", "promote"},
		{"jobs", "rm"},
	} {
		code, out, _ := e.run(t, piped, append(args, "--help")...)
		if code != 0 || !strings.Contains(out, "prints only confirmations") ||
			!strings.Contains(out, "has no\n--json") {
			t.Errorf("%v --help = %d %q, want a note that it has no --json", args, code, out)
		}
	}
}
