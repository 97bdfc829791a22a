// X-Codec 2 (tiny-xcodec2): every public case against every tensor its manifest lists, at 1, 2 and 3
// threads: the feature extractor from the raw audio (input_values, padding_mask, input_features and
// its mask), encode's intermediates with the paddingMask, codes and codes mask exactly, decode's
// intermediates from the codes on and the audio. Threads give the same bits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { XcodecModelSync, Xcodec2FeatureExtractor } from '../../dist/node/index.js';
import { fixtures, manifest, npy, assertClose, assertDims, assertCodesEqual, item } from '../support/helpers.mjs';

const NAME = 'tiny-xcodec2';
const dir = join(fixtures, NAME);
const { cases } = manifest(NAME);
const file = (c, key) => npy(join(dir, 'cases', c.tensors[key].file));
const models = new Map();
const load = async (numThreads) => {
  if (!models.has(numThreads)) models.set(numThreads, await XcodecModelSync.fromPretrained(dir, { numThreads }));
  return models.get(numThreads);
};

/** [T, C] item of a [B, T, C] fixture as [C, T] (the trace's channel-major layout). */
function channelMajor(data, T, C) {
  const out = new Float32Array(T * C);
  for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) out[c * T + t] = data[t * C + c];
  return out;
}

// trace name -> [manifest tensor, whether the fixture is [B, T, C]]
const ENCODE = {
  inputFeatures: ['input_features', true],
  semanticHidden: ['semantic_hidden', true],
  semanticAdapted: ['semantic_adapted', false],
  acoustic: ['acoustic', false],
  embeddings: ['fused', true],
  fsqProjected: ['fsq_projected', true],
  fsqPrerounding: ['fsq_prerounding', true],
  latents: ['latents', false],
};
const DECODE = {
  latents: ['latents', false],
  prior: ['decoder_prior', true],
  transformer: ['decoder_transformer', true],
  norm: ['decoder_norm', true],
  magnitude: ['istft_magnitude', false],
  phase: ['istft_phase', false],
};

function checkTrace(c, trace, names, b, B) {
  for (const [prop, [key, timeMajor]] of Object.entries(names)) {
    const spec = c.tensors[key];
    assert.ok(spec, `the manifest lists ${key}`);
    const exp = file(c, key);
    const one = item(exp.data, exp.shape, b);
    const want = timeMajor ? channelMajor(one, exp.shape[1], exp.shape[2]) : one;
    const dims = timeMajor ? [exp.shape[2], exp.shape[1]] : exp.shape.slice(1);
    assertDims(trace[prop].dims, dims, `${key}[${b}] of ${B}`);
    assertClose(trace[prop].data, want, spec.atol, `${NAME}/${c.name} ${key}[${b}]`);
  }
}

for (const c of cases) {
  const input = npy(join(dir, 'cases', c.input_values));
  const x = { data: input.data, dims: input.shape };
  const pm = file(c, 'padding_mask');
  const paddingMask = { data: pm.data, dims: pm.shape };
  const B = input.shape[0];

  test(`${NAME}/${c.name}: Xcodec2FeatureExtractor from the raw audio: values and masks exact, features within atol`, async () => {
    const fe = await Xcodec2FeatureExtractor.fromPretrained(dir);
    const raw = c.raw_audio.map((f) => npy(join(dir, 'cases', f)).data);
    const out = fe.call(raw, { samplingRate: 16000 });
    assertDims(out.inputValues.dims, input.shape, 'input_values');
    assert.equal(Array.from(out.inputValues.data), Array.from(input.data), 'input_values');
    assertCodesEqual(out.paddingMask.data, pm.data, 'padding_mask');
    const fm = file(c, 'input_features_mask');
    assertDims(out.inputFeaturesMask.dims, fm.shape, 'input_features_mask');
    assertCodesEqual(out.inputFeaturesMask.data, fm.data, 'input_features_mask');
    const f = file(c, 'input_features');
    assertDims(out.inputFeatures.dims, f.shape, 'input_features');
    assertClose(out.inputFeatures.data, f.data, c.tensors.input_features.atol, 'input_features');
  });

  for (const threads of [1, 2, 3]) {
    test(`${NAME}/${c.name} (${threads} thread${threads > 1 ? 's' : ''}): encode intermediates, codes and mask`, async () => {
      const m = await load(threads);
      for (let b = 0; b < B; b++) checkTrace(c, m.encodeTrace(x, b, { paddingMask }), ENCODE, b, B);
      const { audioCodes, audioCodesMask } = m.encode(x, { paddingMask });
      for (const [key, got] of [
        ['audio_codes', audioCodes],
        ['audio_codes_mask', audioCodesMask],
      ]) {
        const exp = file(c, key);
        assertDims(got.dims, exp.shape, key);
        assertCodesEqual(got.data, exp.data, `${NAME}/${c.name} ${key}`);
      }
    });

    test(`${NAME}/${c.name} (${threads} thread${threads > 1 ? 's' : ''}): decode intermediates and audio from the codes`, async () => {
      const m = await load(threads);
      const codes = file(c, 'audio_codes');
      const ca = { data: codes.data, dims: codes.shape };
      for (let b = 0; b < B; b++) checkTrace(c, m.decodeTrace(ca, b), DECODE, b, B);
      const { audioValues } = m.decode(ca);
      const exp = file(c, 'audio_values');
      assertDims(audioValues.dims, exp.shape, 'audio_values');
      assertClose(audioValues.data, exp.data, c.tensors.audio_values.atol, `${NAME}/${c.name} audio_values`);
      if (threads > 1) {
        const one = (await load(1)).decode(ca).audioValues.data;
        assert.ok(
          one.every((v, i) => Object.is(v, audioValues.data[i])),
          `decode at ${threads} threads equals 1 thread bit for bit`,
        );
        const codes1 = (await load(1)).encodeTrace(x, 0, { paddingMask }).embeddings.data;
        const codesN = m.encodeTrace(x, 0, { paddingMask }).embeddings.data;
        assert.ok(
          codes1.every((v, i) => Object.is(v, codesN[i])),
          `fused at ${threads} threads equals 1 thread bit for bit`,
        );
      }
    });
  }

  test(`${NAME}/${c.name}: forward gives encode's codes and decode's audio; decoder-only loads decode alike`, async () => {
    const m = await load(1);
    const f = m.forward(x);
    const enc = m.encode(x);
    assertCodesEqual(f.audioCodes.data, enc.audioCodes.data, 'forward codes');
    const dec = await XcodecModelSync.fromPretrained(dir, { components: 'decoder' });
    const a = dec.decode(enc).audioValues.data;
    assert.ok(
      a.every((v, i) => Object.is(v, f.audioValues.data[i])),
      'decoder-only decode equals forward',
    );
    dec.dispose();
  });
}

test.after(() => {
  for (const m of models.values()) m.dispose();
});

test.run();
