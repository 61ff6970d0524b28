// A Socket.IO server with the classic Redis adapter plus three in-process clients, for the Go
// emitter delivery test. Env: REDIS_URL, SIO_KEY. Clients c1 (rooms user:1) and c2 (user:2)
// join "/", a1 (user:1) joins "/admin". Every line on stdout is one JSON object:
//   {"ready":true,"port":N}                       all clients connected, adapter subscribed
//   {"client":"c1","event":"dm","args":[...]}      an event a client received
//   {"client":"c1","event":"$disconnect","reason":"io server disconnect"}
//   {"server":"/","event":"greet","args":[...]}    a server-side emit a namespace received
//   {"server":"/","event":"$join","room":"vip","client":"c1"} ($leave likewise)
// Binary values are printed as {"$binary":"<hex>"}.
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { io as connect } from "socket.io-client";

const key = process.env.SIO_KEY;
const pub = new Redis(process.env.REDIS_URL);
const sub = pub.duplicate();
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function plain(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $binary: Buffer.from(v.buffer ? v.buffer.slice(v.byteOffset,
      v.byteOffset + v.byteLength) : v).toString("hex") };
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key }) });
const names = new Map();
for (const nsp of [io.of("/"), io.of("/admin")]) {
  nsp.use((socket, next) => {
    names.set(socket.id, socket.handshake.auth.name);
    socket.join(socket.handshake.auth.rooms);
    next();
  });
  nsp.on("greet", (...args) => print({ server: nsp.name, event: "greet", args: plain(args) }));
  nsp.adapter.on("join-room", (room, id) => {
    if (room !== id && names.has(id)) print({ server: nsp.name, event: "$join", room,
      client: names.get(id) });
  });
  nsp.adapter.on("leave-room", (room, id) => {
    if (room !== id && names.has(id)) print({ server: nsp.name, event: "$leave", room,
      client: names.get(id) });
  });
}

await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const port = httpServer.address().port;

// The adapter subscribes asynchronously; ioredis runs PSUBSCRIBE before SUBSCRIBE on the
// same connection, so a counted request channel means both subscriptions are active.
for (const nsp of ["/", "/admin"]) {
  for (;;) {
    const [, count] = await pub.pubsub("NUMSUB", `${key}-request#${nsp}#`);
    if (Number(count) >= 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const clients = [["c1", "/", ["user:1"]], ["c2", "/", ["user:2"]], ["a1", "/admin", ["user:1"]]];
await Promise.all(clients.map(([name, nsp, rooms]) => new Promise((resolve, reject) => {
  const socket = connect(`http://127.0.0.1:${port}${nsp}`, {
    auth: { name, rooms }, transports: ["websocket"], reconnection: false,
  });
  socket.onAny((event, ...args) => print({ client: name, event, args: plain(args) }));
  socket.on("disconnect", (reason) => print({ client: name, event: "$disconnect", reason }));
  socket.once("connect", resolve);
  socket.once("connect_error", reject);
})));
print({ ready: true, port });
