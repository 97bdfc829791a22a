// The Hub client against servers that misbehave, on 127.0.0.1: one that accepts and never answers, a
// body that stalls, a body that never ends (with a small size announced, or none), and redirects to
// another origin, which must not receive the token. Each fails fast with a typed error naming the URL,
// and leaves nothing in blobs/ but the .incomplete file a resume would use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotDownload } from '../../dist/node/index.js';
import { fixtures } from '../support/helpers.mjs';

const src = join(fixtures, 'tiny-hubert');
const COMMIT = createHash('sha1').update('hostile').digest('hex');
const config = readFileSync(join(src, 'config.json'));
const weights = readFileSync(join(src, 'model.safetensors'));
const WEIGHTS_ETAG = createHash('sha256').update(weights).digest('hex');

let mode = 'ok';
const seen = []; // { port, url, authorization }
const sockets = new Set();

/** A server on its own port; `handle(req, res, port)` answers. */
async function serve(handle) {
  const s = createServer((req, res) => {
    seen.push({ port: s.address().port, url: req.url, authorization: req.headers.authorization ?? null });
    handle(req, res, s.address().port);
  });
  s.on('connection', (c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

// storage on another port: another origin, as the Hub's CDN is
const storage = await serve((_req, res) => {
  if (mode === 'endless' || mode === 'endless-unannounced') {
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const pump = () => {
      while (res.write(chunk)) if (res.destroyed) return;
      res.once('drain', pump);
    };
    pump();
    return;
  }
  if (mode === 'stall') {
    res.writeHead(200, { 'content-length': weights.length });
    res.write(weights.subarray(0, 1000)); // then nothing
    return;
  }
  res.writeHead(200, { 'content-length': weights.length }).end(weights);
});

const hub = await serve((req, res, port) => {
  if (mode === 'hang') return; // accepts, never answers
  const m = /^\/org\/hostile\/resolve\/([\w.-]+)\/([\w.-]+)$/.exec(req.url);
  const headers = { 'x-repo-commit': COMMIT };
  if (m?.[2] === 'config.json') {
    res.writeHead(200, { ...headers, etag: '"cfg1"', 'content-length': config.length });
    res.end(req.method === 'HEAD' ? undefined : config);
  } else if (m?.[2] === 'model.safetensors') {
    const size = mode === 'endless-unannounced' ? {} : { 'x-linked-size': String(weights.length) };
    const location =
      mode === 'same-origin'
        ? `http://127.0.0.1:${port}/storage/${WEIGHTS_ETAG}`
        : `http://127.0.0.1:${storage.address().port}/storage/${WEIGHTS_ETAG}`;
    res.writeHead(302, { ...headers, 'x-linked-etag': `"${WEIGHTS_ETAG}"`, ...size, location }).end();
  } else if (req.url.startsWith('/storage/')) {
    res.writeHead(200, { 'content-length': weights.length }).end(weights);
  } else res.writeHead(404).end();
});
const endpoint = `http://127.0.0.1:${hub.address().port}`;

/** snapshotDownload into a fresh cache; resolves { error, ms, cache }, failing on its own after `limitMs`. */
async function attempt(options, limitMs = 15000) {
  const cache = mkdtempSync(join(tmpdir(), 'xcodec-hostile-'));
  const t0 = Date.now();
  let timer;
  const outcome = await Promise.race([
    snapshotDownload('org/hostile', { endpoint, cacheDir: cache, ...options }).then(
      () => ({ error: null }),
      (error) => ({ error }),
    ),
    new Promise((r) => {
      timer = setTimeout(() => r({ error: new Error(`still waiting after ${limitMs} ms`) }), limitMs);
    }),
  ]);
  clearTimeout(timer);
  for (const c of sockets) c.destroy();
  return { ...outcome, ms: Date.now() - t0, cache };
}

/** What blobs/ holds of the weights (config.json's blob, complete, is there too). */
const blobs = (cache) => {
  const dir = join(cache, 'models--org--hostile', 'blobs');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(WEIGHTS_ETAG)) : [];
};

test('a server that accepts and never answers: a typed error naming the URL within the timeout', async () => {
  mode = 'hang';
  const r = await attempt({ timeoutMs: 500 });
  assert.is(r.error?.name, 'XcodecCheckpointError', String(r.error));
  assert.match(r.error.message, /resolve\/main\/config\.json: no response within 0\.5 s/);
  assert.ok(r.ms < 5000, `${r.ms} ms`);
});

test('a body that stalls: cut off after the read timeout, the .incomplete kept for a resume', async () => {
  mode = 'stall';
  const r = await attempt({ readTimeoutMs: 500 });
  assert.is(r.error?.name, 'XcodecCheckpointError', String(r.error));
  assert.match(r.error.message, /no data for 0\.5 s/);
  assert.match(r.error.message, /run again to resume/);
  assert.equal(blobs(r.cache), [`${WEIGHTS_ETAG}.incomplete`]);
  assert.is(statSync(join(r.cache, 'models--org--hostile', 'blobs', `${WEIGHTS_ETAG}.incomplete`)).size, 1000);
});

test('a body longer than announced: cut off at the announced size, no blob but the .incomplete', async () => {
  mode = 'endless';
  const r = await attempt({});
  assert.is(r.error?.name, 'XcodecCheckpointError', String(r.error));
  assert.match(r.error.message, new RegExp(`sent more than the ${weights.length} bytes it announced`));
  assert.equal(blobs(r.cache), [`${WEIGHTS_ETAG}.incomplete`]);
  const part = statSync(join(r.cache, 'models--org--hostile', 'blobs', `${WEIGHTS_ETAG}.incomplete`)).size;
  assert.is(part, weights.length, 'never more than announced on disk');
});

test('an endless body with no size announced: cut off at maxFileBytes', async () => {
  mode = 'endless-unannounced';
  const r = await attempt({ maxFileBytes: 3 * 2 ** 20 });
  assert.is(r.error?.name, 'XcodecCheckpointError', String(r.error));
  assert.match(r.error.message, /passed 3145728 bytes \(hub\.maxFileBytes\)/);
  assert.equal(blobs(r.cache), [`${WEIGHTS_ETAG}.incomplete`]);
  assert.ok(statSync(join(r.cache, 'models--org--hostile', 'blobs', `${WEIGHTS_ETAG}.incomplete`)).size <= 3 * 2 ** 20);
});

test('the token goes to the endpoint only: not to storage on another port, and yes to the same origin', async () => {
  mode = 'ok';
  seen.length = 0;
  const r = await attempt({ token: 'hf_secret' });
  assert.is(r.error, null, String(r.error));
  const toStorage = seen.filter((s) => s.port === storage.address().port);
  const toHub = seen.filter((s) => s.port === hub.address().port);
  assert.ok(toStorage.length >= 1 && toHub.length >= 2, JSON.stringify(seen));
  assert.equal(
    toStorage.map((s) => s.authorization),
    toStorage.map(() => null),
    'no Authorization to another origin',
  );
  assert.ok(
    toHub.every((s) => s.authorization === 'Bearer hf_secret'),
    'the endpoint gets the token',
  );
  mode = 'same-origin';
  seen.length = 0;
  const same = await attempt({ token: 'hf_secret' });
  assert.is(same.error, null, String(same.error));
  assert.ok(
    seen.some((s) => s.url.startsWith('/storage/') && s.authorization === 'Bearer hf_secret'),
    'a same-origin storage URL keeps it',
  );
});

test('bad timeout and size options are typed errors', async () => {
  for (const options of [{ timeoutMs: 0 }, { readTimeoutMs: -1 }, { maxFileBytes: '1' }]) {
    const r = await attempt(options, 5000);
    assert.is(r.error?.name, 'XcodecInputError', String(r.error));
    assert.match(r.error.message, /accepted: a positive number/);
  }
});

test.after(() => {
  for (const c of sockets) c.destroy();
  hub.close();
  storage.close();
});

test.run();
