// Precompiled kernels (LoadOptions.wasmModules) for hosts that forbid compiling WebAssembly from bytes:
// the package's own .wasm files through its exports map, compiled by the host, give the same codes; a
// module for the wrong slot or of the wrong type is a typed error; without a '-threads' build the
// model runs on one thread and says why. (The forbidden compile itself is tested under workerd.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { XcodecModelSync } from '../../dist/node/index.js';
import { fixtures, manifest, npy } from '../support/helpers.mjs';

const dir = join(fixtures, 'tiny-hubert');
const c = manifest('tiny-hubert').cases[0];
const a = npy(join(dir, 'cases', c.input_values));
const x = { data: a.data, dims: a.shape };
const require = createRequire(import.meta.url);
/** As a bundler or workerd would find it: xcodec-wasm/wasm/<name>.wasm through the package's exports map. */
const wasm = (name) => new WebAssembly.Module(readFileSync(require.resolve(`xcodec-wasm/wasm/${name}.wasm`)));
const same = (p, q) => p.length === q.length && p.every((v, i) => v === q[i]);

test('precompiled simd and relaxed modules load and give the codes of the inlined builds', async () => {
  const inlined = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, simd: 'simd' });
  const expected = inlined.encode(x).audioCodes.data;
  inlined.dispose();
  const relaxedHere = WebAssembly.validate(readFileSync(require.resolve('xcodec-wasm/wasm/relaxed.wasm')));
  const sets = [
    ['simd', () => ({ simd: wasm('simd') })],
    ...(relaxedHere ? [['relaxed', () => ({ simd: wasm('simd'), relaxed: wasm('relaxed') })]] : []),
  ];
  if (!relaxedHere)
    process.stdout.write(
      `  relaxed SIMD does not validate in Node ${process.version} without --experimental-wasm-relaxed-simd: the relaxed module is checked in the child below\n`,
    );
  for (const [flavour, make] of sets) {
    const modules = make();
    const m = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, wasmModules: modules });
    assert.is(m.simdFlavour, flavour, `auto picks ${flavour} from ${Object.keys(modules).join(', ')}`);
    const codes = m.encode(x).audioCodes.data;
    if (flavour === 'simd') assert.ok(same(codes, expected), 'simd: the same codes');
    m.dispose();
  }
});

test('with relaxed SIMD enabled (Node 20 needs the flag), auto takes the precompiled relaxed module', () => {
  const script = `import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { XcodecModelSync } from ${JSON.stringify(new URL('../../dist/node/index.js', import.meta.url).href)};
const require = createRequire(${JSON.stringify(import.meta.url)});
const wasm = (n) => new WebAssembly.Module(readFileSync(require.resolve('xcodec-wasm/wasm/' + n + '.wasm')));
const m = await XcodecModelSync.fromPretrained(${JSON.stringify(dir)}, { numThreads: 1, wasmModules: { simd: wasm('simd'), relaxed: wasm('relaxed') } });
const { audioCodes } = m.encode(new Float32Array(16000));
console.log(m.simdFlavour, audioCodes.dims.join('x'));`;
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^relaxed 1x8x50/);
});

test('threads take the -threads builds; without them one thread and the reason', async () => {
  const one = await XcodecModelSync.fromPretrained(dir, { numThreads: 2, wasmModules: { simd: wasm('simd') } });
  assert.is(one.numThreads, 1);
  assert.match(one.threadsFallbackReason, /wasmModules has no "relaxed-threads" or "simd-threads" module/);
  const expected = one.encode(x).audioCodes.data;
  one.dispose();
  const two = await XcodecModelSync.fromPretrained(dir, {
    numThreads: 2,
    wasmModules: { simd: wasm('simd'), 'simd-threads': wasm('simd-threads') },
  });
  assert.is(two.numThreads, 2);
  assert.is(two.threadsFallbackReason, null);
  assert.ok(same(two.encode(x).audioCodes.data, expected), 'bit-identical on 2 threads');
  two.dispose();
});

test('bad wasmModules are typed errors that say what is accepted', async () => {
  for (const [modules, pattern] of [
    [
      5,
      /wasmModules 5 is not accepted; accepted: \{ simd\?, relaxed\?, 'simd-threads'\?, 'relaxed-threads'\? \} of WebAssembly.Module/,
    ],
    [
      { fast: wasm('simd') },
      /wasmModules has "fast"; accepted keys: "simd", "relaxed", "simd-threads", "relaxed-threads"/,
    ],
    [
      { simd: new Uint8Array(4) },
      /wasmModules\["simd"\] is .* not a WebAssembly.Module \(import xcodec-wasm\/wasm\/simd.wasm as a WebAssembly module, or compile it\)/,
    ],
    [{ 'simd-threads': wasm('simd-threads') }, /wasmModules has no "relaxed" or "simd" module/],
  ]) {
    const e = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, wasmModules: modules }).then(
      () => null,
      (err) => err,
    );
    assert.is(e?.name, 'XcodecInputError', String(e));
    assert.match(e.message, pattern);
  }
});

test.run();
