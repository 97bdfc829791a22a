// Every bad input gives a typed error with a clear message, and the model still works afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecModelSync, XcodecFeatureExtractor, parseXcodecConfig } from '../../dist/node/index.js';
import { fixtures, npy, assertCodesEqual } from '../support/helpers.mjs';
import { withSafetensorsHeader } from '../../scripts/safetensors-writer.mjs';

const dir = join(fixtures, 'tiny-hubert');
const model = await XcodecModelSync.fromPretrained(dir);
const input = npy(join(dir, 'cases', 'mono_1.0s', 'input_values.npy'));
const x = { data: input.data, dims: input.shape };
const expectedCodes = npy(join(dir, 'cases', 'mono_1.0s', 'audio_codes_bw4.npy'));

function throwsTyped(fn, name, pattern) {
  try {
    fn();
  } catch (e) {
    assert.is(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    assert.ok(pattern.test(e.message), `message ${JSON.stringify(e.message)} should match ${pattern}`);
    return;
  }
  assert.unreachable(`expected ${name} matching ${pattern}`);
}

async function rejectsTyped(promise, name, pattern) {
  try {
    await promise;
  } catch (e) {
    assert.is(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    assert.ok(pattern.test(e.message), `message ${JSON.stringify(e.message)} should match ${pattern}`);
    return;
  }
  assert.unreachable(`expected ${name} matching ${pattern}`);
}

function stillWorks() {
  const { audioCodes } = model.encode(x);
  assertCodesEqual(audioCodes.data, expectedCodes.data, 'codes after an error');
}

test('channels != 1', () => {
  throwsTyped(
    () => model.encode({ data: new Float32Array(2 * 16000), dims: [1, 2, 16000] }),
    'XcodecInputError',
    /2 channels.*mono/,
  );
  stillWorks();
});

test('bandwidth not in target_bandwidths lists them', () => {
  throwsTyped(() => model.encode(x, { bandwidth: 3 }), 'XcodecInputError', /bandwidth 3 .*0\.5, 1, 1\.5, 2, 4/);
  throwsTyped(() => model.encode(x, { bandwidth: 'high' }), 'XcodecInputError', /bandwidth "high"/);
  stillWorks();
});

test('sampling rate mismatch in the feature extractor', async () => {
  const fe = await XcodecFeatureExtractor.fromPretrained(dir);
  throwsTyped(() => fe.call(new Float32Array(1000), { samplingRate: 44100 }), 'XcodecInputError', /44100 Hz.*16000 Hz/);
});

test('empty and too-short audio', () => {
  throwsTyped(() => model.encode(new Float32Array(0)), 'XcodecInputError', /empty.*at least \d+ samples/);
  throwsTyped(
    () => model.encode(new Float32Array(10)),
    'XcodecInputError',
    /10 samples is too short.*at least \d+ samples/,
  );
  stillWorks();
});

test('NaN and Inf samples name the position', () => {
  const bad = x.data.slice();
  bad[123] = NaN;
  throwsTyped(() => model.encode({ data: bad, dims: x.dims }), 'XcodecInputError', /NaN at batch 0, sample 123/);
  bad[123] = 0;
  bad[7] = -Infinity;
  throwsTyped(() => model.encode({ data: bad, dims: x.dims }), 'XcodecInputError', /-Infinity at batch 0, sample 7/);
  stillWorks();
});

test('dims that do not match the data, and wrong types', () => {
  throwsTyped(
    () => model.encode({ data: new Float32Array(100), dims: [1, 1, 200] }),
    'XcodecInputError',
    /100 samples but dims \[1,1,200\]/,
  );
  throwsTyped(
    () => model.encode({ data: new Float32Array(100), dims: [100] }),
    'XcodecInputError',
    /not \[batch, channels, samples\]/,
  );
  throwsTyped(() => model.encode([0, 1, 2]), 'XcodecInputError', /Float32Array/);
  stillWorks();
});

test('codes outside [0, codebook_size) and too many quantizers', () => {
  const codes = new BigInt64Array(2 * 50).fill(3n);
  codes[57] = 1024n;
  throwsTyped(
    () => model.decode({ data: codes, dims: [1, 2, 50] }),
    'XcodecInputError',
    /audio_codes\[0, 1, 7\] = 1024 is outside the codebook; accepted: integers 0\.\.1023/,
  );
  codes[57] = -1n;
  throwsTyped(
    () => model.decode({ data: codes, dims: [1, 2, 50] }),
    'XcodecInputError',
    /= -1 is outside the codebook/,
  );
  throwsTyped(
    () => model.decode({ data: new BigInt64Array(9 * 5), dims: [1, 9, 5] }),
    'XcodecInputError',
    /9 quantizers; this model has 8/,
  );
  throwsTyped(
    () => model.decode({ data: new BigInt64Array(10), dims: [1, 0, 10] }),
    'XcodecInputError',
    /every size >= 1/,
  );
  throwsTyped(
    () => model.decode({ data: new Float64Array([1.5]), dims: [1, 1, 1] }),
    'XcodecInputError',
    /= 1.5 is outside the codebook; accepted: integers/,
  );
  stillWorks();
});

// --- malformed checkpoints and configs

function checkpointDir(mutate) {
  const d = mkdtempSync(join(tmpdir(), 'xcodec-bad-'));
  copyFileSync(join(dir, 'config.json'), join(d, 'config.json'));
  copyFileSync(join(dir, 'preprocessor_config.json'), join(d, 'preprocessor_config.json'));
  const bytes = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
  writeFileSync(join(d, 'model.safetensors'), mutate(bytes));
  return d;
}

const withHeader = withSafetensorsHeader;

test('safetensors: header length beyond the file', async () => {
  const d = checkpointDir((b) => {
    const c = b.slice();
    new DataView(c.buffer).setBigUint64(0, BigInt(c.length), true);
    return c;
  });
  await rejectsTyped(
    XcodecModelSync.fromPretrained(d),
    'XcodecCheckpointError',
    /header length \d+ runs past the end of the file/,
  );
});

test('safetensors: offsets out of bounds, overlapping, unknown dtype, wrong size', async () => {
  const oob = checkpointDir((b) =>
    withHeader(b, (h) => {
      h['fc.bias'].data_offsets = [0, 1e9];
    }),
  );
  await rejectsTyped(
    XcodecModelSync.fromPretrained(oob),
    'XcodecCheckpointError',
    /"fc\.bias".*run past the end of the data/,
  );
  const overlap = checkpointDir((b) =>
    withHeader(b, (h) => {
      h['fc.bias'].data_offsets = [...h['fc2.bias'].data_offsets].map((v, i) => v + (i === 0 ? 0 : 128));
    }),
  );
  await rejectsTyped(
    XcodecModelSync.fromPretrained(overlap),
    'XcodecCheckpointError',
    /overlap|needs|belong to no tensor/,
  );
  const overlap2 = checkpointDir((b) =>
    withHeader(b, (h) => {
      h['fc1.bias'].data_offsets = h['fc2.bias'].data_offsets.slice();
      h['fc1.bias'].shape = h['fc2.bias'].shape.slice();
    }),
  );
  await rejectsTyped(
    XcodecModelSync.fromPretrained(overlap2),
    'XcodecCheckpointError',
    /"fc(1|2)\.bias".*"fc(1|2)\.bias".*overlap/,
  );
  const dtype = checkpointDir((b) =>
    withHeader(b, (h) => {
      h['fc.bias'].dtype = 'F31';
    }),
  );
  await rejectsTyped(
    XcodecModelSync.fromPretrained(dtype),
    'XcodecCheckpointError',
    /"fc\.bias": unknown dtype "F31"; accepted: .*F32/,
  );
  const size = checkpointDir((b) =>
    withHeader(b, (h) => {
      h['fc.bias'].shape = [47];
    }),
  );
  await rejectsTyped(XcodecModelSync.fromPretrained(size), 'XcodecCheckpointError', /"fc\.bias".*needs 188/);
});

test('running out of WebAssembly memory mid-call names the limit and the remedy; the model stays usable', () => {
  // the first GELU asks for more than wasm32's 4 GiB, as a call on too long an input would
  const rt = model.rt;
  const gelu = rt.k.gelu;
  rt.k.gelu = () => rt.allocBytes(2 ** 33);
  try {
    throwsTyped(
      () => model.encode(x),
      'XcodecRuntimeError',
      /out of WebAssembly memory: needed \d+ MiB, this runtime's memory allows \d+ MiB; .*smaller windowFrames/,
    );
  } finally {
    rt.k.gelu = gelu;
  }
  stillWorks();
});

test('audio too long for the semantic model is refused before any work, with the longest call that fits', () => {
  // A runtime whose memory ends just below what the layers of a 20 s call hold (a host whose shared memory
  // reserves less than 4 GiB, or a longer input on the full-size model): the call fails at once, not after
  // the feature encoder, and names what would fit.
  const rt = model.rt;
  const n = 20 * 16000;
  const long = new Float32Array(n).map((_, i) => 0.1 * Math.sin(i * 0.01));
  const need = model.net.plan(model.rt, n, 1500).semanticBytes;
  const limit = rt.maxBytes;
  const ticks = [];
  rt.maxBytes = rt.mark() + need - 64;
  try {
    const peak = rt.peakBytes;
    const message =
      /^audio of 20\.0 s \(320000 samples\) needs at least \d+ MiB of WebAssembly memory for the semantic model, whose layers attend over all \d+ frames at once .*windowFrames does not split them.*: encode at most [\d.]+ s \((\d+) samples\) per call/;
    throwsTyped(() => model.encode(long, { onProgress: (done) => ticks.push(done) }), 'XcodecRuntimeError', message);
    throwsTyped(() => model.forward(long), 'XcodecRuntimeError', message);
    throwsTyped(() => model.encodeTrace(long), 'XcodecRuntimeError', message);
    assert.equal(ticks, [], 'no progress: nothing ran');
    assert.is(rt.peakBytes, peak, 'nothing was allocated');
    let fits = 0;
    try {
      model.encode(long);
    } catch (e) {
      fits = Number(message.exec(e.message)[1]);
    }
    const room = rt.maxBytes - rt.mark();
    assert.ok(fits > 0 && fits < n, `the longest call that fits (${fits} samples) is shorter than the audio`);
    assert.ok(model.net.plan(model.rt, fits, 1500).semanticBytes <= room, 'the longest call named fits');
    assert.ok(model.net.plan(model.rt, fits + 1, 1500).semanticBytes > room, 'and one sample more does not');
    // that call passes the check; here the feature encoder's windows need more still, and say so
    throwsTyped(
      () => model.encode(long.subarray(0, fits)),
      'XcodecRuntimeError',
      /^out of WebAssembly memory: needed \d+ MiB/,
    );
  } finally {
    rt.maxBytes = limit;
  }
  stillWorks();
});

test("the semantic model's memory bound is what its layers really hold (every tiny model)", async () => {
  // windowFrames beyond the audio: one feature step, then one progress step per layer
  for (const name of ['tiny-hubert', 'tiny-hubert-layernorm', 'tiny-wavlm', 'tiny-higgs']) {
    const m = await XcodecModelSync.fromPretrained(join(fixtures, name));
    const rt = m.rt;
    const n = 12 * m.config.sampleRate + 37;
    const plan = m.net.plan(m.rt, n, 1e6);
    const start = rt.mark();
    let high = 0;
    const steps = [];
    const allocBytes = rt.allocBytes.bind(rt);
    rt.allocBytes = (bytes) => {
      const ptr = allocBytes(bytes);
      high = Math.max(high, rt.mark() - start);
      return ptr;
    };
    m.encode(
      new Float32Array(n).map((_, i) => 0.1 * Math.sin(i * 0.013)),
      {
        windowFrames: 1e6,
        onProgress: () => {
          steps.push(high);
          high = 0;
        },
      },
    );
    const layers = steps.slice(1, 1 + m.net.encoder.semanticModel.numLayers);
    assert.ok(layers.length > 0, `${name}: has layers`);
    for (const held of layers) {
      assert.ok(
        held >= plan.semanticBytes,
        `${name}: a layer held ${held} bytes, under the bound ${plan.semanticBytes}`,
      );
      assert.ok(
        held <= plan.semanticBytes * 1.01,
        `${name}: a layer held ${held} bytes, the bound ${plan.semanticBytes} is not within 1%`,
      );
    }
  }
});

test('checkpoint: missing and mis-shaped tensors are named', async () => {
  // renamed, so its bytes still belong to a tensor (a deleted entry would leave a gap in the data section)
  const missing = checkpointDir((b) =>
    withHeader(b, (h) => {
      h['acoustic_encoder.block.2.res_unit3.conv1.bias_renamed'] = h['acoustic_encoder.block.2.res_unit3.conv1.bias'];
      delete h['acoustic_encoder.block.2.res_unit3.conv1.bias'];
    }),
  );
  await rejectsTyped(
    XcodecModelSync.fromPretrained(missing),
    'XcodecCheckpointError',
    /missing tensor "acoustic_encoder\.block\.2\.res_unit3\.conv1\.bias"/,
  );
  const shaped = checkpointDir((b) =>
    withHeader(b, (h) => {
      const t = h['semantic_model.encoder.layers.1.attention.q_proj.weight'];
      t.shape = [16, 64];
    }),
  );
  await rejectsTyped(
    XcodecModelSync.fromPretrained(shaped),
    'XcodecCheckpointError',
    /"semantic_model\.encoder\.layers\.1\.attention\.q_proj\.weight" has shape \[16, 64\]; the config implies \[32, 32\]/,
  );
});

test('config: malformed values and unsupported semantic model', async () => {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  throwsTyped(
    () =>
      parseXcodecConfig({ ...cfg, semantic_model_config: { ...cfg.semantic_model_config, model_type: 'wav2vec2' } }),
    'XcodecConfigError',
    /"model_type" is "wav2vec2"; accepted: "hubert", "wavlm"/,
  );
  throwsTyped(() => parseXcodecConfig({ ...cfg, codebook_size: -4 }), 'XcodecConfigError', /"codebook_size" is -4/);
  throwsTyped(() => parseXcodecConfig({ ...cfg, target_bandwidths: [] }), 'XcodecConfigError', /"target_bandwidths"/);
  throwsTyped(() => parseXcodecConfig([1, 2]), 'XcodecConfigError', /expected a JSON object/);
  const d = mkdtempSync(join(tmpdir(), 'xcodec-cfg-'));
  writeFileSync(join(d, 'config.json'), '{ not json');
  await rejectsTyped(XcodecModelSync.fromPretrained(d), 'XcodecConfigError', /config\.json: not valid JSON/);
  await rejectsTyped(
    XcodecModelSync.fromPretrained(join(d, 'nope')),
    'XcodecConfigError',
    /cannot read .*config\.json/,
  );
});

test('checkpoint directory without weights names both accepted files', async () => {
  const d = mkdtempSync(join(tmpdir(), 'xcodec-empty-'));
  copyFileSync(join(dir, 'config.json'), join(d, 'config.json'));
  await rejectsTyped(
    XcodecModelSync.fromPretrained(d),
    'XcodecCheckpointError',
    /model\.safetensors.*model\.safetensors\.index\.json/,
  );
});

test.run();
