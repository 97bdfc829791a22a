// Peak WebAssembly memory of full-size encodes at any length, in seconds instead of hours: the heavy
// compute kernels (the GEMMs, the attention, the Winograd convolution) are swapped for no-ops, because
// what an encode allocates depends on shapes only, never on values. Checked against real runs of
// bench/long.mjs (docs/performance.md): at 5f28152, 3 minutes read 1170 MiB both ways.
//
//   node bench/memory.mjs [--minutes 3,10,30] [--threads 2] [--config hubert|wavlm|higgs]
//
// The times it prints are of the stubbed run (the rest of the kernels), not of an encode. The codes it
// computes are meaningless; it prints none. The checkpoint is bench/fullsize.mjs's ($XCODEC_FULLSIZE_CACHE).
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const minutes = opt('minutes', '3,10,30').split(',').map(Number);
const threads = Number(opt('threads', '2'));
const config = opt('config', 'hubert');
if (
  minutes.some((m) => !(m > 0)) ||
  !(Number.isInteger(threads) && threads >= 1) ||
  !['hubert', 'wavlm', 'higgs'].includes(config)
) {
  console.error(
    'accepted: --minutes (positive numbers, comma separated), --threads (an integer >= 1), --config hubert|wavlm|higgs',
  );
  process.exit(2);
}
// Whatever they compute, these write only into buffers their caller allocated.
const COMPUTE = ['gemm', 'gemm_prepacked', 'gemm_pack_b', 'self_attention', 'softmax_online_cols', 'conv_winograd'];

const { ensureCheckpoint } = await import('../scripts/generate-weights.mjs');
const dir = join(process.env.XCODEC_FULLSIZE_CACHE || tmpdir(), `xcodec-wasm-fullsize-${config}-0`);
ensureCheckpoint(join(root, '..', 'shared', 'fixtures', 'full-size', config), dir, {
  seed: 0,
  log: (m) => console.error(m),
});
const { XcodecModelSync } = await import('../dist/node/index.js');
const model = await XcodecModelSync.fromPretrained(dir, { numThreads: threads });
// The runtime is private to the model; this harness reaches it to swap the kernels the model calls.
const kernels = model.rt?.k;
if (!kernels || COMPUTE.some((k) => typeof kernels[k] !== 'function'))
  throw new Error('bench/memory.mjs: the model no longer exposes the kernels it swaps');
for (const k of COMPUTE) kernels[k] = () => {};
const MiB = 2 ** 20;
console.log(
  `full-size ${config}, ${threads} thread(s), ${model.simdFlavour} SIMD, compute kernels stubbed; after the load: ${(model.wasmMemoryBytes / MiB).toFixed(0)} MiB`,
);
const sr = model.config.sampleRate;
const bandwidth = Math.max(...model.config.targetBandwidths);
for (const m of minutes.sort((a, b) => a - b)) {
  const n = Math.round(m * 60 * sr);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.01) * 0.1; // any audio: the allocations follow the length
  const t0 = performance.now();
  model.encode({ data: x, dims: [1, 1, n] }, { bandwidth });
  // Lengths run in increasing order and the memory never shrinks, so this is each encode's peak.
  console.log(
    `encode ${m} min: peak ${(model.wasmMemoryBytes / MiB).toFixed(0)} MiB of WebAssembly memory (stubbed run ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}
model.dispose();
