// The Higgs Audio v2 tokenizer (transformers' HiggsAudioV2TokenizerModel, an XcodecModel subclass)
// through the same API and CLI: config rules, the CLI on real files at other rates (read like the
// pipeline, resampled to 24 kHz), and decode-only use. The numbers themselves are held to the
// tiny-higgs fixture in fixtures.test.mjs, windows.test.mjs and threads.test.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecFeatureExtractor, XcodecModelSync, parseXcodecConfig } from '../../dist/node/index.js';
import { loadAudio, readNpy } from '../../dist/audio.js';
import { fixtures, here } from '../support/helpers.mjs';

const dir = join(fixtures, 'tiny-higgs');
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const xcodecConfig = JSON.parse(readFileSync(join(fixtures, 'tiny-hubert', 'config.json'), 'utf8'));

function throwsConfig(fn, pattern) {
  let error = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected an XcodecConfigError matching ${pattern}`);
  assert.is(error.name, 'XcodecConfigError', `${error.name}: ${error.message}`);
  assert.match(error.message, pattern);
}

test('config: the Higgs fields and their derived values', () => {
  const c = parseXcodecConfig(config);
  assert.is(c.modelType, 'higgs_audio_v2_tokenizer');
  assert.is(c.sampleRate, 24000);
  assert.is(c.hopLength, 960);
  assert.is(c.frameRate, 25);
  assert.is(c.semanticSampleRate, 16000);
  assert.is(c.semanticPadding, 160);
  assert.is(c.semanticDownsampleFactor, 2, 'int(960 / (24000 / 16000) / 320)');
  assert.is(c.codebookDim, 8);
  assert.is(c.hiddenSize, 48);
  assert.ok(c.quantizerProjections);
  assert.is(c.numQuantizers, 16, '4 kbps at 25 frames/s x 10 bits');
  const defaults = parseXcodecConfig({
    model_type: 'higgs_audio_v2_tokenizer',
    acoustic_model_config: config.acoustic_model_config,
  });
  assert.is(defaults.sampleRate, 24000, 'sample_rate defaults to 24000');
  assert.is(defaults.codebookDim, 64, 'codebook_dim defaults to 64');
  const x = parseXcodecConfig(xcodecConfig);
  assert.is(x.modelType, 'xcodec');
  assert.is(x.semanticPadding, 160, 'X-Codec pads its semantic input by hop / 2');
  assert.is(x.semanticDownsampleFactor, 1);
  assert.not.ok(x.quantizerProjections);
});

test('config: unknown model types list the supported ones; Higgs-only keys are refused on X-Codec', () => {
  throwsConfig(
    () => parseXcodecConfig({ ...config, model_type: 'dac' }),
    /"model_type" is "dac"; accepted: "xcodec", "higgs_audio_v2_tokenizer"/,
  );
  throwsConfig(
    () => parseXcodecConfig({ ...xcodecConfig, semantic_sample_rate: 16000 }),
    /"semantic_sample_rate" belongs to model_type "higgs_audio_v2_tokenizer"/,
  );
  throwsConfig(() => parseXcodecConfig({ ...xcodecConfig, codebook_dim: 8 }), /"codebook_dim" is 8; accepted: 48/);
  throwsConfig(() => parseXcodecConfig({ ...config, downsample_factor: 10000 }), /semantic_downsample_factor of 0/);
  throwsConfig(() => parseXcodecConfig({ ...config, semantic_sample_rate: 0 }), /"semantic_sample_rate" is 0/);
  throwsConfig(
    () => parseXcodecConfig({ ...config, semantic_sample_rate: 100 }),
    /"semantic_sample_rate" is 100; accepted: 1000 to 768000 Hz/,
  );
});

test('a checkpoint without the projections is a typed error naming the tensor', async () => {
  // The tiny-hubert weights under a Higgs config: every project_in is missing.
  const { copyFileSync, writeFileSync } = await import('node:fs');
  const d = mkdtempSync(join(tmpdir(), 'xcodec-higgs-'));
  try {
    const cfg = { ...xcodecConfig, model_type: 'higgs_audio_v2_tokenizer', sample_rate: 16000, codebook_dim: 48 };
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
    copyFileSync(join(fixtures, 'tiny-hubert', 'model.safetensors'), join(d, 'model.safetensors'));
    let error = null;
    await XcodecModelSync.fromPretrained(d).catch((e) => {
      error = e;
    });
    assert.ok(error, 'the load failed');
    assert.is(error.name, 'XcodecCheckpointError');
    assert.match(error.message, /quantizer\.quantizers\.0\.project_in\.weight/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('CLI: encode a 44.1 kHz stereo WAV and an MP3 with the Higgs model (read like the pipeline, resampled to 24 kHz), then decode', async () => {
  const out = mkdtempSync(join(tmpdir(), 'xcodec-higgs-cli-'));
  const cli = join(here, '..', 'dist', 'node', 'cli.js');
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
  const fe = await XcodecFeatureExtractor.fromPretrained(dir);
  try {
    for (const file of [
      join(fixtures, 'pipeline-tiny-hubert', 'stereo_44100_int16.wav'),
      join(fixtures, 'compressed', 'music_44100_stereo.mp3'),
    ]) {
      const codesPath = join(out, 'codes.npy');
      let r = spawnSync(
        process.execPath,
        [cli, 'encode', file, '-o', codesPath, '--model', dir, '--bandwidth', '2', '--threads', '1'],
        { encoding: 'utf8' },
      );
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stderr, /resampled to 24000 Hz/);
      const got = readNpy(new Uint8Array(readFileSync(codesPath)));
      const samples = await loadAudio(new Uint8Array(readFileSync(file)), { sampleRate: 24000 });
      const x = fe.call(samples, { samplingRate: 24000 }).inputValues;
      assert.is(x.dims[2] % 960, 0, 'padded to the 960-sample hop');
      const expected = model.encode(x, { bandwidth: 2 }).audioCodes;
      assert.equal(got.shape, expected.dims);
      assert.equal(expected.dims, [1, 8, x.dims[2] / 960], '2 kbps: 8 quantizers at 25 frames/s');
      assert.ok(
        got.data.every((v, i) => v === expected.data[i]),
        `${file}: CLI codes equal the API's`,
      );
      const wavPath = join(out, 'out.wav');
      r = spawnSync(
        process.execPath,
        [cli, 'decode', codesPath, '-o', wavPath, '--model', dir, '--threads', '1', '-q'],
        { encoding: 'utf8' },
      );
      assert.is(r.status, 0, r.stderr);
      const { decodeWav } = await import('../../dist/audio.js');
      const wav = decodeWav(new Uint8Array(readFileSync(wavPath)));
      assert.is(wav.sampleRate, 24000);
      assert.is(wav.channels[0].length, expected.dims[2] * 960);
    }
  } finally {
    model.dispose();
    rmSync(out, { recursive: true, force: true });
  }
});

test('bandwidths: 2, 4, 6, 8 and 16 quantizers; the codes of a lower bandwidth are a prefix of the highest', async () => {
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: 1 });
  try {
    const x = Float32Array.from({ length: 24000 }, (_, i) => 0.4 * Math.sin(i * 0.031) + 0.1 * Math.sin(i * 0.47));
    assert.equal(
      model.config.targetBandwidths.map((bw) => model.numQuantizersFor(bw)),
      [2, 4, 6, 8, 16],
    );
    const top = model.encode(x, { bandwidth: 4 }).audioCodes;
    for (const bw of [0.5, 1, 1.5, 2]) {
      const { audioCodes } = model.encode(x, { bandwidth: bw });
      const [, nq, T] = audioCodes.dims;
      assert.is(T, 25);
      assert.ok(
        audioCodes.data.every((v, i) => v === top.data[i]),
        `${bw} kbps (${nq} quantizers) is a prefix of 4 kbps`,
      );
    }
    assert.throws(() => model.encode(x, { bandwidth: 3 }), /accepted \(kbps\): 0\.5, 1, 1\.5, 2, 4/);
  } finally {
    model.dispose();
  }
});

test.run();
