// The arena's memory scope and measuring pass (src/backend/runtime.ts), and the model's measured
// memory: XcodecModelSync.encodeMemoryBytes equals what a real encode allocates, on every tiny model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Runtime } from '../../dist/backend/runtime.js';
import { XcodecModelSync } from '../../dist/node/index.js';
import { fixtures } from '../support/helpers.mjs';

const rt = await Runtime.create({ numThreads: 1 });

test('scope: keeps the returned tensor at the mark and releases the rest', () => {
  const start = rt.mark();
  const y = rt.scope(() => {
    rt.tensor([64, 64]); // a temporary
    const out = rt.tensor([2, 3]);
    rt.f32.set([1, 2, 3, 4, 5, 6], out.ptr >>> 2);
    return out;
  });
  assert.is(y.ptr, start, 'the result moved down to where the scope began');
  assert.equal([...rt.view(y)], [1, 2, 3, 4, 5, 6]);
  assert.is(rt.mark(), start + 64, 'only the result (24 bytes, one cache line) is still allocated');
  rt.release(start);
});

test('scope: a result allocated before the scope (an into buffer) is returned as it is; void scopes release all', () => {
  const into = rt.tensor([4]);
  const after = rt.mark();
  assert.is(
    rt.scope(() => {
      rt.tensor([100]);
      return into;
    }),
    into,
  );
  assert.is(rt.mark(), after);
  rt.scope(() => {
    rt.tensor([100]);
  });
  assert.is(rt.mark(), after);
  rt.release(into.ptr);
});

test('scope: a throw releases everything and reaches the caller', () => {
  const start = rt.mark();
  assert.throws(
    () =>
      rt.scope(() => {
        rt.tensor([1000]);
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.is(rt.mark(), start);
});

test('measure: counts allocations without growing or writing memory, skips kernels, answers queries', () => {
  const start = rt.mark();
  const memory = rt.memory.buffer.byteLength;
  const peak = rt.peakBytes;
  let queried = 0;
  const bytes = rt.measure(() => {
    const a = rt.tensor([1 << 26]); // 256 MiB: never really allocated
    rt.k.gelu(a.ptr, a.ptr, 0, 1 << 26); // skipped (it would trap: the memory is not there)
    queried = rt.k.attention_block_keys();
    rt.scope(() => rt.tensor([1 << 20]));
  });
  assert.is(bytes, 4 * (1 << 26) + 4 * (1 << 20));
  assert.is(rt.memory.buffer.byteLength, memory, 'no memory grown');
  assert.is(rt.peakBytes, peak, 'the peak is untouched');
  assert.is(rt.mark(), start);
  assert.ok(queried > 0, 'a query still answers');
  assert.is(rt.isMeasuring, false);
});

for (const name of ['tiny-hubert', 'tiny-hubert-layernorm', 'tiny-wavlm', 'tiny-higgs']) {
  test(`${name}: encodeMemoryBytes is what a real encode allocates, at two lengths and windowed`, async () => {
    for (const [seconds, windowFrames] of [
      [3, undefined],
      [11, 100],
    ]) {
      const m = await XcodecModelSync.fromPretrained(join(fixtures, name), { numThreads: 1 });
      const n = Math.round(seconds * m.config.sampleRate) + 17;
      const loaded = m.wasmMemoryBytes;
      const measured = m.encodeMemoryBytes(n, { windowFrames });
      assert.is(m.wasmMemoryBytes, loaded, 'measuring allocated nothing');
      const x = new Float32Array(n).map((_, i) => 0.1 * Math.sin(i * 0.01));
      m.encode(x, { windowFrames, bandwidth: Math.max(...m.config.targetBandwidths) });
      assert.is(m.wasmMemoryBytes - loaded, measured, `${name} ${seconds} s: real peak above the load`);
      m.dispose();
    }
  });
}

test.run();
