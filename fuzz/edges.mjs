// The fuzz suite's edge surfaces, where untrusted input comes from the network rather than a file:
//  - queue: mutated tokenize job data, added straight into a real redis-server (Debian's) and taken by
//    a real `xcodec worker --out-root ROOT`. Outcomes: ok (done, outputs inside ROOT), typed (failed
//    for good with the schema's or the reader's reason), untyped (a JavaScript error's name in the
//    reason, or retried), hang (not settled in time), crash (the worker died), escape (a file written
//    outside ROOT's output folder).
//  - hub: mutated responses of a fake Hub on 127.0.0.1 (statuses, headers, bodies, stalls, redirects)
//    to snapshotDownload with short timeouts. Outcomes: ok, typed (an XcodecError), untyped, hang,
//    escape (a file written outside the cache folder).
//
//   npm run fuzz -- --surface queue|hub [--seed 1] [--start 0] [--count 200] [--timeout 20000]
// Mutant i of a seed is a pure function of (seed, i). Exit code 1 when any mutant was bad.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rngFor } from './mutate.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const surface = opt('surface', 'queue');
const seed = Number(opt('seed', 1));
const start = Number(opt('start', 0));
const count = Number(opt('count', 200));
const timeoutMs = Number(opt('timeout', 20000));
const verbose = argv.includes('--verbose');
const fixtures = join(root, 'test', 'fixtures');
const BAD = ['untyped', 'hang', 'crash', 'escape'];
const counts = Object.fromEntries(['ok', 'typed', ...BAD].map((o) => [o, 0]));
const findings = [];

function record(index, outcome, message = '') {
  counts[outcome]++;
  if (BAD.includes(outcome) && findings.length < 100) findings.push({ index, outcome, message });
  if (verbose || BAD.includes(outcome)) console.log(`#${index} ${surface}: ${outcome}${message ? `: ${message}` : ''}`);
}

/** Every file under dir, as paths relative to it. */
function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

// ---------------------------------------------------------------- values an attacker might send

const WEIRD_STRINGS = [
  '',
  '.',
  '..',
  '../x.wav',
  '../../pwned/x.wav',
  '/etc/passwd',
  'a\u0000b.wav',
  'a\\..\\b.wav',
  'sub//x.wav',
  './x.wav',
  'x/./y.wav',
  '\u001b[31mred.wav',
  'ü.wav',
  'x'.repeat(5000),
  '%2e%2e/x.wav',
  'C:\\x.wav',
  '.wav',
  'sub/',
];
const WEIRD_VALUES = [
  null,
  undefined,
  0,
  -1,
  Number.POSITIVE_INFINITY,
  Number.NaN,
  true,
  [],
  {},
  [1, 2],
  { rel: 'x' },
  'null',
  2 ** 64,
];

function mutateValue(r, v) {
  switch (r.int(5)) {
    case 0:
      return r.pick(WEIRD_STRINGS);
    case 1: {
      const w = r.pick(WEIRD_VALUES);
      return w;
    }
    case 2:
      return typeof v === 'string' ? v + r.pick(WEIRD_STRINGS) : v;
    case 3:
      return typeof v === 'string' ? r.pick(WEIRD_STRINGS) + v : v;
    default:
      return typeof v === 'string' ? v.slice(0, r.int(v.length + 1)) : v;
  }
}

// ---------------------------------------------------------------- queue

async function fuzzQueue() {
  const { findRedisServer, startRedis } = await import('../test/support/redis.mjs');
  const server = findRedisServer();
  if (!server.path) {
    console.log(`SKIPPED: fuzz --surface queue: ${server.reason}`);
    return 0;
  }
  const { Queue } = await import('bullmq');
  const redis = await startRedis(server.path);
  const work = mkdtempSync(join(tmpdir(), 'xcodec-fuzz-queue-'));
  const outRoot = join(work, 'root');
  const outDir = join(outRoot, 'out');
  const outside = join(work, 'outside');
  mkdirSync(outDir, { recursive: true });
  mkdirSync(outside);
  const source = join(work, 'in.wav');
  copyFileSync(join(fixtures, 'pipeline-tiny-hubert', 'mono_16000_int16.wav'), source);
  const modelDir = join(fixtures, 'tiny-hubert');
  const configSha256 = createHash('sha256')
    .update(readFileSync(join(modelDir, 'config.json')))
    .digest('hex');
  const worker = spawn(
    process.execPath,
    [
      join(root, 'dist', 'node', 'cli.js'),
      'worker',
      '--queue',
      redis.url,
      '--queue-name',
      'fuzz',
      '--jobs',
      '2',
      '--threads',
      '1',
      '--out-root',
      outRoot,
      '--job-timeout',
      '30',
      '-q',
    ],
    { stdio: 'ignore' },
  );
  const queue = new Queue('fuzz', { connection: { url: redis.url } });
  const settled = async (id) => {
    const t0 = Date.now();
    for (;;) {
      // the state first, then the job: a job read before it settled holds stale attempts and reason
      const state = await queue.getJobState(id);
      if (state === 'completed' || state === 'failed') return { job: await queue.getJob(id), state };
      if (worker.exitCode !== null) return { crashed: true };
      if (Date.now() - t0 > timeoutMs) return { hung: true };
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    for (let i = start; i < start + count; i++) {
      const r = rngFor(seed, i);
      const valid = {
        source,
        rel: `f${i}.wav`,
        outDir,
        model: modelDir,
        settings: { bandwidth: 2, format: 'codes', dtype: 'int16', configSha256 },
      };
      let data = structuredClone(valid);
      const fields = [
        'source',
        'rel',
        'outDir',
        'model',
        'settings',
        'settings.bandwidth',
        'settings.format',
        'settings.dtype',
        'settings.configSha256',
      ];
      for (let k = 0, n = 1 + r.int(3); k < n; k++) {
        const f = r.pick(fields);
        if (f.startsWith('settings.') && data.settings && typeof data.settings === 'object') {
          const key = f.slice(9);
          data.settings[key] = mutateValue(r, data.settings[key]);
        } else if (!f.startsWith('settings.')) data[f] = mutateValue(r, data[f]);
      }
      if (r.chance(0.05)) data = r.pick([null, 7, 'job', [valid]]);
      const id = `fuzz-${seed}-${i}`;
      await queue.add('tokenize', data, { jobId: id, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
      const s = await settled(id);
      if (s.crashed) {
        record(i, 'crash', `the worker exited with ${worker.exitCode}`);
        break;
      }
      if (s.hung) record(i, 'hang', JSON.stringify(data)?.slice(0, 200));
      else if (s.state === 'completed') record(i, 'ok');
      else if (
        /\b(TypeError|ReferenceError|RangeError|SyntaxError)\b/.test(s.job.failedReason ?? '') ||
        s.job.attemptsMade > 1
      )
        record(i, 'untyped', `${s.job.failedReason} (attempts ${s.job.attemptsMade})`);
      else record(i, 'typed');
      const escaped = files(work).filter((f) => !f.startsWith('root/') && f !== 'in.wav');
      if (escaped.length) {
        record(i, 'escape', escaped.slice(0, 3).join(', '));
        for (const f of escaped) rmSync(join(work, f), { force: true });
      }
    }
  } finally {
    worker.kill('SIGTERM');
    await queue.close();
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return summary();
}

// ---------------------------------------------------------------- hub

async function fuzzHub() {
  const { snapshotDownload } = await import('../dist/node/index.js');
  const config = readFileSync(join(fixtures, 'tiny-hubert', 'config.json'));
  const weights = readFileSync(join(fixtures, 'tiny-hubert', 'model.safetensors'));
  const commit = createHash('sha1').update('fuzz').digest('hex');
  let plan = null; // the current mutant's choices
  const sockets = new Set();
  const server = createServer((req, res) => {
    const p = plan;
    if (p.hang && p.hang === req.method) return;
    const file = /\/resolve\/[^/]+\/(.+)$/.exec(req.url)?.[1];
    const body =
      file === 'config.json' ? config : file === 'model.safetensors' || req.url.startsWith('/storage') ? weights : null;
    const headers = { 'x-repo-commit': p.commit ?? commit, etag: p.etag ?? `"${file ?? 'x'}"` };
    if (p.size !== undefined) headers['x-linked-size'] = String(p.size);
    if (p.location && file === 'model.safetensors') {
      res.writeHead(p.status ?? 302, { ...headers, location: p.location }).end();
      return;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    let out = body;
    if (p.truncate !== undefined) out = body.subarray(0, p.truncate);
    if (p.extra) out = Buffer.concat([out, Buffer.alloc(p.extra, 1)]);
    if (p.garbage && file === 'config.json') out = Buffer.from(p.garbage);
    res.writeHead(p.status ?? 200, {
      ...headers,
      ...(p.length !== undefined ? { 'content-length': String(p.length) } : {}),
    });
    if (req.method === 'HEAD') res.end();
    else if (p.stall) res.write(out.subarray(0, 10));
    else res.end(out);
  });
  server.on('connection', (c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const work = mkdtempSync(join(tmpdir(), 'xcodec-fuzz-hub-'));
  try {
    for (let i = start; i < start + count; i++) {
      const r = rngFor(seed, i);
      plan = {};
      const knobs = [
        () => (plan.status = r.pick([200, 206, 301, 302, 304, 400, 401, 403, 404, 416, 429, 500, 503, 999])),
        () => (plan.commit = r.pick(['', 'x', 'g'.repeat(40), '0'.repeat(39), `${'a'.repeat(40)}/..`, null])),
        () => (plan.etag = r.pick(['', '""', '"../../x"', 'W/"a/b"', `"${'e'.repeat(300)}"`, '"ok"'])),
        () => (plan.size = r.pick([-1, 0, 1, 1e18, 'NaN', weights.length - 1, weights.length + 1])),
        () => (plan.length = r.pick([0, 1, 10, weights.length * 2])),
        () => (plan.truncate = r.int(weights.length)),
        () => (plan.extra = 1 + r.int(100000)),
        () => (plan.stall = true),
        () => (plan.hang = r.pick(['HEAD', 'GET'])),
        () => (plan.garbage = r.pick(['', '{', 'null', '[]', '{"model_type": 5}', '\u0000', '{"a":'.repeat(100)])),
        () =>
          (plan.location = r.pick([
            'file:///etc/passwd',
            'data:text/plain,x',
            'http://127.0.0.1:1/x',
            `${endpoint}/storage/x`,
            '//127.0.0.1:1/x',
            '/storage/../../x',
            'javascript:1',
          ])),
      ];
      for (let k = 0, n = 1 + r.int(3); k < n; k++) r.pick(knobs)();
      const cache = join(work, `c${i}`);
      mkdirSync(cache);
      let outcome = 'ok';
      let message = '';
      let timer;
      try {
        await Promise.race([
          snapshotDownload('org/fuzz', {
            endpoint,
            cacheDir: cache,
            timeoutMs: 500,
            readTimeoutMs: 500,
            maxFileBytes: 4 * 2 ** 20,
          }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { hung: true })), timeoutMs);
          }),
        ]);
      } catch (e) {
        if (e.hung) outcome = 'hang';
        else if (e?.name?.startsWith('Xcodec')) outcome = 'typed';
        else outcome = 'untyped';
        message = `${e?.name}: ${e?.message}`.slice(0, 300);
      } finally {
        clearTimeout(timer);
        for (const c of sockets) c.destroy();
      }
      record(i, outcome, outcome === 'ok' || outcome === 'typed' ? '' : `${message} ${JSON.stringify(plan)}`);
      const escaped = files(work).filter((f) => !f.startsWith(`c${i}/`) && !/^c\d+\//.test(f));
      if (escaped.length) record(i, 'escape', escaped.slice(0, 3).join(', '));
      rmSync(cache, { recursive: true, force: true });
      if (statSync(work).isDirectory() && readdirSync(work).length > 0) {
        record(i, 'escape', `left behind: ${readdirSync(work).slice(0, 3).join(', ')}`);
        for (const f of readdirSync(work)) rmSync(join(work, f), { recursive: true, force: true });
      }
    }
  } finally {
    server.close();
    for (const c of sockets) c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  return summary();
}

function summary() {
  const bad = BAD.reduce((n, o) => n + counts[o], 0);
  console.log(`fuzz ${surface}: seed ${seed}, mutants ${start}..${start + count - 1}: ${JSON.stringify(counts)}`);
  console.log(JSON.stringify({ surface, seed, start, count, counts, findings }));
  return bad > 0 ? 1 : 0;
}

process.exitCode = surface === 'queue' ? await fuzzQueue() : surface === 'hub' ? await fuzzHub() : 2;
