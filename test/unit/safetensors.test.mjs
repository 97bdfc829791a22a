// safetensors reader: exact dtype conversion, chunked streaming, the real fixture, sharded checkpoints,
// and a named XcodecCheckpointError for every kind of malformed file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DTYPE_SIZES,
  SafetensorsCheckpoint,
  SafetensorsFile,
  bufferSource,
  parseSafetensorsHeader,
} from '../../dist/checkpoint/safetensors.js';
import { dirLookup, fileSource } from '../../dist/node/files.js';
import { encodeSafetensors } from '../../scripts/safetensors-writer.mjs';

const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tiny-hubert');

// ---- helpers -------------------------------------------------------------------------------------

/** Serialises a header (object, or raw text) and data; `lengthField` overrides the u64 header length. */
function serialise(header, data = new Uint8Array(0), { lengthField, padTo = 0 } = {}) {
  // padTo: append at least that many spaces, as writers pad the header for alignment
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text + ' '.repeat(padTo));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(lengthField ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Packs tensors {name: {dtype, shape, bytes}} back to back in the given order (the repository's one writer). */
function pack(tensors, metadata) {
  return encodeSafetensors(tensors, { metadata: metadata ?? null, sort: false });
}

const bytesOf = (typed) => new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
const open = (bytes, name = 'test.safetensors') => SafetensorsFile.open(bufferSource(bytes), name);

async function read(bytes, name, n) {
  const dest = new Float32Array(n);
  await (await open(bytes)).readF32(name, dest);
  return dest;
}

/** Asserts fn rejects with an XcodecCheckpointError whose message matches every pattern. */
async function rejects(fn, ...patterns) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!err) assert.unreachable(`expected an XcodecCheckpointError matching ${patterns.join(' ')}`);
  assert.is(err.name, 'XcodecCheckpointError', err.stack);
  for (const p of patterns) assert.match(err.message, p);
  return err;
}

/** Independent f16 decoder (arithmetic, not bit tricks) to check the reader against. */
function f16Value(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'xcodec-st-'));
}

// ---- dtype conversion ----------------------------------------------------------------------------

test('F32 is copied bit for bit (NaN payload, -0, inf, subnormal)', async () => {
  const bits = new Uint32Array([0x3f800000, 0x80000000, 0x7f800000, 0x7fc00123, 0x00000001, 0xc0490fdb]);
  const got = await read(pack({ w: { dtype: 'F32', shape: [2, 3], bytes: bytesOf(bits) } }), 'w', 6);
  assert.equal([...new Uint32Array(got.buffer)], [...bits]);
});

test('F16 decodes every one of the 65536 bit patterns exactly', async () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const got = await read(pack({ h: { dtype: 'F16', shape: [256, 256], bytes: bytesOf(all) } }), 'h', 65536);
  for (let i = 0; i < 65536; i++) {
    const want = f16Value(i);
    if (!Object.is(got[i], want) && !(Number.isNaN(want) && Number.isNaN(got[i]))) {
      assert.unreachable(`f16 0x${i.toString(16)}: got ${got[i]}, expected ${want}`);
    }
  }
});

test('F16 named values: subnormals, max, inf, -0, nan', async () => {
  const h = new Uint16Array([0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x7e00, 0x3555]);
  const got = await read(pack({ h: { dtype: 'F16', shape: [11], bytes: bytesOf(h) } }), 'h', 11);
  assert.is(got[0], 2 ** -24);
  assert.is(got[1], 1023 * 2 ** -24);
  assert.is(got[2], 2 ** -14);
  assert.is(got[3], 1);
  assert.is(got[4], -2);
  assert.is(got[5], 65504);
  assert.is(got[6], Infinity);
  assert.is(got[7], -Infinity);
  assert.ok(Object.is(got[8], -0));
  assert.ok(Number.isNaN(got[9]));
  assert.is(got[10], 0.333251953125);
});

test('BF16 is the top half of an f32', async () => {
  const h = new Uint16Array([0x3f80, 0xc049, 0x7f80, 0xff80, 0x7fc0, 0x8000, 0x0001, 0x3eaa]);
  const got = await read(pack({ b: { dtype: 'BF16', shape: [8], bytes: bytesOf(h) } }), 'b', 8);
  assert.equal(
    [...new Uint32Array(got.buffer)],
    [...h].map((x) => (x << 16) >>> 0),
  );
  assert.is(got[0], 1);
  assert.is(got[1], -3.140625);
  assert.is(got[2], Infinity);
  assert.ok(Number.isNaN(got[4]));
  assert.ok(Object.is(got[5], -0));
  assert.is(got[6], 2 ** -133);
});

test('F64 rounds to the nearest f32', async () => {
  const v = new Float64Array([1 / 3, 0.1, -0, 1e300, -1e300, 1e-50, NaN, 123456789.123]);
  const got = await read(pack({ d: { dtype: 'F64', shape: [8], bytes: bytesOf(v) } }), 'd', 8);
  for (let i = 0; i < v.length; i++) assert.ok(Object.is(got[i], Math.fround(v[i])), `F64 ${v[i]}: got ${got[i]}`);
});

test('tensors larger than one chunk stream correctly for every float dtype', async () => {
  const n = 1_500_000; // 6 MB as F32 or F16 x 2, above the 4 MiB chunk
  const f32 = new Float32Array(n).map((_, i) => Math.sin(i) * 1000);
  const f16 = new Uint16Array(3 * n).map((_, i) => (i * 2654435761) >>> 16);
  const bf16 = new Uint16Array(3 * n).map((_, i) => (i * 40503) & 0xffff);
  const f64 = new Float64Array(n).map((_, i) => Math.cos(i) / 7);
  const file = await open(
    pack({
      a: { dtype: 'F32', shape: [n], bytes: bytesOf(f32) },
      h: { dtype: 'F16', shape: [3, n], bytes: bytesOf(f16) },
      b: { dtype: 'BF16', shape: [n, 3], bytes: bytesOf(bf16) },
      d: { dtype: 'F64', shape: [n], bytes: bytesOf(f64) },
    }),
  );
  const a = new Float32Array(n);
  await file.readF32('a', a);
  assert.equal(bytesOf(a), bytesOf(f32));
  const h = new Float32Array(3 * n);
  await file.readF32('h', h);
  for (let i = 0; i < h.length; i += 997)
    assert.ok(Object.is(h[i], f16Value(f16[i])) || Number.isNaN(h[i]), `F16 at ${i}`);
  assert.ok(Object.is(h[h.length - 1], f16Value(f16[h.length - 1])) || Number.isNaN(h[h.length - 1]));
  const b = new Float32Array(3 * n);
  await file.readF32('b', b);
  const bBits = new Uint32Array(b.buffer);
  for (let i = 0; i < b.length; i++) if (bBits[i] !== (bf16[i] << 16) >>> 0) assert.unreachable(`BF16 at ${i}`);
  const d = new Float32Array(n);
  await file.readF32('d', d);
  for (let i = 0; i < n; i++) if (d[i] !== Math.fround(f64[i])) assert.unreachable(`F64 at ${i}`);
});

test('reads into a view of shared WebAssembly memory, from a file and from a buffer', async () => {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
  const f32 = new Float32Array(mem.buffer);
  const src = fileSource(join(fixture, 'model.safetensors'));
  const file = await SafetensorsFile.open(src, 'model.safetensors');
  await file.readF32('fc.bias', f32.subarray(16, 64));
  assert.is(f32[15], 0);
  assert.is(f32[16], Math.fround(0.01770082302391529));
  assert.is(f32[63], Math.fround(0.023038553074002266));
  file.close();
  const h = new Uint16Array([0x3c00, 0x0001]);
  await (await open(pack({ h: { dtype: 'F16', shape: [2], bytes: bytesOf(h) } }))).readF32('h', f32.subarray(100, 102));
  assert.equal([f32[100], f32[101]], [1, 2 ** -24]);
});

test('async sources work, and a destination detached mid-read is reported', async () => {
  const bytes = pack({ h: { dtype: 'F16', shape: [2], bytes: bytesOf(new Uint16Array([0x3c00, 0x4000])) } });
  const inner = bufferSource(bytes);
  let grow = null;
  const asyncSrc = {
    size: inner.size,
    async read(o, l, into) {
      await null;
      inner.read(o, l, into);
      grow?.();
    },
  };
  const file = await SafetensorsFile.open(asyncSrc, 'async.safetensors');
  const dest = new Float32Array(2);
  await file.readF32('h', dest);
  assert.equal([...dest], [1, 2]);
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  grow = () => mem.grow(1); // detaches the non-shared buffer, as memory.grow does during a load
  try {
    await file.readF32('h', new Float32Array(mem.buffer, 0, 2));
    assert.unreachable('expected an error');
  } catch (e) {
    assert.is(e.name, 'XcodecRuntimeError');
    assert.match(e.message, /detached/);
  }
});

test('zero-element tensors and __metadata__ are accepted', async () => {
  const bytes = serialise(
    {
      __metadata__: { format: 'pt', note: 'x' },
      empty: { dtype: 'F32', shape: [0, 5], data_offsets: [0, 0] },
      scalar: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
      also_empty: { dtype: 'I64', shape: [3, 0], data_offsets: [4, 4] },
    },
    bytesOf(new Float32Array([2.5])),
  );
  const file = await open(bytes);
  assert.equal(file.metadata, { format: 'pt', note: 'x' });
  assert.equal([...file.tensors.keys()], ['empty', 'scalar', 'also_empty']);
  await file.readF32('empty', new Float32Array(0));
  const s = new Float32Array(1);
  await file.readF32('scalar', s);
  assert.is(s[0], 2.5);
});

test('parseSafetensorsHeader returns tensors and metadata', () => {
  const json = new TextEncoder().encode(
    JSON.stringify({
      __metadata__: { format: 'pt' },
      b: { dtype: 'BF16', shape: [2, 2], data_offsets: [16, 24] },
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    }),
  );
  const h = parseSafetensorsHeader(json, 24, 'x.safetensors');
  assert.equal(h.metadata, { format: 'pt' });
  assert.equal(h.get('b'), { name: 'b', dtype: 'BF16', shape: [2, 2], begin: 16, end: 24, file: 'x.safetensors' });
  assert.is(h.size, 2);
  assert.is(DTYPE_SIZES.F8_E5M2, 1);
  assert.is(DTYPE_SIZES.U64, 8);
});

// ---- the real fixture ----------------------------------------------------------------------------

test('tiny-hubert fixture: shapes, metadata and values match the raw bytes', async () => {
  const path = join(fixture, 'model.safetensors');
  const raw = readFileSync(path);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
  const ckpt = await SafetensorsCheckpoint.open(dirLookup(fixture));
  try {
    assert.is(ckpt.tensors.size, Object.keys(header).length - 1);
    assert.equal(ckpt.files[0].metadata, { format: 'pt' });
    assert.equal(ckpt.info('acoustic_decoder.block.0.conv_t1.weight').shape, [32, 16, 16]);
    assert.equal(ckpt.info('fc.weight').shape, [48, 48]);
    assert.equal(ckpt.info('quantizer.quantizers.0.codebook.embed').shape, [1024, 48]);
    assert.ok(ckpt.has('fc.bias'));
    assert.not.ok(ckpt.has('fc.nope'));
    for (const name of ['fc.bias', 'fc.weight', 'semantic_model.feature_projection.projection.weight']) {
      const t = header[name];
      const dest = new Float32Array((t.data_offsets[1] - t.data_offsets[0]) / 4);
      await ckpt.readF32(name, dest);
      const at = 8 + n + t.data_offsets[0];
      for (let i = 0; i < dest.length; i++)
        if (dest[i] !== raw.readFloatLE(at + 4 * i)) assert.unreachable(`${name}[${i}]`);
    }
    const bias = new Float32Array(48);
    await ckpt.readF32('fc.bias', bias);
    // values as printed by python: struct.unpack('<48f', ...)
    assert.is(bias[0], Math.fround(0.01770082302391529));
    assert.is(bias[1], Math.fround(-0.03496554493904114));
    assert.is(bias[2], Math.fround(0.024421198293566704));
    assert.is(bias[47], Math.fround(0.023038553074002266));
  } finally {
    ckpt.close();
  }
});

// ---- sharded checkpoints -------------------------------------------------------------------------

function shardedFiles() {
  const s1 = pack({ 'a.weight': { dtype: 'F32', shape: [2, 2], bytes: bytesOf(new Float32Array([1, 2, 3, 4])) } });
  const s2 = pack({
    'b.weight': { dtype: 'F16', shape: [3], bytes: bytesOf(new Uint16Array([0x3c00, 0xc000, 0x3800])) },
    'b.bias': { dtype: 'BF16', shape: [1], bytes: bytesOf(new Uint16Array([0x4040])) },
  });
  const index = {
    metadata: { total_size: 24 },
    weight_map: {
      'a.weight': 'model-00001-of-00002.safetensors',
      'b.weight': 'model-00002-of-00002.safetensors',
      'b.bias': 'model-00002-of-00002.safetensors',
    },
  };
  return {
    'model-00001-of-00002.safetensors': s1,
    'model-00002-of-00002.safetensors': s2,
    'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)),
  };
}

function writeDir(files) {
  const dir = tempDir();
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

async function checkSharded(ckpt) {
  assert.equal([...ckpt.tensors.keys()].sort(), ['a.weight', 'b.bias', 'b.weight']);
  assert.match(ckpt.info('a.weight').file, /model-00001-of-00002\.safetensors$/);
  assert.match(ckpt.info('b.bias').file, /model-00002-of-00002\.safetensors$/);
  assert.equal(ckpt.info('b.weight').shape, [3]);
  const a = new Float32Array(4);
  await ckpt.readF32('a.weight', a);
  assert.equal([...a], [1, 2, 3, 4]);
  const b = new Float32Array(3);
  await ckpt.readF32('b.weight', b);
  assert.equal([...b], [1, -2, 0.5]);
  const c = new Float32Array(1);
  await ckpt.readF32('b.bias', c);
  assert.equal([...c], [3]);
  await rejects(() => ckpt.readF32('zzz', c), /no tensor "zzz"/);
}

test('sharded checkpoint in a directory, via the index json', async () => {
  const dir = writeDir(shardedFiles());
  try {
    const ckpt = await SafetensorsCheckpoint.open(dirLookup(dir));
    await checkSharded(ckpt);
    assert.is(ckpt.files.length, 2);
    ckpt.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('sharded checkpoint from in-memory buffers', async () => {
  const ckpt = await SafetensorsCheckpoint.fromBuffers(shardedFiles());
  await checkSharded(ckpt);
  const single = await SafetensorsCheckpoint.fromBuffers({
    'model.safetensors': shardedFiles()['model-00001-of-00002.safetensors'],
  });
  assert.equal([...single.tensors.keys()], ['a.weight']);
});

test('model.safetensors wins over an index in the same directory', async () => {
  const files = shardedFiles();
  const dir = writeDir({ ...files, 'model.safetensors': files['model-00001-of-00002.safetensors'] });
  try {
    const ckpt = await SafetensorsCheckpoint.open(dirLookup(dir));
    assert.equal([...ckpt.tensors.keys()], ['a.weight']);
    ckpt.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('index errors: missing shard, shard lacking the tensor, bad json, path escapes, empty dir', async () => {
  const files = shardedFiles();
  const index = (weight_map) => new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map }));
  const { 'model-00002-of-00002.safetensors': _, ...withoutShard2 } = files;
  const dir = writeDir(withoutShard2);
  try {
    await rejects(
      () => SafetensorsCheckpoint.open(dirLookup(dir)),
      /model\.safetensors\.index\.json/,
      /"b\.weight"/,
      /"model-00002-of-00002\.safetensors", which is missing from/,
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
  await rejects(
    () =>
      SafetensorsCheckpoint.fromBuffers({
        ...files,
        'model.safetensors.index.json': index({
          'a.weight': 'model-00001-of-00002.safetensors',
          'b.weight': 'model-00001-of-00002.safetensors',
        }),
      }),
    /maps "b\.weight" to "model-00001-of-00002\.safetensors", which does not hold it/,
  );
  await rejects(
    () =>
      SafetensorsCheckpoint.fromBuffers({
        'model.safetensors.index.json': new TextEncoder().encode('{"weight_map": '),
      }),
    /model\.safetensors\.index\.json: not valid JSON/,
  );
  await rejects(
    () =>
      SafetensorsCheckpoint.fromBuffers({
        'model.safetensors.index.json': new TextEncoder().encode('{"metadata": {}}'),
      }),
    /"weight_map" is undefined; expected an object/,
  );
  await rejects(
    () =>
      SafetensorsCheckpoint.fromBuffers({
        ...files,
        'model.safetensors.index.json': index({ 'a.weight': '../model.safetensors' }),
      }),
    /maps "a\.weight" to "\.\.\/model\.safetensors"; expected a file name in the same directory/,
  );
  const empty = tempDir();
  try {
    await rejects(
      () => SafetensorsCheckpoint.open(dirLookup(empty)),
      new RegExp(empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      /model\.safetensors nor model\.safetensors\.index\.json/,
    );
  } finally {
    rmSync(empty, { recursive: true });
  }
  await rejects(
    () => SafetensorsCheckpoint.fromBuffers({ 'weights.bin': new Uint8Array(8) }),
    /given files \(weights\.bin\)/,
  );
});

test('a malformed shard fails the whole checkpoint and names the shard', async () => {
  const files = shardedFiles();
  files['model-00002-of-00002.safetensors'] = serialise('{"x": ', new Uint8Array(0));
  await rejects(
    () => SafetensorsCheckpoint.fromBuffers(files),
    /model-00002-of-00002\.safetensors: the safetensors header: not valid JSON/,
  );
});

// ---- malformed files -----------------------------------------------------------------------------

const one = (entry, data = new Uint8Array(8)) => serialise({ t: entry }, data);

test('header length beyond the file, below 2, over the limit, or a file too short', async () => {
  await rejects(
    () => open(serialise({}, new Uint8Array(0), { lengthField: 1000 })),
    /test\.safetensors: header length 1000 runs past the end of the file \(size 10\)/,
  );
  await rejects(
    () => open(serialise({}, new Uint8Array(0), { lengthField: 2n ** 64n - 1n })),
    /header length 18446744073709551615 runs past the end/,
  );
  await rejects(
    () => open(serialise({}, new Uint8Array(0), { lengthField: 1 })),
    /header length 1 is too small; expected at least 2/,
  );
  await rejects(() => open(new Uint8Array(5)), /the file is 5 bytes, too short/);
  const huge = {
    size: 300_000_000,
    read(o, _l, into) {
      if (o === 0) new DataView(into.buffer).setBigUint64(0, 200_000_000n, true);
    },
  };
  await rejects(
    () => SafetensorsFile.open(huge, 'huge.safetensors'),
    /huge\.safetensors: header length 200000000 exceeds the limit/,
  );
});

test('invalid JSON, a non-object header, invalid UTF-8', async () => {
  await rejects(
    () => open(serialise('{"t": {"dtype": "F32",')),
    /test\.safetensors: the safetensors header: not valid JSON/,
  );
  await rejects(() => open(serialise('[1, 2]')), /header does not start with "\{" \(byte 0x5b\)/);
  const bad = serialise('{"x":"  "}');
  bad[15] = 0xff;
  await rejects(() => open(bad), /the safetensors header: not valid UTF-8/);
});

test('offsets out of bounds or reversed', async () => {
  await rejects(
    () => open(one({ dtype: 'F32', shape: [4], data_offsets: [0, 16] })),
    /tensor "t": data_offsets \[0, 16\] run past the end of the data section \(8 bytes\); expected end <= 8/,
  );
  await rejects(
    () => open(one({ dtype: 'F32', shape: [0], data_offsets: [8, 4] })),
    /data_offsets \[8, 4\] end before they begin/,
  );
  await rejects(
    () => open(one({ dtype: 'F32', shape: [1], data_offsets: [-4, 0] })),
    /data_offsets \[-4,0\] is invalid; expected \[begin, end\] of non-negative integers/,
  );
  await rejects(
    () => open(one({ dtype: 'F32', shape: [1], data_offsets: [0] })),
    /data_offsets \[0\] is invalid; expected \[begin, end\]/,
  );
  await rejects(() => open(one({ dtype: 'F32', shape: [1] })), /tensor "t": data_offsets undefined is invalid/);
});

test('offsets whose size disagrees with shape * dtype size', async () => {
  await rejects(
    () => open(one({ dtype: 'F32', shape: [3], data_offsets: [0, 8] })),
    /tensor "t": data_offsets \[0, 8\] hold 8 bytes but shape \[3\] of F32 needs 12/,
  );
  await rejects(
    () => open(one({ dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] })),
    /shape \[2,3\] of F16 needs 12/,
  );
  await rejects(
    () => open(one({ dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] })),
    /more elements than can be addressed/,
  );
});

test('overlapping tensors', async () => {
  const bytes = serialise(
    {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    },
    new Uint8Array(12),
  );
  await rejects(() => open(bytes), /test\.safetensors: tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
});

test('tiling: the tensors must cover the data section exactly (gaps, trailing bytes, a header length field 1-7 bytes short)', async () => {
  const two = (bOffsets, dataBytes) =>
    serialise(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        e: { dtype: 'F32', shape: [0], data_offsets: [8, 8] }, // empty, where it belongs: fine
        b: { dtype: 'F32', shape: [1], data_offsets: bOffsets },
      },
      new Uint8Array(dataBytes),
    );
  const ok = await open(two([8, 12], 12));
  assert.equal([...ok.tensors.keys()].sort(), ['a', 'b', 'e']);
  await rejects(
    () => open(two([12, 16], 16)),
    /4 bytes of the data section before tensor "b" \[12, 16\] belong to no tensor \(the previous one, "e", ends at 8\)/,
  );
  await rejects(
    () => open(two([8, 12], 20)),
    /the tensors end at byte 12 of a 20-byte data section; expected them to tile it exactly \(8 trailing bytes/,
  );
  await rejects(
    () => open(serialise({ b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8))),
    /4 bytes of the data section before tensor "b"/,
  );
  // The header ends in alignment spaces; a length field short by 1..7 still parses as JSON but shifts
  // every tensor: it must not load.
  for (let short = 1; short <= 7; short++) {
    const good = serialise({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8), {
      padTo: 8 + short,
    });
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    assert.ok(new TextDecoder().decode(good.subarray(8 + n - short, 8 + n)).trim() === '', 'the cut bytes are padding');
    await open(good); // the intact file loads
    new DataView(good.buffer).setBigUint64(0, BigInt(n - short), true);
    await rejects(() => open(good), /expected them to tile it exactly/);
  }
});

test('duplicate keys, a byte-order mark, deep nesting', async () => {
  const entry = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}';
  await rejects(
    () => open(serialise(`{"t": ${entry}, "t": ${entry}}`, new Uint8Array(8))),
    /the key "t" appears twice in one object/,
  );
  await rejects(
    () =>
      open(
        serialise(
          `{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "data_offsets": [0, 8]}}`,
          new Uint8Array(8),
        ),
      ),
    /the key "data_offsets" appears twice/,
  );
  const bom = serialise(`\ufeff{"t": ${entry}}`, new Uint8Array(8));
  await rejects(() => open(bom), /does not start with "\{" \(byte 0xef\)/);
  const deep = `{"t": ${'['.repeat(5000)}${']'.repeat(5000)}}`;
  await rejects(() => open(serialise(deep, new Uint8Array(0))), /nested more than 64 levels deep/);
});

test('unknown dtype, bad shapes, bad entries, bad metadata', async () => {
  await rejects(
    () => open(one({ dtype: 'F128', shape: [1], data_offsets: [0, 8] })),
    /tensor "t": unknown dtype "F128"; accepted: BOOL, .*F8_E4M3.*F64/,
  );
  await rejects(() => open(one({ dtype: 'f32', shape: [2], data_offsets: [0, 8] })), /unknown dtype "f32"/);
  await rejects(
    () => open(one({ dtype: 'F32', shape: [-2], data_offsets: [0, 8] })),
    /tensor "t": shape \[-2\] is invalid; expected an array of non-negative integers/,
  );
  await rejects(() => open(one({ dtype: 'F32', shape: [1.5], data_offsets: [0, 8] })), /shape \[1\.5\] is invalid/);
  await rejects(() => open(one({ dtype: 'F32', shape: ['2'], data_offsets: [0, 8] })), /shape \["2"\] is invalid/);
  await rejects(() => open(one({ dtype: 'F32', shape: 2, data_offsets: [0, 8] })), /shape 2 is invalid/);
  await rejects(
    () => open(serialise({ t: [1] })),
    /tensor "t": entry is \[1\]; expected \{"dtype", "shape", "data_offsets"\}/,
  );
  await rejects(
    () => open(serialise({ __metadata__: { format: 1 } })),
    /__metadata__ key "format" is 1; expected a string/,
  );
  await rejects(() => open(serialise({ __metadata__: 'pt' })), /__metadata__ is "pt"; expected an object/);
});

test('reading: non-float dtypes, dest length mismatch, unknown name, after close', async () => {
  const file = await open(
    serialise(
      {
        i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] },
        f: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
      },
      new Uint8Array(16),
    ),
  );
  await rejects(
    () => file.readF32('i', new Float32Array(1)),
    /tensor "i" has dtype I64; accepted for weights: F32, F16, BF16, F64/,
  );
  await rejects(
    () => file.readF32('f', new Float32Array(3)),
    /tensor "f" has 2 elements \(shape \[2\]\); the destination holds 3/,
  );
  await rejects(() => file.readF32('g', new Float32Array(2)), /test\.safetensors: no tensor "g"/);
  file.close();
  await rejects(() => file.readF32('f', new Float32Array(2)), /after close/);
});

test('fileSource: missing file, truncated file', async () => {
  await rejects(
    () => fileSource('/nonexistent/model.safetensors'),
    /\/nonexistent\/model\.safetensors: cannot open \(ENOENT\)/,
  );
  const dir = tempDir();
  try {
    const path = join(dir, 'model.safetensors');
    const bytes = pack({ w: { dtype: 'F32', shape: [4], bytes: bytesOf(new Float32Array(4)) } });
    writeFileSync(path, bytes);
    const file = await SafetensorsFile.open(fileSource(path), path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 4)); // truncated after the header was read
    await rejects(() => file.readF32('w', new Float32Array(4)), /unexpected end of file/);
    file.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test.run();
