// Full-size X-Codec (177.5 M parameters, 12-layer HuBERT or WavLM), the Higgs Audio v2 tokenizer
// (203.5 M, 24 kHz) and X-Codec 2 (629.3 M, 16-layer Wav2Vec2-BERT, 2.3 GiB) on real audio: a random, well-scaled checkpoint from scripts/generate-weights.mjs
// with the exact tensor names and shapes of the published checkpoints (cached outside the repository,
// ~680-780 MiB each), loaded with fromPretrained, then 10 s of test/fixtures/audio/music.wav (resampled
// to 24 kHz for Higgs) encoded at every target bandwidth and decoded.
// The values are random, so what is checked is everything but the numbers: shapes, code ranges, RVQ
// prefix consistency, finite output, and that no checkpoint tensor inference needs is left unused.
// Single-threaded (numThreads 1); each step prints its wall time.
//
// Cache: $XCODEC_FULLSIZE_CACHE (default os.tmpdir()) / xcodec-wasm-fullsize-<config>-<seed>; a stamp
// file makes it regenerate when the generator or the config changes.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Xcodec2FeatureExtractor, XcodecModelSync } from '../../dist/node/index.js';
import { decodeWav, resample } from '../../dist/audio.js';
import { ensureCheckpoint } from '../../scripts/generate-weights.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // test/
const configs = join(here, '..', '..', 'shared', 'fixtures', 'full-size');
const SEED = 0;
const CACHE = process.env.XCODEC_FULLSIZE_CACHE || tmpdir();
// seconds of music.wav per config (about 13 s per encode and 11 s per decode of 10 s on one thread)
const RUNS = [
  { kind: 'hubert', seconds: 10 },
  { kind: 'wavlm', seconds: 10 },
  { kind: 'higgs', seconds: 10, semantic: 'hubert' },
];
// checkpoint tensors that transformers' XcodecModel keeps but its inference never reads
const UNUSED_AT_INFERENCE = [
  /^decoder_semantic\./,
  /^fc1\./,
  /\.codebook\.(embed_avg|cluster_size|inited)$/,
  /\.masked_spec_embed$/,
];

const wav = decodeWav(new Uint8Array(readFileSync(join(here, 'fixtures', 'audio', 'music.wav'))));
const music = wav.channels[0];

const secs = (t0) => (performance.now() - t0) / 1000;
const say = (msg) => console.log(`  # ${msg}`);

test('music.wav is 20 s of 16 kHz mono', () => {
  assert.is(wav.sampleRate, 16000);
  assert.is(wav.channels.length, 1);
  assert.is(music.length, 320000);
});

for (const { kind, seconds, semantic = kind } of RUNS) {
  const state = {};

  test(`full-size ${kind}: generated checkpoint loads (every tensor inference needs is used)`, async () => {
    let t0 = performance.now();
    const dir = join(CACHE, `xcodec-wasm-fullsize-${kind}-${SEED}`);
    const r = await ensureCheckpoint(join(configs, kind), dir, { seed: SEED });
    say(
      `${kind}: checkpoint ${r.generated ? `generated in ${secs(t0).toFixed(1)} s` : 'cached'} (${(r.bytes / 2 ** 20).toFixed(0)} MiB) at ${dir}`,
    );
    t0 = performance.now();
    const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
    state.model = model;
    say(
      `${kind}: fromPretrained ${secs(t0).toFixed(2)} s (${model.simdFlavour}), WASM memory ${(model.wasmMemoryBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.equal(model.config.targetBandwidths, [0.5, 1, 1.5, 2, 4]);
    assert.is(model.config.codebookSize, 1024);
    assert.is(model.config.semantic.modelType, semantic);
    assert.is(model.config.modelType, kind === 'higgs' ? 'higgs_audio_v2_tokenizer' : 'xcodec');
    const unexpected = model.unusedTensors.filter((n) => !UNUSED_AT_INFERENCE.some((re) => re.test(n)));
    assert.equal(unexpected, [], `tensors left unused: ${unexpected.join(', ')}`);
    assert.ok(model.unusedTensors.includes('fc1.weight'));
  });

  test(`full-size ${kind}: encode ${seconds} s of music at every target bandwidth`, () => {
    assert.ok(state.model, 'model did not load');
    const model = state.model;
    const rate = model.config.sampleRate;
    const N = seconds * rate;
    const frames = N / model.config.hopLength;
    const audio = rate === 16000 ? music : resample(music, 16000, rate);
    const input = { data: audio.slice(0, N), dims: [1, 1, N] };
    Object.assign(state, { N, frames });
    const byNq = new Map();
    // X-Codec: 1, 2, 3, 4, 8 quantizers (50 frames/s); Higgs: 2, 4, 6, 8, 16 (25 frames/s)
    const perBandwidth =
      kind === 'higgs' ? { 0.5: 2, 1: 4, 1.5: 6, 2: 8, 4: 16 } : { 0.5: 1, 1: 2, 1.5: 3, 2: 4, 4: 8 };
    for (const bandwidth of model.config.targetBandwidths) {
      const nq = perBandwidth[bandwidth];
      const t0 = performance.now();
      const { audioCodes } = model.encode(input, { bandwidth });
      say(
        `${kind}: encode ${seconds} s at ${bandwidth} kbps: ${secs(t0).toFixed(2)} s (RTF ${(secs(t0) / seconds).toFixed(2)})`,
      );
      assert.equal(audioCodes.dims, [1, nq, frames], `dims at ${bandwidth} kbps`);
      assert.instance(audioCodes.data, BigInt64Array);
      assert.is(audioCodes.data.length, nq * frames);
      for (let i = 0; i < audioCodes.data.length; i++) {
        const c = audioCodes.data[i];
        if (c < 0n || c >= 1024n) assert.unreachable(`code ${c} at ${i} (${bandwidth} kbps) is outside [0, 1024)`);
      }
      // every quantizer stage uses many codewords (NaN or collapsed embeddings give one code everywhere)
      for (let q = 0; q < nq; q++) {
        const distinct = new Set(audioCodes.data.subarray(q * frames, (q + 1) * frames)).size;
        assert.ok(
          distinct >= 16,
          `${bandwidth} kbps, quantizer ${q}: only ${distinct} distinct codes in ${frames} frames`,
        );
      }
      byNq.set(nq, audioCodes);
    }
    // residual VQ: the codes of a lower bandwidth are the first quantizers of the highest one
    const most = Math.max(...byNq.keys());
    const top = byNq.get(most).data;
    for (const [nq, codes] of byNq) {
      for (let i = 0; i < nq * frames; i++) {
        if (codes.data[i] !== top[i])
          assert.unreachable(
            `${nq} quantizers: code ${i} is ${codes.data[i]}, the ${most}-quantizer encode has ${top[i]}`,
          );
      }
    }
    state.codes = byNq.get(most);
  });

  test(`full-size ${kind}: decode the highest bandwidth's codes`, () => {
    assert.ok(state.codes, 'no codes to decode');
    const { N } = state;
    const t0 = performance.now();
    const { audioValues } = state.model.decode(state.codes);
    say(
      `${kind}: decode ${seconds} s: ${secs(t0).toFixed(2)} s (RTF ${(secs(t0) / seconds).toFixed(2)}); peak WASM memory ${(state.model.wasmMemoryBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.equal(audioValues.dims, [1, 1, N]);
    assert.is(audioValues.data.length, N);
    let peak = 0;
    for (let i = 0; i < N; i++) {
      const v = audioValues.data[i];
      if (!Number.isFinite(v)) assert.unreachable(`sample ${i} is ${v}`);
      peak = Math.max(peak, Math.abs(v));
    }
    assert.ok(peak > 0, 'decoded audio is all zeros');
    state.model.dispose();
    state.model = null;
  });
}

// X-Codec 2: one FSQ codebook of 65536 codes at 50 frames/s; the input goes through its feature extractor
{
  const state = {};
  const seconds = 10;

  test('full-size xcodec2: generated checkpoint loads whole and decoder-only (only masked_spec_embed unused)', async () => {
    let t0 = performance.now();
    const dir = join(CACHE, `xcodec-wasm-fullsize-xcodec2-${SEED}`);
    const r = await ensureCheckpoint(join(configs, 'xcodec2'), dir, { seed: SEED });
    say(
      `xcodec2: checkpoint ${r.generated ? `generated in ${secs(t0).toFixed(1)} s` : 'cached'} (${(r.bytes / 2 ** 20).toFixed(0)} MiB)`,
    );
    t0 = performance.now();
    const decoder = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, components: 'decoder' });
    const decoderBytes = decoder.wasmMemoryBytes;
    say(
      `xcodec2: decoder-only fromPretrained ${secs(t0).toFixed(2)} s, WASM memory ${(decoderBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    decoder.dispose();
    t0 = performance.now();
    const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
    state.model = model;
    say(
      `xcodec2: fromPretrained ${secs(t0).toFixed(2)} s, WASM memory ${(model.wasmMemoryBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.is(model.config.modelType, 'xcodec2');
    assert.is(model.config.codebookSize, 65536);
    assert.is(model.config.xcodec2.semantic.numHiddenLayers, 16);
    assert.equal(model.unusedTensors, ['semantic_encoder.masked_spec_embed']);
    assert.ok(decoderBytes < model.wasmMemoryBytes / 3, `decoder-only holds ${decoderBytes} bytes`);
    state.fe = await Xcodec2FeatureExtractor.fromPretrained(dir);
  });

  test(`full-size xcodec2: encode ${seconds} s of music through the feature extractor`, () => {
    assert.ok(state.model, 'model did not load');
    const { inputValues } = state.fe.call(music.subarray(0, seconds * 16000), { samplingRate: 16000 });
    const t0 = performance.now();
    const { audioCodes } = state.model.encode(inputValues);
    say(`xcodec2: encode ${seconds} s: ${secs(t0).toFixed(2)} s (RTF ${(secs(t0) / seconds).toFixed(2)})`);
    const frames = Math.ceil((seconds * 16000 + 1) / 320);
    assert.equal(audioCodes.dims, [1, 1, frames]);
    for (const c of audioCodes.data) if (c < 0n || c >= 65536n) assert.unreachable(`code ${c} is outside [0, 65536)`);
    // a NaN or collapsed model gives one code everywhere; here the codes vary and no FSQ dimension is stuck
    const distinct = new Set(audioCodes.data).size;
    assert.ok(distinct >= 16, `only ${distinct} distinct codes in ${frames} frames`);
    for (let d = 0; d < 8; d++) {
      const values = new Set(Array.from(audioCodes.data, (c) => (Number(c) >> (2 * d)) & 3)).size;
      assert.ok(values >= 2, `FSQ dimension ${d} takes one level in all ${frames} frames`);
    }
    state.codes = audioCodes;
  });

  test('full-size xcodec2: decode the codes', () => {
    assert.ok(state.codes, 'no codes to decode');
    const t0 = performance.now();
    const { audioValues } = state.model.decode(state.codes);
    say(
      `xcodec2: decode ${seconds} s: ${secs(t0).toFixed(2)} s (RTF ${(secs(t0) / seconds).toFixed(2)}); peak WASM memory ${(state.model.wasmMemoryBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    const T = state.codes.dims[2];
    assert.equal(audioValues.dims, [1, 1, T * 320]);
    let peak = 0;
    for (let i = 0; i < audioValues.data.length; i++) {
      const v = audioValues.data[i];
      if (!Number.isFinite(v)) assert.unreachable(`sample ${i} is ${v}`);
      peak = Math.max(peak, Math.abs(v));
    }
    assert.ok(peak > 0, 'decoded audio is all zeros');
    state.model.dispose();
    state.model = null;
  });
}

test.run();
