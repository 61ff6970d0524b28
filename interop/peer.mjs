// Long-lived Node peer that Go interop tests drive through internal/nodepeer.
//
// Usage: node peer.mjs [--bullmq 5|6]    (default 6)
//
// Protocol: newline-delimited JSON on stdin and stdout.
//
//   request   {"id":N,"op":"eval","code":"<body of an async function>","args":{...}}
//   response  {"id":N,"ok":true,"result":<JSON of the returned value>}
//             {"id":N,"ok":false,"error":"<message>","stack":"<stack>"}
//   event     {"event":"<name>","payload":<JSON>}
//
// Requests run concurrently. The code runs with these names in scope:
//
//   args       the request's args value
//   state      an object that persists across requests (live workers, servers, ...)
//   emit       emit(name, payload) sends an event line to Go
//   bullmq     the module namespace of the chosen major ("bullmq" for 6, "bullmq5" for 5)
//   IORedis    the ioredis default export
//   redisOpts  {host, port[, db]} parsed from REDIS_URL (default redis://127.0.0.1:6379)
//   require    createRequire rooted at this directory, for socket.io and friends
//   sleep      sleep(ms) resolves after ms milliseconds
//   onClose    onClose(fn) registers an async function to run at shutdown
//
// Errors that escape async code (unhandled rejections, uncaught exceptions, for example
// from inside a worker processor) are sent as an "error" event with {kind, message, stack};
// the peer keeps running. The first line the peer writes is the "__ready" event.
//
// On stdin EOF, SIGTERM or SIGINT the peer runs the functions in state.__closers in reverse
// order of registration, then exits with status 0. Diagnostics go to stderr.

import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);

// Upper bound for all closers together. A closer that hangs (for example a worker waiting for
// an active job) must not keep the process alive after Go closed stdin, and Go kills the
// peer 10 s after closing stdin.
const SHUTDOWN_TIMEOUT_MS = 9000;

// Writes to pipes are asynchronous on POSIX (Node docs, "A note on process I/O"), so exit
// only once stdout and stderr have flushed what was written before.
function exitAfterFlush(code) {
  process.stdout.write('', () => {
    process.stderr.write('', () => process.exit(code));
  });
}

function parseMajor(argv) {
  const i = argv.indexOf('--bullmq');
  if (i === -1) {
    return 6;
  }

  const value = argv[i + 1];
  if (value !== '5' && value !== '6') {
    process.stderr.write(`peer: invalid --bullmq value ${JSON.stringify(value)}: use 5 or 6\n`);
    exitAfterFlush(2);
    return null;
  }
  return Number(value);
}

function parseRedisURL(text) {
  const url = new URL(text);
  const opts = {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
  };

  const db = url.pathname.replace(/^\//, '');
  if (db !== '') {
    opts.db = Number(db);
  }
  return opts;
}

function describeError(err) {
  if (err instanceof Error) {
    return { message: err.message, stack: err.stack ?? '' };
  }
  return { message: String(err), stack: '' };
}

function writeLine(obj) {
  // Each line is one write, and writes reach the pipe in call order, so lines never mix.
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Stringifies value as JSON, with undefined (and functions) as null. Throws on cycles and
// BigInt values.
function toJSON(value) {
  const text = JSON.stringify(value === undefined ? null : value);
  return text === undefined ? 'null' : text;
}

function emit(name, payload) {
  let text;
  try {
    text = toJSON(payload);
  } catch (err) {
    const { message, stack } = describeError(err);
    const reason = `payload of event ${name} is not JSON: ${message}`;
    writeLine({ event: 'error', payload: { kind: 'emit', message: reason, stack } });
    return;
  }
  process.stdout.write(`{"event":${JSON.stringify(String(name))},"payload":${text}}\n`);
}

const major = parseMajor(process.argv.slice(2));
if (major === null) {
  // Wait for exitAfterFlush instead of loading modules.
  await new Promise(() => {});
}
const bullmq = await import(major === 5 ? 'bullmq5' : 'bullmq');
const { default: IORedis } = await import('ioredis');
const redisOpts = parseRedisURL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');

const state = { __closers: [] };

function onClose(fn) {
  if (typeof fn !== 'function') {
    throw new TypeError('onClose expects a function');
  }
  state.__closers.push(fn);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

process.on('unhandledRejection', (reason) => {
  emit('error', { kind: 'unhandledRejection', ...describeError(reason) });
});

process.on('uncaughtException', (err) => {
  emit('error', { kind: 'uncaughtException', ...describeError(err) });
});

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

async function handle(request) {
  const { id } = request;
  if (request.op !== 'eval') {
    writeLine({ id, ok: false, error: `unknown op ${JSON.stringify(request.op)}`, stack: '' });
    return;
  }

  let text;
  try {
    const fn = new AsyncFunction(
      'args', 'state', 'emit', 'bullmq', 'IORedis', 'redisOpts', 'require', 'sleep', 'onClose',
      String(request.code ?? ''),
    );
    const result = await fn(
      request.args ?? null, state, emit, bullmq, IORedis, redisOpts, require, sleep, onClose,
    );
    try {
      text = toJSON(result);
    } catch (err) {
      throw new TypeError(`result is not JSON: ${describeError(err).message}`);
    }
  } catch (err) {
    const { message, stack } = describeError(err);
    writeLine({ id, ok: false, error: message, stack });
    return;
  }
  process.stdout.write(`{"id":${JSON.stringify(id)},"ok":true,"result":${text}}\n`);
}

let shuttingDown = false;

async function shutdown(reason) {
  if (shuttingDown) {
    return;
  }
  shuttingDown = true;

  const timer = setTimeout(() => {
    process.stderr.write(`peer: closers did not finish within ${SHUTDOWN_TIMEOUT_MS} ms\n`);
    exitAfterFlush(1);
  }, SHUTDOWN_TIMEOUT_MS);
  timer.unref();

  const closers = Array.isArray(state.__closers) ? state.__closers : [];
  for (const fn of closers.slice().reverse()) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`peer: closer failed during ${reason}: ${describeError(err).stack}\n`);
    }
  }
  exitAfterFlush(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });

lines.on('line', (line) => {
  if (line.trim() === '') {
    return;
  }

  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    const reason = `invalid request line: ${describeError(err).message}`;
    writeLine({ id: null, ok: false, error: reason });
    return;
  }
  handle(request);
});

lines.on('close', () => shutdown('stdin EOF'));

emit('__ready', { bullmq: major, node: process.version });
