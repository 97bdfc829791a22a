// fromPretrained with a Hub repository id in headless Chromium: the page needs no server of its own
// for the weights. The first visit fetches from the endpoint (a local server that honours Range, like
// the Hub), components: 'decoder' by Range only; the files land in the Cache API, so the next visit
// loads with the endpoint gone, and the model decodes the same samples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium.mjs';
import { fixtures, here } from '../support/helpers.mjs';

const root = join(here, '..');
const PAGE = `<!doctype html><script type="module">
  import { XcodecModelSync } from '/dist/index.js';
  window.load = async (components) => {
    const model = await XcodecModelSync.fromPretrained('org/tiny', { hub: { endpoint: location.origin + '/hub' }, components, numThreads: 1 });
    const codes = { data: new Int32Array(2 * 30).map((_, i) => (i * 53) % 1024), dims: [1, 2, 30] };
    const audio = Array.from(model.decode(codes).audioValues.data);
    model.dispose();
    return audio;
  };
  window.cached = async () => (await (await caches.open('xcodec-wasm')).keys()).map((r) => new URL(r.url).pathname + new URL(r.url).search);
  window.pageReady = true;
</script>`;

function startServer() {
  const state = { offline: false, log: [] };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/page.html') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    const hub = /^\/hub\/org\/tiny\/resolve\/main\/([\w.-]+)$/.exec(url.pathname);
    if (hub) {
      state.log.push({ file: hub[1], range: req.headers.range ?? null, offline: state.offline });
      if (state.offline) return res.writeHead(503).end('offline');
      let fd;
      try {
        fd = openSync(join(fixtures, 'tiny-hubert', hub[1]), 'r');
      } catch {
        return res.writeHead(404).end();
      }
      try {
        const size = fstatSync(fd).size;
        const r = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        const from = r ? Number(r[1]) : 0;
        const to = r ? Math.min(Number(r[2]), size - 1) : size - 1;
        const bytes = Buffer.alloc(to - from + 1);
        readSync(fd, bytes, 0, bytes.length, from);
        res.writeHead(r ? 206 : 200, r ? { 'content-range': `bytes ${from}-${to}/${size}` } : {});
        return res.end(bytes);
      } finally {
        closeSync(fd);
      }
    }
    const path = normalize(join(root, url.pathname));
    if (!url.pathname.startsWith('/dist/') || !path.startsWith(join(root, 'dist'))) return res.writeHead(404).end();
    try {
      const type = extname(path) === '.js' ? 'text/javascript' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(readFileSync(path));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, state })));
}

test('Chromium: a Hub id loads through fetch, by Range for the decoder, and the next visit loads offline from the Cache API', async () => {
  const { server, state } = await startServer();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: await chromiumPath(), args: CHROMIUM_ARGS, timeout: 60000 });
  const logs = [];
  try {
    const context = await browser.newContext();
    const visit = async () => {
      const page = await context.newPage();
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(String(e)));
      await page.goto(`http://127.0.0.1:${server.address().port}/page.html`);
      await page.waitForFunction(() => window.pageReady === true, null, { timeout: 30000 });
      return page;
    };
    const first = await visit();
    const decoderOnly = await first.evaluate(() => window.load('decoder'));
    const reads = state.log.filter((e) => e.file === 'model.safetensors');
    assert.ok(
      reads.length > 0 && reads.every((e) => e.range !== null),
      'the decoder read model.safetensors by Range only',
    );
    const cached = await first.evaluate(() => window.cached());
    assert.ok(cached.includes('/hub/org/tiny/resolve/main/config.json'), `config.json cached (${cached})`);
    assert.ok(
      cached.some((k) => k.includes('model.safetensors?xcodec-block=0')),
      'the blocks cached',
    );
    await first.close();

    state.offline = true; // the endpoint is gone: the next visit reads the Cache API
    const second = await visit();
    const again = await second.evaluate(() => window.load('decoder'));
    assert.is(again.length, decoderOnly.length);
    assert.ok(
      again.every((v, i) => Object.is(v, decoderOnly[i])),
      'the same samples from the cache',
    );
    assert.ok(state.log.filter((e) => e.offline).length === 0, 'no request reached the endpoint offline');

    // the whole model: one download (online), then offline from the cache too
    state.offline = false;
    const all = await second.evaluate(() => window.load('all'));
    assert.ok(
      all.every((v, i) => Object.is(v, decoderOnly[i])),
      "components: 'all' decodes the same",
    );
    assert.ok(
      state.log.some((e) => e.file === 'model.safetensors' && e.range === null),
      'a whole download',
    );
    state.offline = true;
    const allOffline = await second.evaluate(() => window.load('all'));
    assert.ok(
      allOffline.every((v, i) => Object.is(v, decoderOnly[i])),
      'offline from the cache',
    );
  } catch (e) {
    throw new Error(`${e.message}\npage log:\n${logs.join('\n')}`);
  } finally {
    await browser.close();
    server.close();
  }
});

test.run();
