// Hub downloads in huggingface_hub's cache layout, against a server on 127.0.0.1 that speaks the Hub's
// resolve API: HEAD for metadata (X-Repo-Commit, ETag, X-Linked-Etag / X-Linked-Size), a redirect to
// storage for the weights, Range requests there. A download cut mid-file resumes with a Range request;
// a cache written by hand in Python's layout loads offline (HF_HUB_OFFLINE) with no request, and when the
// Hub is unreachable; offline with a file missing says which; the environment variables choose the cache.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecFeatureExtractor, XcodecModelSync } from '../../dist/node/index.js';
import { assertCodesEqual, fixtures, freePort, npy } from '../support/helpers.mjs';

const src = join(fixtures, 'tiny-hubert');
const FILES = ['config.json', 'preprocessor_config.json', 'model.safetensors'];
const COMMIT = createHash('sha1').update('tiny-xcodec@main').digest('hex');
const bytes = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(src, f))]));
// the Hub names small files by their git blob sha1 and LFS files (the weights) by their sha256
const etag = Object.fromEntries(
  FILES.map((f) => [
    f,
    f === 'model.safetensors'
      ? createHash('sha256').update(bytes[f]).digest('hex')
      : createHash('sha1').update(`blob ${bytes[f].length}\0`).update(bytes[f]).digest('hex'),
  ]),
);

const requests = [];
let cutAfter = 0; // > 0: the storage sends this many bytes of the weights, then drops the connection
const server = createServer((req, res) => {
  requests.push({ method: req.method, url: req.url, range: req.headers.range ?? null });
  const m = /^\/test-org\/tiny-xcodec\/resolve\/([\w.-]+)\/([\w.-]+)$/.exec(req.url);
  if (m && (m[1] === 'main' || m[1] === COMMIT) && bytes[m[2]]) {
    const f = m[2];
    const headers = { 'x-repo-commit': COMMIT, etag: `"${etag[f]}"` };
    if (f === 'model.safetensors') {
      res
        .writeHead(302, {
          ...headers,
          'x-linked-etag': `"${etag[f]}"`,
          'x-linked-size': String(bytes[f].length),
          location: `http://${req.headers.host}/storage/${etag[f]}`,
        })
        .end(); // absolute, as the Hub's CDN redirect
    } else {
      res.writeHead(200, { ...headers, 'content-length': bytes[f].length });
      res.end(req.method === 'HEAD' ? undefined : bytes[f]);
    }
    return;
  }
  const s = /^\/storage\/([0-9a-f]{64})$/.exec(req.url);
  if (s && s[1] === etag['model.safetensors']) {
    const body = bytes['model.safetensors'];
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = r ? Number(r[1]) : 0;
    const part = body.subarray(from);
    res.writeHead(r ? 206 : 200, {
      'content-length': part.length,
      ...(r ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    if (cutAfter > 0) {
      res.write(part.subarray(0, cutAfter));
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.end(part);
    return;
  }
  res.writeHead(404).end('not found');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${server.address().port}`;
const repoDir = (cache) => join(cache, 'models--test-org--tiny-xcodec');

function checkCodes(model) {
  const input = npy(join(src, 'cases', 'mono_1.0s', 'input_values.npy'));
  const { audioCodes } = model.encode({ data: input.data, dims: input.shape });
  assertCodesEqual(
    audioCodes.data,
    npy(join(src, 'cases', 'mono_1.0s', 'audio_codes_bw4.npy')).data,
    'codes from the cached model',
  );
}

/** A cache as Python's huggingface_hub writes it, by hand: blobs named by ETag, relative links, a ref. */
function pythonCache(cache, commit = COMMIT) {
  const dir = repoDir(cache);
  mkdirSync(join(dir, 'blobs'), { recursive: true });
  mkdirSync(join(dir, 'snapshots', commit), { recursive: true });
  mkdirSync(join(dir, 'refs'), { recursive: true });
  for (const f of FILES) {
    copyFileSync(join(src, f), join(dir, 'blobs', etag[f]));
    symlinkSync(join('..', '..', 'blobs', etag[f]), join(dir, 'snapshots', commit, f));
  }
  writeFileSync(join(dir, 'refs', 'main'), commit);
}

test('a repository id downloads into the huggingface_hub layout and loads; a second load reads no file again', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'xcodec-hub-'));
  checkCodes(await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } }));
  const dir = repoDir(cacheDir);
  assert.is(readFileSync(join(dir, 'refs', 'main'), 'utf8'), COMMIT, 'refs/main holds the commit');
  for (const f of FILES) {
    const pointer = join(dir, 'snapshots', COMMIT, f);
    assert.ok(lstatSync(pointer).isSymbolicLink(), `${f} is a link`);
    assert.is(readlinkSync(pointer), join('..', '..', 'blobs', etag[f]), `${f} -> ../../blobs/<etag>`);
    assert.ok(readFileSync(join(dir, 'blobs', etag[f])).equals(bytes[f]), `blobs/${etag[f]} holds ${f}`);
  }
  const before = requests.length;
  checkCodes(await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } }));
  const again = requests.slice(before);
  assert.ok(
    again.every((r) => r.method === 'HEAD'),
    `the second load only asks for metadata: ${JSON.stringify(again)}`,
  );
  const fe = await XcodecFeatureExtractor.fromPretrained('test-org/tiny-xcodec', { endpoint, cacheDir });
  assert.is(fe.config.hopLength, 320);
});

test('a download cut mid-file keeps its bytes and resumes with a Range request; the result is byte-identical', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'xcodec-hub-'));
  cutAfter = 1000;
  const e = await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } }).then(
    () => null,
    (err) => err,
  );
  cutAfter = 0;
  assert.is(e?.name, 'XcodecCheckpointError', String(e));
  assert.match(
    e.message,
    /model\.safetensors: download (failed|ended) after 1000 of \d+ bytes.*run again to resume from .*\.incomplete/,
  );
  const blob = join(repoDir(cacheDir), 'blobs', etag['model.safetensors']);
  assert.is(statSync(`${blob}.incomplete`).size, 1000, 'the first 1000 bytes are kept');
  assert.not.ok(
    existsSync(join(repoDir(cacheDir), 'snapshots', COMMIT, 'model.safetensors')),
    'no snapshot link to a partial file',
  );
  const before = requests.length;
  checkCodes(await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } }));
  assert.ok(
    requests.slice(before).some((r) => r.method === 'GET' && r.range === 'bytes=1000-'),
    'resumed with Range: bytes=1000-',
  );
  assert.ok(readFileSync(blob).equals(bytes['model.safetensors']), 'the resumed blob is the file');
  assert.not.ok(existsSync(`${blob}.incomplete`));
});

test("a cache written in Python's layout loads offline (HF_HUB_OFFLINE=1, HF_HUB_CACHE) with no request", async () => {
  const cache = mkdtempSync(join(tmpdir(), 'xcodec-hub-py-'));
  pythonCache(cache);
  const saved = { ...process.env };
  process.env.HF_HUB_CACHE = cache;
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const before = requests.length;
    checkCodes(await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint } }));
    assert.is(requests.length, before, 'offline: no request at all');
    // a commit as the revision needs no ref
    checkCodes(await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, revision: COMMIT } }));
    const missing = await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', {
      hub: { endpoint, revision: 'v2' },
    }).then(
      () => null,
      (err) => err,
    );
    assert.is(missing?.name, 'XcodecCheckpointError');
    assert.match(
      missing.message,
      /test-org\/tiny-xcodec@v2: offline \(HF_HUB_OFFLINE\), and the cache .*models--test-org--tiny-xcodec has no refs\/v2/,
    );
    assert.is(requests.length, before, 'still no request');
  } finally {
    process.env = saved;
  }
});

test('offline with a file missing from the snapshot names it; an unreachable Hub falls back to the cache', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'xcodec-hub-py-'));
  pythonCache(cache);
  const closed = `http://127.0.0.1:${await freePort()}`;
  checkCodes(
    await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint: closed, cacheDir: cache } }),
  );
  const empty = mkdtempSync(join(tmpdir(), 'xcodec-hub-empty-'));
  const e = await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', {
    hub: { endpoint: closed, cacheDir: empty },
  }).then(
    () => null,
    (err) => err,
  );
  assert.match(e?.message ?? '', /the Hub is unreachable \(.*ECONNREFUSED.*\), and the cache .* has no refs\/main/);
  const partial = mkdtempSync(join(tmpdir(), 'xcodec-hub-py-'));
  pythonCache(partial);
  const { rmSync } = await import('node:fs');
  rmSync(join(repoDir(partial), 'snapshots', COMMIT, 'model.safetensors'));
  const m = await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', {
    hub: { endpoint, cacheDir: partial, offline: true },
  }).then(
    () => null,
    (err) => err,
  );
  assert.match(m?.message ?? '', /has neither model\.safetensors nor model\.safetensors\.index\.json in the cache/);
});

test('HF_HOME chooses the cache when HF_HUB_CACHE is unset; a missing repository is a clear error', async () => {
  const home = mkdtempSync(join(tmpdir(), 'xcodec-hf-home-'));
  const saved = { ...process.env };
  delete process.env.HF_HUB_CACHE;
  delete process.env.HF_HUB_OFFLINE;
  process.env.HF_HOME = home;
  try {
    checkCodes(await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint } }));
    assert.ok(existsSync(join(home, 'hub', 'models--test-org--tiny-xcodec', 'refs', 'main')));
    const e = await XcodecModelSync.fromPretrained('test-org/missing', { hub: { endpoint } }).then(
      () => null,
      (err) => err,
    );
    assert.is(e?.name, 'XcodecCheckpointError');
    assert.match(e.message, /test-org\/missing\/resolve\/main\/config\.json: not found \(HTTP 404\)/);
  } finally {
    process.env = saved;
  }
});

test('the CLI takes a repository id, shows the download per file, and then runs offline from the cache', async () => {
  const { spawn } = await import('node:child_process');
  const cache = mkdtempSync(join(tmpdir(), 'xcodec-hub-cli-'));
  const cli = join(fixtures, '..', '..', 'dist', 'node', 'cli.js');
  const run = (env) =>
    new Promise((resolve) => {
      // async spawn: this process serves the downloads meanwhile
      const child = spawn(
        process.execPath,
        [
          cli,
          'encode',
          join(fixtures, 'pipeline-tiny-hubert', 'mono_16000_int16.wav'),
          '-o',
          join(cache, 'codes.npy'),
          '--model',
          'test-org/tiny-xcodec',
        ],
        { env: { ...process.env, HF_ENDPOINT: endpoint, HF_HUB_CACHE: cache, ...env } },
      );
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('exit', (status) => resolve({ status, stderr }));
    });
  const first = await run({});
  assert.is(first.status, 0, first.stderr);
  assert.match(first.stderr, /downloading model\.safetensors: 100% of \d+\.\d MiB/);
  const before = requests.length;
  const second = await run({ HF_HUB_OFFLINE: '1' });
  assert.is(second.status, 0, second.stderr);
  assert.not.match(second.stderr, /downloading/);
  assert.is(requests.length, before, 'offline: no request');
});

test.after(() => server.close());
test.run();
