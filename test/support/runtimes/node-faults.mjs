// Failure scenarios of the worker pool, run by test/parity/threads.test.mjs in a child process under a time
// limit (a hang would block this thread in Atomics.wait, where no timer could end it). Each scenario
// prints one JSON line { name, ok, detail }; the last line is { done: true }.
//
//   node test/support/runtimes/node-faults.mjs
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XcodecModelSync, XcodecRuntimeError } from '../../../dist/node/index.js';
import { Runtime } from '../../../dist/backend/runtime.js';
import { readNpy } from '../../../dist/audio.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, '..', '..', 'fixtures', 'tiny-hubert');
const manifest = JSON.parse(readFileSync(join(dir, 'cases', 'manifest.json'), 'utf8'));
const c = manifest.cases.find((k) => k.name === 'mono_1.0s');
const npy = (f) => readNpy(new Uint8Array(readFileSync(join(dir, 'cases', f))));
const input = npy(c.input_values);
const x = { data: input.data, dims: input.shape };
const topBw = Object.keys(c.bandwidths)
  .sort((a, b) => Number(a) - Number(b))
  .pop();
const expected = npy(c.tensors[c.bandwidths[topBw].codes].file).data;

// Every call with two or more aligned units goes through the pool (split.minChunkNs 0 on every
// runtime below), so a fault armed for the worker fires on the worker's first chunk of the next call.
const tuning = { split: { minChunkNs: 0 } };

const report = (name, ok, detail = '') => console.log(JSON.stringify({ name, ok, detail: String(detail) }));

function codesOk(model) {
  const { audioCodes } = model.encode(x, { bandwidth: Number(topBw) });
  if (audioCodes.data.length !== expected.length) return false;
  return audioCodes.data.every((v, i) => v === expected[i]);
}

/**
 * A fault armed for the worker fires on the first chunk it claims, and on a loaded machine a whole
 * call can pass without the worker claiming one (the calling thread takes every chunk): repeats `fn`
 * until it throws (at most 50 times) and expects an XcodecRuntimeError whose message matches `pattern`.
 */
function expectFaultError(fn, pattern) {
  for (let i = 0; i < 50; i++) {
    const r = expectError(fn, pattern);
    if (r.detail !== 'no error') return r;
  }
  return { ok: false, detail: 'no error in 50 calls: the worker never claimed a chunk' };
}

/**
 * Whether the worker runs chunks again: repeats a checked encode until worker 1 has claimed a chunk
 * (at most 50 calls, for the same reason as expectFaultError); every call must give the right codes.
 */
function workerRunsAgain(model) {
  const before = pool.workerChunks[0];
  let correct = true;
  for (let i = 0; i < 50 && pool.workerChunks[0] === before; i++) correct = codesOk(model) && correct;
  return { correct, ran: pool.workerChunks[0] > before };
}

/** Runs `fn`, expecting an XcodecRuntimeError whose message matches `pattern`. */
function expectError(fn, pattern) {
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    const ms = performance.now() - t0;
    if (!(e instanceof XcodecRuntimeError)) return { ok: false, detail: `threw ${e?.name}: ${e?.message}` };
    if (!pattern.test(e.message)) return { ok: false, detail: `message "${e.message}" does not match ${pattern}` };
    return { ok: true, detail: `${e.message} (after ${ms.toFixed(0)} ms)` };
  }
  return { ok: false, detail: 'no error' };
}

async function scenario(name, fn) {
  try {
    const r = await fn();
    report(name, r.ok, r.detail);
  } catch (e) {
    report(name, false, `${e?.name}: ${e?.message}\n${e?.stack}`);
  }
}

const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 2, tuning });
const rt = model.rt;
const pool = rt.pool;
if (!pool) {
  report('pool started', false, 'no worker pool: threads unavailable');
  console.log(JSON.stringify({ done: true }));
  process.exit(0);
}
report('pool started', pool.liveWorkers === 1 && codesOk(model), `live workers ${pool.liveWorkers}`);

await scenario('kernel trap in a worker: error on the call, next call works, same worker', async () => {
  pool.injectFault('trap', 0);
  const r = expectFaultError(() => model.encode(x), /worker 1.*(out of bounds|RuntimeError)/i);
  if (!r.ok) return r;
  const next = codesOk(model);
  const { correct, ran } = workerRunsAgain(model);
  return {
    ok: next && correct && pool.liveWorkers === 1 && ran,
    detail: `${r.detail}; next call correct: ${next && correct}; worker kept running chunks: ${ran}`,
  };
});

await scenario('kernel trap on the calling thread (out-of-bounds pointer): error, next call works', async () => {
  const m = rt.mark();
  const n = 1 << 16;
  const out = rt.allocBytes(4 * n);
  const end = rt.memory.buffer.byteLength;
  // Reads run from 128 KiB before the end of memory to 128 KiB past it: the later chunks trap.
  const r = expectError(() => rt.k.add(out, end - 2 * n, end - 2 * n, 0, n), /out of bounds|RuntimeError/i);
  rt.release(m);
  if (!r.ok) return r;
  const next = codesOk(model);
  return { ok: next, detail: `${r.detail}; next call correct: ${next}` };
});

for (const kind of ['exit', 'kill']) {
  await scenario(
    `worker ${kind === 'exit' ? 'ends its thread (process.exit)' : 'is terminated'} mid-chunk: error, replaced, next calls work`,
    async () => {
      pool.injectFault(kind, 0);
      const r = expectFaultError(
        () => model.encode(x),
        kind === 'exit' ? /worker 1 exited with code 70/ : /worker 1 was killed/,
      );
      if (!r.ok) return r;
      // Right away, while the replacement starts: the call runs on the threads that are there.
      const immediate = codesOk(model);
      const replaced = await pool.whenReady(1, 30000);
      const after = codesOk(model);
      const { correct, ran } = workerRunsAgain(model);
      return {
        ok: immediate && replaced && after && correct && ran,
        detail: `${r.detail}; immediate next call correct: ${immediate}; replacement ready: ${replaced}; then correct: ${after && correct}; replacement ran chunks: ${ran}`,
      };
    },
  );
}

/**
 * A hang fault fires on the first chunk the armed worker claims, which a given call may not give it:
 * repeats `call` until it throws (at most 200 times); ok when the error is an XcodecRuntimeError
 * matching `pattern`.
 */
function callUntilError(call, pattern) {
  for (let i = 0; i < 200; i++) {
    try {
      call();
    } catch (e) {
      return e instanceof XcodecRuntimeError && pattern.test(e.message)
        ? { ok: true, detail: e.message }
        : { ok: false, detail: `${e?.name}: ${e?.message}` };
    }
  }
  return { ok: false, detail: 'the worker never claimed a chunk' };
}

await scenario('a worker that hangs silently: the stall watchdog terminates it, error, next call works', async () => {
  const rt2 = await Runtime.create({ numThreads: 2, pool: { stallMs: 300 }, tuning });
  try {
    const n = 1 << 16;
    const a = rt2.allocBytes(4 * n);
    const o = rt2.allocBytes(4 * n);
    rt2.pool.injectFault('hang', 0);
    const r = callUntilError(() => rt2.k.gelu(o, a, 0, n), /no progress/);
    if (!r.ok) return r;
    await rt2.pool.whenReady(1, 30000);
    rt2.raw.gelu(a, a, 0, 0);
    rt2.k.gelu(o, a, 0, n);
    return { ok: rt2.pool.liveWorkers === 1, detail: r.detail };
  } finally {
    rt2.dispose();
  }
});

await scenario(
  'a hung worker the supervisor cannot end: the pool is shut down, error, later calls run on one thread',
  async () => {
    const rt3 = await Runtime.create({ numThreads: 2, pool: { stallMs: 200 }, tuning });
    try {
      const n = 1 << 16;
      const a = rt3.allocBytes(4 * n);
      const o = rt3.allocBytes(4 * n);
      const o1 = rt3.allocBytes(4 * n);
      for (let i = 0; i < n; i++) rt3.f32[(a >>> 2) + i] = Math.sin(i);
      const real = rt3.pool.sup;
      // The supervisor stops answering (its kill requests go nowhere); dispose still reaches it.
      rt3.pool.sup = { ...real, post() {}, terminate: () => real.terminate() };
      rt3.pool.injectFault('hang', 0);
      const r = callUntilError(() => rt3.k.gelu(o, a, 0, n), /stopped responding/);
      if (!r.ok) return r;
      rt3.k.gelu(o, a, 0, n);
      rt3.raw.gelu(o1, a, 0, n);
      const same = rt3.f32.subarray(o >>> 2, (o >>> 2) + n).every((v, i) => Object.is(v, rt3.f32[(o1 >>> 2) + i]));
      return { ok: rt3.pool.broken && same, detail: `${r.detail}; next call on one thread correct: ${same}` };
    } finally {
      rt3.dispose();
    }
  },
);

await scenario('dispose: later calls fail with XcodecRuntimeError', async () => {
  model.dispose();
  return expectError(() => model.encode(x), /disposed/);
});

console.log(JSON.stringify({ done: true }));
