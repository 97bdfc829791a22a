// The web demo page (npm run demo:web) in headless Chromium: it loads the embedded model in a worker on
// a cross-origin isolated page, takes an uploaded file, encodes (the heatmap is quantizers x frames
// and not one colour), decodes (the reconstruction's audio element has the input's duration), streams
// the codes frame by frame through Web Audio (the same samples), and leaves a screenshot in test/output/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoServer } from '../../scripts/demo-web.mjs';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium.mjs';
import { fixtures, here } from '../support/helpers.mjs';

const outputDir = join(here, 'output');

test("demo page: upload an MP3, encode, heatmap of the codes' shape, decode, playable reconstruction, screenshot", async () => {
  const server = await startDemoServer({ port: 0 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: await chromiumPath(), args: CHROMIUM_ARGS, timeout: 60000 });
  const logs = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1150 } });
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(server.url);
    await page.waitForFunction(() => window.demo?.model !== null && window.demo?.model !== undefined, null, {
      timeout: 60000,
    });
    const info = await page.textContent('#model-info');
    assert.match(info, /runs in a worker on 2 thread\(s\)|runs in a worker on \d+ thread\(s\)/, info);
    assert.is(
      await page.evaluate(() => crossOriginIsolated),
      true,
      'the demo server makes the page cross-origin isolated',
    );

    await page.setInputFiles('#file', join(fixtures, 'compressed', 'speech_22050_mono.mp3'));
    await page.waitForFunction(
      () => window.demo.samples !== null && !document.getElementById('encode').disabled,
      null,
      { timeout: 30000 },
    );
    const seconds = await page.evaluate(() => window.demo.samples.length / window.demo.model.config.sampleRate);
    await page.selectOption('#bandwidth', '2');
    await page.click('#encode');
    await page.waitForFunction(() => window.demo.codes !== null && !window.demo.busy, null, { timeout: 60000 });
    const heat = await page.evaluate(() => {
      const c = document.getElementById('heatmap');
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      for (let i = 0; i < px.length; i += 4) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
      return {
        width: c.width,
        height: c.height,
        dims: window.demo.codes.dims,
        colours: colours.size,
        shape: document.getElementById('codes-shape').textContent,
      };
    });
    assert.is(heat.dims[1], 4, '2 kbps is 4 quantizers at 50 frames/s');
    assert.is(heat.width, heat.dims[2], 'heatmap columns = frames');
    assert.is(heat.height, heat.dims[1], 'heatmap rows = quantizers');
    assert.ok(heat.colours > 10, `the heatmap has ${heat.colours} colours, not one`);
    assert.match(heat.shape, new RegExp(`\\(1, 4, ${heat.dims[2]}\\)`));

    await page.click('#decode');
    await page.waitForFunction(() => window.demo.reconstruction !== null && !window.demo.busy, null, {
      timeout: 60000,
    });
    await page.waitForFunction(() => Number.isFinite(document.getElementById('audio-reconstruction').duration), null, {
      timeout: 30000,
    });
    const duration = await page.evaluate(() => document.getElementById('audio-reconstruction').duration);
    assert.ok(Math.abs(duration - seconds) < 0.01, `reconstruction plays ${duration} s for ${seconds} s of input`);
    assert.is(await page.isDisabled('#download-wav'), false);
    assert.is(await page.isDisabled('#download-codes'), false);
    const status = await page.textContent('#status');
    assert.match(status, /^decoded \d+ frames in/, status);
    // stream: frame by frame through Web Audio, the same samples as decode's, the time to first audio shown
    const decoded = await page.evaluate(() => Array.from(window.demo.reconstruction));
    await page.click('#stream');
    await page.waitForFunction(() => window.demo.streamed !== null && !window.demo.busy, null, { timeout: 60000 });
    const streamed = await page.evaluate(() => Array.from(window.demo.reconstruction));
    assert.is(streamed.length, decoded.length);
    assert.ok(
      streamed.every((v, i) => Object.is(v, decoded[i])),
      'the stream plays the samples decode() gives, bit for bit',
    );
    const streamStatus = await page.textContent('#status');
    assert.match(
      streamStatus,
      /^streamed \d+ frames one at a time: first audio after \d+ ms \(lookahead \d+ frames\)/,
      streamStatus,
    );
    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, 'demo-web.png'), fullPage: true });
    process.stdout.write(`  screenshot: ${join(outputDir, 'demo-web.png')}\n`);
  } catch (e) {
    throw new Error(`${e.message}\npage log:\n${logs.join('\n')}`);
  } finally {
    await browser.close();
    await server.close();
  }
});

test('demo page: the embedded X-Codec 2 model encodes and decodes an upload; its stream button stays off', async () => {
  const server = await startDemoServer({ port: 0 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: await chromiumPath(), args: CHROMIUM_ARGS, timeout: 60000 });
  const logs = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(server.url);
    await page.waitForFunction(() => window.demo?.model, null, { timeout: 60000 });
    await page.click('#load-xcodec2');
    await page.waitForFunction(() => window.demo.model?.config.modelType === 'xcodec2' && !window.demo.busy, null, {
      timeout: 60000,
    });
    assert.match(
      await page.textContent('#model-info'),
      /X-Codec 2 test model .*: xcodec2, wav2vec2-bert, 16000 Hz, 50 frames\/s, 1 quantizers/,
    );
    await page.setInputFiles('#file', join(fixtures, 'compressed', 'speech_22050_mono.mp3'));
    await page.waitForFunction(
      () => window.demo.samples !== null && !document.getElementById('encode').disabled,
      null,
      {
        timeout: 30000,
      },
    );
    const samples = await page.evaluate(() => window.demo.samples.length);
    await page.click('#encode');
    await page.waitForFunction(() => window.demo.codes !== null && !window.demo.busy, null, { timeout: 60000 });
    const dims = await page.evaluate(() => window.demo.codes.dims);
    assert.equal(dims, [1, 1, Math.ceil((samples + 1) / 320)], "one codebook, the feature extractor's frames");
    assert.is(await page.isDisabled('#stream'), true, 'no stream for X-Codec 2');
    await page.click('#decode');
    await page.waitForFunction(() => window.demo.reconstruction !== null && !window.demo.busy, null, {
      timeout: 60000,
    });
    assert.is(await page.evaluate(() => window.demo.reconstruction.length), samples);
    assert.match(await page.textContent('#status'), /^decoded \d+ frames in/);
  } catch (e) {
    throw new Error(`${e.message}\npage log:\n${logs.join('\n')}`);
  } finally {
    await browser.close();
    await server.close();
  }
});

test('demo:web refuses a folder that is not a checkpoint', async () => {
  const e = await startDemoServer({ port: 0, model: join(fixtures, 'compressed') }).then(
    () => null,
    (err) => err,
  );
  assert.match(e?.message ?? '', /no config\.json there; accepted: a checkpoint folder/);
});

test.run();
