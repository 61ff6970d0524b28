// Node side of the BullMQ benchmark, the counterpart of ../gopeer. The harness in
// bench/bullmq starts it as a process of its own and passes --interop=<dir of
// interop/package.json>, whose node_modules contains the pinned bullmq.
//
// It runs one scenario, selected by --mode:
//
//   add   adds --jobs jobs with queue.addBulk in batches of --batch, each with --data
//   work  processes --jobs jobs already in the queue with --concurrency
//
// Line protocol: {"event":"ready"} on stdout once connected, then wait for the line "start"
// on stdin, run the scenario and write {"event":"done","elapsed_ms":<float>,"jobs":<n>}.
// The process closes its clients and exits 0 when stdin reaches EOF, so the harness can
// read /proc/<pid>/status before that. Errors go to stderr and end the process with
// status 1.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    mode: { type: 'string' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    prefix: { type: 'string' },
    queue: { type: 'string' },
    jobs: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    batch: { type: 'string', default: '100' },
    data: { type: 'string', default: '{}' },
    interop: { type: 'string' },
  },
});

function fail(message) {
  process.stderr.write(`nodepeer: ${message}\n`);
  process.stderr.write('', () => process.exit(1));
}

function positiveInt(name) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`invalid --${name} ${JSON.stringify(opts[name])}: must be a positive integer`);
  }
  return n;
}

function send(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

// Lines of stdin, read one at a time. nextLine resolves null at EOF.
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function nextLine() {
  const { value, done } = await lines.next();
  return done ? null : value;
}

async function handshake() {
  send({ event: 'ready' });
  const line = await nextLine();
  if (line !== 'start') {
    throw new Error(`unexpected line ${JSON.stringify(line)} on stdin: want start`);
  }
}

// Report the result, then wait for stdin EOF.
async function finish(elapsedMs, jobs) {
  send({ event: 'done', elapsed_ms: elapsedMs, jobs });
  while ((await nextLine()) !== null) {
    // Ignore anything but EOF.
  }
}

function connectionOptions() {
  const url = new URL(opts.redis);
  const connection = {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    maxRetriesPerRequest: null,
  };
  const db = url.pathname.replace(/^\//, '');
  if (db !== '') {
    connection.db = Number(db);
  }
  return connection;
}

async function runAdd(bullmq, jobs, batchSize, data) {
  const queue = new bullmq.Queue(opts.queue, {
    connection: connectionOptions(),
    prefix: opts.prefix,
  });
  await queue.waitUntilReady();
  await handshake();

  const start = performance.now();
  for (let added = 0; added < jobs; ) {
    const batch = [];
    for (; added < jobs && batch.length < batchSize; added++) {
      batch.push({ name: 'bench', data });
    }
    await queue.addBulk(batch);
  }
  const elapsed = performance.now() - start;

  await finish(elapsed, jobs);
  await queue.close();
}

async function runWork(bullmq, jobs, concurrency) {
  const worker = new bullmq.Worker(opts.queue, async () => ({ ok: true }), {
    connection: connectionOptions(),
    prefix: opts.prefix,
    concurrency,
    autorun: false,
  });
  await worker.waitUntilReady();

  let completed = 0;
  const allDone = new Promise((resolve, reject) => {
    worker.on('completed', () => {
      completed++;
      if (completed === jobs) {
        resolve();
      }
    });
    worker.on('failed', (job, err) => {
      reject(new Error(`job ${job?.id} failed: ${err.message}`));
    });
    worker.on('error', (err) => reject(err));
  });

  await handshake();
  const start = performance.now();
  const running = worker.run();
  await allDone;
  const elapsed = performance.now() - start;

  await finish(elapsed, jobs);
  await worker.close();
  await running;
}

async function main() {
  if (!opts.interop) {
    throw new Error('missing --interop: the directory of interop/package.json');
  }
  if (!opts.prefix || !opts.queue) {
    throw new Error('missing --prefix or --queue');
  }
  const require = createRequire(join(opts.interop, 'package.json'));
  const bullmq = require('bullmq');
  const jobs = positiveInt('jobs');

  if (opts.mode === 'add') {
    await runAdd(bullmq, jobs, positiveInt('batch'), JSON.parse(opts.data));
  } else if (opts.mode === 'work') {
    await runWork(bullmq, jobs, positiveInt('concurrency'));
  } else {
    throw new Error(`invalid --mode ${JSON.stringify(opts.mode)}: use add or work`);
  }
  process.exit(0);
}

main().catch((err) => fail(err instanceof Error ? err.stack : String(err)));
