// fromPretrained on the package entry alone (no file system: what browsers and edge runtimes get): a Hub
// repository id or a base URL, fetched from a local server that honours HTTP Range like the Hub. A whole
// checkpoint comes in one download; components: 'decoder' reads only the decoder's blocks by Range (a
// quarter of the full-size file); a server without Range support still works; the token goes to the
// endpoint only, never across a redirect; errors name the URL. The Cache API half runs in Chromium
// (e2e/runtimes: the second load works offline).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecFeatureExtractor, XcodecModel, XcodecModelSync } from '../../dist/index.js'; // the browser-safe entry: no file access installed
import { ensureCheckpoint } from '../../scripts/generate-weights.mjs';
import { fixtures, here, rejectsWith } from '../support/helpers.mjs';

/** A Hub-like server: /ORG/NAME/resolve/REV/FILE from `repos` (name -> directory); logs every request. */
async function hubServer({ repos, range = true, redirect = null, hang = false }) {
  const log = [];
  const server = createServer((req, res) => {
    const m = /^\/([\w.-]+\/[\w.-]+)\/resolve\/([\w.-]+)\/([\w.-]+)$/.exec(req.url);
    const entry = {
      url: req.url,
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
      bytes: 0,
    };
    log.push(entry);
    if (hang) return; // never answers
    if (!m || !repos[m[1]]) return res.writeHead(404).end('not found');
    if (redirect && m[3] === 'model.safetensors')
      return res.writeHead(302, { location: `${redirect}${req.url}` }).end();
    let fd;
    try {
      fd = openSync(join(repos[m[1]], m[3]), 'r');
    } catch {
      return res.writeHead(404).end('no such file');
    }
    try {
      const size = fstatSync(fd).size;
      const r = range && req.headers.range ? /^bytes=(\d+)-(\d+)$/.exec(req.headers.range) : null;
      const from = r ? Number(r[1]) : 0;
      const to = r ? Math.min(Number(r[2]), size - 1) : size - 1;
      const bytes = Buffer.alloc(to - from + 1);
      readSync(fd, bytes, 0, bytes.length, from);
      entry.bytes = bytes.length;
      if (r) res.writeHead(206, { 'content-range': `bytes ${from}-${to}/${size}`, 'content-length': bytes.length });
      else res.writeHead(200, { 'content-length': size });
      res.end(bytes);
    } finally {
      closeSync(fd);
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, log, close: () => new Promise((r) => server.close(r)) };
}

const tiny = join(fixtures, 'tiny-hubert');
const local = await XcodecModelSync.fromBuffers({
  'config.json': readFileSync(join(tiny, 'config.json')),
  'model.safetensors': readFileSync(join(tiny, 'model.safetensors')),
});
const x = new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i / 9) + 0.05 * Math.sin(i / 2.3));
const codes = local.encode(x).audioCodes;
const audio = local.decode(codes).audioValues.data;
const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const safetensors = (log) => log.filter((e) => e.url.endsWith('model.safetensors'));

test('a Hub repository id on the package entry: one download of each file, the same codes as the files on disk', async () => {
  const hub = await hubServer({ repos: { 'org/tiny': tiny } });
  try {
    const progress = [];
    const model = await XcodecModelSync.fromPretrained('org/tiny', {
      hub: { endpoint: hub.url, onProgress: (file, loaded, total) => progress.push([file, loaded, total]) },
    });
    assert.ok(same(model.encode(x).audioCodes.data, codes.data), 'codes equal');
    assert.ok(same(model.decode(codes).audioValues.data, audio), 'audio equal');
    const files = safetensors(hub.log);
    assert.is(files.length, 1, 'model.safetensors downloaded once');
    assert.is(files[0].range, null, 'whole, not by range');
    const last = progress.filter(([f]) => f === 'model.safetensors').at(-1);
    assert.equal(last.slice(1), [
      statSync(join(tiny, 'model.safetensors')).size,
      statSync(join(tiny, 'model.safetensors')).size,
    ]);
    model.dispose();
    const fe = await XcodecFeatureExtractor.fromPretrained('org/tiny', { endpoint: hub.url });
    assert.is(fe.config.samplingRate, 16000);
    // a base URL works the same
    const byUrl = await XcodecModelSync.fromPretrained(`${hub.url}/org/tiny/resolve/main/`);
    assert.ok(same(byUrl.decode(codes).audioValues.data, audio), 'by URL');
    byUrl.dispose();
  } finally {
    await hub.close();
  }
});

test("components: 'decoder' reads the checkpoint by Range; a server without Range sends it whole, once", async () => {
  for (const range of [true, false]) {
    const hub = await hubServer({ repos: { 'org/tiny': tiny }, range });
    try {
      const progress = [];
      const model = await XcodecModelSync.fromPretrained('org/tiny', {
        hub: { endpoint: hub.url, onProgress: (file, loaded, total) => progress.push([file, loaded, total]) },
        components: 'decoder',
      });
      assert.ok(same(model.decode(codes).audioValues.data, audio), `range ${range}: audio equal`);
      const files = safetensors(hub.log);
      if (range) {
        assert.ok(files.every((e) => e.range !== null) && files.length >= 1, 'every request a Range');
        const last = progress.filter(([f]) => f === 'model.safetensors').at(-1);
        const fetched = files.reduce((n, e) => n + e.bytes, 0);
        assert.equal(
          last.slice(1),
          [fetched, statSync(join(tiny, 'model.safetensors')).size],
          'progress: bytes fetched of the size',
        );
      } else assert.is(files.filter((e) => e.bytes > 0).length, 1, 'the whole file once');
      model.dispose();
    } finally {
      await hub.close();
    }
  }
});

test("full size: components: 'decoder' fetches about a quarter of model.safetensors, and decodes as the whole file does", async () => {
  const dir = join(process.env.XCODEC_FULLSIZE_CACHE || tmpdir(), 'xcodec-wasm-fullsize-hubert-0');
  await ensureCheckpoint(join(here, '..', '..', 'shared', 'fixtures', 'full-size', 'hubert'), dir, { seed: 0 });
  const hub = await hubServer({ repos: { 'org/full': dir } });
  try {
    const model = await XcodecModelSync.fromPretrained('org/full', {
      hub: { endpoint: hub.url },
      components: 'decoder',
      numThreads: 1,
    });
    const size = statSync(join(dir, 'model.safetensors')).size;
    const fetched = safetensors(hub.log).reduce((n, e) => n + e.bytes, 0);
    assert.ok(fetched < 0.26 * size, `fetched ${fetched} of ${size} bytes (${((100 * fetched) / size).toFixed(1)}%)`);
    const full = await XcodecModelSync.fromBuffers(
      {
        'config.json': readFileSync(join(dir, 'config.json')),
        'model.safetensors': readFileSync(join(dir, 'model.safetensors')),
      },
      { components: 'decoder', numThreads: 1 },
    );
    const c = { data: new Int32Array(8 * 12).map((_, i) => (i * 97) % 1024), dims: [1, 8, 12] };
    assert.ok(same(model.decode(c).audioValues.data, full.decode(c).audioValues.data), 'the same audio');
    process.stdout.write(
      `  decoder-only by Range: ${(fetched / 2 ** 20).toFixed(1)} of ${(size / 2 ** 20).toFixed(1)} MiB\n`,
    );
    model.dispose();
    full.dispose();
  } finally {
    await hub.close();
  }
});

test('XcodecModel: the worker fetches the repository itself', async () => {
  const hub = await hubServer({ repos: { 'org/tiny': tiny } });
  try {
    const model = await XcodecModel.fromPretrained('org/tiny', { hub: { endpoint: hub.url }, numThreads: 1 });
    assert.is(model.runsOn, 'worker');
    assert.ok(same((await model.decode(codes)).audioValues.data, audio));
    await model.dispose();
  } finally {
    await hub.close();
  }
});

test('the token goes to the endpoint only: not across a redirect to another origin', async () => {
  const cdn = await hubServer({ repos: { 'org/tiny': tiny } });
  const hub = await hubServer({ repos: { 'org/tiny': tiny }, redirect: cdn.url.replace('127.0.0.1', 'localhost') });
  try {
    const model = await XcodecModelSync.fromPretrained('org/tiny', { hub: { endpoint: hub.url, token: 'hf_secret' } });
    assert.ok(same(model.decode(codes).audioValues.data, audio));
    assert.ok(
      hub.log.every((e) => e.authorization === 'Bearer hf_secret'),
      'the endpoint got the token',
    );
    assert.ok(cdn.log.length > 0, 'the redirect was followed');
    assert.ok(
      cdn.log.every((e) => e.authorization === null),
      'the other origin did not',
    );
    model.dispose();
  } finally {
    await hub.close();
    await cdn.close();
  }
});

test('errors: a missing repository, a server that never answers, a path where there is no file system', async () => {
  const hub = await hubServer({ repos: {} });
  try {
    await rejectsWith(
      'XcodecCheckpointError',
      XcodecModelSync.fromPretrained('org/none', { hub: { endpoint: hub.url } }),
      `${hub.url}/org/none/resolve/main/config.json: HTTP 404`,
    );
  } finally {
    await hub.close();
  }
  const silent = await hubServer({ repos: {}, hang: true });
  try {
    await rejectsWith(
      'XcodecCheckpointError',
      XcodecModelSync.fromPretrained('org/tiny', { hub: { endpoint: silent.url, timeoutMs: 300 } }),
      'no response within 0.3 s (hub.timeoutMs)',
    );
  } finally {
    silent.close();
  }
  await rejectsWith(
    'XcodecInputError',
    XcodecModelSync.fromPretrained(tiny),
    'this runtime has no file system',
    "'xcodec-wasm/node'",
  );
  await rejectsWith(
    'XcodecInputError',
    XcodecModelSync.fromPretrained('../org/x'),
    'accepted here: a Hub repository id',
  );
});

test.run();
