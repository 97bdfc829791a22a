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
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fixtures, freePort, manifest, npy, assertClose, assertCodesEqual, assertDims } from '../support/helpers.mjs';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium.mjs';
import { bundleDecoders } from '../../scripts/demo-web.mjs';
import { FREE_LOOP_GAP_MS } from '../support/runtimes/fixture-core.mjs';

const root = resolve(fixtures, '..', '..');
const dir = join(fixtures, 'tiny-hubert');
const { cases } = manifest('tiny-hubert');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const file = (c, key) => npy(join(dir, 'cases', c.tensors[key].file));

const nodeCompressed = (async () => {
  const { readCompressed } = await import('../support/runtimes/fixture-core.mjs');
  return readCompressed(async (p) => new Uint8Array(readFileSync(join(dir, p))));
})();

/** Checks one runtime's outputs against the expected files, and its compressed-file reads against Node's. */
async function checkOutputs(out, what) {
  const expected = await nodeCompressed;
  assert.equal(Object.keys(out.compressed ?? {}), Object.keys(expected), `${what}: every compressed file was read`);
  for (const [file, samples] of Object.entries(expected))
    assert.ok(out.compressed[file] === samples, `${what}: ${file} read at 16 kHz equals Node's, bit for bit`);
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
  if (r.status !== 0)
    throw new Error(
      `${what} exited with ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${r.stderr}\n${r.stdout.slice(-2000)}`,
    );
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test("Deno: fixture codes and audio, 2 threads (Web Workers); MP3/Ogg/FLAC reads equal Node's", async () => {
  assert.ok(existsSync(bin('deno')), 'deno is installed (npm devDependency "deno")');
  const out = runScript(
    bin('deno'),
    ['run', '--allow-read', '--allow-env', 'test/support/runtimes/fixture-run.mjs', '--threads', '2'],
    'deno',
  );
  assert.is(out.numThreads, 2, 'deno ran the kernels on 2 threads');
  assert.ok(out.workerChunks > 0, 'deno workers ran chunks');
  await checkOutputs(out, out.runtime);
});

/** X-Codec 2's outputs from a runtime against tiny-xcodec2: codes and codes mask identical, audio within atol. */
function checkXcodec2(out, what) {
  const m = manifest('tiny-xcodec2');
  const dir = join(fixtures, 'tiny-xcodec2');
  assert.is(out.cases.length, m.cases.length, `${what}: every X-Codec 2 case ran`);
  for (const [i, c] of m.cases.entries()) {
    const got = out.cases[i];
    for (const [key, value] of [
      ['audio_codes', got.codes],
      ['audio_codes_mask', got.codesMask],
    ]) {
      const exp = npy(join(dir, 'cases', c.tensors[key].file));
      assertDims(value.dims, exp.shape, `${what} ${c.name} ${key}`);
      assertCodesEqual(value.data, exp.data, `${what} ${c.name} ${key}`);
    }
    const exp = npy(join(dir, 'cases', c.tensors.audio_values.file));
    const bytes = Buffer.from(got.audio.base64, 'base64');
    const audio = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assertDims(got.audio.dims, exp.shape, `${what} ${c.name} audio_values`);
    assertClose(audio, exp.data, c.tensors.audio_values.atol, `${what} ${c.name} audio_values`);
  }
}

test('Deno and Bun: X-Codec 2 in the worker model from buffers, 2 threads: codes, mask and audio as the fixture', async () => {
  for (const [what, cmd, args] of [
    ['deno', bin('deno'), ['run', '--allow-read', '--allow-env', 'test/support/runtimes/fixture-run.mjs']],
    ['bun', bin('bun'), ['test/support/runtimes/fixture-run.mjs']],
  ]) {
    const out = runScript(cmd, [...args, '--xcodec2', '--from-buffers', '--threads', '2'], what);
    assert.is(out.runsOn, 'worker', `${what}: the model ran in a worker`);
    assert.is(out.numThreads, 2, `${what}: 2 threads`);
    checkXcodec2(out, `${out.runtime} X-Codec 2`);
  }
});

test("Bun: fixture codes and audio, 2 threads (Web Workers); MP3/Ogg/FLAC reads equal Node's", async () => {
  assert.ok(existsSync(bin('bun')), 'bun is installed (npm devDependency "bun")');
  const out = runScript(bin('bun'), ['test/support/runtimes/fixture-run.mjs', '--threads', '2'], 'bun');
  assert.is(out.numThreads, 2, 'bun ran the kernels on 2 threads');
  assert.ok(out.workerChunks > 0, 'bun workers ran chunks');
  await checkOutputs(out, out.runtime);
});

/** The Promise API's report from a runtime: the model ran in a worker, codes equal, this thread free. */
function checkAsync(out, what, threads) {
  assert.is(out.runsOn, 'worker', `${what}: the model ran in a worker (${out.workerFallbackReason})`);
  assert.is(out.numThreads, threads, `${what}: ${threads} kernel thread(s) inside it`);
  assert.ok(
    out.codesEqual,
    `${what}: codes equal XcodecModelSync's on every case and bandwidth (and with transfer: true)`,
  );
  assert.ok(out.streamsEqual, `${what}: streamDecode's chunks equal decode() bit for bit (direct and Winograd)`);
  assert.ok(
    out.transferMoved,
    `${what}: transfer: true moved the input's buffer to the worker (detached on this thread)`,
  );
  assert.ok(out.encodeMs > 2000, `${what}: the long encodes (multi-second) took ${out.encodeMs.toFixed(0)} ms`);
  assert.ok(
    out.worstGapMs < FREE_LOOP_GAP_MS,
    `${what}: a 10 ms timer kept firing within ${FREE_LOOP_GAP_MS} ms (longest gap ${out.worstGapMs.toFixed(1)} ms over ${out.encodeMs.toFixed(0)} ms)`,
  );
  process.stdout.write(
    `  ${what}: ${out.seconds} s encoded ${out.calls} time(s) in a worker in ${out.encodeMs.toFixed(0)} ms; longest 10 ms timer gap ${out.worstGapMs.toFixed(1)} ms\n`,
  );
}

test('Deno and Bun: the Promise API runs the model in a Web Worker; codes equal, the event loop stays free', async () => {
  checkAsync(
    runScript(
      bin('deno'),
      ['run', '--allow-read', '--allow-env', 'test/support/runtimes/fixture-run.mjs', '--threads', '2', '--async'],
      'deno',
    ),
    'deno',
    2,
  );
  checkAsync(
    runScript(
      bin('deno'),
      [
        'run',
        '--allow-read',
        '--allow-env',
        'test/support/runtimes/fixture-run.mjs',
        '--threads',
        '2',
        '--async',
        '--from-buffers',
      ],
      'deno',
    ),
    'deno (fromBuffers)',
    2,
  );
  checkAsync(
    runScript(bin('bun'), ['test/support/runtimes/fixture-run.mjs', '--threads', '2', '--async'], 'bun'),
    'bun',
    2,
  );
});

/**
 * The decoder packages bundled for the browser by esbuild, as a page without a bundler would take
 * them: browser.html's import map points their bare names here.
 */
const decodersBundle = bundleDecoders();

/** Static files of the repository for the browser, with COOP/COEP headers under /coi/. */
async function startServer() {
  const decoders = await decodersBundle;
  const types = {
    '.js': 'text/javascript',
    '.mjs': 'text/javascript',
    '.html': 'text/html',
    '.json': 'application/json',
  };
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const coi = path.startsWith('/coi/');
    if (coi) path = path.slice(4);
    if (path === '/decoders.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(decoders);
      return;
    }
    const full = normalize(join(root, path));
    const allowed = ['dist', join('test', 'support', 'runtimes'), join('test', 'fixtures')].some((p) =>
      full.startsWith(join(root, p)),
    );
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
    const out = await inChromium(`http://127.0.0.1:${server.address().port}/coi/test/support/runtimes/browser.html`, {
      numThreads: 2,
    });
    assert.is(out.crossOriginIsolated, true, 'the page is cross-origin isolated');
    assert.is(out.numThreads, 2, 'the kernels ran on 2 threads');
    assert.ok(out.workerChunks > 0, 'workers ran chunks');
    await checkOutputs(out, 'chromium (threads)');
    checkAsync(
      await inChromium(
        `http://127.0.0.1:${server.address().port}/coi/test/support/runtimes/browser.html`,
        { numThreads: 2 },
        'runAsync',
      ),
      'chromium (threads)',
      2,
    );
    const x2 = await inChromium(
      `http://127.0.0.1:${server.address().port}/coi/test/support/runtimes/browser.html`,
      { numThreads: 2 },
      'runXcodec2',
    );
    assert.is(x2.numThreads, 2, 'X-Codec 2 ran on 2 threads');
    checkXcodec2(x2, 'chromium (threads) X-Codec 2');
  } finally {
    server.close();
  }
});

test('Chromium: page without COOP/COEP (no SharedArrayBuffer): same API on one thread', async () => {
  const server = await startServer();
  try {
    const out = await inChromium(`http://127.0.0.1:${server.address().port}/test/support/runtimes/browser.html`, {
      numThreads: 2,
    });
    assert.is(out.crossOriginIsolated, false, 'the page is not cross-origin isolated');
    assert.is(out.numThreads, 1, 'fell back to one thread');
    await checkOutputs(out, 'chromium (fallback)');
    checkAsync(
      await inChromium(
        `http://127.0.0.1:${server.address().port}/test/support/runtimes/browser.html`,
        { numThreads: 2 },
        'runAsync',
      ),
      'chromium (fallback)',
      1,
    );
  } finally {
    server.close();
  }
});

/** A float32 mono WAV of `samples` at `rate`: the handler then sees exactly the fixture's input values. */
function wavFloat32(samples, rate) {
  const out = Buffer.alloc(44 + 4 * samples.length);
  out.write('RIFF', 0);
  out.writeUInt32LE(36 + 4 * samples.length, 4);
  out.write('WAVE', 8);
  out.write('fmt ', 12);
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(3, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(4 * rate, 28);
  out.writeUInt16LE(4, 32);
  out.writeUInt16LE(32, 34);
  out.write('data', 36);
  out.writeUInt32LE(4 * samples.length, 40);
  for (let i = 0; i < samples.length; i++) out.writeFloatLE(samples[i], 44 + 4 * i);
  return out;
}

/** A WAV's 16-bit samples against Node's, within the fixture's audio atol (in 16-bit steps, plus one for rounding). */
function assertPcmClose(wav, pcm, fixture, what) {
  const a = new Int16Array(Uint8Array.from(wav.subarray(44)).buffer);
  const b = new Int16Array(Uint8Array.from(pcm).buffer);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  const atol = manifest(fixture).cases[0].tensors.audio_values.atol;
  assert.ok(worst <= Math.ceil(atol * 32767) + 1, `${what}: ${worst} 16-bit steps from Node's decode (atol ${atol})`);
}

/** The pipeline fixture's WAV files (several rates and formats), as { name, body }. */
function pipelineWavs() {
  const wavs = join(fixtures, 'pipeline-tiny-hubert');
  return readdirSync(wavs)
    .filter((n) => n.endsWith('.wav'))
    .sort()
    .map((f) => ({ name: f, body: readFileSync(join(wavs, f)) }));
}

/** Every request the edge tests send: the fixture cases (each batch item, each bandwidth) and the pipeline's WAVs. */
function edgeRequests() {
  const out = [];
  for (const c of cases) {
    const input = npy(join(dir, 'cases', c.input_values));
    const [B, , N] = input.shape;
    for (const bw of Object.keys(c.bandwidths)) {
      for (let b = 0; b < B; b++)
        out.push({
          name: `${c.name}[${b}] @ ${bw} kbps`,
          bw,
          body: wavFloat32(input.data.subarray(b * N, (b + 1) * N), 16000),
        });
    }
  }
  for (const w of pipelineWavs()) out.push({ ...w, bw: '4' });
  return out;
}

/** What the CLI does with the same bytes (readAudio, the mean, the resampler, the feature extractor, encode), as an .npy. */
const nodeCodes = (async () => {
  const { XcodecModelSync, XcodecFeatureExtractor } = await import('../../dist/node/index.js');
  const { readAudio, toMono, writeNpy } = await import('../../dist/audio.js');
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
  const fe = await XcodecFeatureExtractor.fromPretrained(dir);
  const out = edgeRequests().map((r) => {
    const { inputValues } = fe.call(toMono(readAudio(new Uint8Array(r.body), r.name), 16000), { samplingRate: 16000 });
    const { audioCodes } = model.encode(inputValues, { bandwidth: Number(r.bw) });
    return { ...r, npy: writeNpy(audioCodes.data, audioCodes.dims) };
  });
  model.dispose();
  return out;
})();

/** POSTs every request to an edge handler; its .npy must equal Node's byte for byte. Returns the last response's headers. */
async function checkEdge(port, what) {
  let headers = null;
  for (const r of await nodeCodes) {
    const res = await fetch(`http://127.0.0.1:${port}/encode?bandwidth=${r.bw}`, { method: 'POST', body: r.body });
    const body = new Uint8Array(await res.arrayBuffer());
    assert.is(res.status, 200, `${what} ${r.name}: ${new TextDecoder().decode(body)}`);
    assert.ok(
      Buffer.from(body).equals(Buffer.from(r.npy)),
      `${what} ${r.name}: codes byte-identical to Node's pipeline`,
    );
    assert.is(res.headers.get('x-xcodec-threads'), '1', `${what}: one thread`);
    assert.is(
      res.headers.get('x-xcodec-runs-on'),
      'caller',
      `${what}: no Worker, so the Promise API ran the model on the handler's thread`,
    );
    headers = res.headers;
  }
  return headers;
}

/** Codes of 60 frames for the streaming route and Node's 16-bit samples of their decode (tiny-hubert). */
const streamCase = (async () => {
  const { XcodecModelSync } = await import('../../dist/node/index.js');
  const { encodeWav } = await import('../../dist/audio.js');
  const model = await XcodecModelSync.fromPretrained(join(root, 'test', 'fixtures', 'tiny-hubert'), { numThreads: 1 });
  const nq = 2;
  const T = 60;
  const codes = new Int32Array(nq * T).map((_, i) => (i * 37 + 5) % model.config.codebookSize);
  const audio = model.decode({ data: codes, dims: [1, nq, T] }).audioValues.data;
  const wav = encodeWav(audio, model.config.sampleRate);
  const frames = new Uint8Array(4 * nq * T); // frame-major little-endian int32, as an LM emits them
  const view = new DataView(frames.buffer);
  for (let t = 0; t < T; t++) for (let q = 0; q < nq; q++) view.setInt32(4 * (t * nq + q), codes[q * T + t], true);
  const lookahead = model.streamLookaheadFrames;
  model.dispose();
  return { nq, T, frames, pcm: wav.subarray(44), lookahead };
})();

/**
 * The streaming route: codes go up in a streaming request body, and audio must come back before the
 * rest of the codes is even sent; the whole WAV's samples equal Node's decode of them all.
 */
async function checkEdgeStream(port, what) {
  const { nq, frames, pcm, lookahead } = await streamCase;
  const first = lookahead + 6; // frames sent before waiting for audio
  let more;
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(frames.slice(0, 4 * nq * first - 3)); // frames need not arrive whole
      controller.enqueue(frames.slice(4 * nq * first - 3, 4 * nq * first));
      more = () => {
        controller.enqueue(frames.slice(4 * nq * first));
        controller.close();
      };
    },
  });
  const res = await fetch(`http://127.0.0.1:${port}/decode?nq=${nq}`, { method: 'POST', body, duplex: 'half' });
  assert.is(res.status, 200, `${what}: ${res.status}`);
  assert.is(res.headers.get('content-type'), 'audio/wav');
  const reader = res.body.getReader();
  const parts = [];
  let got = 0;
  while (got <= 44) {
    const { value, done } = await reader.read();
    assert.not.ok(done, `${what}: the stream ended before the rest of the codes was sent`);
    parts.push(value);
    got += value.length;
  }
  more(); // audio came while the request still had frames to send: now send them
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const wav = Buffer.concat(parts);
  assert.is(wav.readUInt32LE(40), 0xffffffff, `${what}: a streaming WAV header`);
  // the same runtime's one decode of all the codes: bit for bit (its SIMD flavour may differ from Node's)
  const whole = await fetch(`http://127.0.0.1:${port}/decode?nq=${nq}&whole=1`, { method: 'POST', body: frames });
  const wholeWav = Buffer.from(await whole.arrayBuffer());
  assert.is(whole.status, 200, `${what}: ${wholeWav}`);
  assert.ok(wav.subarray(44).equals(wholeWav.subarray(44)), `${what}: the stream's samples are one decode's`);
  // and Node's decode, within the fixtures' audio tolerance (a runtime with relaxed SIMD rounds differently)
  assert.is(wav.length - 44, pcm.length, `${what}: every sample`);
  assertPcmClose(wav, pcm, 'tiny-hubert', what);
  const bad = await fetch(`http://127.0.0.1:${port}/decode?nq=99`, { method: 'POST', body: frames });
  assert.is(bad.status, 400, `${what}: a bad nq is refused`);
  assert.match(await bad.text(), /XcodecInputError: \/decode needs \?nq=1\.\./);
}

/** X-Codec 2 through the edge template: each tiny-xcodec2 item and pipeline WAV, as Node's pipeline encodes it. */
const xcodec2Dir = join(fixtures, 'tiny-xcodec2');
const nodeXcodec2 = (async () => {
  const { XcodecModelSync, Xcodec2FeatureExtractor } = await import('../../dist/node/index.js');
  const { readAudio, toMono, writeNpy, encodeWav } = await import('../../dist/audio.js');
  const model = await XcodecModelSync.fromPretrained(xcodec2Dir, { numThreads: 1 });
  const fe = await Xcodec2FeatureExtractor.fromPretrained(xcodec2Dir);
  const requests = [];
  for (const c of manifest('tiny-xcodec2').cases) {
    const input = npy(join(xcodec2Dir, 'cases', c.input_values));
    const [B, , N] = input.shape;
    for (let b = 0; b < B; b++)
      requests.push({ name: `${c.name}[${b}]`, body: wavFloat32(input.data.subarray(b * N, (b + 1) * N), 16000) });
  }
  requests.push(...pipelineWavs());
  const encoded = requests.map((r) => {
    const { inputValues } = fe.call(toMono(readAudio(new Uint8Array(r.body), r.name), 16000), { samplingRate: 16000 });
    const { audioCodes } = model.encode(inputValues);
    return { ...r, codes: audioCodes, npy: writeNpy(audioCodes.data, audioCodes.dims) };
  });
  // the first request's codes, frame-major int32 as /decode takes them, and Node's 16-bit decode of them
  const { codes } = encoded[0];
  const frames = new Uint8Array(4 * codes.dims[2]);
  const view = new DataView(frames.buffer);
  for (let t = 0; t < codes.dims[2]; t++) view.setInt32(4 * t, Number(codes.data[t]), true);
  const wav = encodeWav(model.decode(codes).audioValues.data, 16000);
  model.dispose();
  return { encoded, frames, pcm: wav.subarray(44) };
})();

/** An X-Codec 2 edge handler: codes byte-identical to Node's pipeline, /decode within the fixture's audio atol. */
async function checkEdgeXcodec2(port, what) {
  const { encoded, frames, pcm } = await nodeXcodec2;
  for (const r of encoded) {
    const res = await fetch(`http://127.0.0.1:${port}/encode`, { method: 'POST', body: r.body });
    const body = new Uint8Array(await res.arrayBuffer());
    assert.is(res.status, 200, `${what} ${r.name}: ${new TextDecoder().decode(body)}`);
    assert.ok(
      Buffer.from(body).equals(Buffer.from(r.npy)),
      `${what} ${r.name}: codes byte-identical to Node's pipeline`,
    );
  }
  const bad = await fetch(`http://127.0.0.1:${port}/encode?bandwidth=4`, { method: 'POST', body: encoded[0].body });
  assert.is(bad.status, 400, `${what}: bandwidth 4 is refused`);
  assert.match(await bad.text(), /^XcodecInputError: .*0\.8/);
  const res = await fetch(`http://127.0.0.1:${port}/decode?nq=1`, { method: 'POST', body: frames });
  const wav = Buffer.from(await res.arrayBuffer());
  assert.is(res.status, 200, `${what} /decode: ${wav}`);
  assert.is(res.headers.get('content-type'), 'audio/wav');
  assert.is(wav.length - 44, pcm.length, `${what} /decode: every sample`);
  const whole = Buffer.from(
    await (await fetch(`http://127.0.0.1:${port}/decode?nq=1&whole=1`, { method: 'POST', body: frames })).arrayBuffer(),
  );
  assert.ok(wav.equals(whole), `${what}: /decode is the one decode ?whole=1 answers`);
  assertPcmClose(wav, pcm, 'tiny-xcodec2', what);
}

/** A child process that prints `pattern` (with the port in its first group) once it serves. */
function serving(proc, pattern, what) {
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${what} did not start in 60 s: ${out}`)), 60000);
    const hear = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    };
    proc.stdout.on('data', hear);
    proc.stderr.on('data', hear);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${what} exited with ${code}: ${out}`));
    });
  });
}

test("edge: the fetch(request) template under Deno.serve, no workers: codes equal Node's pipeline", async () => {
  assert.ok(existsSync(bin('deno')), 'deno is installed (npm devDependency "deno")');
  const proc = spawn(
    bin('deno'),
    ['run', '--allow-read', '--allow-env', '--allow-net=127.0.0.1', 'test/support/runtimes/edge-serve.mjs'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const port = await serving(proc, /listening (\d+)/, 'Deno.serve');
    await checkEdge(port, 'deno edge');
    await checkEdgeStream(port, 'deno edge stream');
  } finally {
    proc.kill('SIGTERM');
  }
});

test("edge: the same template as a Worker under workerd (kernels as wasm modules, the model as data modules), X-Codec and X-Codec 2: codes equal Node's", async () => {
  assert.ok(existsSync(bin('workerd')), 'workerd is installed (npm devDependency "workerd")');
  const work = mkdtempSync(join(tmpdir(), 'xcodec-workerd-'));
  try {
    const { build } = await import('esbuild');
    const entries = {
      'workerd-worker': join(root, 'examples', 'edge-worker', 'worker.mjs'),
      'workerd-worker-bytes': join(root, 'test', 'support', 'runtimes', 'workerd-worker-bytes.mjs'),
    };
    for (const [name, entry] of Object.entries(entries)) {
      await build({
        entryPoints: [entry],
        outfile: join(work, `${name}.mjs`),
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        logLevel: 'silent',
        external: ['*.wasm', '*.bin', 'mpg123-decoder', 'ogg-opus-decoder', '@wasm-audio-decoders/ogg-vorbis'],
      });
    }
    const port = await freePort();
    const bytesPort = await freePort();
    const xcodec2Port = await freePort();
    const data = {
      'config.json.bin': 'config.json',
      'model.safetensors.bin': 'model.safetensors',
      'preprocessor_config.json.bin': 'preprocessor_config.json',
    };
    // embed takes paths under the config's folder
    for (const [name, f] of Object.entries(data)) copyFileSync(join(dir, f), join(work, name));
    mkdirSync(join(work, 'xcodec2'));
    for (const [name, f] of Object.entries(data)) copyFileSync(join(xcodec2Dir, f), join(work, 'xcodec2', name));
    for (const f of ['simd', 'relaxed']) copyFileSync(join(root, 'build', `xcodec.${f}.wasm`), join(work, `${f}.wasm`));
    const dataModules = (folder) =>
      Object.keys(data).map((name) => `(name = "${name}", data = embed "${folder}${name}")`);
    const worker = (entry, wasm, folder = '') => `(
  modules = [ (name = "worker.mjs", esModule = embed "${entry}.mjs"), ${[...wasm, ...dataModules(folder)].join(', ')} ],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = ["nodejs_compat"],
)`;
    const wasmModules = [
      '(name = "simd.wasm", wasm = embed "simd.wasm")',
      '(name = "relaxed.wasm", wasm = embed "relaxed.wasm")',
    ];
    writeFileSync(
      join(work, 'config.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .modules), (name = "bytes", worker = .bytes), (name = "xcodec2", worker = .xcodec2) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
              (name = "http-bytes", address = "127.0.0.1:${bytesPort}", http = (), service = "bytes"),
              (name = "http-xcodec2", address = "127.0.0.1:${xcodec2Port}", http = (), service = "xcodec2") ],
);
const modules :Workerd.Worker = ${worker('workerd-worker', wasmModules)};
const xcodec2 :Workerd.Worker = ${worker('workerd-worker', wasmModules, 'xcodec2/')};
const bytes :Workerd.Worker = ${worker('workerd-worker-bytes', [])};
`,
    );
    const proc = spawn(bin('workerd'), ['serve', join(work, 'config.capnp'), '--verbose'], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    proc.stdout.on('data', (d) => {
      log += d;
    });
    proc.stderr.on('data', (d) => {
      log += d;
    });
    try {
      for (let i = 0; ; i++) {
        if (proc.exitCode !== null) throw new Error(`workerd exited with ${proc.exitCode}: ${log}`);
        const up = await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.status === 405,
          () => false,
        );
        if (up) break;
        if (i > 300) throw new Error(`workerd did not serve on ${port} in 30 s: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const headers = await checkEdge(port, 'workerd');
      await checkEdgeStream(port, 'workerd stream');
      await checkEdgeXcodec2(xcodec2Port, 'workerd X-Codec 2');
      const refused = await fetch(`http://127.0.0.1:${bytesPort}/`, { method: 'POST', body: edgeRequests()[0].body });
      const text = await refused.text();
      assert.is(refused.status, 500, text);
      assert.match(
        text,
        /^XcodecRuntimeError: this runtime does not allow compiling WebAssembly from bytes \(CompileError: .*\); pass the kernels precompiled: load with \{ wasmModules: \{ simd, relaxed \} \}/,
      );
      process.stdout.write(
        `  workerd: ${headers.get('x-xcodec-simd')} SIMD, one thread, peak WebAssembly memory ${(Number(headers.get('x-xcodec-wasm-bytes')) / 2 ** 20).toFixed(1)} MiB (tiny-hubert)\n`,
      );
    } finally {
      proc.kill('SIGTERM');
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
test.run();
