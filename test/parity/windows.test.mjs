// Long audio and long code sequences run window by window (windowFrames): the convolutional stages of
// encode (the semantic feature encoder, whose GroupNorm statistics are taken over whole rows first,
// and the acoustic encoder) and the whole decoder. Results must be bit-identical to one window, the
// context each window takes must be what the layers need (not less, and at most one frame more than
// the least that works), and the fixtures' codes and audio must still come out right in windows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { XcodecModelSync } from '../../dist/node/index.js';
import { XcodecNetwork } from '../../dist/model/network.js';
import { DacDecoder, DacEncoder } from '../../dist/model/dac.js';
import { fixtures, manifest, npy, assertClose, assertDims, assertCodesEqual } from '../support/helpers.mjs';

const MODELS = ['tiny-hubert', 'tiny-hubert-layernorm', 'tiny-wavlm', 'tiny-higgs'];
const loaded = [];

function randomCodes(B, nq, T, K, seed) {
  const data = new Int32Array(B * nq * T);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s % K;
  }
  return { data, dims: [B, nq, T] };
}

/** Indices at which a and b differ bit for bit (NaN compares by Object.is). */
function differences(a, b) {
  assert.is(a.length, b.length, 'lengths');
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

/** Decodes with the decoder context forced to `frames` (to find the least that works). */
function decodeWithContext(model, codes, windowFrames, frames) {
  const original = Object.getOwnPropertyDescriptor(XcodecNetwork.prototype, 'decoderContextFrames');
  Object.defineProperty(XcodecNetwork.prototype, 'decoderContextFrames', { get: () => frames, configurable: true });
  try {
    return model.decode(codes, { windowFrames }).audioValues;
  } finally {
    Object.defineProperty(XcodecNetwork.prototype, 'decoderContextFrames', original);
  }
}

for (const name of MODELS) {
  const dir = join(fixtures, name);
  let model;
  const load = async () => {
    if (!model) loaded.push((model = await XcodecModelSync.fromPretrained(dir, { numThreads: 2 })));
    return model;
  };
  let direct;
  const loadDecoder = async (algorithm) => {
    if (algorithm === 'winograd') return load();
    if (!direct)
      loaded.push((direct = await XcodecModelSync.fromPretrained(dir, { numThreads: 2, convAlgorithm: 'direct' })));
    return direct;
  };

  let winogradEncoder;
  const loadEncoder = async (algorithm) => {
    if (algorithm === 'direct') return load();
    if (!winogradEncoder)
      loaded.push(
        (winogradEncoder = await XcodecModelSync.fromPretrained(dir, { numThreads: 2, convAlgorithm: 'winograd' })),
      );
    return winogradEncoder;
  };

  for (const algorithm of ['direct', 'winograd'])
    test(`${name} (${algorithm} encoder): windowed encode: every intermediate bit-identical to one window, codes equal to the fixtures`, async () => {
      const m = await loadEncoder(algorithm);
      assert.is(m.convAlgorithm.encoder, algorithm);
      const saved = m.tuning.groupNormStatsFloats;
      // a few hundred floats per block: GroupNorm's statistics are taken over several blocks of channels
      m.tuning.groupNormStatsFloats = 2000;
      try {
        for (const c of manifest(name).cases) {
          const input = npy(join(dir, 'cases', c.input_values));
          const x = { data: input.data, dims: input.shape };
          for (let b = 0; b < input.shape[0]; b++) {
            const whole = m.encodeTrace(x, b, { windowFrames: 1e6 });
            const T = whole.embeddings.dims[1];
            for (const w of [1, 2, 3, 7, T - 1]) {
              const got = m.encodeTrace(x, b, { windowFrames: w });
              for (const key of Object.keys(whole)) {
                assertDims(got[key].dims, whole[key].dims, `${c.name}[${b}] ${key}, windows of ${w}`);
                assert.is(
                  differences(got[key].data, whole[key].data),
                  0,
                  `${c.name}[${b}] ${key}, windows of ${w}: values differ from one window`,
                );
              }
            }
          }
          const top = Math.max(...Object.keys(c.bandwidths).map(Number));
          const exp = npy(join(dir, 'cases', c.tensors[c.bandwidths[String(top)].codes].file));
          const { audioCodes } = m.encode(x, { bandwidth: top, windowFrames: 2 });
          assertDims(audioCodes.dims, exp.shape, `${c.name} codes`);
          assertCodesEqual(audioCodes.data, exp.data, `${name}/${c.name} codes, windows of 2 frames`);
        }
      } finally {
        m.tuning.groupNormStatsFloats = saved;
      }
    });

  test(`${name}: encode reports one progress step per window, layer and quantizer`, async () => {
    const m = await load();
    const input = npy(join(dir, 'cases', 'batch2', 'input_values.npy'));
    const x = { data: input.data, dims: input.shape };
    const B = input.shape[0];
    const L = m.config.semantic.numHiddenLayers;
    const trace = m.encodeTrace(x, 0);
    // The feature encoder's frames on the semantic model's padded input (Higgs keeps every 2nd of them).
    const featureFrames = m.net.semanticModel.features.frames(
      trace.semanticInput.dims[1] + 2 * m.config.semanticPadding,
    );
    const acousticFrames = trace.eAcoustic.dims[1];
    for (const w of [1e6, 7]) {
      const calls = [];
      const { audioCodes } = m.encode(x, { windowFrames: w, onProgress: (done, total) => calls.push([done, total]) });
      const perItem = w >= featureFrames ? L + 3 : Math.ceil(featureFrames / w) + L + Math.ceil(acousticFrames / w) + 1;
      assert.is(calls.length, B * perItem, `windows of ${w}: progress calls`);
      calls.forEach(([done, total], i) => {
        assert.is(done, i + 1, `windows of ${w}: step ${i}`);
        assert.is(total, B * perItem, `windows of ${w}: total`);
      });
      assert.is(audioCodes.dims[0], B);
    }
  });

  test(`${name}: the direct acoustic encoder's context is needed and at most one frame over the least that works`, async () => {
    const m = await load();
    const unaligned = manifest(name).cases.find((c) => c.name.startsWith('unaligned_'));
    const input = npy(join(dir, 'cases', unaligned.input_values));
    const x = { data: input.data, dims: input.shape };
    const whole = m.encodeTrace(x, 0, { windowFrames: 1e6 }).eAcoustic.data;
    const derived = DacEncoder.contextFrames(m.config.acoustic);
    const original = DacEncoder.contextFrames;
    let least = -1;
    try {
      for (let h = 0; h <= derived && least < 0; h++) {
        DacEncoder.contextFrames = () => h;
        if (differences(m.encodeTrace(x, 0, { windowFrames: 1 }).eAcoustic.data, whole) === 0) least = h;
      }
    } finally {
      DacEncoder.contextFrames = original;
    }
    assert.ok(least >= 0, `no context up to ${derived} frames reproduces one window`);
    assert.ok(least > 0, 'a window with no context already matched: the check could not fail');
    assert.ok(derived <= least + 1, `context ${derived} frames, but ${least} already suffice`);
  });

  for (const algorithm of ['winograd', 'direct']) {
    test(`${name} (${algorithm}): windowed decode is bit-identical to one call (windows 1..T, batch of 2)`, async () => {
      const m = await loadDecoder(algorithm);
      assert.is(m.convAlgorithm.decoder, algorithm);
      const T = 45;
      const codes = randomCodes(2, m.numQuantizersFor(), T, m.config.codebookSize, 11);
      const whole = m.decode(codes).audioValues;
      assertDims(whole.dims, [2, 1, T * m.config.hopLength], 'one-call audio_values');
      for (const w of [1, 2, 3, 7, 16, 44, 45, 1000]) {
        const got = m.decode(codes, { windowFrames: w }).audioValues;
        assertDims(got.dims, whole.dims, `windowFrames ${w}`);
        assert.is(differences(got.data, whole.data), 0, `windowFrames ${w}: samples differ from the one-call decode`);
      }
    });

    // Direct: the derived context is at most one frame over the least that works. Winograd: its tiles
    // add (m - 1) d of reach each side per unit in the worst tile alignment, which not every window edge
    // meets, so the derivation may exceed the least by up to those added frames (about 0.5% more work
    // for 1500-frame windows), never fall short of it.
    test(`${name} (${algorithm}): the decoder context is needed and at most ${algorithm === 'direct' ? 'one frame' : "the tiles' reach"} over the least that works`, async () => {
      const m = await loadDecoder(algorithm);
      assert.is(m.convAlgorithm.decoder, algorithm);
      const T = 40;
      const codes = randomCodes(1, m.numQuantizersFor(), T, m.config.codebookSize, 5);
      const whole = m.decode(codes).audioValues.data;
      const context = DacDecoder.contextFrames(m.config.acoustic, m.convAlgorithm.decoder);
      assert.ok(context >= 1, `context ${context}`);
      let least = -1;
      for (let h = 0; h <= context; h++) {
        // window 1: every frame's samples come from a separate call, so every cut is tested
        if (differences(decodeWithContext(m, codes, 1, h).data, whole) === 0) {
          least = h;
          break;
        }
      }
      assert.ok(least >= 0, `no context up to ${context} frames reproduces the one-call decode`);
      assert.ok(least > 0, 'a window with no context already matched: the check could not fail');
      const slack = 1 + context - DacDecoder.contextFrames(m.config.acoustic, 'direct');
      assert.ok(algorithm === 'direct' || slack > 1, 'the Winograd derivation adds frames for the tiles');
      assert.ok(context <= least + slack, `context ${context} frames, but ${least} already suffice`);
    });
  }

  test(`${name}: fixture audio_values within tolerance when decoded in windows, with progress`, async () => {
    const m = await load();
    for (const c of manifest(name).cases) {
      const top = Math.max(...Object.keys(c.bandwidths).map(Number));
      const codes = npy(join(dir, 'cases', c.tensors[c.bandwidths[String(top)].codes].file));
      const [B, , T] = codes.shape;
      const calls = [];
      const { audioValues } = m.decode(
        { data: codes.data, dims: codes.shape },
        {
          windowFrames: 4,
          onProgress: (done, total) => calls.push([done, total]),
        },
      );
      const exp = npy(join(dir, 'cases', c.tensors.audio_values.file));
      assertDims(audioValues.dims, exp.shape, `${c.name} audio_values`);
      assertClose(
        audioValues.data,
        exp.data,
        c.tensors.audio_values.atol,
        `${name}/${c.name} audio_values, windows of 4 frames`,
      );
      assert.is(calls.length, B * Math.ceil(T / 4), `${c.name}: one progress call per window`);
      assert.equal(calls.at(-1), [B * T, B * T], `${c.name}: progress ends at the total`);
      for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] > calls[i - 1][0], 'progress increases');
    }
  });
}

test('bad encode and decode options are typed errors; an exception from onProgress reaches the caller', async () => {
  const m = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  const codes = randomCodes(1, 1, 10, m.config.codebookSize, 3);
  for (const w of [0, -3, 1.5, Number.NaN, '8', -Infinity]) {
    try {
      m.decode(codes, { windowFrames: w });
      assert.unreachable(`windowFrames ${String(w)} was accepted`);
    } catch (e) {
      assert.is(e.name, 'XcodecInputError', `windowFrames ${String(w)}: ${e.message}`);
      assert.match(e.message, /windowFrames .* accepted: an integer >= 1/);
    }
  }
  const cancelEncode = new Error('encode cancelled');
  try {
    m.encode(new Float32Array(16000), {
      onProgress: (done) => {
        if (done === 3) throw cancelEncode;
      },
    });
    assert.unreachable('the encode onProgress exception was swallowed');
  } catch (e) {
    assert.is(e, cancelEncode, 'the same exception object from encode');
  }
  for (const w of [0, 2.5, '3']) {
    try {
      m.encode(new Float32Array(16000), { windowFrames: w });
      assert.unreachable(`encode windowFrames ${String(w)} was accepted`);
    } catch (e) {
      assert.is(e.name, 'XcodecInputError', `encode windowFrames ${String(w)}: ${e.message}`);
      assert.match(e.message, /windowFrames .* accepted: an integer >= 1/);
    }
  }
  try {
    m.decode(codes, { onProgress: 42 });
    assert.unreachable('a non-function onProgress was accepted');
  } catch (e) {
    assert.is(e.name, 'XcodecInputError');
    assert.match(e.message, /onProgress must be a function/);
  }
  const cancel = new Error('cancelled by the caller');
  try {
    m.decode(codes, {
      windowFrames: 2,
      onProgress: (done) => {
        if (done >= 4) throw cancel;
      },
    });
    assert.unreachable('the onProgress exception was swallowed');
  } catch (e) {
    assert.is(e, cancel, 'the same exception object');
  }
  try {
    m.forward(new Float32Array(16000), { onProgress: () => {} });
    assert.unreachable('forward accepted onProgress');
  } catch (e) {
    assert.is(e.name, 'XcodecInputError');
    assert.match(e.message, /forward does not report progress/);
  }
  // Infinity: one window, the same audio and codes
  assert.is(
    differences(
      m.decode(codes, { windowFrames: Infinity }).audioValues.data,
      m.decode(codes, { windowFrames: 2 }).audioValues.data,
    ),
    0,
  );
  const sig = new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i * 0.01));
  assert.equal(
    Array.from(m.encode(sig, { windowFrames: Infinity }).audioCodes.data),
    Array.from(m.encode(sig, { windowFrames: 3 }).audioCodes.data),
  );
  // the model stays usable and gives the same audio as before the errors
  const a = m.decode(codes, { windowFrames: 3 }).audioValues.data;
  const b = m.decode(codes).audioValues.data;
  assert.is(differences(a, b), 0);
  m.dispose();
});

test.after(() => {
  for (const m of loaded) m.dispose();
});

test.run();
