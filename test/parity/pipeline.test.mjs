// Real files in, the Python pipeline's codes out (test/fixtures/pipeline-tiny-hubert, copied from the
// project's ground truth): for WAVs at 8, 16, 22.05, 44.1 and 48 kHz, mono and stereo, int16, int24
// and float32, the authors' pipeline (read, mean over channels, torchaudio resample to 16 kHz,
// DacFeatureExtractor padding, encode) gives these codes at every bandwidth. Both the API and the CLI
// must give exactly the same codes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecFeatureExtractor, XcodecModelSync } from '../../dist/node/index.js';
import { loadAudio, readNpy } from '../../dist/audio.js';
import { fixtures, here } from '../support/helpers.mjs';

const dir = join(fixtures, 'pipeline-tiny-hubert');
const modelDir = join(fixtures, 'tiny-hubert');
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const load = (p) => new Uint8Array(readFileSync(p));

function firstDifference(got, expected) {
  if (got.length !== expected.length) return `length ${got.length} vs ${expected.length}`;
  for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return `code ${i}: ${got[i]} vs ${expected[i]}`;
  return null;
}

test('the fixture covers the rates, channel counts and sample formats it names', () => {
  assert.equal(
    manifest.cases.map((c) => c.rate).sort((a, b) => a - b),
    [8000, 16000, 22050, 44100, 48000],
  );
  assert.ok(manifest.cases.some((c) => c.channels === 2));
  for (const c of manifest.cases) assert.equal(Object.keys(c.codes).sort(), ['0.5', '1', '1.5', '2', '4']);
});

test('API: loadAudio, the feature extractor and encode give the pipeline codes at every bandwidth', async () => {
  const model = await XcodecModelSync.fromPretrained(modelDir, { numThreads: 1 });
  const fe = await XcodecFeatureExtractor.fromPretrained(modelDir);
  try {
    for (const c of manifest.cases) {
      const samples = await loadAudio(load(join(dir, c.file)), {
        sampleRate: model.config.sampleRate,
        fileName: c.file,
      });
      const { inputValues } = fe.call(samples, { samplingRate: model.config.sampleRate });
      for (const [bw, file] of Object.entries(c.codes)) {
        const expected = readNpy(load(join(dir, file)));
        const { audioCodes } = model.encode(inputValues, { bandwidth: Number(bw) });
        assert.equal(audioCodes.dims, expected.shape, `${c.file} at ${bw} kbps: dims`);
        const diff = firstDifference(audioCodes.data, expected.data);
        assert.is(diff, null, `${c.file} at ${bw} kbps: ${diff}`);
      }
    }
  } finally {
    model.dispose();
  }
});

test('CLI: xcodec encode FILE --bandwidth BW gives the pipeline codes for every file and bandwidth', () => {
  const out = mkdtempSync(join(tmpdir(), 'xcodec-pipeline-'));
  try {
    for (const c of manifest.cases) {
      for (const [bw, file] of Object.entries(c.codes)) {
        const codesPath = join(out, `${c.file}.${bw}.npy`);
        const r = spawnSync(
          process.execPath,
          [
            join(here, '..', 'dist', 'node', 'cli.js'),
            'encode',
            join(dir, c.file),
            '-o',
            codesPath,
            '--model',
            modelDir,
            '--bandwidth',
            bw,
            '--threads',
            '1',
            '-q',
          ],
          { encoding: 'utf8' },
        );
        assert.is(r.status, 0, `${c.file} at ${bw} kbps: exit ${r.status}: ${r.stderr}`);
        const got = readNpy(load(codesPath));
        const expected = readNpy(load(join(dir, file)));
        assert.equal(got.shape, expected.shape, `${c.file} at ${bw} kbps: shape`);
        const diff = firstDifference(got.data, expected.data);
        assert.is(diff, null, `${c.file} at ${bw} kbps: ${diff}`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
