package interop

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/portnimara/nimara/internal/nodepeer"
)

// startBrowsers starts, in the Node peer, a Socket.IO server with the Redis adapter on the
// fleet's channel key, and one socket.io-client per user, which the server puts in room
// user:{id}. Each client counts the notification:new events it receives and records any
// whose title does not name its user.
func startBrowsers(t *testing.T, peer *nodepeer.Peer, f *fleet, users []string) {
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
		io.use((socket, next) => {
			socket.join('user:' + socket.handshake.auth.userId);
			next();
		});
		await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));

		state.received = {};
		state.unread = {};
		state.misrouted = [];
		state.clients = [];
		for (const userId of args.users) {
			state.received[userId] = 0;
			const client = connect('http://127.0.0.1:' + http.address().port,
				{ auth: { userId }, transports: ['websocket'] });
			client.on('notification:new', (p) => {
				state.received[userId]++;
				if (p.title !== 'for ' + userId || typeof p.notificationId !== 'string') {
					state.misrouted.push({ userId, p });
				}
			});
			// Jobs run concurrently, so counts can arrive out of order; the highest one
			// was computed after the user's last insert.
			client.on('notification:unreadCount', (p) => {
				state.unread[userId] = Math.max(state.unread[userId] ?? 0, p.count);
			});
			await new Promise((resolve, reject) => {
				client.on('connect', resolve);
				client.on('connect_error', reject);
			});
			state.clients.push(client);
		}
		onClose(async () => {
			for (const c of state.clients) c.close();
			io.close();
			pub.disconnect();
			sub.disconnect();
		});
	`, map[string]any{"key": f.sioKey, "users": users})
}

// startQueueEvents counts completed and failed events of a queue with Node QueueEvents.
func startQueueEvents(t *testing.T, peer *nodepeer.Peer, f *fleet, queue string) {
	t.Helper()

	peer.MustEval(t, `
		state.completed = new Set();
		state.failed = {};
		const qe = new bullmq.QueueEvents(args.queue,
			{ connection: redisOpts, prefix: args.prefix });
		qe.on('completed', ({ jobId }) => state.completed.add(jobId));
		qe.on('failed', ({ jobId, failedReason }) => { state.failed[jobId] = failedReason; });
		await qe.waitUntilReady();
		onClose(() => qe.close());
	`, map[string]any{"queue": queue, "prefix": f.prefix})
}

// addNotifications enqueues count notifications/create jobs with Node bullmq, spread over
// users round robin, in batches of addBulk.
func addNotifications(t *testing.T, peer *nodepeer.Peer, f *fleet, portID string,
	users []string, count int) {
	t.Helper()

	peer.MustEval(t, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		for (let start = 0; start < args.count; start += 200) {
			const batch = [];
			for (let i = start; i < Math.min(args.count, start + 200); i++) {
				const userId = args.users[i % args.users.length];
				batch.push({ name: 'create', data: {
					portId: args.portId, userId, type: 'reminder.overdue',
					title: 'for ' + userId, description: 'job ' + i, link: '/reminders/' + i,
				} });
			}
			await q.addBulk(batch);
		}
		await q.close();
	`, map[string]any{"prefix": f.prefix, "portId": portID, "users": users, "count": count})
}

func completedCount(t *testing.T, peer *nodepeer.Peer) int {
	t.Helper()
	return nodepeer.MustEvalAs[int](t, peer, `return state.completed.size;`, nil)
}

func TestFleetProcessesNodeNotifications(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newFleet(t)
	users := []string{"u-ana", "u-ben", "u-eva"}
	portID := f.seedUsers(ctx, users...)

	peer := nodepeer.Start(t, 6)
	startBrowsers(t, peer, f, users)
	startQueueEvents(t, peer, f, "notifications")

	w := f.startWorker("--queues", "notifications")
	const total = 1000
	addNotifications(t, peer, f, portID, users, total)

	waitFor(t, 2*time.Minute, "1000 completed events in Node QueueEvents", func() bool {
		return completedCount(t, peer) >= total
	})
	if got := completedCount(t, peer); got != total {
		t.Errorf("QueueEvents completed = %d, want %d", got, total)
	}

	var rows int
	if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&rows); err != nil {
		t.Fatalf("count notifications: %v", err)
	}
	if rows != total {
		t.Errorf("notifications rows = %d, want %d", rows, total)
	}

	want := map[string]int{"u-ana": 334, "u-ben": 333, "u-eva": 333}
	waitFor(t, 30*time.Second, "every browser to receive its notifications", func() bool {
		got := nodepeer.MustEvalAs[map[string]int](t, peer, `return state.received;`, nil)
		for u, n := range want {
			if got[u] < n {
				return false
			}
		}
		return true
	})
	got := nodepeer.MustEvalAs[map[string]int](t, peer, `return state.received;`, nil)
	for u, n := range want {
		if got[u] != n {
			t.Errorf("browser of %s received %d notification:new, want %d", u, got[u], n)
		}
	}
	misrouted := peer.MustEval(t, `return state.misrouted.slice(0, 3);`, nil)
	if string(misrouted) != "[]" {
		t.Errorf("browsers received events of other users: %s", misrouted)
	}
	waitFor(t, 30*time.Second, "the final unread counts", func() bool {
		got := nodepeer.MustEvalAs[map[string]int](t, peer, `return state.unread;`, nil)
		for u, n := range want {
			if got[u] < n {
				return false
			}
		}
		return true
	})
	unread := nodepeer.MustEvalAs[map[string]int](t, peer, `return state.unread;`, nil)
	for u, n := range want {
		if unread[u] != n {
			t.Errorf("highest unread count of %s = %d, want %d", u, unread[u], n)
		}
	}

	if err := w.stop(t, 30*time.Second); err != nil {
		t.Errorf("nimara worker exit after SIGTERM: %v, want status 0", err)
	}
}

func TestFleetSurvivesSIGKILL(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newFleet(t)
	users := []string{"u-kim", "u-lea"}
	portID := f.seedUsers(ctx, users...)
	rdb := redisClient(t)

	peer := nodepeer.Start(t, 6)
	startQueueEvents(t, peer, f, "notifications")

	// Short locks and stall checks so the jobs the killed worker held come back quickly.
	flags := []string{"--queues", "notifications", "--lock-duration", "2s",
		"--stalled-interval", "1s"}
	first := f.startWorker(flags...)
	const total = 600
	addNotifications(t, peer, f, portID, users, total)

	waitFor(t, time.Minute, "the first completions", func() bool {
		return completedCount(t, peer) >= 50
	})
	first.kill(t)
	activeAtKill := rdb.LLen(ctx, f.prefix+":notifications:active").Val()
	t.Logf("killed the worker with %d completed and %d jobs active",
		completedCount(t, peer), activeAtKill)

	second := f.startWorker(flags...)
	waitFor(t, 2*time.Minute, "every job to complete after the restart", func() bool {
		return rdb.ZCard(ctx, f.prefix+":notifications:completed").Val() >= total
	})

	base := f.prefix + ":notifications:"
	if n := rdb.ZCard(ctx, base+"completed").Val(); n != total {
		t.Errorf("completed = %d, want %d", n, total)
	}
	for _, key := range []string{"active", "wait", "paused"} {
		if n := rdb.LLen(ctx, base+key).Val(); n != 0 {
			t.Errorf("%s holds %d jobs, want 0", key, n)
		}
	}
	for _, key := range []string{"failed", "delayed", "prioritized"} {
		if n := rdb.ZCard(ctx, base+key).Val(); n != 0 {
			t.Errorf("%s holds %d jobs, want 0", key, n)
		}
	}

	var rows int
	err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&rows)
	if err != nil {
		t.Fatalf("count notifications: %v", err)
	}
	if rows != total {
		t.Errorf("notifications rows = %d, want %d (one per job, even for rerun jobs)",
			rows, total)
	}

	if err := second.stop(t, 30*time.Second); err != nil {
		t.Errorf("nimara worker exit after SIGTERM: %v, want status 0", err)
	}
}

func TestFleetFailsBadInputAndKeepsRunning(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newFleet(t)
	portID := f.seedUsers(ctx, "u-ok")
	rdb := redisClient(t)

	peer := nodepeer.Start(t, 6)
	startQueueEvents(t, peer, f, "notifications")
	w := f.startWorker("--queues", "notifications")

	ids := nodepeer.MustEvalAs[map[string]string](t, peer, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		const ids = {};
		ids.wrongType = (await q.add('create', { userId: 42, type: 't', title: 'x' })).id;
		ids.missingTitle = (await q.add('create', { userId: 'u-ok', type: 't' })).id;
		ids.unknownUser = (await q.add('create', { userId: 'u-nobody', type: 't', title: 'x' })).id;
		ids.notObject = (await q.add('create', [1, 2])).id;
		ids.unknownName = (await q.add('explode', { userId: 'u-ok' })).id;
		await q.close();
		return ids;
	`, map[string]any{"prefix": f.prefix})

	// A job hash without name and data, as a buggy producer or a manual edit could leave it.
	base := f.prefix + ":notifications:"
	rdb.HSet(ctx, base+"broken-1", "opts", `{"attempts":3}`, "timestamp", "1700000000000",
		"delay", "0", "priority", "0")
	rdb.LPush(ctx, base+"wait", "broken-1")
	rdb.ZAdd(ctx, base+"marker", redisZ(0, "0"))
	ids["missingFields"] = "broken-1"

	// A job with data that is not JSON at all.
	rdb.HSet(ctx, base+"broken-2", "name", "create", "data", "{not json", "opts", "{}",
		"timestamp", "1700000000000", "delay", "0", "priority", "0")
	rdb.LPush(ctx, base+"wait", "broken-2")
	rdb.ZAdd(ctx, base+"marker", redisZ(0, "0"))
	ids["notJSON"] = "broken-2"

	waitFor(t, time.Minute, "every bad job to fail", func() bool {
		return rdb.ZCard(ctx, base+"failed").Val() >= int64(len(ids))
	})

	wantReason := map[string]string{
		"wrongType":     "userId",
		"missingTitle":  "title",
		"unknownUser":   "u-nobody",
		"notObject":     "object",
		"unknownName":   "explode",
		"missingFields": "missing",
		"notJSON":       "JSON",
	}
	for kind, id := range ids {
		h := rdb.HGetAll(ctx, base+id).Val()
		if len(h) == 0 {
			t.Errorf("%s: job %s was deleted, want it kept for inspection", kind, id)
			continue
		}
		if rdb.ZScore(ctx, base+"failed", id).Err() != nil {
			t.Errorf("%s: job %s is not in the failed set", kind, id)
		}
		if !containsFold(h["failedReason"], wantReason[kind]) {
			t.Errorf("%s: failedReason = %q, want it to mention %q", kind, h["failedReason"],
				wantReason[kind])
		}
		if h["atm"] != "1" {
			t.Errorf("%s: attempts made = %q, want 1 (no retry for bad input)", kind, h["atm"])
		}
	}

	// The worker is still alive and processes a good job.
	good := nodepeer.MustEvalAs[string](t, peer, `
		const q = new bullmq.Queue('notifications', { connection: redisOpts, prefix: args.prefix });
		const job = await q.add('create', { portId: args.portId, userId: 'u-ok', type: 't',
			title: 'fine', description: 'd', link: '/x' });
		await q.close();
		return job.id;
	`, map[string]any{"prefix": f.prefix, "portId": portID})
	waitFor(t, 30*time.Second, "the good job to complete", func() bool {
		return rdb.ZScore(ctx, base+"completed", good).Err() == nil
	})
	var rv map[string]any
	if err := json.Unmarshal([]byte(rdb.HGet(ctx, base+good, "returnvalue").Val()), &rv); err != nil {
		t.Errorf("returnvalue of the good job is not JSON: %v", err)
	}

	if err := w.stop(t, 30*time.Second); err != nil {
		t.Errorf("nimara worker exit after SIGTERM: %v, want status 0", err)
	}
}
