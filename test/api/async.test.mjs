// XcodecModel, the Promise API: the model runs in a worker, so the caller's event loop keeps turning
// during a multi-second encode; results are bit-identical to XcodecModelSync; many overlapping calls
// run one at a time in call order with the same results as serial ones; a call from inside onProgress
// is a typed error; errors keep their classes across the worker; no worker means this thread, said so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { XcodecModel, XcodecModelSync } from '../../dist/node/index.js';
import { fixtures, here, manifest, npy } from '../support/helpers.mjs';
import { FREE_LOOP_GAP_MS, encodeWatchingTheLoop, noise } from '../support/runtimes/fixture-core.mjs';

const dir = join(fixtures, 'tiny-hubert');
const cases = manifest('tiny-hubert').cases.map((c) => {
  const a = npy(join(dir, 'cases', c.input_values));
  return { name: c.name, x: { data: a.data, dims: a.shape }, bandwidths: Object.keys(c.bandwidths).map(Number) };
});
const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const sync = await XcodecModelSync.fromPretrained(dir, { numThreads: 2 });

test("in a worker: encode, decode (also of encode's output), forward, dequantize, encodeTrace equal XcodecModelSync bit for bit", async () => {
  const model = await XcodecModel.fromPretrained(dir, { numThreads: 2 });
  try {
    assert.is(model.runsOn, 'worker');
    assert.is(model.workerFallbackReason, null);
    assert.is(model.numThreads, 2);
    assert.equal(model.config, sync.config);
    assert.is(model.numQuantizersFor(1), sync.numQuantizersFor(1));
    for (const c of cases) {
      for (const bandwidth of c.bandwidths) {
        const a = await model.encode(c.x, { bandwidth });
        const b = sync.encode(c.x, { bandwidth });
        assert.equal(a.audioCodes.dims, b.audioCodes.dims);
        assert.ok(same(a.audioCodes.data, b.audioCodes.data), `${c.name} @ ${bandwidth} kbps: codes`);
      }
      const enc = await model.encode(c.x);
      const fromOutput = await model.decode(enc); // { audioCodes } as encode returns it
      const fromCodes = await model.decode(enc.audioCodes);
      const expected = sync.decode(sync.encode(c.x));
      assert.ok(same(fromOutput.audioValues.data, expected.audioValues.data), `${c.name}: decode({ audioCodes })`);
      assert.ok(same(fromCodes.audioValues.data, expected.audioValues.data), `${c.name}: decode(audioCodes)`);
      const f = await model.forward(c.x, { bandwidth: 1 });
      const g = sync.forward(c.x, { bandwidth: 1 });
      assert.ok(
        same(f.audioValues.data, g.audioValues.data) && same(f.audioCodes.data, g.audioCodes.data),
        `${c.name}: forward`,
      );
      assert.ok(
        same((await model.dequantize(enc)).data, sync.dequantize(enc.audioCodes).data),
        `${c.name}: dequantize`,
      );
      const t = await model.encodeTrace(c.x, 0);
      assert.ok(same(t.embeddings.data, sync.encodeTrace(c.x, 0).embeddings.data), `${c.name}: encodeTrace`);
    }
    assert.ok(
      cases[0].x.data.length > 0 && cases[0].x.data.buffer.byteLength > 0,
      "the caller's input is copied, not taken",
    );
    assert.ok(model.wasmMemoryBytes > 0);
  } finally {
    await model.dispose();
  }
});

test("transfer: true moves the input's buffer to the worker (detached here) with the same results; a bad value, a shared buffer and the caller's thread", async () => {
  const model = await XcodecModel.fromPretrained(dir, { numThreads: 1 });
  const local = await XcodecModel.fromPretrained(dir, { numThreads: 1, worker: false });
  try {
    const c = cases[0];
    const copy = () => ({ data: c.x.data.slice(), dims: c.x.dims });
    const expected = sync.encode(c.x, { bandwidth: 1 });
    const x = copy();
    const buffer = x.data.buffer;
    const { audioCodes } = await model.encode(x, { bandwidth: 1, transfer: true });
    assert.ok(same(audioCodes.data, expected.audioCodes.data), 'encode: codes');
    assert.is(buffer.byteLength, 0, 'encode: the input buffer moved (detached)');
    assert.is(x.data.length, 0);
    // a mono Float32Array, a view into a larger buffer (the whole buffer moves), forward, decode of encode's output and of codes
    const big = new Float32Array(c.x.data.length + 16);
    big.set(c.x.data, 8);
    const f = await model.forward(big.subarray(8, 8 + c.x.data.length), { transfer: true });
    assert.is(big.buffer.byteLength, 0, 'forward: the whole buffer behind the view moved');
    const g = sync.forward(c.x);
    assert.ok(
      same(f.audioValues.data, g.audioValues.data) && same(f.audioCodes.data, g.audioCodes.data),
      'forward: same results',
    );
    const enc = sync.encode(c.x);
    const fromOutput = { audioCodes: { data: enc.audioCodes.data.slice(), dims: enc.audioCodes.dims } };
    const decoded = await model.decode(fromOutput, { transfer: true });
    assert.is(fromOutput.audioCodes.data.length, 0, 'decode({ audioCodes }): the codes moved');
    assert.ok(same(decoded.audioValues.data, sync.decode(enc).audioValues.data), 'decode: same audio');
    const codes = { data: enc.audioCodes.data.slice(), dims: enc.audioCodes.dims };
    await model.decode(codes, { transfer: true, windowFrames: 1500 });
    assert.is(codes.data.length, 0, 'decode(codes): the codes moved');
    // false (the default) copies
    const kept = copy();
    await model.encode(kept, { transfer: false });
    assert.is(kept.data.length, c.x.data.length, 'transfer false: the input is copied');
    // a SharedArrayBuffer is shared, never moved
    const shared = new Float32Array(new SharedArrayBuffer(4 * c.x.data.length));
    shared.set(c.x.data);
    const s = await model.encode({ data: shared, dims: c.x.dims }, { transfer: true });
    assert.is(shared.length, c.x.data.length, 'a shared buffer stays');
    assert.ok(same(s.audioCodes.data, sync.encode(c.x).audioCodes.data), 'shared: codes');
    // a value that is not a boolean
    for (const bad of ['yes', 1, null]) {
      const e = await model.encode(copy(), { transfer: bad }).then(
        () => null,
        (err) => err,
      );
      assert.is(e?.name, 'XcodecInputError', `transfer ${bad}: ${e}`);
      assert.match(
        e.message,
        /^transfer is .*; accepted: true \(the input's buffer moves to the model's worker and the array is detached\) or false/,
      );
    }
    // an input whose buffer already moved: a typed error, and the model stays usable
    const e = await model.encode(x, { transfer: true }).then(
      () => null,
      (err) => err,
    );
    assert.is(e?.name, 'XcodecInputError', `a detached input: ${e}`);
    assert.ok(
      same((await model.encode(c.x, { bandwidth: 1 })).audioCodes.data, expected.audioCodes.data),
      'the model works afterwards',
    );
    // on the caller's thread nothing moves
    assert.is(local.runsOn, 'caller');
    const y = copy();
    const l = await local.encode(y, { bandwidth: 1, transfer: true });
    assert.is(y.data.length, c.x.data.length, 'runsOn caller: nothing moves');
    assert.ok(same(l.audioCodes.data, expected.audioCodes.data), 'runsOn caller: codes');
  } finally {
    await model.dispose();
    await local.dispose();
  }
});

test("the caller's event loop stays free: a 10 ms timer keeps firing (no long gap) during multi-second encoding", async () => {
  const model = await XcodecModel.fromPretrained(dir, { numThreads: 2 });
  try {
    const long = await encodeWatchingTheLoop(model, 2500);
    const { input: x, audioCodes, worstGapMs: worst, ticks } = long;
    const seconds = long.encodeMs / 1000;
    assert.ok(seconds > 1.5, `the encodes took ${seconds.toFixed(2)} s (long enough to see a blocked loop)`);
    assert.ok(
      worst < FREE_LOOP_GAP_MS,
      `the longest gap between 10 ms ticks was ${worst.toFixed(1)} ms over ${seconds.toFixed(2)} s (${ticks} ticks)`,
    );
    assert.ok(ticks > seconds * 50, `${ticks} ticks in ${seconds.toFixed(2)} s`);
    process.stdout.write(
      `  event loop during ${seconds.toFixed(2)} s of encoding ${long.seconds} s (${long.calls} call(s)): ${ticks} ticks, longest gap ${worst.toFixed(1)} ms\n`,
    );
    assert.ok(same(audioCodes.data, sync.encode(x, { bandwidth: 0.5 }).audioCodes.data), 'and the codes are right');
  } finally {
    await model.dispose();
  }
});

test('50 overlapping calls from many callers: each result equals the serial one, and they finish in call order', async () => {
  const model = await XcodecModel.fromPretrained(dir, { numThreads: 2 });
  try {
    const inputs = Array.from({ length: 50 }, (_, k) => ({
      x: noise(0.3 + (k % 7) * 0.25, k + 1),
      bandwidth: [0.5, 1, 1.5, 2, 4][k % 5],
    }));
    const finished = [];
    const calls = inputs.map(({ x, bandwidth }, k) =>
      k % 10 === 9
        ? model.decode(sync.encode(x, { bandwidth })).then((r) => {
            finished.push(k);
            return r.audioValues.data;
          })
        : model.encode(x, { bandwidth }).then((r) => {
            finished.push(k);
            return r.audioCodes.data;
          }),
    );
    const results = await Promise.all(calls);
    assert.equal(
      finished,
      inputs.map((_, k) => k),
      'call order',
    );
    inputs.forEach(({ x, bandwidth }, k) => {
      const serial =
        k % 10 === 9
          ? sync.decode(sync.encode(x, { bandwidth })).audioValues.data
          : sync.encode(x, { bandwidth }).audioCodes.data;
      assert.ok(same(results[k], serial), `call ${k}`);
    });
  } finally {
    await model.dispose();
  }
});

test('a call from inside onProgress on the same model is a typed error; the running call still gives the right codes', async () => {
  for (const worker of [true, false]) {
    const model = await XcodecModel.fromPretrained(dir, { numThreads: 1, worker });
    try {
      const x = cases[0].x;
      let inner = null;
      let steps = 0;
      const { audioCodes } = await model.encode(x, {
        onProgress: (done, total) => {
          steps++;
          if (!inner)
            inner = model.encode(x).then(
              () => 'resolved',
              (e) => e,
            );
          assert.ok(done <= total);
        },
      });
      const e = await inner;
      assert.ok(steps > 1, 'progress was reported');
      assert.is(e?.name, 'XcodecRuntimeError', `worker ${worker}: ${e}`);
      assert.match(
        e.message,
        /encode was called from inside onProgress of a call running on the same model; accepted: one call at a time per model/,
      );
      assert.ok(same(audioCodes.data, sync.encode(x).audioCodes.data), `worker ${worker}: the outer call's codes`);
      assert.ok(
        same((await model.encode(x)).audioCodes.data, sync.encode(x).audioCodes.data),
        'the model works afterwards',
      );
    } finally {
      await model.dispose();
    }
  }
});

test('errors cross the worker with their class and message; the model stays usable', async () => {
  const model = await XcodecModel.fromPretrained(dir, { numThreads: 1 });
  try {
    const x = cases[0].x;
    for (const [call, name, pattern] of [
      [() => model.encode(x, { bandwidth: 3 }), 'XcodecInputError', /bandwidth 3 is not supported by this model/],
      [() => model.decode({ data: [1, 2], dims: [1, 1, 3] }), 'XcodecInputError', /audio_codes/],
      [() => model.encode(new Float64Array(4)), 'XcodecInputError', /input_values/],
      [() => model.encode(x, { onProgress: 5 }), 'XcodecInputError', /onProgress is 5; accepted: a function/],
      [
        () => model.encode({ data: new Float32Array(4), dims: [1, 1, 4], extra: () => 1 }),
        'XcodecInputError',
        /cannot be sent to the model's worker/,
      ],
    ]) {
      const e = await call().then(
        () => null,
        (err) => err,
      );
      assert.ok(e, `${pattern} rejects`);
      assert.is(e.name, name, `${pattern}: ${e}`);
      assert.ok(e instanceof Error);
      assert.match(e.message, pattern);
    }
    assert.ok(same((await model.encode(x)).audioCodes.data, sync.encode(x).audioCodes.data));
    await model.dispose();
    const after = await model.encode(x).then(
      () => null,
      (err) => err,
    );
    assert.is(after?.name, 'XcodecRuntimeError');
    assert.match(after.message, /disposed/);
  } finally {
    await model.dispose();
  }
});

test('no worker: worker false runs on this thread; a missing worker script falls back under auto and fails under true', async () => {
  const local = await XcodecModel.fromPretrained(dir, { numThreads: 1, worker: false });
  assert.is(local.runsOn, 'caller');
  assert.ok(same((await local.encode(cases[0].x)).audioCodes.data, sync.encode(cases[0].x).audioCodes.data));
  await local.dispose();
  const missing = new URL('./no-such-worker.js', import.meta.url);
  const fallback = await XcodecModel.fromPretrained(dir, { numThreads: 1, workerUrl: missing });
  assert.is(fallback.runsOn, 'caller');
  assert.match(fallback.workerFallbackReason, /^no worker: the model's worker did not start: /);
  assert.ok(same((await fallback.encode(cases[0].x)).audioCodes.data, sync.encode(cases[0].x).audioCodes.data));
  await fallback.dispose();
  const e = await XcodecModel.fromPretrained(dir, { worker: true, workerUrl: missing }).then(
    () => null,
    (err) => err,
  );
  assert.is(e?.name, 'XcodecRuntimeError');
  assert.match(e.message, /the model's worker did not start/);
  const bad = await XcodecModel.fromPretrained(dir, { worker: 'yes' }).then(
    () => null,
    (err) => err,
  );
  assert.match(bad?.message ?? '', /worker "yes" is not accepted; accepted: 'auto', true, false/);
});

test('a load that fails in the worker fails with the same typed error; decoder-only loading works through the worker', async () => {
  const e = await XcodecModel.fromPretrained(join(fixtures, 'no-such-model')).then(
    () => null,
    (err) => err,
  );
  const expected = await XcodecModelSync.fromPretrained(join(fixtures, 'no-such-model')).then(
    () => null,
    (err) => err,
  );
  assert.is(e?.name, expected.name);
  assert.is(e.message, expected.message);
  const decoder = await XcodecModel.fromPretrained(dir, { components: 'decoder', numThreads: 1 });
  try {
    assert.is(decoder.components, 'decoder');
    const codes = sync.encode(cases[0].x);
    assert.ok(same((await decoder.decode(codes)).audioValues.data, sync.decode(codes).audioValues.data));
    const refused = await decoder.encode(cases[0].x).then(
      () => null,
      (err) => err,
    );
    assert.match(refused?.message ?? '', /cannot encode/);
  } finally {
    await decoder.dispose();
  }
});

test('a script that never disposes its model still exits (the idle worker does not hold the process)', () => {
  const script = `import { XcodecModel } from ${JSON.stringify(join(here, '..', 'dist', 'node', 'index.js'))};
const m = await XcodecModel.fromPretrained(${JSON.stringify(dir)}, { numThreads: 2 });
const { audioCodes } = await m.encode(new Float32Array(16000));
console.log(m.runsOn, audioCodes.dims.join('x'));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^worker 1x\d+x50/);
});

test.after(() => sync.dispose());
test.run();
