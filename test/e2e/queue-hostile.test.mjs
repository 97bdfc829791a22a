// The queue with jobs written by an attacker or a careless client, on a real redis-server: jobs whose
// data would write outside OUT_DIR or --out-root, hold a worker on a FIFO, quote a file's content, or
// are not objects at all fail once, for good, with an escaped reason, and the worker goes on; the
// enqueuer replaces a garbage job under its id; SIGTERM ends a worker whose Redis is gone; a job past
// --job-timeout fails; Redis with a password and with TLS (rediss://) works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { encodeWav } from '../../dist/audio.js';
import { jobIdFor } from '../../dist/node/queue.js';
import { fixtures, freePort, here } from '../support/helpers.mjs';
import { findRedisServer, startRedis } from '../support/redis.mjs';

const redisServer = findRedisServer();
if (!redisServer.path) {
  process.stdout.write(`SKIPPED: queue-hostile.test.mjs: ${redisServer.reason}\n`);
  process.exit(0);
}

const cli = join(here, '..', 'dist', 'node', 'cli.js');
const modelDir = join(fixtures, 'tiny-hubert');
const wav = join(fixtures, 'pipeline-tiny-hubert', 'mono_16000_int16.wav');
const root = mkdtempSync(join(tmpdir(), 'xcodec-queue-hostile-'));
const allowed = join(root, 'allowed');
mkdirSync(allowed);
const redis = await startRedis(redisServer.path);
const children = new Set();
const configSha256 = createHash('sha256')
  .update(readFileSync(join(modelDir, 'config.json')))
  .digest('hex');
const settings = { bandwidth: 2, format: 'codes', dtype: 'int16', configSha256 };

/** `xcodec worker` with its stderr lines kept. */
function startWorker(url, extra = [], env = {}) {
  const child = spawn(
    process.execPath,
    [cli, 'worker', '--queue', url, '--jobs', '1', '--threads', '1', '--stalled-interval', '500', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
  );
  children.add(child);
  const w = { child, log: '' };
  child.stderr.on('data', (d) => {
    w.log += d;
  });
  child.on('exit', () => children.delete(child));
  return w;
}

const until = async (what, f, ms = 60000) => {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** Adds a raw job (any data) and waits until it has settled; resolves the job. */
async function settle(queue, id, data) {
  await queue.add('tokenize', data, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  return until(`job ${id}`, async () => {
    // the state first, then the job: a job read before it settled holds stale attempts and reason
    const state = await queue.getJobState(id);
    return state === 'completed' || state === 'failed' ? { job: await queue.getJob(id), state } : null;
  });
}

const valid = (over) => ({ source: wav, rel: 'ok.wav', outDir: allowed, model: modelDir, settings, ...over });

test('bad job data (16 kinds): each fails once, for good, with an escaped reason; nothing is written outside', async () => {
  const queue = new Queue('hostile', { connection: { url: redis.url } });
  const w = startWorker(redis.url, ['--queue-name', 'hostile', '--out-root', allowed]);
  const fifo = join(root, 'fifo.wav');
  spawnSync('mkfifo', [fifo]);
  const outside = join(root, 'elsewhere');
  mkdirSync(join(allowed, 'linked'));
  symlinkSync(outside, join(allowed, 'linked', 'sub'));
  mkdirSync(outside);
  const cases = [
    ['escape', valid({ rel: '../../pwned/x.wav' }), /rel .*is not accepted/],
    ['replace', valid({ rel: '../victim/config.wav' }), /rel .*is not accepted/],
    ['empty rel', valid({ rel: '' }), /rel "" is not accepted/],
    ['absolute rel', valid({ rel: '/tmp/x.wav' }), /rel .*is not accepted/],
    ['nul', valid({ rel: 'a\u0000b.wav' }), /rel "a\\u0000b\.wav" is not accepted/],
    ['backslash', valid({ rel: '..\\..\\x.wav' }), /rel .*is not accepted/],
    ['outDir elsewhere', valid({ outDir: join(root, 'other') }), /outDir .* inside this worker's --out-root/],
    ['relative outDir', valid({ outDir: 'out' }), /outDir "out" is not accepted/],
    ['a name too long', valid({ outDir: join(allowed, 'x'.repeat(300)) }), /outDir .* is not accepted/],
    ['rel too long', valid({ rel: `${'y'.repeat(300)}.wav` }), /rel .* is not accepted/],
    ['a link out', valid({ outDir: join(allowed, 'linked'), rel: 'sub/x.wav' }), /would leave/],
    ['settings null', valid({ settings: null }), /settings null is not accepted/],
    ['numbers', { source: 1, rel: 2, outDir: 3, model: 4, settings: 5 }, /source 1 is not accepted/],
    ['data null', null, /data null is not accepted/],
    ['fifo', valid({ source: fifo }), /is not a regular file/],
    ['passwd', valid({ source: '/etc/passwd', rel: 'passwd.wav' }), /not an audio file of an accepted format/],
  ];
  try {
    for (const [name, data, reason] of cases) {
      const { job, state } = await settle(queue, `bad-${name.replace(/\W/g, '-')}`, data);
      assert.is(state, 'failed', `${name}: failed`);
      assert.is(job.attemptsMade, 1, `${name}: not retried`);
      assert.match(job.failedReason, reason, `${name}: ${job.failedReason}`);
      assert.not.ok(job.failedReason.includes('\u0000'), `${name}: no raw NUL`);
      assert.not.ok(job.failedReason.includes('root:'), `${name}: no file content`);
    }
    assert.not.ok(existsSync(join(root, '..', 'pwned')) || existsSync(join(root, 'pwned')), 'nothing escaped');
    assert.not.ok(existsSync(join(outside, 'x.npy')), 'nothing written through the link');
    const ok = await settle(queue, 'good', valid());
    assert.is(ok.state, 'completed', `the worker still works: ${ok.job.failedReason}`);
    assert.ok(existsSync(join(allowed, 'ok.npy')));
    assert.is(w.child.exitCode, null, 'the worker is alive');
    assert.not.ok(w.log.includes('TypeError') || w.log.includes('\u0000'), 'its log has no untyped error or raw NUL');
  } finally {
    w.child.kill('SIGTERM');
    await queue.close();
  }
});

test('a job past --job-timeout fails for good; a short one passes', async () => {
  const queue = new Queue('slow', { connection: { url: redis.url } });
  const long = join(root, 'long.wav');
  const n = 16000 * 600;
  const x = new Float32Array(n).map((_, i) => 0.1 * Math.sin(i * 0.01));
  writeFileSync(long, encodeWav(x, 16000));
  const w = startWorker(redis.url, ['--queue-name', 'slow', '--job-timeout', '1']);
  try {
    const short = await settle(queue, 'short', valid({ rel: 'short.wav' }));
    assert.is(short.state, 'completed', short.job.failedReason);
    const slow = await settle(queue, 'long', valid({ source: long, rel: 'long.wav' }));
    assert.is(slow.state, 'failed');
    assert.is(slow.job.attemptsMade, 1);
    assert.match(slow.job.failedReason, /took longer than 1 s/);
  } finally {
    w.child.kill('SIGTERM');
    await queue.close();
  }
});

test('the enqueuer replaces a garbage job under its id instead of crashing', async () => {
  const input = join(root, 'in');
  mkdirSync(input);
  copyFileSync(wav, join(input, 'a.wav'));
  const out = join(root, 'out-garbage');
  const queue = new Queue('garbage', { connection: { url: redis.url } });
  await queue.add('tokenize', null, { jobId: jobIdFor(out, 'a.wav') });
  await queue.close();
  const w = startWorker(redis.url, ['--queue-name', 'garbage']);
  try {
    const r = spawnSync(
      process.execPath,
      [cli, 'tokenize', input, '-o', out, '--model', modelDir, '--queue', redis.url, '--queue-name', 'garbage'],
      { encoding: 'utf8', timeout: 120000 },
    );
    assert.is(r.status, 0, r.stderr);
    assert.ok(existsSync(join(out, 'a.npy')));
  } finally {
    w.child.kill('SIGTERM');
  }
});

test('SIGTERM ends a worker whose Redis went away, within its --stop-timeout', async () => {
  const own = await startRedis(redisServer.path);
  const w = startWorker(own.url, ['--stop-timeout', '2']);
  await until('the worker to be ready', () => /ready on/.test(w.log));
  await own.stop();
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  w.child.kill('SIGTERM');
  await until('the worker to exit', () => w.child.exitCode !== null || w.child.signalCode !== null, 15000);
  assert.ok(Date.now() - t0 < 10000, `exited after ${Date.now() - t0} ms`);
});

test('Redis with a password: the right one works, a wrong one is a quick typed error', async () => {
  const port = await freePort();
  const child = spawn(
    redisServer.path,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--requirepass', 's3cret'],
    {
      stdio: 'ignore',
    },
  );
  children.add(child);
  try {
    await until(
      'redis',
      () =>
        new Promise((r) => {
          const p = spawnSync('redis-cli', ['-p', String(port), '-a', 's3cret', '--no-auth-warning', 'ping'], {
            encoding: 'utf8',
          });
          r(p.stdout?.includes('PONG'));
        }),
      10000,
    );
    const input = join(root, 'in-pw');
    mkdirSync(input);
    copyFileSync(wav, join(input, 'a.wav'));
    const url = `redis://:s3cret@127.0.0.1:${port}`;
    const w = startWorker(url);
    const r = spawnSync(
      process.execPath,
      [cli, 'tokenize', input, '-o', join(root, 'out-pw'), '--model', modelDir, '--queue', url],
      {
        encoding: 'utf8',
        timeout: 120000,
      },
    );
    w.child.kill('SIGTERM');
    assert.is(r.status, 0, r.stderr);
    const bad = spawnSync(process.execPath, [cli, 'worker', '--queue', `redis://:wrong@127.0.0.1:${port}`], {
      encoding: 'utf8',
      timeout: 30000,
    });
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /XcodecRuntimeError: cannot reach Redis at .*(WRONGPASS|invalid username-password)/);
  } finally {
    child.kill('SIGTERM');
  }
});

test('Redis over TLS (rediss://), the server certificate trusted through NODE_EXTRA_CA_CERTS', async () => {
  const dir = join(root, 'tls');
  mkdirSync(dir);
  const ssl = (args) => spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
  ]);
  ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.cnf',
  ]);
  assert.ok(existsSync(join(dir, 'server.pem')), 'openssl made the certificates');
  const port = await freePort();
  const child = spawn(
    redisServer.path,
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--tls-cert-file',
      join(dir, 'server.pem'),
      '--tls-key-file',
      join(dir, 'server.key'),
      '--tls-ca-cert-file',
      join(dir, 'ca.pem'),
      '--tls-auth-clients',
      'no',
    ],
    { stdio: 'ignore' },
  );
  children.add(child);
  try {
    const url = `rediss://127.0.0.1:${port}`;
    const env = { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') };
    const input = join(root, 'in-tls');
    mkdirSync(input);
    copyFileSync(wav, join(input, 'a.wav'));
    await new Promise((r) => setTimeout(r, 500));
    const w = startWorker(url, [], env);
    const r = spawnSync(
      process.execPath,
      [cli, 'tokenize', input, '-o', join(root, 'out-tls'), '--model', modelDir, '--queue', url],
      {
        encoding: 'utf8',
        timeout: 120000,
        env: { ...process.env, ...env },
      },
    );
    w.child.kill('SIGTERM');
    assert.is(r.status, 0, `${r.stderr}\n${w.log}`);
    assert.ok(existsSync(join(root, 'out-tls', 'a.npy')));
  } finally {
    child.kill('SIGTERM');
  }
});

test('fuzz: 60 mutated jobs (fuzz/edges.mjs --surface queue), none untyped, hung, crashed or escaping', () => {
  const r = spawnSync(
    process.execPath,
    [join(here, '..', 'fuzz', 'edges.mjs'), '--surface', 'queue', '--seed', '1', '--count', '60'],
    {
      encoding: 'utf8',
      timeout: 600000,
    },
  );
  const last = r.stdout.trim().split('\n').pop();
  assert.ok(last?.startsWith('{'), r.stdout + r.stderr);
  const { counts } = JSON.parse(last);
  process.stdout.write(`  # queue: ${JSON.stringify(counts)}\n`);
  assert.is(
    Object.values(counts).reduce((a, b) => a + b, 0),
    60,
    'every mutant ran',
  );
  assert.equal([counts.untyped, counts.hang, counts.crash, counts.escape], [0, 0, 0, 0], r.stdout.slice(-3000));
  assert.ok(counts.typed > 0 && counts.ok > 0, 'both outcomes occur: the mutants reach the checks and past them');
  assert.is(r.status, 0);
});

test.after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await redis.stop();
  rmSync(root, { recursive: true, force: true });
});

test.run();
