// xcodec tokenize --queue and xcodec worker on a real redis-server: 3 worker processes over 30 files
// (one corrupt), one of them SIGKILLed while it holds a job; every file is done exactly once, errors.jsonl
// holds exactly the corrupt file, and the outputs are byte-identical to a one-machine run. Enqueueing
// twice adds nothing; an unreachable Redis is a quick, clear error that writes nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav } from '../../dist/audio.js';
import { dataset, sameTree, tree } from '../support/datasets.mjs';
import { fixtures, freePort, here } from '../support/helpers.mjs';
import { findRedisServer, startRedis } from '../support/redis.mjs';

const redisServer = findRedisServer();
if (!redisServer.path) {
  process.stdout.write(`SKIPPED: queue.test.mjs: ${redisServer.reason}\n`);
  process.exit(0);
}

const cli = join(here, '..', 'dist', 'node', 'cli.js');
const modelDir = join(fixtures, 'tiny-hubert');
const root = mkdtempSync(join(tmpdir(), 'xcodec-queue-'));
const redis = await startRedis(redisServer.path);
const workers = new Set();

/** 25 files from the fixtures (one of them not audio) and 5 of 60 s, long enough to be killed in the middle of. */
function queueDataset(dir) {
  dataset(dir, 3);
  for (let k = 0; k < 5; k++) {
    const n = 16000 * 60;
    const x = new Float32Array(n);
    let s = 12345 + k;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      x[i] = (s / 2147483648 - 0.5) * 0.2;
    }
    writeFileSync(join(dir, `long_${k}.wav`), encodeWav(x, 16000));
  }
  return dir;
}

/** A worker process whose stderr lines (active/done/failed per file) are kept and can be waited on. */
function startWorker(name, extra = []) {
  const child = spawn(
    process.execPath,
    [cli, 'worker', '--queue', redis.url, '--jobs', '1', '--threads', '1', '--stalled-interval', '500', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const w = { name, child, lines: [], listeners: [] };
  let buffer = '';
  child.stderr.on('data', (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/^worker \d+: /, '');
      buffer = buffer.slice(nl + 1);
      w.lines.push(line);
      for (const f of w.listeners) f(line);
    }
  });
  w.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  w.waitFor = (re) =>
    new Promise((resolve) => {
      const hit = w.lines.find((l) => re.test(l));
      if (hit) return resolve(hit);
      w.listeners.push((l) => {
        if (re.test(l)) resolve(l);
      });
    });
  workers.add(w);
  return w;
}

const stopWorker = async (w) => {
  w.child.kill('SIGTERM');
  const r = await w.exited;
  workers.delete(w);
  return r;
};

function run(args, timeout = 300000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('exit', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stderr });
    });
  });
}

const withoutTemporaries = (t) => Object.fromEntries(Object.entries(t).filter(([k]) => !k.includes('.tmp')));
const input = queueDataset(join(root, 'in'));
const reference = join(root, 'one-machine');

test('one-machine reference run', () => {
  const r = spawnSync(
    process.execPath,
    [cli, 'tokenize', input, '-o', reference, '--model', modelDir, '--jobs', '2', '-q'],
    { encoding: 'utf8' },
  );
  assert.is(r.status, 1, r.stderr); // the corrupt file
  assert.is(readFileSync(join(reference, 'manifest.jsonl'), 'utf8').trim().split('\n').length, 29);
});

test('3 workers, one SIGKILLed while it holds a job: every file done once, outputs byte-identical to one machine', async () => {
  const ws = [startWorker('a'), startWorker('b'), startWorker('c')];
  await Promise.all(ws.map((w) => w.waitFor(/^ready on /)));
  const out = join(root, 'queued');
  const enqueuer = run(['tokenize', input, '-o', out, '--model', modelDir, '--queue', redis.url]);
  // the first worker to start a long file dies with it in hand
  const victim = await Promise.race(
    ws.map((w) => w.waitFor(/^active long_/).then((line) => ({ w, file: line.slice('active '.length) }))),
  );
  victim.w.child.kill('SIGKILL');
  const killed = await victim.w.exited;
  assert.is(killed.signal, 'SIGKILL');
  workers.delete(victim.w);
  const r = await enqueuer;
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /29 encoded by the queue's workers, 0 already done, 1 failed, 1 stalled job recovered/);
  const survivors = ws.filter((w) => w !== victim.w);
  const done = survivors
    .flatMap((w) => w.lines)
    .concat(victim.w.lines)
    .filter((l) => l.startsWith('done '))
    .map((l) => l.slice(5))
    .sort();
  assert.is(done.length, 29, 'each good file finished exactly once');
  assert.is(new Set(done).size, 29);
  assert.not.ok(victim.w.lines.includes(`done ${victim.file}`), `the killed worker never finished ${victim.file}`);
  assert.ok(
    survivors.some((w) => w.lines.includes(`done ${victim.file}`)),
    `another worker finished ${victim.file}`,
  );
  assert.is(readFileSync(join(out, 'errors.jsonl'), 'utf8'), readFileSync(join(reference, 'errors.jsonl'), 'utf8'));
  assert.equal(
    readFileSync(join(out, 'errors.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).path),
    ['sub/bad.wav'],
  );
  sameTree(withoutTemporaries(tree(out)), tree(reference), 'queued vs one machine');
  for (const w of survivors)
    assert.equal(await stopWorker(w), { code: 0, signal: null }, `${w.name} stops cleanly on SIGTERM`);
});

test('enqueueing twice adds nothing; a restarted enqueuer picks the jobs up where they are', async () => {
  const out = join(root, 'twice');
  const args = ['tokenize', input, '-o', out, '--model', modelDir, '--queue', redis.url];
  // no worker yet: the first enqueuer is interrupted while its 30 jobs wait
  const first = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise((resolve) =>
    first.stderr.on('data', (d) => {
      stderr += d;
      if (/jobs enqueued/.test(stderr)) resolve();
    }),
  );
  assert.match(stderr, /30 jobs enqueued .*, 0 were queued already, 0 files already done/);
  first.kill('SIGINT');
  await new Promise((r) => first.on('exit', r));
  const second = run(args);
  const w = startWorker('late');
  const r = await second;
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /0 jobs enqueued .*, 30 were queued already, 0 files already done/);
  assert.match(r.stderr, /29 encoded by the queue's workers, 0 already done, 1 failed/);
  sameTree(tree(out), tree(reference), 'twice-enqueued vs one machine');
  // a third run finds everything done but the corrupt file, which it tries once more
  const third = await run(args);
  assert.match(third.stderr, /1 jobs enqueued .*, 0 were queued already, 29 files already done/);
  assert.is(third.status, 1);
  sameTree(tree(out), tree(reference), 'third run');
  await stopWorker(w);
});

test('Redis unreachable: a clear error naming the URL within a few seconds, exit 1, nothing written', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  const out = join(root, 'unreachable');
  for (const args of [
    ['tokenize', input, '-o', out, '--model', modelDir, '--queue', url],
    ['worker', '--queue', url],
  ]) {
    const t0 = Date.now();
    const r = await run(args, 30000);
    const seconds = (Date.now() - t0) / 1000;
    assert.is(r.status, 1, r.stderr);
    assert.ok(seconds < 10, `${args[0]} gave up after ${seconds.toFixed(1)} s`);
    assert.ok(r.stderr.includes(`XcodecRuntimeError: cannot reach Redis at ${url}: connect ECONNREFUSED`), r.stderr);
  }
  assert.not.ok(existsSync(out), 'nothing written');
});

test('bad queue options are typed errors that say what is accepted', async () => {
  for (const [args, pattern] of [
    [
      ['tokenize', input, '-o', join(root, 'x'), '--queue', 'http://127.0.0.1:6379'],
      /the scheme http: is not accepted; accepted: redis:\/\/HOST:PORT\[\/DB\]/,
    ],
    [
      ['tokenize', input, '-o', join(root, 'x'), '--queue', 'redis://127.0.0.1:6379/x'],
      /"\/x" is not a database number/,
    ],
    [
      ['tokenize', input, '-o', join(root, 'x'), '--queue', redis.url, '--jobs', '2'],
      /--jobs and --threads belong to `xcodec worker`/,
    ],
    [['worker'], /worker: missing --queue redis:\/\/HOST:PORT/],
    [['worker', '--queue', redis.url, '--jobs', '0'], /--jobs 0 is not accepted; accepted: an integer >= 1/],
    [['worker', '--queue', redis.url, 'stray'], /worker: unexpected argument stray/],
  ]) {
    const r = await run(args, 30000);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
  assert.not.ok(existsSync(join(root, 'x')));
});

test.after(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await redis.stop();
  rmSync(root, { recursive: true, force: true });
});
test.run();
