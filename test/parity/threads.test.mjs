// Worker threads in Node: 1, 2, 3, 4, 8 and 16 threads (past 2 oversubscribed on a 2-core machine, as
// users' 8 to 64 cores split the same way) give bit-identical codes, audio and intermediates on every
// fixture case (and match the expected files); a kernel trap or a dying worker is an error on that call
// and the next call works; a forgotten model does not keep the process alive; no SharedArrayBuffer
// means one thread with the same API.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { XcodecModelSync, XcodecInputError } from '../../dist/node/index.js';
import { fixtures, here, manifest, npy, assertClose, assertCodesEqual, assertDims } from '../support/helpers.mjs';

const MODELS = ['tiny-hubert', 'tiny-hubert-layernorm', 'tiny-wavlm', 'tiny-higgs'];
/** Runs `fn` with the model's split tuning set to `t`, restoring its own values afterwards. */
async function withTuning(model, t, fn) {
  const saved = { ...model.tuning.split };
  Object.assign(model.tuning.split, t);
  try {
    return await fn();
  } finally {
    Object.assign(model.tuning.split, saved);
  }
}

/** Every output of every case: codes at each bandwidth, decoded audio, forward audio, encode intermediates. */
function outputs(model, name) {
  const dir = join(fixtures, name);
  const out = {};
  for (const c of manifest(name).cases) {
    const input = npy(join(dir, 'cases', c.input_values));
    const x = { data: input.data, dims: input.shape };
    const r = { codes: {} };
    let top = null;
    for (const bw of Object.keys(c.bandwidths).sort((a, b) => Number(a) - Number(b))) {
      top = model.encode(x, { bandwidth: Number(bw) }).audioCodes;
      r.codes[bw] = top;
    }
    r.audio = model.decode(top).audioValues;
    r.forward = model.forward(x).audioValues;
    const trace = model.encodeTrace(x, 0);
    for (const [k, v] of Object.entries(trace)) r[k] = v;
    out[c.name] = r;
  }
  return out;
}

function assertBitIdentical(a, b, what) {
  for (const [cname, ra] of Object.entries(a)) {
    const rb = b[cname];
    for (const bw of Object.keys(ra.codes)) {
      assertDims(rb.codes[bw].dims, ra.codes[bw].dims, `${what} ${cname} codes_bw${bw}`);
      assertCodesEqual(rb.codes[bw].data, ra.codes[bw].data, `${what} ${cname} codes_bw${bw}`);
    }
    for (const key of ['audio', 'forward', 'semanticFeatures', 'eSemantic', 'eAcoustic', 'embeddings']) {
      const x = ra[key].data;
      const y = rb[key].data;
      assert.is(y.length, x.length, `${what} ${cname} ${key} length`);
      const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
      const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
      for (let i = 0; i < xb.length; i++) {
        if (xb[i] !== yb[i])
          assert.unreachable(
            `${what} ${cname} ${key}[${i}]: ${y[i]} differs from one thread's ${x[i]} (bits ${yb[i].toString(16)} vs ${xb[i].toString(16)})`,
          );
      }
    }
  }
}

for (const name of MODELS) {
  test(`${name}: 1, 2, 3, 4, 8 and 16 threads are bit-identical on every case (every splittable call split, chunk bounds mid-tile)`, async () => {
    const dir = join(fixtures, name);
    const one = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
    assert.is(one.rt.pool, null, 'numThreads 1 starts no workers');
    const ref = outputs(one, name);
    one.dispose();
    for (const threads of [2, 3, 4, 8, 16]) {
      const model = await XcodecModelSync.fromPretrained(dir, { numThreads: threads });
      try {
        assert.is(model.numThreads, threads, `${threads} threads started`);
        assert.is(model.threadsFallbackReason, null, 'no fallback');
        const got = await withTuning(model, { minChunkNs: 0, align: 1 }, () => outputs(model, name));
        const chunks = model.rt.pool.workerChunks;
        assert.ok(
          chunks.every((n) => n > 0),
          `every worker ran chunks (${chunks.join(', ')})`,
        );
        const split = Object.keys(model.rt.pool.stats.byKernel);
        // Higgs' projected RVQ subtracts project_out(codeword) with `add` instead of subtract_codewords.
        const rvq = model.config.quantizerProjections ? ['add', 'scale'] : ['subtract_codewords'];
        for (const k of [
          'gemm',
          'gemm_pack_b',
          'gemm_prepacked',
          'gelu',
          'snake',
          'pad_rows',
          'deinterleave',
          'interleave',
          'self_attention',
          'argmin_cols',
          'add_codewords',
          ...rvq,
        ]) {
          assert.ok(split.includes(k), `${k} went through the pool (split: ${split.join(', ')})`);
        }
        if (name === 'tiny-wavlm')
          for (const k of ['wavlm_gate']) assert.ok(split.includes(k), `${k} went through the pool`);
        assertBitIdentical(ref, got, `${name} ${threads} threads`);
      } finally {
        model.dispose();
      }
    }
  });
}

test('tiny-hubert: 2 threads with the default split thresholds match one thread and the expected files', async () => {
  const name = 'tiny-hubert';
  const dir = join(fixtures, name);
  const one = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
  const ref = outputs(one, name);
  one.dispose();
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 2 });
  try {
    const got = outputs(model, name);
    assertBitIdentical(ref, got, `${name} 2 threads (default tuning)`);
    for (const c of manifest(name).cases) {
      const r = got[c.name];
      for (const [bw, spec] of Object.entries(c.bandwidths)) {
        const exp = npy(join(dir, 'cases', c.tensors[spec.codes].file));
        assertDims(r.codes[bw].dims, exp.shape, `${c.name} codes_bw${bw}`);
        assertCodesEqual(r.codes[bw].data, exp.data, `${c.name} codes_bw${bw}`);
      }
      const audio = npy(join(dir, 'cases', c.tensors.audio_values.file));
      assertClose(r.audio.data, audio.data, c.tensors.audio_values.atol, `${c.name} audio_values`);
      const fwd = npy(join(dir, 'cases', c.tensors.forward_audio_values.file));
      assertClose(r.forward.data, fwd.data, c.tensors.forward_audio_values.atol, `${c.name} forward_audio_values`);
    }
  } finally {
    model.dispose();
  }
});

test('long input grows the shared memory between calls: still bit-identical to one thread', async () => {
  const dir = join(fixtures, 'tiny-hubert');
  const N = 16000 * 12 + 123;
  const x = new Float32Array(N);
  for (let i = 0; i < N; i++) x[i] = 0.3 * Math.sin(i * 0.013) + 0.1 * Math.sin(i * 0.41);
  const run = async (threads) => {
    const m = await XcodecModelSync.fromPretrained(dir, { numThreads: threads });
    const before = m.rt.memory.buffer.byteLength;
    const short = m.encode(x.subarray(0, 16000)).audioCodes;
    const { audioCodes } = m.encode(x);
    const { audioValues } = m.decode(audioCodes);
    const grew = m.rt.memory.buffer.byteLength > before;
    m.dispose();
    return { short, codes: audioCodes, audio: audioValues.data, grew };
  };
  const a = await run(1);
  const b = await run(2);
  assert.ok(b.grew, 'the shared memory grew');
  assertCodesEqual(b.short.data, a.short.data, 'short codes');
  assertCodesEqual(b.codes.data, a.codes.data, 'long codes');
  assert.ok(
    a.audio.every((v, i) => Object.is(v, b.audio[i])),
    'long audio bit-identical',
  );
});

test('relaxed SIMD build (Node flag): 1 and 2 threads bit-identical', () => {
  const script = `const { XcodecModelSync } = await import('./dist/node/index.js');
const x = new Float32Array(40000).map((_, i) => 0.3 * Math.sin(i * 0.011) + 0.1 * Math.sin(i * 0.37));
const run = async (t) => {
  const m = await XcodecModelSync.fromPretrained('test/fixtures/tiny-hubert', { numThreads: t, simd: 'relaxed' });
  m.tuning.split.minChunkNs = t > 1 ? 0 : 25000;
  const codes = m.encode(x).audioCodes.data;
  const audio = m.decode(m.encode(x).audioCodes).audioValues.data;
  const r = { flavour: m.simdFlavour, threads: m.rt.numThreads, codes, audio: new Uint32Array(audio.buffer) };
  m.dispose();
  return r;
};
const a = await run(1);
const b = await run(2);
console.log(JSON.stringify({ flavour: b.flavour, threads: b.threads, same: a.codes.every((v, i) => v === b.codes[i]) && a.audio.every((v, i) => v === b.audio[i]) }));`;
  const r = node(['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script], 60000);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.is(out.flavour, 'relaxed');
  assert.is(out.threads, 2);
  assert.ok(out.same, 'codes and audio bit-identical');
});

test('numThreads must be an integer >= 1', async () => {
  const dir = join(fixtures, 'tiny-hubert');
  for (const bad of [0, -1, 1.5, NaN, '2']) {
    try {
      await XcodecModelSync.fromPretrained(dir, { numThreads: bad });
      assert.unreachable(`numThreads ${bad} accepted`);
    } catch (e) {
      assert.instance(e, XcodecInputError, `numThreads ${String(bad)}: ${e.message}`);
      assert.match(e.message, /numThreads/);
    }
  }
});

function node(args, timeout = 120000) {
  const r = spawnSync(process.execPath, args, { cwd: join(here, '..'), encoding: 'utf8', timeout });
  return { ...r, timedOut: r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM' };
}

test('faults: a kernel trap or a worker that dies is an error on that call, the next call works, no hang', () => {
  const r = node([join(here, 'support', 'runtimes', 'node-faults.mjs')]);
  assert.not.ok(r.timedOut, `the fault scenarios finished within 120 s (hang?)\n${r.stdout}\n${r.stderr}`);
  assert.is(r.status, 0, `exit ${r.status}\n${r.stderr}`);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(lines.at(-1).done, 'every scenario ran');
  const scenarios = lines.filter((l) => l.name);
  assert.ok(scenarios.length >= 7, `${scenarios.length} scenarios`);
  for (const s of scenarios) assert.ok(s.ok, `${s.name}: ${s.detail}`);
});

test('a model with workers that is never disposed does not keep Node alive', () => {
  const script = `import { XcodecModelSync } from './dist/node/index.js';
const m = await XcodecModelSync.fromPretrained('test/fixtures/tiny-hubert', { numThreads: 2 });
m.encode(new Float32Array(16000).fill(0.1));
console.log('threads', m.rt.numThreads);`;
  const t0 = Date.now();
  const r = node(['--input-type=module', '-e', script], 30000);
  assert.not.ok(r.timedOut, 'the process exited by itself');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /threads 2/);
  assert.ok(Date.now() - t0 < 30000);
});

test('no SharedArrayBuffer: numThreads > 1 runs on one thread with the same API and results', () => {
  const script = `delete globalThis.SharedArrayBuffer;
const { XcodecModelSync } = await import('./dist/node/index.js');
const { readNpy } = await import('./dist/audio.js');
const { readFileSync } = await import('node:fs');
const dir = 'test/fixtures/tiny-hubert';
const m = await XcodecModelSync.fromPretrained(dir, { numThreads: 4 });
const c = JSON.parse(readFileSync(dir + '/cases/manifest.json', 'utf8')).cases[0];
const x = readNpy(new Uint8Array(readFileSync(dir + '/cases/' + c.input_values)));
const bw = Object.keys(c.bandwidths).sort((a, b) => a - b).pop();
const exp = readNpy(new Uint8Array(readFileSync(dir + '/cases/' + c.tensors[c.bandwidths[bw].codes].file))).data;
const got = m.encode({ data: x.data, dims: x.shape }, { bandwidth: Number(bw) }).audioCodes.data;
console.log(JSON.stringify({ threads: m.numThreads, why: m.threadsFallbackReason, same: got.length === exp.length && got.every((v, i) => v === exp[i]) }));`;
  const r = node(['--input-type=module', '-e', script], 60000);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.is(out.threads, 1, 'one thread');
  assert.match(out.why, /SharedArrayBuffer is unavailable/, 'the model says why it runs on one thread');
  assert.ok(out.same, 'codes equal the expected file');
});

test.run();
