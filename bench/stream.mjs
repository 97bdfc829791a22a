// Streaming decode against one-shot decode, side by side in one run: full-size HuBERT X-Codec and the
// Higgs Audio v2 tokenizer, the codes of 10 s of real audio, chunks of 1, 5 and 25 frames.
//
//   npm run build && node bench/stream.mjs [--models hubert,higgs] [--seconds 10] [--runs 3] [--threads 2]
//                                          [--chunks 1,5,25] [--audio music|speech_cn] [--decoder direct|winograd]
//                                          [--error [--lookaheads 0,1,2,4,8,12,16]] [--paced] [--json]
//
// For each chunk size: the time to first audio (from the first chunk's arrival), the whole stream's
// time and its ratio to one decode() of the same codes, and the real-time factor (audio seconds per
// second). The chunks are all there from the start (a source ahead of the decoder: waiting chunks go
// through together, 25 frames in the first step and up to 100 after) or, with --paced, each comes after a turn of the event
// loop (each its own step: what one chunk costs). Runs alternate one-shot and stream; each figure is
// the median of --runs. --error adds, for each lookaheadFrames below the exact one, the error of the
// approximate stream against one-shot decoding at paced one-frame chunks (max abs, SNR) on speech and
// music.
// Checkpoints as in test/parity/fullsize.test.mjs (random weights from the full-size configs, generated
// once into $XCODEC_FULLSIZE_CACHE, default the temp folder).
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCheckpoint } from '../scripts/generate-weights.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const models = opt('models', 'hubert,higgs').split(',');
const seconds = Number(opt('seconds', 10));
const runs = Number(opt('runs', 3));
const threads = Number(opt('threads', 2));
const chunkSizes = opt('chunks', '1,5,25').split(',').map(Number);
const audioName = opt('audio', 'music');
const json = argv.includes('--json');
const lookaheads = opt('lookaheads', '0,1,2,4,8,12,16').split(',').map(Number);
const decoder = opt('decoder', undefined); // 'direct' or 'winograd' (default: the model's default)
const { XcodecModelSync } = await import('../dist/node/index.js');
const { decodeWav, resample } = await import('../dist/audio.js');
const cache = process.env.XCODEC_FULLSIZE_CACHE || tmpdir();

function audio(name, rate, n) {
  const wav = decodeWav(new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'audio', `${name}.wav`))));
  const x = wav.sampleRate === rate ? wav.channels[0] : resample(wav.channels[0], wav.sampleRate, rate);
  if (x.length < n) throw new Error(`${name}.wav holds ${x.length / rate} s; asked for ${n / rate} s`);
  return x.slice(0, n);
}

function chunks(codes, size) {
  const [, nq, T] = codes.dims;
  const out = [];
  for (let t = 0; t < T; t += size) {
    const n = Math.min(size, T - t);
    const data = new Int32Array(nq * n);
    for (let q = 0; q < nq; q++) data.set(codes.data.subarray(q * T + t, q * T + t + n), q * n);
    out.push({ data, dims: [1, nq, n] });
  }
  return out;
}

/**
 * One stream: its samples, the time from the first chunk's arrival to the first audio, and the whole
 * time. Chunks are all there from the start (waiting chunks go through together, up to 100 frames a
 * step) or, `paced`, each arrives after a turn of the event loop (a step each).
 */
async function stream(model, codes, size, options = {}, paced = false) {
  const list = chunks(codes, size);
  let arrived = 0;
  async function* source() {
    for (const c of list) {
      if (paced) await new Promise((r) => setTimeout(r, 0));
      if (!arrived) arrived = performance.now();
      yield c;
    }
  }
  let first = 0;
  const parts = [];
  for await (const a of model.streamDecode(source(), options)) {
    if (!first) first = performance.now();
    parts.push(a);
  }
  const end = performance.now();
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { audio: out, firstMs: first - arrived, totalMs: end - arrived };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (const kind of models) {
  const dir = join(cache, `xcodec-wasm-fullsize-${kind}-0`);
  await ensureCheckpoint(join(root, '..', 'shared', 'fixtures', 'full-size', kind), dir, { seed: 0 });
  const model = await XcodecModelSync.fromPretrained(dir, {
    numThreads: threads,
    ...(decoder ? { convAlgorithm: { decoder } } : {}),
  });
  const rate = model.config.sampleRate;
  const encode = (name) => {
    const x = audio(name, rate, seconds * rate);
    const c = model.encode({ data: x, dims: [1, 1, x.length] }).audioCodes;
    return { data: Int32Array.from(c.data, Number), dims: c.dims };
  };
  const codes = encode(audioName);
  const oneShot = () => {
    const t = performance.now();
    const a = model.decode(codes).audioValues.data;
    return { audio: a, ms: performance.now() - t };
  };
  const want = oneShot().audio; // warm-up
  const row = {
    model: kind,
    threads,
    frames: codes.dims[2],
    lookaheadFrames: model.streamLookaheadFrames,
    decoder: model.convAlgorithm.decoder,
    chunks: [],
  };
  const oneMs = [];
  const bySize = new Map(chunkSizes.map((s) => [s, { first: [], total: [] }]));
  for (let r = 0; r < runs; r++) {
    oneMs.push(oneShot().ms);
    for (const size of chunkSizes) {
      const s = await stream(model, codes, size, {}, argv.includes('--paced'));
      if (s.audio.length !== want.length || !s.audio.every((v, i) => Object.is(v, want[i])))
        throw new Error(`${kind}: the ${size}-frame stream differs from decode()`);
      bySize.get(size).first.push(s.firstMs);
      bySize.get(size).total.push(s.totalMs);
    }
  }
  row.oneShotMs = median(oneMs);
  for (const size of chunkSizes) {
    const { first, total } = bySize.get(size);
    row.chunks.push({
      frames: size,
      firstAudioMs: median(first),
      totalMs: median(total),
      ratio: median(total) / row.oneShotMs,
      realTimeFactor: seconds / (median(total) / 1000),
    });
  }
  if (argv.includes('--error')) {
    row.error = [];
    for (const name of ['speech_cn', 'music']) {
      const c = name === audioName ? codes : encode(name);
      const exact = model.decode(c).audioValues.data;
      for (const n of lookaheads.filter((n) => n < model.streamLookaheadFrames)) {
        const { audio: got } = await stream(model, c, 1, { lookaheadFrames: n }, true);
        let maxAbs = 0;
        let err = 0;
        let power = 0;
        for (let i = 0; i < exact.length; i++) {
          const d = got[i] - exact[i];
          maxAbs = Math.max(maxAbs, Math.abs(d));
          err += d * d;
          power += exact[i] * exact[i];
        }
        row.error.push({
          audio: name,
          lookaheadFrames: n,
          maxAbs,
          snrDb: err === 0 ? Infinity : 10 * Math.log10(power / err),
        });
      }
    }
  }
  results.push(row);
  model.dispose();
}

if (json) console.log(JSON.stringify(results, null, 2));
else {
  for (const r of results) {
    console.log(
      `\n${r.model}: ${r.frames} frames (${seconds} s of ${audioName}), ${r.threads} threads, ${r.decoder} decoder, exact lookahead ${r.lookaheadFrames} frames; one-shot decode ${r.oneShotMs.toFixed(0)} ms (median of ${runs})`,
    );
    console.log('| chunk (frames) | first audio (ms) | stream (ms) | stream / one-shot | real-time factor |');
    console.log('| ---: | ---: | ---: | ---: | ---: |');
    for (const c of r.chunks)
      console.log(
        `| ${c.frames} | ${c.firstAudioMs.toFixed(0)} | ${c.totalMs.toFixed(0)} | ${c.ratio.toFixed(2)}x | ${c.realTimeFactor.toFixed(1)}x |`,
      );
    if (r.error) {
      console.log('\n| audio | lookaheadFrames | max abs error | SNR (dB) |');
      console.log('| --- | ---: | ---: | ---: |');
      for (const e of r.error)
        console.log(`| ${e.audio} | ${e.lookaheadFrames} | ${e.maxAbs.toExponential(2)} | ${e.snrDb.toFixed(1)} |`);
    }
  }
}
