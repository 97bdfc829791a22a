// The package as a user installs it: `npm pack`, then `npm install` of the tarball into an empty
// project. The optional peer dependencies (bullmq, ioredis, cli-progress) stay out, the entries
// load, and the queue commands name what to install instead of failing on a missing module.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'xcodec-pack-'));
const app = join(work, 'app');
const npm = (args, cwd) =>
  spawnSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', timeout: 300_000 });

/** Every package directory under node_modules, scoped ones included. */
function installed(dir) {
  const out = [];
  const nm = join(dir, 'node_modules');
  if (!existsSync(nm)) return out;
  for (const name of readdirSync(nm)) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) for (const s of readdirSync(join(nm, name))) out.push(`${name}/${s}`);
    else out.push(name);
  }
  return out;
}

let tarball;
test.before(() => {
  const packed = npm(['pack', '--pack-destination', work, '--silent'], root);
  assert.is(packed.status, 0, packed.stderr);
  tarball = join(work, packed.stdout.trim().split('\n').pop());
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module' }));
  const r = npm(['install', tarball], app);
  assert.is(r.status, 0, `npm install of the tarball failed: ${r.stderr}`);
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test('npm install xcodec-wasm brings neither bullmq, ioredis nor cli-progress', () => {
  const names = installed(app);
  assert.ok(names.includes('xcodec-wasm'), `installed: ${names.join(', ')}`);
  for (const optional of ['bullmq', 'ioredis', 'cli-progress'])
    assert.not.ok(names.includes(optional), `${optional} was installed`);
});

test('the installed entries load: xcodec-wasm, xcodec-wasm/node, xcodec-wasm/audio', () => {
  const code = `const [m, n, a] = await Promise.all([import('xcodec-wasm'), import('xcodec-wasm/node'), import('xcodec-wasm/audio')]);
    console.log(typeof m.XcodecModel, typeof n.XcodecModelSync.fromPretrained, typeof a.loadAudio);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: app, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'function function function');
});

for (const args of [
  ['worker', '--queue', 'redis://127.0.0.1:1'],
  [
    'tokenize',
    join(root, 'test', 'fixtures', 'audio', 'speech_en.flac'),
    '-o',
    'out',
    '--queue',
    'redis://127.0.0.1:1',
  ],
]) {
  test(`xcodec ${args[0]}${args[0] === 'tokenize' ? ' --queue' : ''} without the queue packages says what to install`, () => {
    const r = spawnSync(
      process.execPath,
      [join(app, 'node_modules', 'xcodec-wasm', 'dist', 'node', 'cli.js'), ...args],
      {
        cwd: app,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.is.not(r.status, 0);
    assert.match(
      r.stderr,
      /needs the package "(ioredis|bullmq)", which is not installed; install it with: npm install bullmq ioredis/,
    );
  });
}

test('xcodec demo runs from the installed package (embedded model and sample)', () => {
  const r = spawnSync(
    process.execPath,
    [join(app, 'node_modules', 'xcodec-wasm', 'dist', 'node', 'cli.js'), 'demo', '-o', join(work, 'demo.wav')],
    { cwd: app, encoding: 'utf8', timeout: 120_000 },
  );
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(join(work, 'demo.wav')));
});

test.run();
