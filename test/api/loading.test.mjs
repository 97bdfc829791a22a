// Checkpoint variants load into the same model: F16/BF16 weights, weight-normed convolutions in both
// namings, sharded files; tensors inference does not use are never needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecModelSync, XcodecCheckpointError, XcodecConfigError, XcodecInputError } from '../../dist/node/index.js';
import { fixtures, npy, assertClose, assertCodesEqual } from '../support/helpers.mjs';
import { encodeSafetensors } from '../../scripts/safetensors-writer.mjs';

const src = join(fixtures, 'tiny-hubert');
const input = npy(join(src, 'cases', 'batch2', 'input_values.npy'));
const x = { data: input.data, dims: input.shape };
const manifest = JSON.parse(readFileSync(join(src, 'cases', 'manifest.json'), 'utf8'));
const batch2 = manifest.cases.find((c) => c.name === 'batch2');

/** The fixture's tensors as { name: { shape, values: Float32Array } }. */
function readTensors(path) {
  const b = new Uint8Array(readFileSync(path));
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  const out = {};
  for (const [name, t] of Object.entries(h)) {
    if (name === '__metadata__') continue;
    const [s, e] = t.data_offsets;
    out[name] = { shape: t.shape, values: new Float32Array(b.slice(8 + n + s, 8 + n + e).buffer) };
  }
  return out;
}

function f32ToF16(v) {
  // round-to-nearest-even through Math.fround of a scaled value is awkward; use a table-free encoder
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (exp << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
}

function f32ToBf16(v) {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0];
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round to nearest even
}

/** Writes a safetensors file from { name: { shape, dtype, bytes } } (the repository's one writer). */
function writeSafetensors(path, tensors) {
  writeFileSync(path, encodeSafetensors(tensors));
}

function checkpoint(tensors, files = { 'model.safetensors': null }) {
  const d = mkdtempSync(join(tmpdir(), 'xcodec-load-'));
  copyFileSync(join(src, 'config.json'), join(d, 'config.json'));
  copyFileSync(join(src, 'preprocessor_config.json'), join(d, 'preprocessor_config.json'));
  if (files['model.safetensors'] === null) writeSafetensors(join(d, 'model.safetensors'), tensors);
  return d;
}

const f32Bytes = (values) =>
  new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
const original = readTensors(join(src, 'model.safetensors'));

async function outputs(dir) {
  const m = await XcodecModelSync.fromPretrained(dir);
  const { audioCodes, audioValues } = m.forward(x);
  return { codes: audioCodes.data, audio: audioValues.data, model: m };
}

test('F16 and BF16 checkpoints equal F32 checkpoints holding the same rounded values', async () => {
  for (const [dtype, enc, dec] of [
    ['F16', f32ToF16, f16ToF32],
    ['BF16', f32ToBf16, (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]],
  ]) {
    const half = {};
    const rounded = {};
    for (const [name, t] of Object.entries(original)) {
      const codes = Uint16Array.from(t.values, enc);
      half[name] = { shape: t.shape, dtype, bytes: new Uint8Array(codes.buffer) };
      rounded[name] = { shape: t.shape, dtype: 'F32', bytes: f32Bytes(Float32Array.from(codes, dec)) };
    }
    const a = await outputs(checkpoint(half));
    const b = await outputs(checkpoint(rounded));
    assertCodesEqual(a.codes, b.codes, `${dtype} codes`);
    assert.ok(
      a.audio.every((v, i) => Object.is(v, b.audio[i])),
      `${dtype} audio bit-identical to its F32 rounding`,
    );
  }
});

test('weight-normed acoustic convs (weight_g/weight_v and parametrizations) fold to the plain weights', async () => {
  for (const naming of ['legacy', 'parametrizations']) {
    const tensors = {};
    for (const [name, t] of Object.entries(original)) {
      const isAcousticConv = /^acoustic_(en|de)coder\..*conv\w*\.weight$/.test(name);
      if (!isAcousticConv) {
        tensors[name] = { shape: t.shape, dtype: 'F32', bytes: f32Bytes(t.values) };
        continue;
      }
      // torch weight_norm(dim=0): g[o] = ||v[o, ...]||, so folding v * g / ||v|| returns v.
      const [o] = t.shape;
      const inner = t.values.length / o;
      const g = new Float32Array(o);
      for (let i = 0; i < o; i++) {
        let s = 0;
        for (let j = 0; j < inner; j++) s += t.values[i * inner + j] ** 2;
        g[i] = Math.sqrt(s);
      }
      const base = name.slice(0, -'.weight'.length);
      const gShape = [o, ...t.shape.slice(1).map(() => 1)];
      const [gName, vName] =
        naming === 'legacy'
          ? [`${base}.weight_g`, `${base}.weight_v`]
          : [`${base}.parametrizations.weight.original0`, `${base}.parametrizations.weight.original1`];
      tensors[gName] = { shape: gShape, dtype: 'F32', bytes: f32Bytes(g) };
      tensors[vName] = { shape: t.shape, dtype: 'F32', bytes: f32Bytes(t.values) };
    }
    const got = await outputs(checkpoint(tensors));
    const exp = npy(join(src, 'cases', 'batch2', 'forward_audio_values.npy'));
    assertClose(got.audio, exp.data, batch2.tensors.forward_audio_values.atol, `${naming} forward audio`);
    assertCodesEqual(got.codes, npy(join(src, 'cases', 'batch2', 'audio_codes_bw4.npy')).data, `${naming} codes`);
  }
});

test('sharded checkpoint (model.safetensors.index.json) loads like the single file', async () => {
  const names = Object.keys(original).sort();
  const d = mkdtempSync(join(tmpdir(), 'xcodec-shards-'));
  copyFileSync(join(src, 'config.json'), join(d, 'config.json'));
  const shards = [{}, {}];
  const weightMap = {};
  names.forEach((name, i) => {
    const s = i % 2;
    shards[s][name] = { shape: original[name].shape, dtype: 'F32', bytes: f32Bytes(original[name].values) };
    weightMap[name] = `model-0000${s + 1}-of-00002.safetensors`;
  });
  writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), shards[0]);
  writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), shards[1]);
  writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const got = await outputs(d);
  const ref = await outputs(src);
  assertCodesEqual(got.codes, ref.codes, 'sharded codes');
  assert.ok(
    got.audio.every((v, i) => Object.is(v, ref.audio[i])),
    'sharded audio bit-identical',
  );
});

test('tensors inference does not use are not loaded and not needed', async () => {
  const ref = await outputs(src);
  const unused = ref.model.unusedTensors;
  assert.ok(
    unused.some((n) => n.startsWith('decoder_semantic.')),
    'decoder_semantic.* unused',
  );
  assert.ok(unused.includes('fc1.weight') && unused.includes('quantizer.quantizers.0.codebook.embed_avg'));
  assert.ok(unused.includes('quantizer.quantizers.3.codebook.cluster_size'));
  assert.not.ok(unused.some((n) => n.startsWith('acoustic_') || n.startsWith('semantic_model.encoder.layers')));
  const kept = {};
  for (const [name, t] of Object.entries(original))
    if (!unused.includes(name)) kept[name] = { shape: t.shape, dtype: 'F32', bytes: f32Bytes(t.values) };
  const got = await outputs(checkpoint(kept));
  assertCodesEqual(got.codes, ref.codes, 'codes without the unused tensors');
});

test('fromBuffers (browsers, edge runtimes): in-memory files load like the directory; bad arguments are typed errors', async () => {
  const bytes = (f) => new Uint8Array(readFileSync(join(src, f)));
  const ref = await outputs(src);
  const m = await XcodecModelSync.fromBuffers(
    { 'config.json': bytes('config.json'), 'model.safetensors': bytes('model.safetensors') },
    { numThreads: 1 },
  );
  const { audioCodes, audioValues } = m.forward(x);
  assertCodesEqual(audioCodes.data, ref.codes, 'fromBuffers codes');
  assert.ok(
    audioValues.data.every((v, i) => Object.is(v, ref.audio[i])),
    'fromBuffers audio bit-identical',
  );
  const parsed = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  const m2 = await XcodecModelSync.fromBuffers(
    { 'model.safetensors': bytes('model.safetensors') },
    { config: parsed, numThreads: 1 },
  );
  assertCodesEqual(m2.forward(x).audioCodes.data, ref.codes, 'fromBuffers with options.config');
  const rejects = async (p, type, re, what) => {
    try {
      await p();
    } catch (e) {
      assert.instance(e, type, what);
      assert.match(e.message, re, what);
      return;
    }
    assert.unreachable(`${what}: no error`);
  };
  await rejects(
    () => XcodecModelSync.fromBuffers({ 'model.safetensors': bytes('model.safetensors') }),
    XcodecConfigError,
    /no "config.json".*options\.config/,
    'missing config',
  );
  await rejects(
    () =>
      XcodecModelSync.fromBuffers({
        'config.json': new TextEncoder().encode('{oops'),
        'model.safetensors': bytes('model.safetensors'),
      }),
    XcodecConfigError,
    /not valid JSON/,
    'bad JSON',
  );
  await rejects(
    () => XcodecModelSync.fromBuffers({ 'config.json': bytes('config.json'), 'model.safetensors': [1, 2, 3] }),
    XcodecInputError,
    /"model.safetensors" must be a Uint8Array/,
    'array instead of bytes',
  );
  await rejects(
    () => XcodecModelSync.fromBuffers({ 'config.json': bytes('config.json') }),
    XcodecCheckpointError,
    /neither model.safetensors nor/,
    'no weights',
  );
});

test.run();
