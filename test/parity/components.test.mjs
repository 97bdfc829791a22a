// Loading one half of the network (LoadOptions.components): a decoder-only model decodes exactly as
// the whole one and never reads the semantic model or the encoders; an encoder-only one encodes
// exactly as the whole one. The half that was not loaded is a typed error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { XcodecModelSync } from '../../dist/node/index.js';
import { fixtures, manifest, npy, rejectsWith } from '../support/helpers.mjs';

const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

for (const name of ['tiny-hubert', 'tiny-higgs']) {
  const dir = join(fixtures, name);
  const c = manifest(name).cases[0];
  const input = npy(join(dir, 'cases', c.input_values));
  const x = { data: input.data, dims: input.shape };

  test(`${name}: components 'decoder' decodes bit for bit like the whole model, reads no encoder tensor, cannot encode`, async () => {
    const whole = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
    const decoder = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, components: 'decoder' });
    try {
      assert.is(decoder.components, 'decoder');
      assert.is(whole.components, 'all');
      const { audioCodes } = whole.encode(x);
      assert.ok(same(decoder.decode(audioCodes).audioValues.data, whole.decode(audioCodes).audioValues.data), 'decode');
      assert.ok(same(decoder.dequantize(audioCodes).data, whole.dequantize(audioCodes).data), 'dequantize');
      for (const prefix of ['semantic_model.', 'encoder_semantic.', 'acoustic_encoder.', 'fc.']) {
        assert.ok(
          decoder.unusedTensors.some((t) => t.startsWith(prefix)),
          `${prefix}* was not read`,
        );
        assert.not.ok(
          whole.unusedTensors.some((t) => t.startsWith(prefix) && !t.endsWith('masked_spec_embed')),
          `the whole model reads ${prefix}*`,
        );
      }
      assert.ok(
        decoder.wasmMemoryBytes < whole.wasmMemoryBytes,
        `memory ${decoder.wasmMemoryBytes} < ${whole.wasmMemoryBytes}`,
      );
      assert.throws(
        () => decoder.encode(x),
        (e) =>
          e.name === 'XcodecInputError' && /loaded with components: 'decoder', so it cannot encode/.test(e.message),
      );
      assert.throws(
        () => decoder.forward(x),
        (e) => e.name === 'XcodecInputError' && /cannot encode/.test(e.message),
      );
    } finally {
      whole.dispose();
      decoder.dispose();
    }
  });

  test(`${name}: components 'encoder' encodes bit for bit like the whole model, cannot decode`, async () => {
    const whole = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
    const encoder = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, components: 'encoder' });
    try {
      for (const bandwidth of whole.config.targetBandwidths) {
        assert.ok(
          same(encoder.encode(x, { bandwidth }).audioCodes.data, whole.encode(x, { bandwidth }).audioCodes.data),
          `${bandwidth} kbps`,
        );
      }
      assert.ok(
        encoder.unusedTensors.some((t) => t.startsWith('acoustic_decoder.')),
        'the acoustic decoder was not read',
      );
      const { audioCodes } = encoder.encode(x);
      assert.throws(
        () => encoder.decode(audioCodes),
        (e) =>
          e.name === 'XcodecInputError' && /loaded with components: 'encoder', so it cannot decode/.test(e.message),
      );
    } finally {
      whole.dispose();
      encoder.dispose();
    }
  });
}

test('components other than all, encoder, decoder are a typed error', async () => {
  await rejectsWith(
    'XcodecInputError',
    XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { components: 'semantic' }),
    'components "semantic" is not accepted; accepted: "all", "encoder", "decoder"',
  );
});

test('convAlgorithm: both halves or per half; the default keeps the encoder direct; bad values are typed errors', async () => {
  const dir = join(fixtures, 'tiny-hubert');
  const cases = [
    [undefined, { encoder: 'direct', decoder: 'winograd' }],
    ['direct', { encoder: 'direct', decoder: 'direct' }],
    ['winograd', { encoder: 'winograd', decoder: 'winograd' }],
    [{ encoder: 'winograd' }, { encoder: 'winograd', decoder: 'winograd' }],
    [{ decoder: 'direct' }, { encoder: 'direct', decoder: 'direct' }],
  ];
  for (const [convAlgorithm, expected] of cases) {
    const m = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, convAlgorithm });
    try {
      assert.equal(m.convAlgorithm, expected, `convAlgorithm ${JSON.stringify(convAlgorithm)}`);
    } finally {
      m.dispose();
    }
  }
  const accepted = 'accepted: "winograd" or "direct", or { encoder?, decoder? } of those';
  for (const [bad, message] of [
    ['fft', `convAlgorithm "fft" is not accepted; ${accepted}`],
    [7, `convAlgorithm 7 is not accepted; ${accepted}`],
    [{ decoder: 'Winograd' }, `convAlgorithm.decoder "Winograd" is not accepted; ${accepted}`],
    [{ encoder: 'direct', both: 'direct' }, `convAlgorithm has unknown keys ["both"]; ${accepted}`],
  ]) {
    await rejectsWith('XcodecInputError', XcodecModelSync.fromPretrained(dir, { convAlgorithm: bad }), message);
  }
});

test.run();
