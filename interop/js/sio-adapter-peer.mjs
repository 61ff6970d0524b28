// A long-lived Node process that a Go test drives over stdin and stdout, for the Redis
// adapter interop tests. It runs Socket.IO servers with @socket.io/redis-adapter (classic or
// sharded), socket.io-client clients connected to any server, and emitters.
//
// Each stdin line is {"id":N,"code":"...","args":...}. The code is the body of an async
// function of (args, h); its return value comes back as {"id":N,"ok":true,"result":...}, a
// thrown error as {"id":N,"ok":false,"error":"..."}. Events that the code or the helpers
// report arrive as {"event":"name","payload":...}. Binary values are written as
// {"$binary":"<hex>"}. Env: REDIS_URL. The process exits when stdin closes.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { io as connect } from "socket.io-client";

const write = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const closers = [];

function plain(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const buf = Buffer.isBuffer(v) ? v : ArrayBuffer.isView(v)
      ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v);
    return { $binary: buf.toString("hex") };
  }
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "function") return { $function: true };
  if (v instanceof Set) return [...v].map(plain);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function redis() {
  const client = new Redis(process.env.REDIS_URL, { lazyConnect: false });
  client.on("error", (err) => write({ event: "redis-error", payload: String(err) }));
  closers.push(() => client.disconnect());
  return client;
}

const h = {
  state: {},
  plain,
  emit: (event, payload) => write({ event, payload: plain(payload) }),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  redis,

  // startServer runs a Socket.IO server on 127.0.0.1. opts: key, sharded (a subscription
  // mode, or absent for the classic adapter), requestsTimeout,
  // publishOnSpecificResponseChannel, nsps (names created at start). Clients join the rooms
  // in their auth.rooms and store auth.data as socket.data.
  async startServer(name, opts = {}) {
    const pub = redis();
    const subName = `peer-${name}-${process.pid}-${Date.now()}`;
    const sub = pub.duplicate({ connectionName: subName });
    closers.push(() => sub.disconnect());
    const adapter = opts.sharded
      ? createShardedAdapter(pub, sub, {
        channelPrefix: opts.key, subscriptionMode: opts.sharded,
      })
      : createAdapter(pub, sub, {
        key: opts.key,
        requestsTimeout: opts.requestsTimeout,
        publishOnSpecificResponseChannel: opts.publishOnSpecificResponseChannel,
      });
    const httpServer = createServer();
    const io = new Server(httpServer, { adapter });
    for (const nspName of opts.nsps || ["/"]) {
      const nsp = io.of(nspName);
      nsp.use((socket, next) => {
        const auth = socket.handshake.auth || {};
        if (auth.rooms) socket.join(auth.rooms);
        if (auth.data) socket.data = auth.data;
        next();
      });
      nsp.on("connection", (socket) => {
        socket.on("disconnect", (reason) => h.emit("server-disconnect",
          { server: name, nsp: nspName, id: socket.id, reason }));
      });
    }
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    await h.waitSubscriptions(pub, subName, (opts.nsps || ["/"]).length * (opts.sharded ? 2 : 4));
    closers.push(() => { io.close(); });
    const port = httpServer.address().port;
    h.state[name] = { io, port, pub, sub };
    return { port, url: `http://127.0.0.1:${port}` };
  },

  // waitSubscriptions waits until the connection named name has count subscriptions, so
  // a server is a full cluster member when startServer returns.
  async waitSubscriptions(client, name, count) {
    for (;;) {
      const list = await client.client("LIST");
      const line = list.split("\n").find((l) => l.includes(` name=${name} `));
      if (line) {
        const field = (key) => Number((line.match(new RegExp(` ${key}=(\\d+)`)) || [0, 0])[1]);
        if (field("sub") + field("psub") + field("ssub") >= count) return;
      }
      await h.sleep(10);
    }
  },

  // connect opens a websocket client to url + nsp. Every event it receives is reported as
  // {client, event, args}; an event with an acknowledgement callback is acknowledged with
  // {ok: true, client}. Resolves with the socket id.
  connect(name, url, nsp, auth = {}) {
    return new Promise((resolve, reject) => {
      const socket = connect(url + nsp, {
        auth, transports: ["websocket"], reconnection: false, forceNew: true,
      });
      socket.onAny((event, ...args) => {
        const last = args[args.length - 1];
        if (typeof last === "function") {
          args.pop();
          last({ ok: true, client: name });
        }
        h.emit("client", { client: name, event, args });
      });
      socket.on("disconnect", (reason) => h.emit("client",
        { client: name, event: "$disconnect", args: [reason] }));
      const timer = setTimeout(() => reject(new Error(
        `client ${name} not connected to ${url}${nsp} after 10 s`)), 10000);
      socket.once("connect", () => { clearTimeout(timer); resolve(socket.id); });
      socket.once("connect_error", (err) => { clearTimeout(timer); reject(err); });
      h.state["client:" + name] = socket;
      closers.push(() => socket.disconnect());
    });
  },

  // connectMany opens count websocket clients to url that record, for every "lat" event,
  // the delay from its first argument's t field (wall-clock milliseconds) to its arrival,
  // without writing events. latencies returns and clears the recorded delays.
  async connectMany(url, count) {
    const clients = [];
    for (let i = 0; i < count; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 50); j++) {
        batch.push(new Promise((resolve, reject) => {
          const socket = connect(url, { transports: ["websocket"], reconnection: false,
            forceNew: true });
          socket.on("lat", (msg) => {
            h.recorded.push(performance.timeOrigin + performance.now() - msg.t);
          });
          socket.once("connect", () => resolve(socket));
          socket.once("connect_error", reject);
        }));
      }
      clients.push(...await Promise.all(batch));
    }
    closers.push(() => clients.forEach((c) => c.disconnect()));
    return clients;
  },
  recorded: [],

  // waitLatencies waits until count delays were recorded or timeoutMs passed, then returns
  // {received, p50, p99} in milliseconds and clears the record.
  async waitLatencies(count, timeoutMs) {
    const end = Date.now() + timeoutMs;
    while (h.recorded.length < count && Date.now() < end) await h.sleep(5);
    const sorted = Float64Array.from(h.recorded).sort();
    h.recorded = [];
    const pick = (q) => sorted.length ? sorted[Math.min(sorted.length - 1,
      Math.floor(q * sorted.length))] : null;
    return { received: sorted.length, p50: pick(0.5), p99: pick(0.99) };
  },

  // now returns the wall clock in milliseconds, as the latency clients read it.
  now: () => performance.timeOrigin + performance.now(),

  emitter(key) {
    return new Emitter(redis(), { key });
  },
};

const AsyncFunction = (async () => {}).constructor;
const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (err) {
    write({ event: "error", payload: { message: "invalid command: " + err.message } });
    return;
  }
  try {
    const fn = new AsyncFunction("args", "h", msg.code);
    const result = await fn(msg.args, h);
    write({ id: msg.id, ok: true, result: plain(result === undefined ? null : result) });
  } catch (err) {
    write({ id: msg.id, ok: false, error: String(err && err.message || err) });
  }
});
lines.on("close", async () => {
  for (const close of closers.reverse()) {
    try { await close(); } catch { /* already closed */ }
  }
  process.exit(0);
});
process.on("unhandledRejection", (err) => write({ event: "error",
  payload: { message: String(err && err.message || err) } }));
write({ event: "ready", payload: null });
