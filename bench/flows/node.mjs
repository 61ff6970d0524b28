// Node side of bench/flows: runs one scenario with the bullmq pinned in interop/ and prints
// {"seconds": <elapsed>} on stdout.
//
// Usage: node node.mjs '<JSON config>' with the fields scenario ("upsert", "schedWork",
// "flowAdd" or "flowWork"), prefix, queue, childQueue, n, children, concurrency, inFlight.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(benchDir, '../../interop/package.json'));
const bullmq = require('bullmq');

const cfg = JSON.parse(process.argv[2]);
const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const connection = { host: url.hostname, port: Number(url.port || 6379) };
const opts = { connection, prefix: cfg.prefix };

// Runs fn(i) for i in [0, n) with at most inFlight calls pending.
async function pooled(n, inFlight, fn) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(inFlight, n) }, async () => {
    while (next < n) {
      await fn(next++);
    }
  });
  await Promise.all(lanes);
}

// Starts workers on the queues and resolves with the seconds until `want` completions in
// the queue named last.
async function work(queues, want) {
  const start = process.hrtime.bigint();
  let done = 0;
  let finish;
  const finished = new Promise(resolve => { finish = resolve; });
  const workers = queues.map((name, i) => new bullmq.Worker(name, async () => ({ ok: true }),
    { ...opts, concurrency: cfg.concurrency }));
  workers[workers.length - 1].on('completed', () => {
    if (++done === want) finish();
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(workers.map(w => w.close()));
  return seconds;
}

async function main() {
  const queue = new bullmq.Queue(cfg.queue, opts);
  await queue.waitUntilReady();
  let seconds;

  switch (cfg.scenario) {
    case 'upsert': {
      const start = process.hrtime.bigint();
      await pooled(cfg.n, cfg.inFlight, i => queue.upsertJobScheduler(`s${i}`,
        { every: 3600000 }, { name: 'tick', data: { i } }));
      seconds = Number(process.hrtime.bigint() - start) / 1e9;
      break;
    }
    case 'schedWork':
      seconds = await work([cfg.queue], cfg.n);
      break;
    case 'flowAdd': {
      const fp = new bullmq.FlowProducer(opts);
      const start = process.hrtime.bigint();
      await pooled(cfg.n, cfg.inFlight, i => fp.add({ name: 'parent', queueName: cfg.queue,
        data: { i }, children: Array.from({ length: cfg.children }, (_, c) => ({
          name: 'child', queueName: cfg.childQueue, data: { i, c } })) }));
      seconds = Number(process.hrtime.bigint() - start) / 1e9;
      await fp.close();
      break;
    }
    case 'flowWork':
      seconds = await work([cfg.childQueue, cfg.queue], cfg.n);
      break;
    default:
      throw new Error(`unknown scenario ${cfg.scenario}`);
  }

  await queue.close();
  process.stdout.write(JSON.stringify({ seconds }) + '\n');
}

main().catch(err => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
