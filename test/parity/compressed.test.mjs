// Compressed input (MP3, Ogg Vorbis, Ogg Opus; FLAC as a lossless control), held to ffmpeg's own
// decode of the same file. The files in test/fixtures/compressed were made from the authors' audio
// with Debian's ffmpeg 5.1.9 by scripts/make-compressed-fixtures.sh (the commands are there), beside
// ffmpeg's float32 decode of each; the tests need no ffmpeg.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecFeatureExtractor, XcodecModelSync } from '../../dist/node/index.js';
import {
  StreamingResampler,
  decodeAudio,
  loadAudio,
  readAudio,
  readNpy,
  resample,
  sniffAudio,
  toMono,
} from '../../dist/audio.js';
import { fixtures, here, rejectsWith } from '../support/helpers.mjs';

const dir = join(fixtures, 'compressed');
const load = (name) => new Uint8Array(readFileSync(join(dir, name)));
/**
 * file, format, channels, rate, and the largest |ours - ffmpeg| allowed. MP3 and Vorbis: measured
 * 8.9e-7 and 1.8e-7 (mpg123 and libvorbis against ffmpeg's mp3float and vorbis decoders: float
 * rounding only, both trim the LAME encoder delay and padding the same way, so no alignment is
 * needed); Opus against ffmpeg's libopus decoder and FLAC: identical.
 */
const CASES = [
  ['music_44100_stereo.mp3', 'mp3', 2, 44100, 2e-6],
  ['speech_22050_mono.mp3', 'mp3', 1, 22050, 2e-6],
  ['music_48000_stereo.ogg', 'ogg-vorbis', 2, 48000, 1e-6],
  ['speech_mono.opus', 'ogg-opus', 1, 48000, 0],
  ['music_48000_stereo_s24.flac', 'flac', 2, 48000, 0],
];

function maxDiff(channels, ref) {
  const [n, c] = ref.shape;
  let worst = 0;
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(channels[ch][i] - ref.data[i * c + ch]));
  return worst;
}

test("every format decodes to ffmpeg's samples: same length, same channels, within the measured tolerance", async () => {
  for (const [file, format, channels, rate, tol] of CASES) {
    assert.is(sniffAudio(load(file), file), format, `${file}: format by content`);
    const audio = await decodeAudio(load(file), { fileName: file });
    const ref = readNpy(load(`${file}.ffmpeg.npy`));
    assert.is(audio.sampleRate, rate, `${file}: rate`);
    assert.is(audio.channels.length, channels, `${file}: channels`);
    assert.is(audio.channels[0].length, ref.shape[0], `${file}: samples (ffmpeg: ${ref.shape[0]})`);
    const worst = maxDiff(audio.channels, ref);
    assert.ok(worst <= tol, `${file}: max |ours - ffmpeg| ${worst} > ${tol}`);
    console.log(`  # ${file}: ${ref.shape[0]} samples x ${channels}, max |ours - ffmpeg| ${worst.toExponential(2)}`);
  }
});

test("Opus: ffmpeg's native Opus decoder is another implementation; ours equals its libopus decoder (the reference)", async () => {
  const audio = await decodeAudio(load('speech_mono.opus'));
  const native = readNpy(load('speech_mono.opus.ffmpeg-native.npy'));
  const worst = maxDiff(audio.channels, native);
  // Recorded, not a tolerance of ours: torchaudio.load goes through ffmpeg's default (native) decoder.
  assert.ok(worst > 0 && worst < 0.5, `native spread ${worst}`);
  console.log(`  # speech_mono.opus: max |libopus - ffmpeg native opus| ${worst.toExponential(2)}`);
});

test('loadAudio streams compressed files: equal to decoding whole, then toMono', async () => {
  for (const [file] of CASES) {
    const whole = toMono(await decodeAudio(load(file)), 16000);
    let source = null;
    const streamed = await loadAudio(load(file), {
      sampleRate: 16000,
      fileName: file,
      onSource: (s) => {
        source = s;
      },
    });
    assert.is(streamed.length, whole.length, `${file}: length`);
    assert.ok(
      streamed.every((v, i) => Object.is(v, whole[i])),
      `${file}: bit for bit`,
    );
    assert.ok(source && source.samples > 0 && source.channels >= 1, `${file}: source reported`);
  }
});

test('StreamingResampler: pieces of any size give resample() of the whole, bit for bit', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const x = Float32Array.from({ length: 9001 }, rand);
  for (const [from, to] of [
    [44100, 16000],
    [48000, 16000],
    [22050, 16000],
    [8000, 16000],
    [16000, 16000],
    [48000, 44100],
  ]) {
    const whole = resample(x, from, to);
    for (const piece of [1, 7, 160, 441, 4096, 9001]) {
      const r = new StreamingResampler(from, to);
      const parts = [];
      for (let at = 0; at < x.length; at += piece) parts.push(r.push(x.subarray(at, at + piece)));
      parts.push(r.end());
      const got = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        got.set(p, at);
        at += p.length;
      }
      assert.is(got.length, whole.length, `${from}->${to} in pieces of ${piece}: length`);
      assert.ok(
        got.every((v, i) => Object.is(v, whole[i])),
        `${from}->${to} in pieces of ${piece}: bit for bit`,
      );
    }
  }
  assert.throws(() => new StreamingResampler(1, 16000), /fromRate 1 is not accepted/);
  const r = new StreamingResampler(44100, 16000);
  r.end();
  assert.throws(() => r.push(new Float32Array(1)), /push after end/);
});

test("codes from the MP3 equal codes from ffmpeg's decode of it, through the same pipeline, at every bandwidth", async () => {
  const modelDir = join(fixtures, 'tiny-hubert');
  const model = await XcodecModelSync.fromPretrained(modelDir, { numThreads: 1 });
  const fe = await XcodecFeatureExtractor.fromPretrained(modelDir);
  try {
    for (const file of [
      'music_44100_stereo.mp3',
      'speech_22050_mono.mp3',
      'music_48000_stereo.ogg',
      'speech_mono.opus',
    ]) {
      const ref = readNpy(load(`${file}.ffmpeg.npy`));
      const [n, c] = ref.shape;
      const refChannels = Array.from({ length: c }, (_, ch) =>
        Float32Array.from({ length: n }, (_, i) => ref.data[i * c + ch]),
      );
      const rate = (await decodeAudio(load(file))).sampleRate;
      const fromFfmpeg = fe.call(toMono({ sampleRate: rate, channels: refChannels }, 16000), {
        samplingRate: 16000,
      }).inputValues;
      const ours = fe.call(await loadAudio(load(file), { sampleRate: 16000 }), { samplingRate: 16000 }).inputValues;
      let equal = 0;
      let total = 0;
      for (const bw of model.config.targetBandwidths) {
        const a = model.encode(ours, { bandwidth: bw }).audioCodes.data;
        const b = model.encode(fromFfmpeg, { bandwidth: bw }).audioCodes.data;
        for (let i = 0; i < a.length; i++) equal += a[i] === b[i] ? 1 : 0;
        total += a.length;
      }
      assert.is(equal, total, `${file}: ${equal} of ${total} codes equal to those of ffmpeg's decode`);
    }
  } finally {
    model.dispose();
  }
});

test('CLI: xcodec encode song.mp3 -o codes.npy works end to end and equals the API', async () => {
  const out = mkdtempSync(join(tmpdir(), 'xcodec-compressed-'));
  const modelDir = join(fixtures, 'tiny-hubert');
  try {
    const model = await XcodecModelSync.fromPretrained(modelDir, { numThreads: 1 });
    const fe = await XcodecFeatureExtractor.fromPretrained(modelDir);
    for (const file of ['music_44100_stereo.mp3', 'music_48000_stereo.ogg', 'speech_mono.opus']) {
      const codesPath = join(out, `${file}.npy`);
      const r = spawnSync(
        process.execPath,
        [
          join(here, '..', 'dist', 'node', 'cli.js'),
          'encode',
          join(dir, file),
          '-o',
          codesPath,
          '--model',
          modelDir,
          '--bandwidth',
          '2',
          '--threads',
          '1',
        ],
        { encoding: 'utf8' },
      );
      assert.is(r.status, 0, `${file}: ${r.stderr}`);
      assert.match(r.stderr, /resampled to 16000 Hz/);
      const got = readNpy(new Uint8Array(readFileSync(codesPath)));
      const x = fe.call(await loadAudio(load(file), { sampleRate: 16000 }), { samplingRate: 16000 }).inputValues;
      const expected = model.encode(x, { bandwidth: 2 }).audioCodes;
      assert.equal(got.shape, expected.dims, `${file}: shape`);
      assert.ok(
        got.data.every((v, i) => BigInt(v) === BigInt(expected.data[i])),
        `${file}: codes equal the API's`,
      );
    }
    model.dispose();
    const bad = join(out, 'notes.mp3');
    writeFileSync(bad, 'these are not audio bytes');
    const r = spawnSync(
      process.execPath,
      [join(here, '..', 'dist', 'node', 'cli.js'), 'encode', bad, '-o', join(out, 'x.npy'), '--model', modelDir],
      { encoding: 'utf8' },
    );
    assert.is.not(r.status, 0);
    assert.match(
      r.stderr,
      /not an audio file of an accepted format .*accepted: WAV \(RIFF\/WAVE\), FLAC, MP3, Ogg Vorbis, Ogg Opus/,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('damaged or truncated compressed files are typed errors, and readAudio points to the async reader', async () => {
  const mp3 = load('music_44100_stereo.mp3');
  assert.throws(
    () => readAudio(mp3, 'song.mp3'),
    (e) =>
      e.name === 'XcodecInputError' && /song\.mp3: MP3 .*decoded asynchronously; use await decodeAudio/.test(e.message),
  );
  // An MP3 cut after its first two frame headers: nothing decodes.
  const start = mp3.findIndex((b, i) => b === 0xff && (mp3[i + 1] & 0xe0) === 0xe0);
  await rejectsWith('XcodecInputError', decodeAudio(mp3.slice(0, start + 8), { fileName: 'cut.mp3' }), 'cut.mp3');
  for (const file of ['music_48000_stereo.ogg', 'speech_mono.opus']) {
    const bytes = load(file);
    const damaged = bytes.slice();
    for (let i = 200; i < damaged.length; i += 97) damaged[i] ^= 0x5a;
    await rejectsWith('XcodecInputError', decodeAudio(damaged, { fileName: `damaged-${file}` }), `damaged-${file}`);
    await rejectsWith(
      'XcodecInputError',
      decodeAudio(bytes.slice(0, 40), { fileName: `head-${file}` }),
      `head-${file}`,
    );
  }
  await rejectsWith('XcodecInputError', decodeAudio('song.mp3'), 'must be a Uint8Array');
});

test('the decoders are imported only when a compressed file is read', () => {
  // A resolve hook records every module the process imports from node_modules.
  const trace = join(mkdtempSync(join(tmpdir(), 'xcodec-imports-')), 'imports.txt');
  const hook = `import { appendFileSync } from 'node:fs';
    export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/node_modules/')) appendFileSync(${JSON.stringify(trace)}, r.url + '\\n'); return r; }`;
  const run = (file) => {
    writeFileSync(trace, '');
    const script = `import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const { loadAudio } = await import(${JSON.stringify(join(here, '..', 'dist', 'audio.js'))});
      const { readFileSync } = await import('node:fs');
      const y = await loadAudio(new Uint8Array(readFileSync(${JSON.stringify(join(dir, file))})), { sampleRate: 16000 });
      console.log(y.length);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 0, `${file}: decoded ${r.stdout}`);
    return readFileSync(trace, 'utf8');
  };
  const decoders = /mpg123-decoder|ogg-opus-decoder|ogg-vorbis|opus-decoder/;
  assert.not.match(run('music_48000_stereo_s24.flac'), decoders, 'FLAC reads without any decoder package');
  const mp3 = run('music_44100_stereo.mp3');
  assert.match(mp3, /mpg123-decoder/, 'MP3 imports mpg123-decoder');
  assert.not.match(mp3, /ogg-opus-decoder|ogg-vorbis/, 'and nothing else');
  rmSync(join(trace, '..'), { recursive: true, force: true });
});

test.run();
