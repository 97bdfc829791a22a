// xcodec tokenize on one machine: outputs beside the inputs' relative paths, one bad file that never
// stops the run, resume after SIGKILL with outputs byte-identical to an uninterrupted run, shards that
// split the inputs, YuE ids, JSONL manifests. Codes equal a lone encode of each file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecFeatureExtractor, XcodecModelSync, toYueTokens } from '../../dist/node/index.js';
import { loadAudio, readNpy } from '../../dist/audio.js';
import { fixtures, here } from '../support/helpers.mjs';
import { dataset, finishedJson, sameTree, tree } from '../support/datasets.mjs';

const cli = join(here, '..', 'dist', 'node', 'cli.js');
const modelDir = join(fixtures, 'tiny-hubert');
const root = mkdtempSync(join(tmpdir(), 'xcodec-tokenize-'));
const tokenize = (...args) =>
  spawnSync(process.execPath, [cli, 'tokenize', ...args, '--model', modelDir], { encoding: 'utf8', timeout: 300000 });

const input = dataset(join(root, 'in'));
const out = join(root, 'out');

test('a directory: .npy and .json per file at its relative path, errors.jsonl holds the bad file, codes equal a lone encode', async () => {
  const r = tokenize(input, '-o', out, '--bandwidth', '2');
  assert.is(r.status, 1, `exit 1 because one file failed: ${r.stderr}`);
  assert.match(r.stderr, /8 encoded, 0 already done, 1 failed/);
  const errors = readFileSync(join(out, 'errors.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    errors.map((e) => e.path),
    ['sub/bad.wav'],
  );
  assert.match(errors[0].error, /not an audio file of an accepted format/);
  const manifest = readFileSync(join(out, 'manifest.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const paths = manifest.map((m) => m.path);
  assert.is(paths.length, 8);
  assert.equal(paths, [...paths].sort(), 'sorted by path');
  const model = await XcodecModelSync.fromPretrained(modelDir, { numThreads: 1 });
  const fe = await XcodecFeatureExtractor.fromPretrained(modelDir);
  try {
    for (const m of manifest) {
      const stem = m.path.replace(/\.\w+$/, '');
      assert.equal(
        JSON.parse(readFileSync(join(out, `${stem}.json`), 'utf8')),
        m,
        `${m.path}: the manifest line is its .json`,
      );
      const bytes = readFileSync(join(out, `${stem}.npy`));
      assert.is(
        m.npy_sha256,
        (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'),
        `${m.path}: sha256`,
      );
      const got = readNpy(new Uint8Array(bytes));
      assert.is(got.dtype, '<i2', 'int16 by default');
      const samples = await loadAudio(new Uint8Array(readFileSync(join(input, m.path))), { sampleRate: 16000 });
      const expected = model.encode(fe.call(samples, { samplingRate: 16000 }).inputValues, { bandwidth: 2 }).audioCodes;
      assert.equal(got.shape, expected.dims.slice(1), `${m.path}: shape (nq, T)`);
      assert.ok(
        got.data.every((v, i) => BigInt(v) === expected.data[i]),
        `${m.path}: codes equal a lone encode`,
      );
      assert.is(m.num_quantizers, 4);
      assert.is(m.frames, expected.dims[2]);
      assert.ok(m.seconds > 0 && m.sample_rate >= 8000 && m.channels >= 1);
    }
  } finally {
    model.dispose();
  }
  assert.not.ok(
    Object.keys(tree(out)).some((k) => k.includes('.tmp')),
    'no temporary files left',
  );
});

test('a rerun skips finished files and leaves every output byte-identical', () => {
  const before = tree(out);
  const r = tokenize(input, '-o', out, '--bandwidth', '2', '--jobs', '1');
  assert.is(r.status, 1);
  assert.match(r.stderr, /0 encoded, 8 already done, 1 failed/);
  sameTree(tree(out), before, 'rerun');
});

test('SIGKILL mid-run, then the same command: outputs byte-identical to an uninterrupted run (and to another job count)', async () => {
  const big = dataset(join(root, 'big'), 4); // 32 audio files and the bad one
  const whole = join(root, 'whole');
  assert.is(tokenize(big, '-o', whole, '--jobs', '2').status, 1);
  const killed = join(root, 'killed');
  const child = spawn(
    process.execPath,
    [cli, 'tokenize', big, '-o', killed, '--model', modelDir, '--jobs', '1', '-q'],
    { stdio: 'ignore' },
  );
  const countJson = () => finishedJson(killed);
  await new Promise((resolve) => {
    const poll = setInterval(() => {
      if (countJson() >= 5) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve();
      }
    }, 5);
  });
  await new Promise((r) => child.on('exit', r));
  const partial = countJson();
  assert.ok(partial >= 5 && partial < 32, `killed with ${partial} of 32 files done`);
  const r = tokenize(big, '-o', killed, '--jobs', '1');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`${32 - partial} encoded, ${partial} already done, 1 failed`));
  const k = tree(killed);
  for (const name of Object.keys(k)) if (name.includes('.tmp')) delete k[name]; // a temporary the kill left behind is not an output
  sameTree(k, tree(whole), 'resumed vs uninterrupted');
});

test('--shard I/N: the shards are disjoint and together give the whole run', () => {
  const a = join(root, 'shard0');
  const b = join(root, 'shard1');
  tokenize(input, '-o', a, '--bandwidth', '2', '--shard', '0/2');
  tokenize(input, '-o', b, '--bandwidth', '2', '--shard', '1/2');
  const lines = (d) => readFileSync(join(d, 'manifest.jsonl'), 'utf8').trim().split('\n').filter(Boolean);
  const union = [...lines(a), ...lines(b)].sort((x, y) => (JSON.parse(x).path < JSON.parse(y).path ? -1 : 1));
  assert.ok(lines(a).length > 0 && lines(b).length > 0, 'both shards have files');
  assert.equal(union, lines(out), 'the two manifests make the whole one');
  const errorsA = readFileSync(join(a, 'errors.jsonl'), 'utf8');
  const errorsB = readFileSync(join(b, 'errors.jsonl'), 'utf8');
  assert.is((errorsA + errorsB).trim().split('\n').length, 1, 'the bad file is in exactly one shard');
});

test('--format yue writes YuE ids (int32, 1-D); --dtype int64; a JSONL manifest of relative paths', () => {
  const yue = join(root, 'yue');
  writeFileSync(
    join(input, 'list.jsonl'),
    `${JSON.stringify({ path: 'mono_16000_int16.wav' })}\n${JSON.stringify({ path: 'sub/speech_mono.opus' })}\n`,
  );
  assert.is(tokenize(join(input, 'list.jsonl'), '-o', yue, '--format', 'yue', '--bandwidth', '0.5').status, 0);
  const codes = readNpy(new Uint8Array(readFileSync(join(out, 'mono_16000_int16.npy'))));
  const four = join(root, 'int64');
  assert.is(
    tokenize(join(input, 'mono_16000_int16.wav'), '-o', four, '--bandwidth', '0.5', '--dtype', 'int64').status,
    0,
  );
  const c64 = readNpy(new Uint8Array(readFileSync(join(four, 'mono_16000_int16.npy'))));
  assert.is(c64.dtype, '<i8');
  const ids = readNpy(new Uint8Array(readFileSync(join(yue, 'mono_16000_int16.npy'))));
  assert.is(ids.dtype, '<i4');
  assert.equal(ids.shape, [c64.shape[1]]);
  assert.equal(Array.from(ids.data), Array.from(toYueTokens({ data: c64.data, dims: c64.shape })));
  assert.ok(
    codes.data.subarray(0, 10).every((v, i) => BigInt(v) === c64.data[i]),
    '0.5 kbps codes are the first quantizer of the 2 kbps ones',
  );
  assert.ok(existsSync(join(yue, 'sub', 'speech_mono.json')));
  writeFileSync(join(root, 'bad.jsonl'), '{"path": "../escape.wav"}\n');
  const r = tokenize(join(root, 'bad.jsonl'), '-o', join(root, 'nothing'));
  assert.is(r.status, 1);
  assert.match(
    r.stderr,
    /bad\.jsonl:1: "path" is "\.\.\/escape\.wav"; accepted: a relative path inside the manifest's folder/,
  );
  assert.not.ok(existsSync(join(root, 'nothing')), 'nothing written for a bad manifest');
});

test('bad options are typed errors that list what is accepted', () => {
  for (const [args, pattern] of [
    [['-o', join(root, 'x'), input, '--format', 'wav'], /--format wav is not accepted; accepted: codes, yue/],
    [
      ['-o', join(root, 'x'), input, '--dtype', 'float32'],
      /--dtype float32 is not accepted; accepted: int16, int32, int64/,
    ],
    [['-o', join(root, 'x'), input, '--shard', '2/2'], /--shard 2\/2 is not accepted; accepted: I\/N with 0 <= I < N/],
    [['-o', join(root, 'x'), input, '--bandwidth', '3'], /bandwidth 3 is not supported by this model/],
    [[input], /missing -o OUT_DIR/],
    [['-o', join(root, 'x'), join(root, 'missing-dir')], /no such file or directory/],
  ]) {
    const r = tokenize(...args);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
