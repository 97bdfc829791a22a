// Hub downloads against a server on 127.0.0.1 that serves the fixture checkpoint like the Hub's
// /{repo}/resolve/{revision}/{file} URLs: files land in the cache, nothing partial is left on
// failure, and a missing repository is a clear error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecModelSync, XcodecFeatureExtractor } from '../dist/node/index.js';
import { fixtures, npy, assertCodesEqual } from './helpers.mjs';

const src = join(fixtures, 'tiny-hubert');
const requests = [];
let truncate = false;
const server = createServer((req, res) => {
  requests.push(req.url);
  const m = /^\/test-org\/tiny-xcodec\/resolve\/main\/([\w.-]+)$/.exec(req.url);
  if (!m || !existsSync(join(src, m[1]))) { res.writeHead(404).end('not found'); return; }
  const body = readFileSync(join(src, m[1]));
  res.writeHead(200, { 'content-length': body.length });
  if (truncate && m[1] === 'model.safetensors') { res.write(body.subarray(0, 1000)); res.destroy(); return; }
  res.end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${server.address().port}`;

test('a repository id downloads once into the cache and loads', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'xcodec-hub-'));
  const model = await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } });
  const input = npy(join(src, 'cases', 'mono_1.0s', 'input_values.npy'));
  const { audioCodes } = model.encode({ data: input.data, dims: input.shape });
  assertCodesEqual(audioCodes.data, npy(join(src, 'cases', 'mono_1.0s', 'audio_codes_bw4.npy')).data, 'codes from the downloaded model');
  const files = readdirSync(join(cacheDir, 'test-org--tiny-xcodec', 'main')).sort();
  assert.equal(files, ['config.json', 'model.safetensors', 'preprocessor_config.json']);
  const before = requests.length;
  await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } });
  assert.is(requests.length, before, 'second load is served from the cache');
  const fe = await XcodecFeatureExtractor.fromPretrained('test-org/tiny-xcodec', { endpoint, cacheDir });
  assert.is(fe.config.hopLength, 320);
});

test('an interrupted download leaves no partial file and reports the failure', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'xcodec-hub-'));
  truncate = true;
  try {
    await XcodecModelSync.fromPretrained('test-org/tiny-xcodec', { hub: { endpoint, cacheDir } });
    assert.unreachable('should fail');
  } catch (e) {
    assert.is(e.name, 'XcodecCheckpointError');
    assert.match(e.message, /model\.safetensors: download (ended after|failed)/);
  } finally {
    truncate = false;
  }
  const files = readdirSync(join(cacheDir, 'test-org--tiny-xcodec', 'main'));
  assert.not.ok(files.some((f) => f.startsWith('model.safetensors')), `no partial weights: ${files}`);
});

test('a missing repository is a clear error', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'xcodec-hub-'));
  try {
    await XcodecModelSync.fromPretrained('test-org/missing', { hub: { endpoint, cacheDir } });
    assert.unreachable('should fail');
  } catch (e) {
    assert.is(e.name, 'XcodecCheckpointError');
    assert.match(e.message, /test-org\/missing\/resolve\/main\/config\.json: not found \(HTTP 404\)/);
  }
});

test('after', () => { server.close(); assert.ok(true); });

test.run();
