// Every program in examples/ runs as a user would run it, so none rots: the Node file-to-codes script
// (in Node), the Deno decode, the Bun tokens, the tokenize-folder script and the browser page (headless
// Chromium). examples/edge-worker/ runs under workerd in runtimes.test.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '../../dist/audio.js';
import { XcodecModelSync } from '../../dist/node/index.js';
import { startDemoServer } from '../../scripts/demo-web.mjs';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium.mjs';
import { fixtures, manifest } from '../support/helpers.mjs';

const root = join(fixtures, '..', '..');
const examples = join(root, 'examples');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const work = mkdtempSync(join(tmpdir(), 'xcodec-examples-'));
const sampleCodes = readNpy(new Uint8Array(readFileSync(join(examples, 'browser-decode', 'codes.npy'))));

function run(cmd, args, cwd = work) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000 });
  assert.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.error?.message ?? ''}${r.stderr}`);
  return r.stdout;
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('node-file-to-codes.mjs: the sample to codes.npy and reconstruction.wav; codes equal the committed ones', () => {
  const out = run(process.execPath, [join(examples, 'node-file-to-codes.mjs')]);
  assert.match(out, /codes 1 x 4 x 246: /);
  const codes = readNpy(new Uint8Array(readFileSync(join(work, 'codes.npy'))));
  assert.equal(codes.shape, [1, 4, 246]);
  assert.equal([...codes.data], [...sampleCodes.data], 'the sample at 2 kbps gives examples/browser-decode/codes.npy');
  assert.ok(readFileSync(join(work, 'reconstruction.wav')).length > 44 + 2 * 16000 * 4, 'about 5 s of 16-bit audio');
});

test('deno.mjs: codes.npy decoded to a WAV under Deno', () => {
  const out = run(bin('deno'), [
    'run',
    '--allow-read',
    '--allow-write',
    '--allow-env',
    join(examples, 'deno.mjs'),
    join(examples, 'browser-decode', 'codes.npy'),
    join(work, 'deno.wav'),
  ]);
  assert.match(out, /decoded 1 x 4 x 246 codes to 78720 samples/);
  assert.is(readFileSync(join(work, 'deno.wav')).length, 44 + 2 * 78720);
});

test("bun.mjs: the sample's YuE tokens under Bun", () => {
  const out = run(bin('bun'), [join(examples, 'bun.mjs')]);
  const m = /^(\d+) YuE tokens for 4\.91 s: ((\d+ ?){8})/.exec(out);
  assert.ok(m, out);
  assert.is(Number(m[1]), 8 * 246, '4 kbps: 8 codebooks x 246 frames');
});

test('tokenize-folder.sh: a folder of two files to codes and a manifest', () => {
  const input = join(work, 'audio');
  mkdirSync(input);
  copyFileSync(join(fixtures, 'audio', 'speech_en.flac'), join(input, 'speech.flac'));
  copyFileSync(join(fixtures, 'pipeline-tiny-hubert', 'mono_16000_int16.wav'), join(input, 'tone.wav'));
  const out = run('sh', [join(examples, 'tokenize-folder.sh'), input, join(work, 'codes')], root);
  assert.match(out, /^2 files in .*manifest\.jsonl$/m);
  for (const f of ['speech.npy', 'tone.npy', 'speech.json', 'tone.json'])
    assert.ok(existsSync(join(work, 'codes', f)), f);
});

test("browser-decode: the page decodes codes.npy in its worker, as Node does (within the fixtures' atol)", async () => {
  const model = await XcodecModelSync.fromPretrained(join(root, 'weights', 'default'), { numThreads: 1 });
  const expected = model.decode({ data: sampleCodes.data, dims: sampleCodes.shape }).audioValues.data;
  model.dispose();
  const server = await startDemoServer({ port: 0 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: await chromiumPath(), args: CHROMIUM_ARGS, timeout: 60000 });
  const logs = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(new URL('/examples/browser-decode/index.html', server.url).href);
    await page.waitForFunction(() => window.decoded !== undefined, null, { timeout: 60000 });
    const got = await page.evaluate(() => ({ samples: [...window.decoded.samples], rate: window.decoded.rate }));
    assert.is(got.rate, 16000);
    assert.is(got.samples.length, expected.length);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got.samples[i] - expected[i]));
    // Chromium runs the relaxed (fused multiply-add) build, Node 20 the plain one: the roundings differ,
    // so the page is held to the fixtures' audio tolerance for this model (weights/default is tiny-hubert).
    const atol = manifest('tiny-hubert').cases[0].tensors.audio_values.atol;
    assert.ok(worst <= atol, `largest difference from Node's decode: ${worst} (atol ${atol})`);
    assert.match(await page.textContent('#status'), /decoded 1 x 4 x 246 codes to 4\.92 s/);
    assert.is(await page.isDisabled('#play'), false);
  } finally {
    await browser.close();
    await server.close();
    assert.equal(logs, [], 'no page errors');
  }
});

test.run();
