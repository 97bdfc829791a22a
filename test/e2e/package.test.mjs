// The package's shape: the entry is browser-safe (bundled for the browser by esbuild with nothing
// external, and no node: module among its imports), the exports map serves ./node and ./audio, the
// source import graph has no circle, and the kernel table (src/kernels.ts) is exactly what every
// WebAssembly build exports, argument for argument.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { KERNELS } from '../../dist/backend/kernels.js';

const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // test/
const root = join(here, '..');

/** esbuild's browser bundle of `entry`: { errors, nodeImports } (every node: import of any bundled file). */
async function bundleForBrowser(entry) {
  try {
    const r = await build({
      entryPoints: [join(root, entry)],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const nodeImports = [];
    for (const [file, input] of Object.entries(r.metafile.inputs)) {
      for (const imp of input.imports)
        if (imp.path.startsWith('node:') || imp.external) nodeImports.push(`${file} -> ${imp.path}`);
    }
    return { errors: [], nodeImports, bytes: r.outputFiles[0].contents.length };
  } catch (e) {
    return { errors: (e.errors ?? [{ text: e.message }]).map((x) => x.text), nodeImports: [] };
  }
}

for (const entry of ['dist/index.js', 'dist/audio.js']) {
  test(`${entry} bundles for the browser with no node: import anywhere in it`, async () => {
    const r = await bundleForBrowser(entry);
    assert.equal(r.errors, [], `esbuild failed: ${r.errors.join('; ')}`);
    assert.equal(r.nodeImports, [], `node-only imports reached from ${entry}`);
    assert.ok(r.bytes > 1000, 'the bundle has content');
  });
}

test('the bundling check catches Node imports: dist/node/index.js does not bundle for the browser', async () => {
  const r = await bundleForBrowser('dist/node/index.js');
  assert.ok(
    r.errors.length > 0 || r.nodeImports.length > 0,
    'the Node entry bundled for the browser without a node: import',
  );
  assert.ok(
    r.errors.some((t) => /node:/.test(t)) || r.nodeImports.length > 0,
    `the failure names a node: module (${r.errors.join('; ')})`,
  );
});

/** Runs an ES module snippet in a fresh Node process from the repository root; returns its stdout. */
function runModule(code) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, `the snippet failed: ${r.stderr}`);
  return r.stdout.trim();
}

test('exports map: xcodec-wasm, xcodec-wasm/node and xcodec-wasm/audio resolve by name', () => {
  const out = JSON.parse(
    runModule(`
    const main = await import('xcodec-wasm');
    const node = await import('xcodec-wasm/node');
    const audio = await import('xcodec-wasm/audio');
    console.log(JSON.stringify({
      main: typeof main.XcodecModelSync, sameClass: main.XcodecModelSync === node.XcodecModelSync,
      snapshot: typeof node.snapshotDownload, mainSnapshot: typeof main.snapshotDownload,
      audio: [typeof audio.decodeWav, typeof audio.readNpy, typeof audio.resample, typeof audio.readAudio],
    }));`),
  );
  assert.equal(out, {
    main: 'function',
    sameClass: true,
    snapshot: 'function',
    mainSnapshot: 'undefined',
    audio: ['function', 'function', 'function', 'function'],
  });
});

test('fromPretrained(dir) from the package entry alone is a typed error that names xcodec-wasm/node', () => {
  const out = JSON.parse(
    runModule(`
    const { XcodecModelSync, XcodecInputError } = await import('xcodec-wasm');
    try { await XcodecModelSync.fromPretrained('test/fixtures/tiny-hubert'); console.log('{"loaded":true}'); }
    catch (e) { console.log(JSON.stringify({ typed: e instanceof XcodecInputError, message: e.message })); }`),
  );
  assert.is(out.typed, true);
  assert.match(out.message, /xcodec-wasm\/node/);
  assert.match(out.message, /fromBuffers/);
  const loaded = runModule(`
    const { XcodecModelSync } = await import('xcodec-wasm/node');
    const m = await XcodecModelSync.fromPretrained('test/fixtures/tiny-hubert', { numThreads: 1 });
    console.log(m.config.semantic.modelType); m.dispose();`);
  assert.is(loaded, 'hubert');
});

/** Relative imports (type-only ones too) of every src/**\/*.ts file, as a graph of repository paths. */
function importGraph() {
  const graph = new Map();
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) {
        const text = readFileSync(p, 'utf8');
        const deps = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
          relative(root, resolve(dirname(p), m[1].replace(/\.js$/, '.ts'))),
        );
        graph.set(relative(root, p), deps);
      }
    }
  };
  walk(join(root, 'src'));
  return graph;
}

/** Every circle of a graph (Map: node -> its dependencies), as "a -> b -> a". */
function findCircles(graph) {
  const state = new Map();
  const circles = [];
  const visit = (f, path) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      circles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  return circles;
}

test('src/ import graph has no circle', () => {
  const graph = importGraph();
  assert.ok(graph.size > 20, `read ${graph.size} source files`);
  assert.ok(graph.get('src/index.ts').includes('src/api/xcodec_model_sync.ts'), 'imports are read');
  assert.equal(findCircles(graph), []);
});

test('the circle check finds a circle when there is one', () => {
  assert.equal(
    findCircles(
      new Map([
        ['a', ['b']],
        ['b', ['c', 'd']],
        ['c', ['a']],
        ['d', []],
      ]),
    ),
    ['a -> b -> c -> a'],
  );
});

test('the kernel table is what every WebAssembly build exports (names and argument counts)', async () => {
  const generated = join(root, 'dist', 'backend', 'generated');
  const builds = readdirSync(generated).filter((f) => f.startsWith('wasm-') && f.endsWith('.js'));
  assert.is(builds.length, 4, `four builds (${builds.join(', ')})`);
  for (const file of builds) {
    const { wasmBase64 } = await import(join(generated, file));
    const bytes = Buffer.from(wasmBase64, 'base64');
    const shared = file.includes('threads');
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared });
    let exports;
    try {
      const module = new WebAssembly.Module(bytes);
      exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    } catch (e) {
      if (/relaxed/.test(file) && !WebAssembly.validate(bytes)) continue; // relaxed SIMD off in this Node
      throw e;
    }
    const fns = Object.fromEntries(
      Object.entries(exports)
        .filter(([, v]) => typeof v === 'function')
        .map(([k, v]) => [k, v.length]),
    );
    const table = Object.fromEntries(Object.entries(KERNELS).map(([k, d]) => [k, d.args.length]));
    assert.equal(fns, table, `${file}: exports differ from src/kernels.ts`);
  }
});

test.run();
