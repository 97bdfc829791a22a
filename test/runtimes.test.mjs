// The package in every runtime it supports, each held to the tiny-hubert fixture (codes identical to
// the expected files at every bandwidth, audio within the manifest's atol):
//  - Deno and Bun (npm devDependencies `deno` and `bun`), with worker threads;
//  - headless Chromium (Debian's `chromium`, driven by playwright-core) on a page served from
//    127.0.0.1 with COOP/COEP headers (cross-origin isolated: threads) and without (no
//    SharedArrayBuffer: the one-thread fallback, same API);
//  - an edge-style `fetch(request)` handler under Deno.serve with Worker removed (one thread).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fixtures, manifest, npy, assertClose, assertCodesEqual, assertDims, item } from './helpers.mjs';
import { CHROMIUM_ARGS, chromiumPath } from './chromium.mjs';
import { bundleDecoders } from '../scripts/demo-web.mjs';

const root = resolve(fixtures, '..', '..');
const dir = join(fixtures, 'tiny-hubert');
const { cases } = manifest('tiny-hubert');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const file = (c, key) => npy(join(dir, 'cases', c.tensors[key].file));

const nodeCompressed = (async () => {
  const { readCompressed } = await import('./runtimes/fixture-core.mjs');
  return readCompressed(async (p) => new Uint8Array(readFileSync(join(dir, p))));
})();

/** Checks one runtime's outputs against the expected files, and its compressed-file reads against Node's. */
async function checkOutputs(out, what) {
  const expected = await nodeCompressed;
  assert.equal(Object.keys(out.compressed ?? {}), Object.keys(expected), `${what}: every compressed file was read`);
  for (const [file, samples] of Object.entries(expected)) assert.ok(out.compressed[file] === samples, `${what}: ${file} read at 16 kHz equals Node's, bit for bit`);
  assert.is(out.cases.length, cases.length, `${what}: one result per case`);
  for (const c of cases) {
    const got = out.cases.find((g) => g.name === c.name);
    assert.ok(got, `${what}: case ${c.name} ran`);
    for (const [bw, spec] of Object.entries(c.bandwidths)) {
      const exp = file(c, spec.codes);
      assert.ok(got.codes[bw], `${what}: ${c.name} has codes at ${bw} kbps`);
      assertDims(got.codes[bw].dims, exp.shape, `${what} ${c.name} codes_bw${bw}`);
      assertCodesEqual(got.codes[bw].data, exp.data, `${what} ${c.name} codes_bw${bw}`);
    }
    const exp = file(c, 'audio_values');
    const bytes = Buffer.from(got.audio.base64, 'base64');
    const audio = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assertDims(got.audio.dims, exp.shape, `${what} ${c.name} audio_values`);
    assertClose(audio, exp.data, c.tensors.audio_values.atol, `${what} ${c.name} audio_values`);
  }
}

function runScript(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 180000, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('Deno: fixture codes and audio, 2 threads (Web Workers); MP3/Ogg/FLAC reads equal Node\'s', async () => {
  assert.ok(existsSync(bin('deno')), 'deno is installed (npm devDependency "deno")');
  const out = runScript(bin('deno'), ['run', '--allow-read', '--allow-env', 'test/runtimes/fixture-run.mjs', '--threads', '2'], 'deno');
  assert.is(out.numThreads, 2, 'deno ran the kernels on 2 threads');
  assert.ok(out.workerChunks > 0, 'deno workers ran chunks');
  await checkOutputs(out, out.runtime);
});

test('Bun: fixture codes and audio, 2 threads (Web Workers); MP3/Ogg/FLAC reads equal Node\'s', async () => {
  assert.ok(existsSync(bin('bun')), 'bun is installed (npm devDependency "bun")');
  const out = runScript(bin('bun'), ['test/runtimes/fixture-run.mjs', '--threads', '2'], 'bun');
  assert.is(out.numThreads, 2, 'bun ran the kernels on 2 threads');
  assert.ok(out.workerChunks > 0, 'bun workers ran chunks');
  await checkOutputs(out, out.runtime);
});

/** The Promise API's report from a runtime: the model ran in a worker, codes equal, this thread free. */
function checkAsync(out, what, threads) {
  assert.is(out.runsOn, 'worker', `${what}: the model ran in a worker (${out.workerFallbackReason})`);
  assert.is(out.numThreads, threads, `${what}: ${threads} kernel thread(s) inside it`);
  assert.ok(out.codesEqual, `${what}: codes equal XcodecModelSync's on every case and bandwidth`);
  assert.ok(out.encodeMs > 500, `${what}: the long encode took ${out.encodeMs.toFixed(0)} ms`);
  assert.ok(out.worstGapMs < 50, `${what}: a 10 ms timer kept firing within 50 ms (longest gap ${out.worstGapMs.toFixed(1)} ms over ${out.encodeMs.toFixed(0)} ms)`);
  process.stdout.write(`  ${what}: 120 s encoded in a worker in ${out.encodeMs.toFixed(0)} ms; longest 10 ms timer gap ${out.worstGapMs.toFixed(1)} ms\n`);
}

test('Deno and Bun: the Promise API runs the model in a Web Worker; codes equal, the event loop stays free', async () => {
  checkAsync(runScript(bin('deno'), ['run', '--allow-read', '--allow-env', 'test/runtimes/fixture-run.mjs', '--threads', '2', '--async'], 'deno'), 'deno', 2);
  checkAsync(runScript(bin('deno'), ['run', '--allow-read', '--allow-env', 'test/runtimes/fixture-run.mjs', '--threads', '2', '--async', '--from-buffers'], 'deno'), 'deno (fromBuffers)', 2);
  checkAsync(runScript(bin('bun'), ['test/runtimes/fixture-run.mjs', '--threads', '2', '--async'], 'bun'), 'bun', 2);
});

/**
 * The decoder packages bundled for the browser by esbuild, as a page without a bundler would take
 * them: browser.html's import map points their bare names here.
 */
const decodersBundle = bundleDecoders();

/** Static files of the repository for the browser, with COOP/COEP headers under /coi/. */
async function startServer() {
  const decoders = await decodersBundle;
  const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.json': 'application/json' };
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const coi = path.startsWith('/coi/');
    if (coi) path = path.slice(4);
    if (path === '/decoders.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(decoders);
      return;
    }
    const full = normalize(join(root, path));
    const allowed = ['dist', join('test', 'runtimes'), join('test', 'fixtures')].some((p) => full.startsWith(join(root, p)));
    if (!allowed || !existsSync(full)) {
      res.writeHead(404).end();
      return;
    }
    const headers = { 'content-type': types[extname(full)] ?? 'application/octet-stream', 'cache-control': 'no-store' };
    if (coi) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    res.writeHead(200, headers).end(readFileSync(full));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

async function inChromium(url, options, run = 'runFixtures') {
  const executablePath = await chromiumPath();
  assert.ok(existsSync(executablePath), `${executablePath} exists`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60000 });
  const logs = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(() => window.pageReady === true, null, { timeout: 30000 });
    return await page.evaluate(([o, fn]) => window[fn](o), [options, run]);
  } catch (e) {
    throw new Error(`${e.message}\npage log:\n${logs.join('\n')}`);
  } finally {
    await browser.close();
  }
}

test('Chromium: cross-origin isolated page (COOP/COEP): 2 threads', async () => {
  const server = await startServer();
  try {
    const out = await inChromium(`http://127.0.0.1:${server.address().port}/coi/test/runtimes/browser.html`, { numThreads: 2 });
    assert.is(out.crossOriginIsolated, true, 'the page is cross-origin isolated');
    assert.is(out.numThreads, 2, 'the kernels ran on 2 threads');
    assert.ok(out.workerChunks > 0, 'workers ran chunks');
    await checkOutputs(out, 'chromium (threads)');
    checkAsync(await inChromium(`http://127.0.0.1:${server.address().port}/coi/test/runtimes/browser.html`, { numThreads: 2 }, 'runAsync'), 'chromium (threads)', 2);
  } finally {
    server.close();
  }
});

test('Chromium: page without COOP/COEP (no SharedArrayBuffer): same API on one thread', async () => {
  const server = await startServer();
  try {
    const out = await inChromium(`http://127.0.0.1:${server.address().port}/test/runtimes/browser.html`, { numThreads: 2 });
    assert.is(out.crossOriginIsolated, false, 'the page is not cross-origin isolated');
    assert.is(out.numThreads, 1, 'fell back to one thread');
    await checkOutputs(out, 'chromium (fallback)');
    checkAsync(await inChromium(`http://127.0.0.1:${server.address().port}/test/runtimes/browser.html`, { numThreads: 2 }, 'runAsync'), 'chromium (fallback)', 1);
  } finally {
    server.close();
  }
});

/** A float32 mono WAV of `samples` at `rate`: the handler then sees exactly the fixture's input values. */
function wavFloat32(samples, rate) {
  const out = Buffer.alloc(44 + 4 * samples.length);
  out.write('RIFF', 0); out.writeUInt32LE(36 + 4 * samples.length, 4); out.write('WAVE', 8);
  out.write('fmt ', 12); out.writeUInt32LE(16, 16); out.writeUInt16LE(3, 20); out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24); out.writeUInt32LE(4 * rate, 28); out.writeUInt16LE(4, 32); out.writeUInt16LE(32, 34);
  out.write('data', 36); out.writeUInt32LE(4 * samples.length, 40);
  for (let i = 0; i < samples.length; i++) out.writeFloatLE(samples[i], 44 + 4 * i);
  return out;
}

test('edge: fetch(request) handler under Deno.serve, no workers: WAV in, codes .npy out', async () => {
  assert.ok(existsSync(bin('deno')), 'deno is installed (npm devDependency "deno")');
  const proc = spawn(bin('deno'), ['run', '--allow-read', '--allow-env', '--allow-net=127.0.0.1', 'test/runtimes/edge-serve.mjs'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  try {
    const port = await new Promise((res, rej) => {
      let text = '';
      const timer = setTimeout(() => rej(new Error(`Deno.serve did not start in 60 s: ${stderr}`)), 60000);
      proc.stdout.on('data', (d) => {
        text += d;
        const m = /listening (\d+)/.exec(text);
        if (m) { clearTimeout(timer); res(Number(m[1])); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); rej(new Error(`deno exited with ${code}: ${stderr}`)); });
    });
    for (const c of cases) {
      const input = npy(join(dir, 'cases', c.input_values));
      const [B, , N] = input.shape;
      for (const [bw, spec] of Object.entries(c.bandwidths)) {
        const exp = file(c, spec.codes);
        for (let b = 0; b < B; b++) {
          const r = await fetch(`http://127.0.0.1:${port}/encode?bandwidth=${bw}`, { method: 'POST', body: wavFloat32(input.data.subarray(b * N, (b + 1) * N), 16000) });
          const body = new Uint8Array(await r.arrayBuffer());
          assert.is(r.status, 200, `edge ${c.name}[${b}] bw ${bw}: ${new TextDecoder().decode(body)}`);
          assert.is(r.headers.get('x-xcodec-threads'), '1', 'the edge handler ran on one thread');
          assert.is(r.headers.get('x-xcodec-runs-on'), 'caller', 'no Worker: the Promise API ran the model on the handler\'s thread');
          const { readNpy } = await import('../dist/audio.js');
          const got = readNpy(body);
          assertDims(got.shape, [1, ...exp.shape.slice(1)], `edge ${c.name}[${b}] codes_bw${bw}`);
          assertCodesEqual(got.data, item(exp.data, exp.shape, b), `edge ${c.name}[${b}] codes_bw${bw}`);
        }
      }
    }
  } finally {
    proc.kill('SIGTERM');
  }
});

test.run();
