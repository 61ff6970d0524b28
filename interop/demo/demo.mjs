// The Node side of `make demo`: what the CRM's Next.js app does. It enqueues
// notifications/create jobs with bullmq, watches them with QueueEvents, and runs a
// Socket.IO server with the Redis adapter whose browser clients (socket.io-client, one per
// user) join their user:{id} rooms and print what the nimara worker pushes to them.
//
//   node demo/demo.mjs --count 30 --users demo-ana,demo-ben,demo-eva --port-id <uuid>
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { io as connectClient } from "socket.io-client";

const { values: opts } = parseArgs({
  options: {
    count: { type: "string", default: "30" },
    users: { type: "string", default: "demo-ana,demo-ben,demo-eva" },
    "port-id": { type: "string" },
    prefix: { type: "string", default: process.env.NIMARA_PREFIX || "bull" },
    timeout: { type: "string", default: "60" },
  },
});

const count = Number(opts.count);
const users = opts.users.split(",").filter(Boolean);
const redisURL = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const connection = { url: redisURL, maxRetriesPerRequest: null };
const log = (line) => console.log(`[node] ${line}`);

// A Socket.IO server as the CRM runs it: the Redis adapter joins it to the cluster, and
// the handshake's userId puts each browser in its personal room.
const pub = new Redis(redisURL);
const sub = pub.duplicate();
const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
io.use((socket, next) => {
  const { userId, superAdmin } = socket.handshake.auth ?? {};
  if (!userId) return next(new Error("missing userId"));
  socket.join(`user:${userId}`);
  if (superAdmin) socket.join("global");
  next();
});
await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const { port } = httpServer.address();
log(`Socket.IO server with the Redis adapter on 127.0.0.1:${port}`);

const received = Object.fromEntries(users.map((u) => [u, { new: 0, lastUnread: null }]));
const misrouted = [];
const clients = await Promise.all(
  users.map(
    (userId) =>
      new Promise((resolve, reject) => {
        const client = connectClient(`http://127.0.0.1:${port}`, {
          auth: { userId },
          transports: ["websocket"],
        });
        client.on("notification:new", (payload) => {
          received[userId].new++;
          if (!payload.title?.endsWith(`for ${userId}`)) misrouted.push({ userId, payload });
        });
        client.on("notification:unreadCount", ({ count }) => {
          received[userId].lastUnread = count;
        });
        client.on("connect", () => resolve(client));
        client.on("connect_error", reject);
      }),
  ),
);
log(`${clients.length} browsers connected: ${users.map((u) => `user:${u}`).join(", ")}`);

// The super admin's browser joins room global, where system alerts arrive.
const systemAlerts = [];
const admin = connectClient(`http://127.0.0.1:${port}`, {
  auth: { userId: "demo-root", superAdmin: true },
  transports: ["websocket"],
});
admin.on("system:jobFailed", (payload) => systemAlerts.push(payload));
await new Promise((resolve, reject) => {
  admin.on("connect", resolve);
  admin.on("connect_error", reject);
});
log("the super admin's browser joined room global");

// The producer: what the Next.js API does when something happens in the CRM.
const queueEvents = new QueueEvents("notifications", { connection, prefix: opts.prefix });
await queueEvents.waitUntilReady();
// Only the demo's own jobs count: the dead-letter queue also adds an alert job to this
// queue for the invalid job, and that one completes too.
const completedIds = new Set();
const failedById = new Map();
queueEvents.on("completed", ({ jobId }) => completedIds.add(jobId));
queueEvents.on("failed", ({ jobId, failedReason }) => failedById.set(jobId, failedReason));

const queue = new Queue("notifications", { connection, prefix: opts.prefix });
const jobs = Array.from({ length: count }, (_, i) => {
  const userId = users[i % users.length];
  return {
    name: "create",
    data: {
      portId: opts["port-id"],
      userId,
      type: "reminder.overdue",
      title: `Reminder ${i + 1} is overdue for ${userId}`,
      description: `Berth A-${(i % 12) + 1}: follow up with the client`,
      link: `/reminders/${i + 1}`,
    },
  };
});
const added = await queue.addBulk(jobs);
const ids = added.map((job) => job.id);
log(`enqueued ${count} notifications/create jobs`);

// One job the worker must reject: userId has the wrong type.
const bad = await queue.add("create", { userId: 42, type: "x", title: "bad" });
log(`enqueued job ${bad.id} with invalid data (userId is a number)`);

const deadline = Date.now() + Number(opts.timeout) * 1000;
const totalNew = () => Object.values(received).reduce((n, r) => n + r.new, 0);
const completedCount = () => ids.filter((id) => completedIds.has(id)).length;
while (
  (completedCount() < count || !failedById.has(bad.id) || totalNew() < count ||
    systemAlerts.length < 1) &&
  Date.now() < deadline
) {
  await new Promise((r) => setTimeout(r, 100));
}
const completed = completedCount();
const badReason = failedById.get(bad.id);

// notification:unreadCount follows each notification:new; let the last ones arrive.
await new Promise((r) => setTimeout(r, 300));

log(`QueueEvents: ${completed} of ${count} jobs completed`);
log(`failed job ${bad.id}: ${badReason ?? "(no failed event)"}`);
for (const [userId, r] of Object.entries(received)) {
  log(`browser of ${userId}: ${r.new} notification:new, unread count ${r.lastUnread}`);
}
for (const alert of systemAlerts) {
  log(`global room: system:jobFailed ${JSON.stringify(alert)}`);
}
const ok = completed === count && badReason !== undefined && totalNew() === count &&
  systemAlerts.length === 1 &&
  misrouted.length === 0;
log(ok ? "demo passed" : `demo FAILED (misrouted events: ${misrouted.length})`);

for (const c of [...clients, admin]) c.close();
await Promise.all([queue.close(), queueEvents.close()]);
io.close();
pub.disconnect();
sub.disconnect();
process.exit(ok ? 0 : 1);
