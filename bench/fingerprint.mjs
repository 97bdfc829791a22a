// Fingerprints of full-size outputs, to show that a change keeps every bit: sha256 (first 16 hex
// digits) of the codes (int64), the decoded audio (float32) and the embeddings of 10 s of music.wav
// (HuBERT) and 5 s (WavLM), on 2 threads, for one SIMD flavour.
//   node bench/fingerprint.mjs [--flavour simd|relaxed] [--entry path/to/dist/node/index.js]
// The relaxed flavour needs --experimental-wasm-relaxed-simd on Node 20. Checkpoints as in
// test/parity/fullsize.test.mjs (generated once into $XCODEC_FULLSIZE_CACHE, default the temp folder).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureCheckpoint } from '../scripts/generate-weights.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const opt = (name, def) =>
  process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : def;
const flavour = opt('flavour', 'simd');
const entry = resolve(opt('entry', join(root, 'dist', 'node', 'index.js')));
const { XcodecModelSync } = await import(pathToFileURL(entry).href);
const { decodeWav } = await import(pathToFileURL(join(root, 'dist', 'audio.js')).href);
const music = decodeWav(new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'audio', 'music.wav')))).channels[0];
const cache = process.env.XCODEC_FULLSIZE_CACHE || tmpdir();
const hash = (a) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex')
    .slice(0, 16);

for (const [kind, seconds] of [
  ['hubert', 10],
  ['wavlm', 5],
]) {
  const dir = join(cache, `xcodec-wasm-fullsize-${kind}-0`);
  await ensureCheckpoint(join(root, '..', 'shared', 'fixtures', 'full-size', kind), dir, { seed: 0 });
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 2, simd: flavour });
  const x = { data: music.slice(0, seconds * 16000), dims: [1, 1, seconds * 16000] };
  const { audioCodes } = await model.encode(x);
  const { audioValues } = await model.decode(audioCodes);
  const { embeddings } = await model.encodeTrace(x);
  console.log(
    `${kind} ${seconds} s ${model.simdFlavour}: codes ${hash(audioCodes.data)} audio ${hash(audioValues.data)} embeddings ${hash(embeddings.data)}`,
  );
  model.dispose();
}
