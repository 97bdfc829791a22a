// XcodecModel's worker starts under whatever Node flags the application runs with: flags Node refuses
// in a worker (V8's --max-old-space-size, --expose-gc, --experimental-wasm-relaxed-simd) are dropped
// for it instead of silently moving the model onto the caller's thread; a worker that cannot start
// under { worker: true } is an XcodecRuntimeError saying why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { XcodecModel } from '../../dist/node/index.js';
import { fixtures } from '../support/helpers.mjs';

const entry = join(fixtures, '..', '..', 'dist', 'node', 'index.js');
const dir = join(fixtures, 'tiny-hubert');
const script = `import { XcodecModel } from ${JSON.stringify(entry)};
const m = await XcodecModel.fromPretrained(${JSON.stringify(dir)}, { numThreads: 2 });
const { audioCodes } = await m.encode(new Float32Array(16000).map((_, i) => Math.sin(i / 7) / 10), { bandwidth: 2 });
console.log(JSON.stringify({ runsOn: m.runsOn, why: m.workerFallbackReason, dims: audioCodes.dims, flavour: m.simdFlavour }));
await m.dispose();`;

for (const flags of [
  ['--max-old-space-size=512'],
  ['--expose-gc'],
  ['--experimental-wasm-relaxed-simd', '--max-old-space-size=400', '--expose-gc'],
]) {
  test(`node ${flags.join(' ')}: the model still runs in its worker`, () => {
    const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.is(out.runsOn, 'worker', `fell back to the caller's thread: ${out.why}`);
    assert.equal(out.dims, [1, 4, 50]);
    if (flags.includes('--experimental-wasm-relaxed-simd'))
      assert.is(out.flavour, 'relaxed', 'the V8 flag still applies');
  });
}

test('{ worker: true } with a worker that cannot start is an XcodecRuntimeError that says why', async () => {
  let error = null;
  try {
    await XcodecModel.fromPretrained(dir, { worker: true, workerUrl: 'http://127.0.0.1:9/model_worker.js' });
  } catch (e) {
    error = e;
  }
  assert.is(error?.name, 'XcodecRuntimeError', String(error));
  assert.match(error.message, /the model's worker did not start: .*(scheme|URL)/);
  const fallback = await XcodecModel.fromPretrained(dir, { workerUrl: 'http://127.0.0.1:9/model_worker.js' });
  assert.is(fallback.runsOn, 'caller');
  assert.match(fallback.workerFallbackReason, /^no worker: the model's worker did not start: /);
  await fallback.dispose();
});

test.run();
