// Where a full-size encode or decode spends its time, call shape by call shape, against the SIMD peak
// probe at the same thread count: the per-kernel view behind the bench's one "% of peak" figure.
//   node [--experimental-wasm-relaxed-simd] bench/profile.mjs [--model hubert] [--what encode|decode]
//        [--seconds 10] [--threads 2] [--flavour auto|simd|relaxed] [--top 25] [--json]
// One warm-up call, then one timed call with every top-level kernel call timed (a split call counts
// once, for the wall time of all its chunks). GFLOP/s: GEMMs 2 M N K; Winograd convs the multiplies
// their GEMMs really do (2 alpha cin cout per tile); attention 4 T H per query column. The probe is
// bench/peak.mjs at the same thread count and flavour, run before and after (the mean of the two).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XcodecModelSync } from '../dist/node/index.js';
import { decodeWav } from '../dist/audio.js';
import { KERNELS, argIndex } from '../dist/backend/kernels.js';
import { ensureCheckpoint } from '../scripts/generate-weights.mjs';
import { timedKernels } from './timed-kernels.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const name = opt('model', 'hubert');
const what = opt('what', 'encode');
const seconds = Number(opt('seconds', 10));
const threads = Number(opt('threads', 2));
const top = Number(opt('top', 25));
if (what !== 'encode' && what !== 'decode') throw new Error(`--what: encode or decode, got ${what}`);

const dir = join(tmpdir(), `xcodec-wasm-fullsize-${name}-0`);
await ensureCheckpoint(resolve(here, '..', '..', 'shared', 'fixtures', 'full-size', name), dir, { seed: 0 });
const model = await XcodecModelSync.fromPretrained(dir, { numThreads: threads, simd: opt('flavour', 'auto') });
const flavour = model.simdFlavour;

function probe() {
  const out = execFileSync(process.execPath, [...process.execArgv, join(here, 'peak.mjs'), flavour, String(threads)], {
    encoding: 'utf8',
  });
  const p = JSON.parse(out.trim().split('\n').pop());
  return threads === 1 ? p.gflops1 : p.gflopsN;
}

// FLOPs and a shape label of one call, by kernel.
const ix = Object.fromEntries(Object.keys(KERNELS).map((k) => [k, argIndex(k)]));
function describe(k, a) {
  const at = (arg) => a[ix[k][arg]];
  if (k === 'gemm' || k === 'gemm_prepacked') {
    const [M, N, K] = [at('mEnd') - at('mBegin'), at('nEnd') - at('nBegin'), at('K')];
    return { key: `gemm ${M}x${N}x${K}`, flops: 2 * M * N * K };
  }
  if (k === 'conv_winograd') {
    const tiles = at('tileEnd') - at('tileBegin');
    return {
      key: `winograd ${at('cin')}->${at('cout')} d${at('dil')} x${at('tout')}`,
      flops: 2 * at('alpha') * at('cin') * at('cout') * tiles,
    };
  }
  if (k === 'self_attention' || k === 'self_attention_rel') {
    return { key: `${k} ${at('T')} frames`, flops: 4 * at('T') * at('H') * (at('colEnd') - at('colBegin')) };
  }
  return { key: k, flops: 0 };
}

const music = decodeWav(new Uint8Array(readFileSync(join(here, '..', 'test', 'fixtures', 'audio', 'music.wav'))))
  .channels[0];
const x = music.subarray(0, seconds * model.config.sampleRate);
const { audioCodes } = model.encode(x);
const run = what === 'encode' ? () => model.encode(x) : () => model.decode(audioCodes);
run(); // warm-up

const rt = model.rt;
const base = rt.kernels; // private in TypeScript: the split kernels on more than one thread
const calls = new Map();
const timed = timedKernels(base, (k, args, ms) => {
  const { key, flops } = describe(k, args);
  const e = calls.get(key) ?? { key, calls: 0, ms: 0, flops: 0 };
  e.calls++;
  e.ms += ms;
  e.flops += flops;
  calls.set(key, e);
});
const before = probe();
rt.kernels = timed;
const t0 = performance.now();
run();
const wall = performance.now() - t0;
rt.kernels = base;
const after = probe();
model.dispose();

const peak = (before + after) / 2;
const all = [...calls.values()].sort((a, b) => b.ms - a.ms);
const counted = all.filter((e) => e.flops > 0);
const sum = (list, f) => list.reduce((s, e) => s + f(e), 0);
const row = (e) => ({
  kernel: e.key,
  calls: e.calls,
  ms: +e.ms.toFixed(1),
  share: `${((100 * e.ms) / wall).toFixed(1)}%`,
  gflops: e.flops ? +(e.flops / e.ms / 1e6).toFixed(1) : null,
  pct_probe: e.flops ? +((100 * e.flops) / e.ms / 1e6 / peak).toFixed(0) : null,
});
const summary = {
  model: name,
  what,
  seconds,
  threads,
  flavour,
  wall_ms: +wall.toFixed(0),
  kernel_ms: +sum(all, (e) => e.ms).toFixed(0),
  probe_gflops: +peak.toFixed(1),
  counted_share: +((100 * sum(counted, (e) => e.ms)) / wall).toFixed(1),
  counted_pct_probe: +((100 * sum(counted, (e) => e.flops)) / sum(counted, (e) => e.ms) / 1e6 / peak).toFixed(0),
  all_pct_probe: +((100 * sum(counted, (e) => e.flops)) / wall / 1e6 / peak).toFixed(0),
};
if (argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ ...summary, rows: all.map(row) })}\n`);
} else {
  console.log(
    `${name} full size, ${what} of ${seconds} s of music, ${threads} thread(s), ${flavour} SIMD: ${summary.wall_ms} ms ` +
      `(kernels ${summary.kernel_ms} ms); probe ${before.toFixed(1)} / ${after.toFixed(1)} GFLOP/s before / after`,
  );
  console.log(
    `counted kernels (GEMMs, Winograd, attention): ${summary.counted_share}% of the time at ${summary.counted_pct_probe}% ` +
      `of the probe; their FLOPs over the whole call: ${summary.all_pct_probe}% of the probe`,
  );
  console.table(all.slice(0, top).map(row));
}
