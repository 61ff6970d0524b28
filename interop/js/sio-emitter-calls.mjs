// Publishes a fixed list of calls through @socket.io/redis-emitter so a Go test can compare
// the bytes with its own emitter. Env: REDIS_URL, SIO_KEY. Prints {"calls": n} when done.
import { Redis } from "ioredis";
import { Emitter } from "@socket.io/redis-emitter";

const redis = new Redis(process.env.REDIS_URL);
const e = new Emitter(redis, { key: process.env.SIO_KEY });

const keys16 = {};
for (let i = 0; i < 16; i++) keys16["k" + String(i).padStart(2, "0")] = i;

const calls = [
  () => e.to("port:7").emit("berth:statusChanged", { id: 7 }),
  () => e.to(["a", "b"]).to("a").except("x").except(["y", "x"]).emit("rooms", 1),
  () => e.of("admin").to("r").emit("nsp", "s"),
  () => e.volatile.compress(false).emit("flags"),
  () => e.compress(true).volatile.compress(false).emit("flags"),
  () => e.emit("ping"),
  () => e.emit("nums", 0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40,
    2 ** 53, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40),
    1.5, 0.1, -0.25, 1e20, -1e20, 1e300, NaN, Infinity, -Infinity, -0, 3),
  () => e.emit("strs", "", "a".repeat(31), "a".repeat(32), "b".repeat(255), "c".repeat(256),
    "d".repeat(65535), "e".repeat(65536), "Ω≈ç😀", "line\nbreak \"q\""),
  () => e.emit("bin", Buffer.from([1, 2, 3]), Buffer.alloc(256, 7), Buffer.alloc(0),
    { file: Buffer.from([9, 8]) }),
  () => e.to("port:7").emit("obj", { id: 7, status: "docked", ratio: 0.25, tags: ["a", "b"],
    nested: { ok: true, none: null }, 2: "two", b: 1 }),
  () => e.emit("big", keys16, Array.from({ length: 16 }, (_, i) => i)),
  () => e.emit("raw", { z: 1, a: [1, 2.5] }),
  () => e.serverSideEmit("cache:flush", 1, { a: "<&>" }, Buffer.from([1, 2])),
  () => e.in("port:7").except("u").socketsJoin(["r2", "r3"]),
  () => e.of("/admin").socketsLeave("r2"),
  () => e.to("a").disconnectSockets(true),
  () => e.disconnectSockets(),
];
for (const call of calls) call();
await redis.quit();
console.log(JSON.stringify({ calls: calls.length }));
