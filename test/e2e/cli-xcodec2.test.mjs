// The CLI on an X-Codec 2 checkpoint (tiny-xcodec2): encode, decode (to a file and streamed to
// stdout), roundtrip and tokenize --format llasa, against the API's own results; the typed errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecModelSync, Xcodec2FeatureExtractor, fromLlasaTokens } from '../../dist/node/index.js';
import { decodeWav, loadAudio, readNpy } from '../../dist/audio.js';
import { fixtures, here, assertCodesEqual } from '../support/helpers.mjs';

const cli = join(here, '..', 'dist', 'node', 'cli.js');
const model = join(fixtures, 'tiny-xcodec2');
const speech = join(fixtures, 'audio', 'speech_cn.wav');
const out = mkdtempSync(join(tmpdir(), 'xcodec2-cli-'));

function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let expected;
async function apiCodes() {
  if (expected) return expected;
  const m = await XcodecModelSync.fromPretrained(model);
  const fe = await Xcodec2FeatureExtractor.fromPretrained(model);
  const mono = await loadAudio(new Uint8Array(readFileSync(speech)), { sampleRate: 16000 });
  const { inputValues } = fe.call(mono, { samplingRate: 16000 });
  const { audioCodes } = m.encode(inputValues);
  const { audioValues } = m.decode(audioCodes);
  m.dispose();
  expected = { audioCodes, audioValues, samples: mono.length };
  return expected;
}

test('encode writes the API codes (1, 1, T) of the feature-extracted audio; decode writes its audio', async () => {
  const { audioCodes } = await apiCodes();
  const codes = join(out, 'codes.npy');
  const e = run('encode', speech, '-o', codes, '--model', model);
  assert.is(e.code, 0, e.stderr);
  assert.match(e.stderr, /X-Codec 2, wav2vec2-bert/);
  const got = readNpy(new Uint8Array(readFileSync(codes)));
  assert.equal(got.shape, audioCodes.dims);
  assertCodesEqual(got.data, audioCodes.data, 'CLI codes');
  const wav = join(out, 'decoded.wav');
  const d = run('decode', codes, '-o', wav, '--model', model);
  assert.is(d.code, 0, d.stderr);
  const streamed = spawnSync(process.execPath, [cli, 'decode', codes, '-o', '-', '--model', model], {
    maxBuffer: 64 << 20,
  });
  assert.is(streamed.status, 0, String(streamed.stderr));
  const file = readFileSync(wav);
  assert.is(streamed.stdout.length, file.length, "the streamed WAV has the file's size");
  assert.ok(
    Buffer.compare(streamed.stdout.subarray(44), file.subarray(44)) === 0,
    "the streamed samples equal the file's",
  );
  const samples = decodeWav(new Uint8Array(file)).channels[0];
  assert.is(samples.length, audioCodes.dims[2] * 320);
});

test('roundtrip writes audio of the input length', async () => {
  const { samples } = await apiCodes();
  const wav = join(out, 'roundtrip.wav');
  const r = run('roundtrip', speech, '-o', wav, '--model', model);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /0\.8 kbps \(1 quantizers\)/);
  assert.is(decodeWav(new Uint8Array(readFileSync(wav))).channels[0].length, samples);
});

test("tokenize --format llasa writes Llasa's <|s_N|> text, which reads back to the API's codes; resumes", async () => {
  const { audioCodes } = await apiCodes();
  const dir = join(out, 'tok');
  const r = run('tokenize', speech, '-o', dir, '--model', model, '--format', 'llasa');
  assert.is(r.code, 0, r.stderr);
  const text = readFileSync(join(dir, 'speech_cn.txt'), 'utf8');
  assert.match(text, /^(<\|s_\d+\|>)+\n$/);
  const back = fromLlasaTokens(text.trim());
  assertCodesEqual(back.data, audioCodes.data, 'llasa tokens');
  const json = JSON.parse(readFileSync(join(dir, 'speech_cn.json'), 'utf8'));
  assert.is(json.format, 'llasa');
  assert.is(json.frames, audioCodes.dims[2]);
  const again = run('tokenize', speech, '-o', dir, '--model', model, '--format', 'llasa');
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /1 already done/);
});

test('--format llasa on an X-Codec checkpoint is a typed error naming X-Codec 2', () => {
  const r = run(
    'tokenize',
    speech,
    '-o',
    join(out, 'bad'),
    '--model',
    join(fixtures, 'tiny-hubert'),
    '--format',
    'llasa',
  );
  assert.is(r.code, 1);
  assert.match(r.stderr, /XcodecInputError: --format llasa writes Llasa's speech tokens, the codes of X-Codec 2/);
});

test('encoding input_values that are not a multiple of 320 samples names the feature extractor', () => {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `import('${join(here, '..', 'dist', 'node', 'index.js')}').then(async ({ XcodecModelSync }) => {
        const m = await XcodecModelSync.fromPretrained(${JSON.stringify(model)});
        try { m.encode(new Float32Array(1000)); } catch (e) { console.log(e.name + ': ' + e.message); }
        m.dispose();
      })`,
    ],
    { encoding: 'utf8' },
  );
  assert.match(r.stdout, /XcodecInputError: X-Codec 2 encodes input_values of a multiple of 320 samples/);
  assert.match(r.stdout, /Xcodec2FeatureExtractor/);
});

test.run();
