package interop

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
)

// dlqEntry is one row of `nimara dlq ls --json`.
type dlqEntry struct {
	ID           string `json:"id"`
	Queue        string `json:"queue"`
	JobID        string `json:"job_id"`
	Name         string `json:"name"`
	FailedReason string `json:"failed_reason"`
	AttemptsMade int    `json:"attempts_made"`
}

// dlqList runs `nimara dlq ls --json` and returns the entries.
func (f *fleet) dlqList() []dlqEntry {
	f.t.Helper()

	out := f.run("dlq", "ls", "--limit", "0", "--json")
	var entries []dlqEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		f.t.Fatalf("decode dlq ls --json %q: %v", out, err)
	}
	return entries
}

// entryOf returns the entry of job id in queue, if listed.
func entryOf(entries []dlqEntry, queue, id string) (dlqEntry, bool) {
	for _, e := range entries {
		if e.Queue == queue && e.JobID == id {
			return e, true
		}
	}
	return dlqEntry{}, false
}

// startGlobalListener starts, in the Node peer, a Socket.IO server with the Redis adapter
// on the fleet's channel key and one socket.io-client in room global, which records the
// system:jobFailed events it receives in state.jobFailed.
func startGlobalListener(t *testing.T, peer *nodepeer.Peer, f *fleet) {
	t.Helper()

	peer.MustEval(t, `
		const { createServer } = require('node:http');
		const { Server } = require('socket.io');
		const { createAdapter } = require('@socket.io/redis-adapter');
		const { io: connect } = require('socket.io-client');

		const pub = new IORedis(redisOpts);
		const sub = pub.duplicate();
		const http = createServer();
		const io = new Server(http, { adapter: createAdapter(pub, sub, { key: args.key }) });
		io.use((socket, next) => { socket.join('global'); next(); });
		await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));

		state.jobFailed = [];
		const client = connect('http://127.0.0.1:' + http.address().port,
			{ transports: ['websocket'] });
		client.on('system:jobFailed', (p) => state.jobFailed.push(p));
		await new Promise((resolve, reject) => {
			client.on('connect', resolve);
			client.on('connect_error', reject);
		});
		onClose(async () => {
			client.close();
			io.close();
			pub.disconnect();
			sub.disconnect();
		});
	`, map[string]any{"key": f.sioKey})
}

// waitForEntry polls dlq ls until the job's entry shows up and returns it with the time
// it took.
func waitForEntry(t *testing.T, f *fleet, queue, id string) (dlqEntry, time.Duration) {
	t.Helper()

	start := time.Now()
	var entry dlqEntry
	waitFor(t, 30*time.Second, "the dead-letter entry of "+queue+"/"+id, func() bool {
		var ok bool
		entry, ok = entryOf(f.dlqList(), queue, id)
		return ok
	})
	return entry, time.Since(start)
}

func TestFleetDeadLettersFailedJobs(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newFleet(t)
	f.seedUsers(ctx, "admin-a", "admin-b", "u-ana")
	_, err := f.db.Pool.Exec(ctx,
		`UPDATE users SET is_super_admin = true WHERE id IN ('admin-a', 'admin-b')`)
	if err != nil {
		t.Fatalf("make super admins: %v", err)
	}

	peer := nodepeer.Start(t, 6)
	startGlobalListener(t, peer, f)
	f.startWorker("--queues", "notifications", "--dlq-sweep-interval", "200ms")

	// A Node worker serves the email queue and fails while state.failEmail is set. Its
	// failed jobs reach the dead-letter queue through the sweeper.
	peer.MustEval(t, `
		state.failEmail = true;
		const w = new bullmq.Worker('email', async () => {
			if (state.failEmail) throw new Error('smtp: 421 try later');
			return 'sent';
		}, { connection: redisOpts, prefix: args.prefix });
		onClose(() => w.close());
	`, map[string]any{"prefix": f.prefix})

	ids := nodepeer.MustEvalAs[map[string]string](t, peer, `
		const email = new bullmq.Queue('email', { connection: redisOpts, prefix: args.prefix });
		const notes = new bullmq.Queue('notifications',
			{ connection: redisOpts, prefix: args.prefix });
		const mail = await email.add('send', { to: 'ana@test.example' },
			{ attempts: 2, backoff: { type: 'fixed', delay: 10 } });
		const note = await notes.add('create', { userId: 'u-ghost', type: 't', title: 'Hi' });
		const ids = { email: mail.id, notifications: note.id };
		const deadline = Date.now() + 30000;
		while (Date.now() < deadline) {
			const states = [await mail.getState(), await note.getState()];
			if (states.every((s) => s === 'failed')) break;
			await sleep(10);
		}
		await email.close();
		await notes.close();
		return ids;
	`, map[string]any{"prefix": f.prefix})

	noteEntry, took := waitForEntry(t, f, "notifications", ids["notifications"])
	t.Logf("Go-failed job listed by dlq ls %s after its failure was seen", took)
	if noteEntry.FailedReason != `user "u-ghost" not found` || noteEntry.AttemptsMade != 1 {
		t.Errorf("notifications entry = %+v, want the unknown user failure", noteEntry)
	}
	mailEntry, took := waitForEntry(t, f, "email", ids["email"])
	t.Logf("Node-failed job listed by dlq ls %s after its failure was seen", took)
	if mailEntry.FailedReason != "smtp: 421 try later" || mailEntry.AttemptsMade != 2 {
		t.Errorf("email entry = %+v, want two attempts and the SMTP error", mailEntry)
	}

	waitFor(t, 30*time.Second, "two system:jobFailed events in room global", func() bool {
		return nodepeer.MustEvalAs[int](t, peer, `return state.jobFailed.length;`, nil) >= 2
	})
	events := nodepeer.MustEvalAs[[]map[string]string](t, peer, `return state.jobFailed;`, nil)
	got := []string{}
	for _, e := range events {
		got = append(got, e["queueName"]+"/"+e["jobId"]+": "+e["error"])
	}
	sort.Strings(got)
	want := []string{"email/" + ids["email"] + ": smtp: 421 try later",
		"notifications/" + ids["notifications"] + `: user "u-ghost" not found`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("system:jobFailed events = %q, want %q", got, want)
	}

	waitFor(t, 30*time.Second, "two alert notifications per super admin", func() bool {
		var n int
		_ = f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications
			WHERE type = 'system.jobFailed'`).Scan(&n)
		return n >= 4
	})
	rows, err := f.db.Pool.Query(ctx, `SELECT user_id, count(*) FROM notifications
		WHERE type = 'system.jobFailed' GROUP BY user_id ORDER BY user_id`)
	if err != nil {
		t.Fatalf("count alerts: %v", err)
	}
	perUser := map[string]int{}
	for rows.Next() {
		var user string
		var n int
		if err := rows.Scan(&user, &n); err != nil {
			t.Fatalf("scan: %v", err)
		}
		perUser[user] = n
	}
	rows.Close()
	if len(perUser) != 2 || perUser["admin-a"] != 2 || perUser["admin-b"] != 2 {
		t.Errorf("alert notifications per user = %v, want 2 for each super admin only",
			perUser)
	}

	// Fix both causes, then retry the entries: both jobs run again and complete.
	if _, err := f.db.Pool.Exec(ctx, `INSERT INTO users (id, name, email)
		VALUES ('u-ghost', 'Ghost', 'ghost@test.example')`); err != nil {
		t.Fatalf("add user: %v", err)
	}
	peer.MustEval(t, `state.failEmail = false;`, nil)
	out := f.run("dlq", "retry", noteEntry.ID, mailEntry.ID, "--json")
	if strings.Count(out, `"action": "retried"`) != 2 {
		t.Errorf("dlq retry output = %s, want two retried entries", out)
	}

	states := nodepeer.MustEvalAs[map[string]string](t, peer, `
		const result = {};
		for (const [name, id] of Object.entries(args.ids)) {
			const q = new bullmq.Queue(name, { connection: redisOpts, prefix: args.prefix });
			const deadline = Date.now() + 30000;
			let s = await q.getJobState(id);
			while (s !== 'completed' && Date.now() < deadline) {
				await sleep(20);
				s = await q.getJobState(id);
			}
			result[name] = s;
			await q.close();
		}
		return result;
	`, map[string]any{"prefix": f.prefix, "ids": ids})
	if states["email"] != "completed" || states["notifications"] != "completed" {
		t.Errorf("job states after dlq retry = %v, want both completed", states)
	}
	if left := f.dlqList(); len(left) != 0 {
		t.Errorf("dead-letter entries after retry = %+v, want none", left)
	}

	var ghostRows int
	_ = f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = 'u-ghost'`).
		Scan(&ghostRows)
	if ghostRows != 1 {
		t.Errorf("notifications of u-ghost after the retry = %d, want 1", ghostRows)
	}
}

func TestFleetKilledBeforeDeadLetterLosesNothing(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newFleet(t)
	rdb := redisClient(t)
	peer := nodepeer.Start(t, 6)

	// While the dead-letter queue's meta key has the wrong type, every write to the queue
	// fails, so worker A stores each failure but no entry, as a worker that dies between
	// the two steps leaves them. Then it is killed.
	metaKey := f.prefix + ":dead-letter:meta"
	if err := rdb.Set(ctx, metaKey, "broken", 0).Err(); err != nil {
		t.Fatalf("break the dead-letter queue: %v", err)
	}
	a := f.startWorker("--queues", "notifications")

	const total = 20
	peer.MustEval(t, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		const jobs = [];
		for (let i = 0; i < args.total; i++) {
			jobs.push({ name: 'create', data: { userId: 'nobody-' + i, type: 't', title: 'x' } });
		}
		await q.addBulk(jobs);
		await q.close();
	`, map[string]any{"prefix": f.prefix, "total": total})

	waitFor(t, 30*time.Second, "every job to fail", func() bool {
		n, _ := rdb.ZCard(ctx, f.prefix+":notifications:failed").Result()
		return n == total
	})
	a.kill(t)
	if strings.Contains(a.out.String(), "Job added to the dead-letter queue") {
		t.Fatalf("worker A recorded entries although the dead-letter queue was broken:\n%s",
			a.out)
	}

	if err := rdb.Del(ctx, metaKey).Err(); err != nil {
		t.Fatalf("repair the dead-letter queue: %v", err)
	}
	f.startWorker("--queues", "notifications", "--dlq-sweep-interval", "100ms")

	// Worker A died holding the sweeper's 15 s lease, so worker B starts sweeping only after
	// it expires. The deadline leaves room for that on a loaded machine.
	var entries []dlqEntry
	waitFor(t, 90*time.Second, "an entry per failed job", func() bool {
		entries = f.dlqList()
		return len(entries) >= total
	})
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.JobID]++
	}
	failed, err := rdb.ZRange(ctx, f.prefix+":notifications:failed", 0, -1).Result()
	if err != nil {
		t.Fatalf("read failed set: %v", err)
	}
	for _, id := range failed {
		if seen[id] != 1 {
			t.Errorf("failed job %s has %d dead-letter entries, want 1", id, seen[id])
		}
	}
	if len(entries) != total {
		t.Errorf("dead-letter entries = %d, want %d", len(entries), total)
	}
}
