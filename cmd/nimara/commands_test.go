package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/internal/redistest"
	"github.com/portnimara/nimara/store/storetest"
)

func TestMigrate_ThenCheckFreshSchema(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db := storetest.NewSchema(t)
	env := map[string]string{"DATABASE_URL": db.URL}

	code, stdout, stderr := runCommand(t, env, "migrate", "--check")
	if code != 1 {
		t.Errorf("migrate --check on an empty schema exit code = %d, want 1", code)
	}
	if !strings.Contains(stdout, "missing table notifications\n") {
		t.Errorf("migrate --check stdout = %q, want it to list table notifications", stdout)
	}
	if !strings.Contains(stderr, "tables or columns are missing") {
		t.Errorf("migrate --check stderr = %q, want a summary", stderr)
	}

	code, stdout, stderr = runCommand(t, env, "migrate")
	if code != 0 {
		t.Fatalf("migrate exit code = %d, want 0; stderr:\n%s", code, stderr)
	}
	if stdout != "Applied migration 1_crm_tables\n" {
		t.Errorf("migrate stdout = %q, want the applied migration", stdout)
	}

	code, stdout, _ = runCommand(t, env, "migrate")
	if code != 0 || stdout != "Schema is up to date\n" {
		t.Errorf("second migrate = %d, %q; want 0 and up to date", code, stdout)
	}

	code, stdout, _ = runCommand(t, env, "migrate", "--check")
	if code != 0 {
		t.Errorf("migrate --check after migrate exit code = %d, want 0", code)
	}
	if stdout != "Schema has every table and column the workers use\n" {
		t.Errorf("migrate --check stdout = %q", stdout)
	}

	if _, err := db.Pool.Exec(ctx, `ALTER TABLE notifications DROP COLUMN link`); err != nil {
		t.Fatalf("drop column: %v", err)
	}
	code, stdout, _ = runCommand(t, env, "migrate", "--check")
	if code != 1 {
		t.Errorf("migrate --check without notifications.link exit code = %d, want 1", code)
	}
	if stdout != "missing column notifications.link\n" {
		t.Errorf("migrate --check stdout = %q, want only the dropped column", stdout)
	}
}

func TestMigrate_JSON(t *testing.T) {
	t.Parallel()

	db := storetest.NewSchema(t)
	env := map[string]string{"DATABASE_URL": db.URL}

	code, stdout, stderr := runCommand(t, env, "migrate", "--check", "--json")
	if code != 1 {
		t.Errorf("migrate --check --json on an empty schema exit code = %d, want 1", code)
	}
	var check struct {
		Missing []missingRow `json:"missing"`
	}
	if err := json.Unmarshal([]byte(stdout), &check); err != nil {
		t.Fatalf("migrate --check --json stdout %q: %v", stdout, err)
	}
	if !slices.Contains(check.Missing, missingRow{Table: "notifications"}) {
		t.Errorf("missing = %+v, want table notifications with an empty column", check.Missing)
	}
	if !strings.Contains(stderr, "tables or columns are missing") {
		t.Errorf("migrate --check --json stderr = %q, want the summary", stderr)
	}

	code, stdout, _ = runCommand(t, env, "migrate", "--json")
	if code != 0 || compact([]byte(stdout)) != `{"applied":[{"version":1,"name":"crm_tables"}]}` {
		t.Errorf("migrate --json = %d %q, want the applied migration", code, stdout)
	}
	code, stdout, _ = runCommand(t, env, "migrate", "--json")
	if code != 0 || compact([]byte(stdout)) != `{"applied":[]}` {
		t.Errorf("second migrate --json = %d %q, want no migration", code, stdout)
	}
	code, stdout, _ = runCommand(t, env, "migrate", "--check", "--json")
	if code != 0 || compact([]byte(stdout)) != `{"missing":[]}` {
		t.Errorf("migrate --check --json after migrate = %d %q, want nothing missing", code,
			stdout)
	}
}

func TestJobsAdd_NodeReadsJobBack(t *testing.T) {
	t.Parallel()

	prefix := redistest.Prefix(t)
	env := map[string]string{"REDIS_URL": redistest.URL(), "NIMARA_PREFIX": prefix}
	peer := nodepeer.Start(t, 6)

	data := `{"userId":"u-1","type":"welcome","title":"Hi","link":null}`
	opts := `{"jobId":"welcome-u-1","delay":60000,"priority":2,"lifo":true,"attempts":4,
		"backoff":{"type":"exponential","delay":1000,"jitter":0.5},
		"removeOnComplete":true,"removeOnFail":{"age":3600,"count":10},
		"deduplication":{"id":"welcome:u-1","ttl":5000},"timestamp":1767225600000,
		"keepLogs":7,"stackTraceLimit":3}`
	code, stdout, stderr := runCommand(t, env, "jobs", "add", "notifications", "create",
		"--data", data, "--opts", opts)
	if code != 0 {
		t.Fatalf("jobs add exit code = %d, want 0; stderr:\n%s", code, stderr)
	}
	if stdout != "welcome-u-1\n" {
		t.Errorf("jobs add stdout = %q, want the job id", stdout)
	}

	got := nodepeer.MustEvalAs[map[string]json.RawMessage](t, peer, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		const job = await q.getJob(args.id);
		const jobState = await job.getState();
		await q.close();
		return { name: job.name, data: job.data, opts: job.opts, timestamp: job.timestamp,
			state: jobState, deduplicationId: job.deduplicationId };
	`, map[string]any{"prefix": prefix, "id": "welcome-u-1"})

	checks := map[string]string{
		"name":            `"create"`,
		"data":            data,
		"timestamp":       `1767225600000`,
		"state":           `"delayed"`,
		"deduplicationId": `"welcome:u-1"`,
	}
	for key, want := range checks {
		if string(got[key]) != want {
			t.Errorf("Node job.%s = %s, want %s", key, got[key], want)
		}
	}

	var nodeOpts map[string]json.RawMessage
	if err := json.Unmarshal(got["opts"], &nodeOpts); err != nil {
		t.Fatalf("decode Node job.opts %s: %v", got["opts"], err)
	}
	wantOpts := map[string]string{
		"jobId":            `"welcome-u-1"`,
		"delay":            `60000`,
		"priority":         `2`,
		"lifo":             `true`,
		"attempts":         `4`,
		"backoff":          `{"type":"exponential","delay":1000,"jitter":0.5}`,
		"removeOnComplete": `true`,
		"removeOnFail":     `{"age":3600,"count":10}`,
		"deduplication":    `{"id":"welcome:u-1","ttl":5000}`,
		"timestamp":        `1767225600000`,
		"keepLogs":         `7`,
		"stackTraceLimit":  `3`,
	}
	for key, want := range wantOpts {
		if string(nodeOpts[key]) != want {
			t.Errorf("Node job.opts.%s = %s, want %s", key, nodeOpts[key], want)
		}
	}
}

// workerEnv returns the environment of a worker test: its own key prefix, channel key and
// migrated schema with users u-1 and u-2.
func workerEnv(t *testing.T) (map[string]string, *storetest.DB) {
	t.Helper()

	prefix := redistest.Prefix(t)
	db := storetest.NewMigratedSchema(t)
	_, err := db.Pool.Exec(context.Background(), `INSERT INTO users (id, name, email)
		VALUES ('u-1', 'Ana', 'ana@test.example'), ('u-2', 'Ben', 'ben@test.example')`)
	if err != nil {
		t.Fatalf("seed users: %v", err)
	}

	return map[string]string{
		"REDIS_URL":           redistest.URL(),
		"DATABASE_URL":        db.URL,
		"NIMARA_PREFIX":       prefix,
		"NIMARA_SOCKETIO_KEY": "sio-" + prefix,
		"NIMARA_METRICS_ADDR": "127.0.0.1:0",
		"LOG_FORMAT":          "json",
	}, db
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWorker_ProcessesNodeJobsAndStops(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	env, db := workerEnv(t)
	peer := nodepeer.Start(t, 6)

	runCtx, cancel := context.WithCancel(ctx)
	f, _, errOut := testFactory(env)
	exit := make(chan int, 1)
	go func() {
		exit <- run(runCtx, f, []string{"worker", "--queues", "notifications",
			"--shutdown-timeout", "10s"})
	}()
	t.Cleanup(cancel)

	const total = 40
	badID := nodepeer.MustEvalAs[string](t, peer, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		const jobs = [];
		for (let i = 0; i < args.total; i++) {
			jobs.push({ name: 'create', data: { userId: i % 2 ? 'u-1' : 'u-2', type: 't',
				title: 'n' + i, description: null, link: '/n/' + i }, opts: { attempts: 3 } });
		}
		await q.addBulk(jobs);
		const bad = await q.add('create', { userId: 7, type: 't', title: 'x' }, { attempts: 3 });
		await q.close();
		return bad.id;
	`, map[string]any{"prefix": env["NIMARA_PREFIX"], "total": total})

	waitUntil(t, time.Minute, "every notification row", func() bool {
		var rows int
		_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&rows)
		return rows == total
	})

	failed := nodepeer.MustEvalAs[map[string]any](t, peer, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		const deadline = Date.now() + 30000;
		let job = await q.getJob(args.id);
		while (!job.failedReason && Date.now() < deadline) {
			await sleep(50);
			job = await q.getJob(args.id);
		}
		const counts = await q.getJobCounts('completed', 'failed');
		await q.close();
		return { reason: job.failedReason, attempts: job.attemptsMade, counts };
	`, map[string]any{"prefix": env["NIMARA_PREFIX"], "id": badID})

	wantReason := "invalid job data: userId must be a non-empty string, got a number (7)"
	if failed["reason"] != wantReason {
		t.Errorf("failedReason = %v, want %q", failed["reason"], wantReason)
	}
	if failed["attempts"] != float64(1) {
		t.Errorf("attemptsMade = %v, want 1", failed["attempts"])
	}
	// The failed job's dead-letter entry also enqueues a super-admin-alert job, which
	// completes too once the worker gets to it.
	counts := failed["counts"].(map[string]any)
	completed := counts["completed"]
	if (completed != float64(total) && completed != float64(total+1)) ||
		counts["failed"] != float64(1) {
		t.Errorf("job counts = %v, want %d completed (plus the alert job) and 1 failed",
			counts, total)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("worker exit code after cancel = %d, want 0; stderr:\n%s", code, errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop within 30s of cancel")
	}

	logs := errOut.String()
	for _, want := range []string{`"msg":"Worker process starting"`,
		`"msg":"Worker process stopped"`, `"job_id":"` + badID + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("worker logs lack %s:\n%s", want, logs)
		}
	}
}

func TestWorker_BinaryExitsZeroOnSIGTERM(t *testing.T) {
	t.Parallel()

	env, _ := workerEnv(t)
	bin := filepath.Join(t.TempDir(), "nimara")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "worker", "--shutdown-timeout", "5s")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})

	waitUntil(t, 30*time.Second, "the worker to start", func() bool {
		return strings.Contains(logs.String(), `"msg":"Worker starting"`)
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}

	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker exit after SIGTERM: %v, want status 0; logs:\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not exit within 30s of SIGTERM; logs:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"msg":"Worker process stopped"`) {
		t.Errorf("worker logs lack the stop line:\n%s", logs)
	}
}
