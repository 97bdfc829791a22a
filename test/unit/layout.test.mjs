// The house rules of the source layout, checked on what the build emits and on the sources:
// layers import only downward (api -> model -> nn -> backend, checkpoint beside), nothing imports
// api but the entries and node/, the compiled graph has no circle, the src/ root holds the entries
// and errors.ts only, no source file passes 450 lines, and only backend/ calls a kernel directly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');

const walk = (dir, ext) =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p, ext) : p.endsWith(ext) ? [p] : [];
  });

/** The layer of a compiled file: its folder under dist/, 'errors' for errors.js, 'entry' for the other root files. */
function layerOf(file) {
  const parts = relative(dist, file).split('/');
  if (parts.length > 1) return parts[0];
  return parts[0] === 'errors.js' ? 'errors' : 'entry';
}

/** Every relative import (static, re-export or dynamic with a literal) of every compiled module. */
function compiledGraph() {
  const graph = new Map();
  for (const f of walk(dist, '.js')) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) =>
      resolve(dirname(f), m[1]),
    );
    graph.set(f, deps);
  }
  return graph;
}

/** What each layer may import besides itself. */
const ALLOWED = {
  errors: [],
  io: ['errors'],
  tokens: ['errors'],
  backend: ['errors'],
  nn: ['backend', 'io', 'errors'],
  checkpoint: ['backend', 'io', 'errors'],
  model: ['nn', 'backend', 'checkpoint', 'io', 'errors'],
  api: ['model', 'backend', 'checkpoint', 'io', 'tokens', 'errors'],
  node: ['entry', 'api', 'model', 'nn', 'backend', 'checkpoint', 'io', 'tokens', 'errors'],
  entry: ['api', 'model', 'nn', 'backend', 'checkpoint', 'io', 'tokens', 'errors'],
};

/** Imports that break ALLOWED, as "file -> file". */
function violations(graph) {
  const out = [];
  for (const [file, deps] of graph) {
    const from = layerOf(file);
    for (const d of deps) {
      const to = layerOf(d);
      if (to !== from && !(ALLOWED[from] ?? []).includes(to))
        out.push(`${relative(dist, file)} -> ${relative(dist, d)}`);
    }
  }
  return out;
}

function circles(graph) {
  const state = new Map();
  const found = [];
  const visit = (f, path) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      found.push([...path.slice(path.indexOf(f)), f].map((p) => relative(dist, p)).join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const d of graph.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  return found;
}

test('compiled modules import only downward: api -> model -> nn -> backend, checkpoint beside', () => {
  const graph = compiledGraph();
  assert.ok(graph.size > 40, `read ${graph.size} compiled modules`);
  const layers = new Set([...graph.keys()].map(layerOf));
  for (const l of layers) assert.ok(l in ALLOWED, `a layer the rules do not know: ${l}`);
  assert.equal(violations(graph), []);
});

test('the direction check catches an upward import (model -> api) and an import of api from a layer', () => {
  const at = (p) => join(dist, p);
  const graph = new Map([
    [at('model/network.js'), [at('api/xcodec_model.js')]],
    [at('nn/conv.js'), [at('backend/launch.js')]],
    [at('checkpoint/weights.js'), [at('api/checks.js')]],
  ]);
  assert.equal(violations(graph), [
    'model/network.js -> api/xcodec_model.js',
    'checkpoint/weights.js -> api/checks.js',
  ]);
});

test('the compiled import graph has no circle', () => {
  assert.equal(circles(compiledGraph()), []);
});

test('the src/ root holds at most 4 files: the entries and errors.ts', () => {
  const files = readdirSync(join(root, 'src')).filter((f) => statSync(join(root, 'src', f)).isFile());
  assert.ok(files.length <= 4, `src/ root: ${files.join(', ')}`);
  assert.ok(files.includes('index.ts') && files.includes('errors.ts'), files.join(', '));
});

test('no source file under src/ or assembly/ is over 450 lines', () => {
  const long = [...walk(join(root, 'src'), '.ts'), ...walk(join(root, 'assembly'), '.ts')]
    .filter((f) => !f.includes('/generated/'))
    .map((f) => [relative(root, f), readFileSync(f, 'utf8').split('\n').length - 1])
    .filter(([, n]) => n > 450);
  assert.equal(long, []);
});

test('only backend/ calls a kernel directly (everything else goes through its named helpers)', () => {
  const direct = walk(join(root, 'src'), '.ts')
    .filter((f) => !relative(join(root, 'src'), f).startsWith('backend/'))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => [line, i])
        .filter(([line]) => /\.(k|raw)\.[a-z_0-9]+\(/.test(line))
        .map(([, i]) => `${relative(root, f)}:${i + 1}`),
    );
  assert.equal(direct, []);
});

test('README.md: at most 300 lines, and every relative link in it names a file or folder that exists', () => {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(text.split('\n').length - 1 <= 300, `README.md has ${text.split('\n').length - 1} lines`);
  const links = [...text.matchAll(/\]\(((?!https?:)[^)#]+)(#[^)]*)?\)/g)].map((m) => m[1]);
  assert.ok(links.length >= 8, `read ${links.length} links`);
  const missing = links.filter((l) => {
    try {
      statSync(join(root, l));
      return false;
    } catch {
      return true;
    }
  });
  assert.equal(missing, []);
});

test('every src/ folder opens with a one-line description (its README.md)', () => {
  const folders = readdirSync(join(root, 'src')).filter((f) => statSync(join(root, 'src', f)).isDirectory());
  assert.ok(folders.length >= 8, folders.join(', '));
  for (const f of folders) {
    const text = readFileSync(join(root, 'src', f, 'README.md'), 'utf8');
    assert.match(text, new RegExp(`^# ${f}\\n\\n\\S`), `src/${f}/README.md`);
  }
});

// Commit subjects from the layout's first commit on are at most 72 characters (the why goes in the body).
const HOUSE = '6dcdc26';
const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
if (git('rev-parse', '--verify', '--quiet', `${HOUSE}^{commit}`).status === 0) {
  test('commit subjects since the layer folders are at most 72 characters', () => {
    const subjects = git('log', '--format=%s', `${HOUSE}^..HEAD`).stdout.split('\n').filter(Boolean);
    assert.ok(subjects.length >= 1);
    assert.equal(
      subjects.filter((s) => s.length > 72),
      [],
    );
  });
} else {
  process.stdout.write(`  (not a git checkout with ${HOUSE}: commit subjects not checked)\n`);
}

test.run();
