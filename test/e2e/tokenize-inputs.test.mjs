// xcodec tokenize with inputs that would collide or confuse it: two inputs that map to one output are
// an error naming both before any encode (a.wav, a.g.wav and a.flac in one folder; ./a.wav beside a.flac
// in a manifest); file names that are not valid UTF-8 are read by their bytes and keep outputs of their
// own; and a resumed run checks each finished .npy against its .json, redoing the ones that changed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtures, here } from '../support/helpers.mjs';

const cli = join(here, '..', 'dist', 'node', 'cli.js');
const modelDir = join(fixtures, 'tiny-hubert');
const wav = join(fixtures, 'pipeline-tiny-hubert', 'mono_16000_int16.wav');
const flac = join(fixtures, 'audio', 'speech_en.flac');
const root = mkdtempSync(join(tmpdir(), 'xcodec-tokenize-inputs-'));
const tokenize = (...args) =>
  spawnSync(process.execPath, [cli, 'tokenize', ...args, '--model', modelDir, '--jobs', '1', '-q'], {
    encoding: 'utf8',
    timeout: 300000,
  });
test.after(() => rmSync(root, { recursive: true, force: true }));

test('a.wav, a.g.wav and a.flac in one folder: an error naming a.flac and a.wav, nothing encoded', () => {
  const dir = join(root, 'collide');
  mkdirSync(dir);
  copyFileSync(wav, join(dir, 'a.wav'));
  copyFileSync(wav, join(dir, 'a.g.wav'));
  copyFileSync(flac, join(dir, 'a.flac'));
  const out = join(root, 'collide-out');
  const r = tokenize(dir, '-o', out);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /a\.flac and .*a\.wav would write the same outputs \(a\.npy, a\.json\)/);
  assert.not.ok(existsSync(join(out, 'a.npy')), 'nothing encoded');
});

test('a manifest naming ./a.wav beside a.flac: the same error', () => {
  const dir = join(root, 'manifest');
  mkdirSync(dir);
  copyFileSync(wav, join(dir, 'a.wav'));
  copyFileSync(flac, join(dir, 'a.flac'));
  writeFileSync(join(dir, 'list.jsonl'), '{"path": "./a.wav"}\n{"path": "a.flac"}\n');
  const r = tokenize(join(dir, 'list.jsonl'), '-o', join(root, 'manifest-out'));
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /would write the same outputs \(a\.npy, a\.json\)/);
});

test('names that are not valid UTF-8: read by their bytes, each with outputs of its own', () => {
  const dir = join(root, 'bytes');
  mkdirSync(dir);
  // both decode to "\uFFFD.wav" as UTF-8 text; as bytes they are two files
  for (const b of [0xff, 0xfe])
    copyFileSync(wav, Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([b]), Buffer.from('.wav')]));
  const out = join(root, 'bytes-out');
  const r = tokenize(dir, '-o', out);
  assert.is(r.status, 0, r.stderr);
  assert.equal(
    readdirSync(out)
      .filter((f) => f.endsWith('.npy'))
      .sort(),
    ['%FE.npy', '%FF.npy'],
  );
  const manifest = readFileSync(join(out, 'manifest.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    manifest.map((m) => m.path),
    ['%FE.wav', '%FF.wav'],
  );
});

test('resume redoes a finished file whose .npy was deleted, emptied or changed', () => {
  const dir = join(root, 'resume');
  mkdirSync(dir);
  for (const n of ['x', 'y', 'z', 'w']) copyFileSync(wav, join(dir, `${n}.wav`));
  const out = join(root, 'resume-out');
  assert.is(tokenize(dir, '-o', out).status, 0);
  const original = readFileSync(join(out, 'x.npy'));
  rmSync(join(out, 'x.npy'));
  writeFileSync(join(out, 'y.npy'), '');
  const z = readFileSync(join(out, 'z.npy'));
  z[z.length - 1] ^= 1;
  writeFileSync(join(out, 'z.npy'), z);
  const r = spawnSync(process.execPath, [cli, 'tokenize', dir, '-o', out, '--model', modelDir, '--jobs', '1'], {
    encoding: 'utf8',
    timeout: 300000,
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /3 encoded, 1 already done, 0 failed/);
  for (const n of ['x', 'y', 'z']) assert.equal(readFileSync(join(out, `${n}.npy`)), original, `${n}.npy restored`);
});

test.run();
