package interop

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
	"github.com/portnimara/nimara/queues"
)

// boardQueue is one queue of bull-board's GET /api/queues response.
type boardQueue struct {
	Name     string           `json:"name"`
	Counts   map[string]int   `json:"counts"`
	IsPaused bool             `json:"isPaused"`
	Jobs     []map[string]any `json:"jobs"`
}

func TestBullBoardListsFleetQueues(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newFleet(t)
	f.seedUsers(ctx, "admin-a", "u-ana")
	if _, err := f.db.Pool.Exec(ctx,
		`UPDATE users SET is_super_admin = true WHERE id = 'admin-a'`); err != nil {
		t.Fatalf("make a super admin: %v", err)
	}
	peer := nodepeer.Start(t, 6)
	f.startWorker("--queues", "notifications")

	// Five good and two invalid notifications for the fleet, plus jobs that wait in queues
	// the fleet does not serve.
	peer.MustEval(t, `
		const q = (name) => new bullmq.Queue(name, { connection: redisOpts, prefix: args.prefix });
		const notes = q('notifications');
		for (let i = 0; i < 5; i++) {
			await notes.add('create', { userId: 'u-ana', type: 't', title: 'n' + i });
		}
		await notes.add('create', { userId: 7, type: 't', title: 'bad' });
		await notes.add('create', { type: 't', title: 'bad' });
		const email = q('email');
		for (let i = 0; i < 3; i++) await email.add('send', { i }, { attempts: 5 });
		const exp = q('export');
		await exp.add('csv', {}, { delay: 3600000, priority: 4 });
		for (const queue of [notes, email, exp]) await queue.close();
	`, map[string]any{"prefix": f.prefix})

	// 5 created notifications and the 2 super admin alerts complete; 2 jobs fail.
	waitFor(t, time.Minute, "the fleet to finish the notifications", func() bool {
		counts := nodepeer.MustEvalAs[map[string]int](t, peer, `
			const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
			const counts = await q.getJobCounts('completed', 'failed', 'wait', 'active',
				'prioritized');
			await q.close();
			return counts;
		`, map[string]any{"prefix": f.prefix})
		return counts["completed"] == 7 && counts["failed"] == 2 && counts["wait"] == 0 &&
			counts["active"] == 0 && counts["prioritized"] == 0
	})
	waitFor(t, 30*time.Second, "two dead-letter entries", func() bool {
		return len(f.dlqList()) == 2
	})

	names := append(queues.Names(), queues.DeadLetterQueue)
	board := nodepeer.MustEvalAs[map[string]json.RawMessage](t, peer, `
		const { createBullBoard } = require('@bull-board/api');
		const { BullMQAdapter } = require('@bull-board/api/bullMQAdapter');

		// A server adapter that keeps the API routes, so the test calls them as a web
		// server would.
		const routes = {};
		let boardQueues;
		const server = {
			setQueues(q) { boardQueues = q; return this; },
			setViewsPath() { return this; },
			setStaticPath() { return this; },
			setUIConfig() { return this; },
			setEntryRoute() { return this; },
			setErrorHandler() { return this; },
			setApiRoutes(list) {
				for (const r of list) {
					for (const path of [].concat(r.route)) routes[r.method + ' ' + path] = r.handler;
				}
				return this;
			},
		};
		const queues = args.names.map((name) =>
			new bullmq.Queue(name, { connection: redisOpts, prefix: args.prefix }));
		createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: server,
			options: { uiBasePath: '/nonexistent' } });

		const list = await routes['get /api/queues']({ queues: boardQueues,
			query: { activeQueue: 'dead-letter', status: 'latest', page: '1',
				jobsPerPage: '10' } });
		const failedId = (await queues[2].getJobs(['failed'], 0, 0))[0].id;
		const detail = await routes['get /api/queues/:queueName/:jobId']({ queues: boardQueues,
			params: { queueName: 'notifications', jobId: failedId }, query: {} });
		for (const q of queues) await q.close();
		return { list: list.body.queues, detail: detail.body, failedId };
	`, map[string]any{"prefix": f.prefix, "names": names})

	var listed []boardQueue
	if err := json.Unmarshal(board["list"], &listed); err != nil {
		t.Fatalf("decode bull-board queues: %v\n%s", err, board["list"])
	}
	byName := map[string]boardQueue{}
	for _, q := range listed {
		byName[q.Name] = q
	}
	if len(byName) != 11 {
		t.Errorf("bull-board lists %d queues, want the 10 CRM queues and dead-letter", len(byName))
	}

	want := map[string]map[string]int{
		"notifications": {"completed": 7, "failed": 2, "waiting": 0, "active": 0},
		"email":         {"waiting": 3, "failed": 0},
		"export":        {"delayed": 1, "waiting": 0},
		"import":        {"waiting": 0, "failed": 0, "completed": 0},
		"dead-letter":   {"waiting": 2, "failed": 0},
	}
	for name, counts := range want {
		q, ok := byName[name]
		if !ok {
			t.Errorf("bull-board lacks queue %s", name)
			continue
		}
		for state, n := range counts {
			if q.Counts[state] != n {
				t.Errorf("bull-board %s %s = %d, want %d (counts %v)", name, state,
					q.Counts[state], n, q.Counts)
			}
		}
	}

	dead := byName["dead-letter"]
	if len(dead.Jobs) != 2 {
		t.Fatalf("bull-board dead-letter jobs = %d, want 2", len(dead.Jobs))
	}
	for _, job := range dead.Jobs {
		data, _ := job["data"].(map[string]any)
		if data["queue"] != "notifications" || data["name"] != "create" ||
			data["attemptsMade"] != 1.0 {
			t.Errorf("bull-board dead-letter job data = %v, want a notifications/create entry",
				data)
		}
		if reason, _ := data["failedReason"].(string); len(reason) < len("invalid job data") ||
			reason[:len("invalid job data")] != "invalid job data" {
			t.Errorf("dead-letter entry failedReason = %q, want the decoder's error", reason)
		}
	}

	var detail struct {
		Status string `json:"status"`
		Job    struct {
			ID           string   `json:"id"`
			FailedReason string   `json:"failedReason"`
			Attempts     int      `json:"attempts"`
			Stacktrace   []string `json:"stacktrace"`
			Opts         struct {
				Attempts int `json:"attempts"`
			} `json:"opts"`
		} `json:"job"`
	}
	if err := json.Unmarshal(board["detail"], &detail); err != nil {
		t.Fatalf("decode bull-board job: %v\n%s", err, board["detail"])
	}
	if detail.Status != "failed" || detail.Job.Attempts != 1 || len(detail.Job.Stacktrace) != 1 {
		t.Errorf("bull-board job detail = %+v, want one failed attempt", detail)
	}
	if len(detail.Job.FailedReason) == 0 {
		t.Errorf("bull-board job detail has no failed reason")
	}
}
