// Every fixture case of every tiny model: each intermediate the manifest lists within its tolerance,
// codes identical at every bandwidth, decode and forward within tolerance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { XcodecModelSync, XcodecFeatureExtractor } from '../../dist/node/index.js';
import { fixtures, manifest, npy, assertClose, assertDims, assertCodesEqual, item } from '../support/helpers.mjs';

// tiny-hubert-layernorm-tied: the same weights and inputs with semantic_model_config.tie_last_hidden_states
// true, against the fixture as transformers 4.x computed it (the normed last state in the mean)
const MODELS = (
  process.env.XCODEC_FIXTURE_MODELS ??
  'tiny-hubert,tiny-hubert-layernorm,tiny-hubert-layernorm-tied,tiny-wavlm,tiny-higgs'
).split(',');

for (const name of MODELS) {
  const dir = join(fixtures, name);
  const { cases } = manifest(name);
  let model;
  const load = async () => (model ??= await XcodecModelSync.fromPretrained(dir));
  const file = (c, key) => npy(join(dir, 'cases', c.tensors[key].file));

  for (const c of cases) {
    const input = npy(join(dir, 'cases', c.input_values));
    const x = { data: input.data, dims: input.shape };
    const B = input.shape[0];

    if (c.raw_audio) {
      test(`${name}/${c.name}: feature extractor reproduces input_values exactly`, async () => {
        const fe = await XcodecFeatureExtractor.fromPretrained(dir);
        const raw = c.raw_audio.map((f) => npy(join(dir, 'cases', f)).data);
        const { inputValues } = fe.call(raw, { samplingRate: fe.config.samplingRate });
        assertDims(inputValues.dims, input.shape, 'input_values');
        assert.equal(Array.from(inputValues.data), Array.from(input.data));
      });
    }

    test(`${name}/${c.name}: intermediates within tolerance`, async () => {
      const m = await load();
      const keys = {
        semantic_features: 'semanticFeatures',
        e_semantic: 'eSemantic',
        e_acoustic: 'eAcoustic',
        embeddings: 'embeddings',
      };
      // Higgs: the semantic model's input, resampled 24 -> 16 kHz by torchaudio (before its 160-sample pad).
      if (m.config.modelType === 'higgs_audio_v2_tokenizer') {
        assert.ok(c.tensors.semantic_input, 'the Higgs manifest lists semantic_input');
        keys.semantic_input = 'semanticInput';
      }
      for (let b = 0; b < B; b++) {
        const trace = m.encodeTrace(x, b);
        for (const [key, prop] of Object.entries(keys)) {
          const spec = c.tensors[key];
          assert.ok(spec, `manifest lists ${key}`);
          const exp = file(c, key);
          const dims = key === 'semantic_input' ? trace[prop].dims.slice(1) : trace[prop].dims; // [1, N'] per item; the file is [B, N']
          assertDims([B, ...dims], exp.shape, `${key}[${b}]`);
          assertClose(trace[prop].data, item(exp.data, exp.shape, b), spec.atol, `${name}/${c.name} ${key}[${b}]`);
        }
      }
    });

    for (const [bw, spec] of Object.entries(c.bandwidths)) {
      test(`${name}/${c.name}: codes identical at ${bw} kbps (${spec.num_quantizers} quantizers)`, async () => {
        const m = await load();
        const { audioCodes } = m.encode(x, { bandwidth: Number(bw) });
        const exp = file(c, spec.codes);
        assertDims(audioCodes.dims, exp.shape, `audio_codes_bw${bw}`);
        assertCodesEqual(audioCodes.data, exp.data, `${name}/${c.name} audio_codes_bw${bw}`);
      });
    }

    test(`${name}/${c.name}: quantized, decode and forward within tolerance`, async () => {
      const m = await load();
      const bws = Object.keys(c.bandwidths)
        .map(Number)
        .sort((a, b) => a - b);
      const hi = file(c, c.bandwidths[String(bws[bws.length - 1])].codes);
      const lo = file(c, c.bandwidths[String(bws[0])].codes);
      const codesHi = { data: hi.data, dims: hi.shape };
      const q = m.dequantize(codesHi);
      assertDims(q.dims, file(c, 'quantized').shape, 'quantized');
      assertClose(q.data, file(c, 'quantized').data, c.tensors.quantized.atol, `${name}/${c.name} quantized`);
      const { audioValues } = m.decode(codesHi);
      const expAudio = file(c, 'audio_values');
      assertDims(audioValues.dims, expAudio.shape, 'audio_values');
      assertClose(audioValues.data, expAudio.data, c.tensors.audio_values.atol, `${name}/${c.name} audio_values`);
      const low = m.decode({ data: lo.data, dims: lo.shape }).audioValues;
      assertClose(
        low.data,
        file(c, 'audio_values_bw0.5').data,
        c.tensors['audio_values_bw0.5'].atol,
        `${name}/${c.name} audio_values_bw0.5`,
      );
      const fwd = m.forward(x);
      const expFwd = file(c, 'forward_audio_values');
      assertDims(fwd.audioValues.dims, expFwd.shape, 'forward_audio_values');
      assertClose(
        fwd.audioValues.data,
        expFwd.data,
        c.tensors.forward_audio_values.atol,
        `${name}/${c.name} forward_audio_values`,
      );
      assertCodesEqual(fwd.audioCodes.data, hi.data, `${name}/${c.name} forward codes`);
    });
  }
}

test.run();
