// What the thread split predicts, per kernel family, for 2 to 16 threads: one full-size encode and
// decode of 10 s runs on one thread with every kernel call timed; each call is then planned again by
// the pool's own planner (src/backend/threads/split.ts, DEFAULT_SPLIT_TUNING) for N threads, and its
// chunks list-scheduled onto N threads in claim order, each chunk taking its share of the call's
// measured time. A call the planner keeps whole stays serial. The prediction leaves out what the split
// costs (waking workers, re-reading shared inputs) and assumes N free cores: a ceiling, not a forecast.
//   node bench/split-plan.mjs [--model hubert] [--seconds 10] [--threads 2,4,8,16]
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XcodecModelSync } from '../dist/node/index.js';
import { decodeWav } from '../dist/audio.js';
import { KERNELS, SPLIT_KERNELS } from '../dist/backend/kernels.js';
import { DEFAULT_SPLIT_TUNING, threadedKernels } from '../dist/backend/threads/split.js';
import { ensureCheckpoint } from '../scripts/generate-weights.mjs';
import { timedKernels } from './timed-kernels.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const name = opt('model', 'hubert');
const seconds = Number(opt('seconds', 10));
const threadList = opt('threads', '2,4,8,16').split(',').map(Number);
const dir = join(tmpdir(), `xcodec-wasm-fullsize-${name}-0`);
await ensureCheckpoint(resolve(here, '..', '..', 'shared', 'fixtures', 'full-size', name), dir, { seed: 0 });

const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
const rt = model.rt;
const raw = rt.raw;
const calls = [];
// private in TypeScript: this bench stands in for the pool
rt.kernels = timedKernels(
  raw,
  (name, args, ms) => calls.push({ name, args, ms }),
  (k) => SPLIT_KERNELS.includes(k),
);
const music = decodeWav(new Uint8Array(readFileSync(join(here, '..', 'test', 'fixtures', 'audio', 'music.wav'))))
  .channels[0];
const rate = model.config.sampleRate;
const x = music.subarray(0, seconds * rate);
const t0 = performance.now();
const { audioCodes } = model.encode(x);
const encodeCalls = calls.length;
model.decode(audioCodes);
const wall = performance.now() - t0;
rt.kernels = raw;

const FAMILY = {
  gemm: 'GEMM (linear, conv)',
  gemm_prepacked: 'GEMM (linear, conv)',
  gemm_pack_b: 'GEMM (linear, conv)',
  conv_winograd: 'Winograd conv',
  self_attention: 'attention',
  argmin_cols: 'RVQ',
  subtract_codewords: 'RVQ',
  add_codewords: 'RVQ',
};
const family = (k) =>
  FAMILY[k] ??
  (/norm/.test(k) ? 'norms' : /pad|interleave|transpose/.test(k) ? 'layout' : 'elementwise (activations, add)');

/** The split each call gets on n threads: chunk sizes in claim order, or null (whole). */
function plans(n) {
  let last = null;
  const pool = {
    workers: n - 1,
    broken: false,
    run: (_id, kernel, _f, _args, _rpos, bounds) => {
      if (kernel === 'gemm_pack_b') return; // packing B is 1-9% of a GEMM: its time is counted in the GEMM
      last = bounds.slice(1).map((b, i) => b - bounds[i]);
    },
  };
  const queries = Object.fromEntries(Object.keys(KERNELS).map((k) => [k, KERNELS[k].query ? raw[k] : () => {}]));
  const k = threadedKernels(
    queries,
    pool,
    { mark: () => 0, allocBytes: () => 0, release: () => {} },
    DEFAULT_SPLIT_TUNING,
  );
  return calls.map((c) => {
    last = null;
    k[c.name](...c.args);
    return last;
  });
}

/** Makespan of chunks (sizes, claim order) on n threads, as a share of their total. */
function makespan(chunks, n) {
  const free = new Array(n).fill(0);
  for (const s of chunks) {
    let i = 0;
    for (let j = 1; j < n; j++) if (free[j] < free[i]) i = j;
    free[i] += s;
  }
  return Math.max(...free) / chunks.reduce((a, b) => a + b, 0);
}

const families = new Map();
const row = (f) => {
  if (!families.has(f)) families.set(f, { family: f, calls: 0, ms: 0, split: 0, byThreads: {} });
  return families.get(f);
};
const totals = { family: 'all (encode + decode)', calls: calls.length, ms: 0, split: 0, byThreads: {} };
for (const c of calls) {
  row(family(c.name)).calls++;
  row(family(c.name)).ms += c.ms;
  totals.ms += c.ms;
}
for (const n of threadList) {
  const p = plans(n);
  calls.forEach((c, i) => {
    const r = row(family(c.name));
    const t = p[i] ? c.ms * makespan(p[i], n) : c.ms;
    r.byThreads[n] = (r.byThreads[n] ?? 0) + t;
    totals.byThreads[n] = (totals.byThreads[n] ?? 0) + t;
    if (n === threadList[0] && p[i]) {
      r.split += c.ms;
      totals.split += c.ms;
    }
  });
}
const table = [...families.values(), totals].map((r) => ({
  family: r.family,
  calls: r.calls,
  'ms (1 thread)': +r.ms.toFixed(0),
  'share split': `${((100 * r.split) / r.ms).toFixed(0)}%`,
  ...Object.fromEntries(threadList.map((n) => [`x${n}`, +(r.ms / r.byThreads[n]).toFixed(2)])),
}));
console.log(
  `${name} full size, ${seconds} s of music, encode (${encodeCalls} kernel calls) and decode (${calls.length - encodeCalls}); ` +
    `${(wall / 1000).toFixed(1)} s on one thread, ${rt.flavour} SIMD. Predicted speed-up per family (x N: N free cores, split overhead left out):`,
);
console.table(table);
model.dispose();
