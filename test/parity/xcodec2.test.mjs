// X-Codec 2 (tiny-xcodec2): every public case against every tensor its manifest lists, at 1, 2 and 3
// threads: the feature extractor from the raw audio (input_values, padding_mask, input_features and
// its mask), encode's intermediates with the paddingMask, codes and codes mask exactly, decode's
// intermediates from the codes on and the audio. Threads give the same bits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withSafetensorsHeader } from '../../scripts/safetensors-writer.mjs';
import { XcodecModel, XcodecModelSync, Xcodec2FeatureExtractor } from '../../dist/node/index.js';
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

test('X-Codec 2: audio or codes too long for the memory are refused before any work, naming the longest that fits', async () => {
  const m = await XcodecModelSync.fromPretrained(dir);
  const rt = m.rt;
  const limit = rt.maxBytes;
  try {
    const n = 320 * 400;
    const need = m.net.plan(rt, n, 1500).semanticBytes;
    rt.maxBytes = rt.mark() + need - 64;
    const peak = rt.peakBytes;
    const encodeMessage =
      /^audio of 128000 samples needs \d+ MiB of WebAssembly memory to encode .*: encode at most (\d+) samples/;
    let fits = 0;
    try {
      m.encode(new Float32Array(n));
      assert.unreachable('encode ran');
    } catch (e) {
      assert.is(e.name, 'XcodecRuntimeError');
      assert.match(e.message, encodeMessage);
      fits = Number(encodeMessage.exec(e.message)[1]);
    }
    assert.is(rt.peakBytes, peak, 'nothing was allocated');
    assert.ok(fits > 0 && fits < n && fits % 320 === 0, `the longest encode that fits: ${fits} samples`);
    assert.ok(m.net.plan(rt, fits, 1500).semanticBytes <= rt.maxBytes - rt.mark(), 'the named length fits');
    const T = 4000;
    const codes = { data: new Int32Array(T).map((_, i) => (i * 7919) % 65536), dims: [1, 1, T] };
    const decodeMessage = /^decoding 4000 frames needs \d+ MiB .*not windowed: decode at most (\d+) frames/;
    rt.maxBytes = rt.mark() + 4 * 2 ** 20;
    let frames = 0;
    try {
      m.decode(codes);
      assert.unreachable('decode ran');
    } catch (e) {
      assert.is(e.name, 'XcodecRuntimeError');
      assert.match(e.message, decodeMessage);
      frames = Number(decodeMessage.exec(e.message)[1]);
    }
    assert.ok(frames > 0 && frames < T, `the longest decode that fits: ${frames} frames`);
    const ok = m.decode({ data: codes.data.subarray(0, frames), dims: [1, 1, frames] });
    assert.is(ok.audioValues.dims[2], frames * 320, 'the named length decodes');
  } finally {
    rt.maxBytes = limit;
    m.dispose();
  }
});

test('X-Codec 2: windowFrames changes nothing (one window: the decoder attends over the whole sequence); streams are refused', async () => {
  const m = await load(1);
  const c = cases[0];
  const codes = file(c, 'audio_codes');
  const ca = { data: codes.data, dims: codes.shape };
  const whole = m.decode(ca).audioValues.data;
  const small = m.decode(ca, { windowFrames: 7 }).audioValues.data;
  assert.ok(
    whole.every((v, i) => Object.is(v, small[i])),
    'decode with windowFrames 7 equals one window',
  );
  const x = npy(join(dir, 'cases', c.input_values));
  const a = m.encode({ data: x.data, dims: x.shape }).audioCodes.data;
  const b = m.encode({ data: x.data, dims: x.shape }, { windowFrames: 5 }).audioCodes.data;
  assertCodesEqual(b, a, 'encode with windowFrames 5');
  try {
    for await (const _ of m.streamDecode([ca])) assert.unreachable('a stream ran');
    assert.unreachable('no error');
  } catch (e) {
    assert.is(e.name, 'XcodecInputError');
    assert.match(e.message, /attends over the whole sequence .* accepted: decode\(\) of all the codes/);
  }
  assert.throws(() => m.streamLookaheadFrames, /attends over the whole sequence/);
});

test('X-Codec 2 in the worker (XcodecModel): codes, mask, audio and traces equal XcodecModelSync; streams refused', async () => {
  const worker = await XcodecModel.fromPretrained(dir, { numThreads: 2 });
  const sync = await load(2);
  try {
    assert.is(worker.runsOn, 'worker');
    const c = cases.find((k) => k.name === 'batch2');
    const input = npy(join(dir, 'cases', c.input_values));
    const pm = file(c, 'padding_mask');
    const x = { data: input.data, dims: input.shape };
    const paddingMask = { data: pm.data, dims: pm.shape };
    const a = await worker.encode(x, { paddingMask });
    const b = sync.encode(x, { paddingMask });
    assertCodesEqual(a.audioCodes.data, b.audioCodes.data, 'worker codes');
    assertCodesEqual(a.audioCodesMask.data, b.audioCodesMask.data, 'worker codes mask');
    const wa = (await worker.decode(a)).audioValues.data;
    const sa = sync.decode(b).audioValues.data;
    assert.ok(
      wa.every((v, i) => Object.is(v, sa[i])),
      'worker audio equals the sync model bit for bit',
    );
    const t = await worker.decodeTrace(a.audioCodes, 1);
    assert.equal(t.magnitude.dims, [641, 63]);
    assert.throws(() => worker.streamLookaheadFrames, /X-Codec 2's decoder attends over the whole sequence/);
    let error = null;
    try {
      for await (const _ of worker.streamDecode([a.audioCodes])) break;
    } catch (e) {
      error = e;
    }
    assert.is(error?.name, 'XcodecInputError');
  } finally {
    await worker.dispose();
  }
});

test('X-Codec 2: the older key naming (decoder.prior_resnet_block1, final_layer_norm, ...) decodes alike; a missing tensor is named', async () => {
  const bytes = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const older = withSafetensorsHeader(bytes, (h) => {
    for (const key of Object.keys(h)) {
      if (!key.startsWith('acoustic_decoder.')) continue;
      const renamed = key
        .replace(/^acoustic_decoder\./, 'decoder.')
        .replace(/^decoder\.prior_net\.(\d)\./, (_, i) => `decoder.prior_resnet_block${Number(i) + 1}.`)
        .replace(/^decoder\.post_net\.(\d)\./, (_, i) => `decoder.post_resnet_block${Number(i) + 1}.`)
        .replace(/^decoder\.norm\./, 'decoder.final_layer_norm.');
      h[renamed] = h[key];
      delete h[key];
    }
  });
  const m = await XcodecModelSync.fromBuffers({ 'model.safetensors': older }, { config, components: 'decoder' });
  const c = cases[0];
  const codes = file(c, 'audio_codes');
  const ca = { data: codes.data, dims: codes.shape };
  const got = m.decode(ca).audioValues.data;
  const want = (await load(1)).decode(ca).audioValues.data;
  assert.ok(
    got.every((v, i) => Object.is(v, want[i])),
    'the older naming decodes bit for bit alike',
  );
  m.dispose();
  // renamed away (a hole in the data section would be refused first)
  const missing = withSafetensorsHeader(bytes, (h) => {
    h['acoustic_decoder.layers.1.mlp.fc_2.weight'] = h['acoustic_decoder.layers.1.mlp.fc2.weight'];
    delete h['acoustic_decoder.layers.1.mlp.fc2.weight'];
  });
  try {
    await XcodecModelSync.fromBuffers({ 'model.safetensors': missing }, { config });
    assert.unreachable('loaded without a tensor');
  } catch (e) {
    assert.is(e.name, 'XcodecCheckpointError');
    assert.match(e.message, /acoustic_decoder\.layers\.1\.mlp\.fc2\.weight/);
  }
});

test('X-Codec 2: a bad paddingMask is a typed error saying what is accepted; X-Codec refuses one', async () => {
  const m = await load(1);
  const x = { data: new Float32Array(2 * 640), dims: [2, 1, 640] };
  const mask = (values) => ({ data: BigInt64Array.from(values, BigInt), dims: [2, 640] });
  const ones = (n) => Array.from({ length: 640 }, (_, i) => (i < n ? 1 : 0));
  for (const [bad, message] of [
    [{ data: new BigInt64Array(640), dims: [1, 640] }, /paddingMask must be \{ data, dims: \[2, 640\] \}/],
    [
      mask([
        ...ones(10),
        ...ones(700)
          .map(() => 2)
          .slice(0, 640),
      ]),
      /paddingMask\[1, 0\] is 2; accepted: 0 or 1/,
    ],
    [mask([...ones(10), ...ones(0)]), /paddingMask\[1\] has no real sample/],
    [
      mask([...ones(10).map((v, i) => (i === 5 ? 1 : v === 1 ? 0 : 0)), ...ones(640)]),
      /paddingMask\[0\] has a 1 at 5 after a 0/,
    ],
    ['x', /paddingMask must be/],
  ]) {
    try {
      m.encode(x, { paddingMask: bad });
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.is(e.name, 'XcodecInputError', e.message);
      assert.match(e.message, message);
    }
  }
  const hubert = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'));
  try {
    hubert.encode(new Float32Array(1600), { paddingMask: mask(ones(640)) });
    assert.unreachable('X-Codec took a paddingMask');
  } catch (e) {
    assert.is(e.name, 'XcodecInputError');
    assert.match(e.message, /paddingMask is not accepted by model_type "xcodec"/);
  } finally {
    hubert.dispose();
  }
});

test.after(() => {
  for (const m of models.values()) m.dispose();
});

test.run();
