// Peak WebAssembly memory of full-size encodes at any length, in seconds instead of hours: the model's
// measuring pass (XcodecModelSync.encodeMemoryBytes) allocates by shape and computes nothing, because
// what an encode allocates depends on shapes only, never on values. Checked against real runs of
// bench/long.mjs (docs/performance.md).
//
//   node bench/memory.mjs [--minutes 3,10,30] [--threads 2] [--config hubert|wavlm|higgs]
//
// The times it prints are of the measuring pass, not of an encode. The checkpoint is bench/fullsize.mjs's ($XCODEC_FULLSIZE_CACHE).
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
const { ensureCheckpoint } = await import('../scripts/generate-weights.mjs');
const dir = join(process.env.XCODEC_FULLSIZE_CACHE || tmpdir(), `xcodec-wasm-fullsize-${config}-0`);
await ensureCheckpoint(join(root, '..', 'shared', 'fixtures', 'full-size', config), dir, {
  seed: 0,
  log: (m) => console.error(m),
});
const { XcodecModelSync } = await import('../dist/node/index.js');
const model = await XcodecModelSync.fromPretrained(dir, { numThreads: threads });
const MiB = 2 ** 20;
console.log(
  `full-size ${config}, ${threads} thread(s), ${model.simdFlavour} SIMD, measured by shape; after the load: ${(model.wasmMemoryBytes / MiB).toFixed(0)} MiB`,
);
const sr = model.config.sampleRate;
for (const m of minutes.sort((a, b) => a - b)) {
  const n = Math.round(m * 60 * sr);
  const t0 = performance.now();
  const peak = model.wasmMemoryBytes + model.encodeMemoryBytes(n);
  console.log(
    `encode ${m} min: peak ${(peak / MiB).toFixed(0)} MiB of WebAssembly memory (measured in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}
model.dispose();
