// The CLI end to end on the real samples (WAV and FLAC), .npy interop, and its error paths.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecModelSync } from '../../dist/node/index.js';
import { readNpy, writeNpy } from '../../dist/audio.js';
import { decodeWav, encodeWav } from '../../dist/audio.js';
import { fixtures, here, npy, assertCodesEqual, assertClose } from '../support/helpers.mjs';

const cli = join(here, '..', 'dist', 'node', 'cli.js');
const model = join(fixtures, 'tiny-hubert');
const audio = join(fixtures, 'audio');
const out = mkdtempSync(join(tmpdir(), 'xcodec-cli-'));

function run(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Codes [1, 2, T] of a fixed pattern (i * step mod 1024) as int64 .npy in the scratch folder. */
function writeCodes(name, T, step) {
  const codes = new BigInt64Array(2 * T);
  for (let i = 0; i < codes.length; i++) codes[i] = BigInt((i * step) % 1024);
  const codesPath = join(out, name);
  writeFileSync(codesPath, writeNpy(codes, [1, 2, T]));
  return { codes, codesPath };
}

test('run through a link, as npm installs the xcodec bin, the CLI still runs', () => {
  const link = join(out, 'xcodec-bin-link');
  symlinkSync(cli, link);
  const r = spawnSync(process.execPath, [link, 'encode'], { encoding: 'utf8' });
  assert.is(r.status, 1, `exit status ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, /usage:/);
});

test('decode of a long code sequence reports progress and writes every sample', async () => {
  // 3200 frames (64 s at 50 frames/s): more than one default window of 1500, so decode runs windowed
  const T = 3200;
  const { codes, codesPath } = writeCodes('long_codes.npy', T, 7919);
  const values = join(out, 'long_values.npy');
  const r = run('decode', codesPath, '-o', values, '--model', model);
  assert.is(r.code, 0, r.stderr);
  const steps = r.stderr.split('\n').filter((l) => /decoding: \d+% \(\d+ of 3200 frames\)/.test(l));
  assert.ok(steps.length >= 1, `progress lines on stderr:\n${r.stderr}`);
  const v = readNpy(new Uint8Array(readFileSync(values)));
  assert.equal(v.shape, [1, 1, T * 320]);
  // the CLI decodes in windows of 1500 frames; the library decodes the whole sequence in one call here
  const m = await XcodecModelSync.fromPretrained(model, { numThreads: 1 });
  const lib = m.decode({ data: codes, dims: [1, 2, T] }, { windowFrames: T }).audioValues.data;
  m.dispose();
  assert.is(v.data.length, lib.length);
  let diff = 0;
  for (let i = 0; i < lib.length; i++) if (!Object.is(v.data[i], lib[i])) diff++;
  assert.is(diff, 0, 'the windowed CLI decode equals a one-call decode, bit for bit');
});

test('encode of long audio reports progress, with the codes of a one-window encode', async () => {
  const N = 64 * 16000;
  const x = new Float32Array(N);
  for (let i = 0; i < N; i++) x[i] = 0.3 * Math.sin(i * 0.0137) + 0.1 * Math.sin(i * 0.37 + Math.sin(i / 5000));
  const inPath = join(out, 'long_input.npy');
  writeFileSync(inPath, writeNpy(x, [1, 1, N]));
  const codesPath = join(out, 'long_input_codes.npy');
  const r = run('encode', inPath, '-o', codesPath, '--model', model);
  assert.is(r.code, 0, r.stderr);
  const steps = r.stderr.split('\n').filter((l) => /encoding: \d+% \(\d+ of \d+ steps\)/.test(l));
  assert.ok(steps.length >= 1, `progress lines on stderr:\n${r.stderr}`);
  const got = readNpy(new Uint8Array(readFileSync(codesPath)));
  const m = await XcodecModelSync.fromPretrained(model, { numThreads: 1 });
  const lib = m.encode({ data: x, dims: [1, 1, N] }, { windowFrames: 1e6 }).audioCodes;
  m.dispose();
  assert.equal(got.shape, lib.dims);
  assertCodesEqual(got.data, lib.data, 'CLI encode in windows against one window');
});

test('encode + decode round trip of the FLAC speech sample', () => {
  const codes = join(out, 'speech_en_codes.npy');
  let r = run('encode', join(audio, 'speech_en.flac'), '-o', codes, '--model', model, '--bandwidth', '2', '-q');
  assert.is(r.code, 0, r.stderr);
  const c = readNpy(new Uint8Array(readFileSync(codes)));
  assert.is(c.dtype, '<i8');
  assert.equal(c.shape, [1, 4, Math.ceil(78480 / 320)]); // 4.905 s padded to the hop
  const wav = join(out, 'speech_en.wav');
  r = run('decode', codes, '-o', wav, '--model', model, '-q');
  assert.is(r.code, 0, r.stderr);
  const d = decodeWav(new Uint8Array(readFileSync(wav)));
  assert.is(d.sampleRate, 16000);
  assert.is(d.channels[0].length, c.shape[2] * 320);
  assert.ok(
    d.channels[0].every((v) => Math.abs(v) <= 0.99 + 1e-4),
    'clamped to +-0.99',
  );
});

test('roundtrip of the WAV music sample, and --rescale', () => {
  const wav = join(out, 'music_rt.wav');
  let r = run('roundtrip', join(audio, 'music.wav'), '-o', wav, '--model', model, '--bandwidth', '0.5');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /audio_codes \(1, 1, 1000\) at 0\.5 kbps/);
  const d = decodeWav(new Uint8Array(readFileSync(wav)));
  assert.is(d.channels[0].length, 320000); // trimmed to the input length
  const scaled = join(out, 'music_rt_scaled.wav');
  r = run('roundtrip', join(audio, 'speech_cn.wav'), '-o', scaled, '--model', model, '--rescale', '-q');
  assert.is(r.code, 0, r.stderr);
  const s = decodeWav(new Uint8Array(readFileSync(scaled)));
  const peak = s.channels[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(Math.abs(peak - 0.99) < 1e-3, `peak ${peak}`);
});

test('CLI codes equal the library on a (B, 1, N) .npy input; (N,) goes through the feature extractor', async () => {
  const m = await XcodecModelSync.fromPretrained(model);
  const input = join(fixtures, 'tiny-hubert', 'cases', 'batch2', 'input_values.npy');
  const codes = join(out, 'batch2_codes.npy');
  let r = run('encode', input, '-o', codes, '--model', model, '-q');
  assert.is(r.code, 0, r.stderr);
  const expected = npy(join(fixtures, 'tiny-hubert', 'cases', 'batch2', 'audio_codes_bw4.npy'));
  const got = readNpy(new Uint8Array(readFileSync(codes)));
  assert.equal(got.shape, expected.shape);
  assertCodesEqual(got.data, expected.data, 'CLI batch2 codes');
  // decode -o .npy writes the untrimmed float32 audio_values
  const values = join(out, 'batch2_values.npy');
  r = run('decode', codes, '-o', values, '--model', model, '-q');
  assert.is(r.code, 0, r.stderr);
  const v = readNpy(new Uint8Array(readFileSync(values)));
  assert.is(v.dtype, '<f4');
  assert.equal(v.shape, [2, 1, 63 * 320]);
  const exp = npy(join(fixtures, 'tiny-hubert', 'cases', 'batch2', 'audio_values.npy'));
  assertClose(v.data, exp.data, 2e-3, 'CLI batch2 audio_values');
  // a raw (N,) signal: padded to the hop by the feature extractor, same codes as the library
  const raw = npy(join(fixtures, 'tiny-hubert', 'cases', 'unaligned_16123', 'input_values.npy')).data;
  const rawPath = join(out, 'raw.npy');
  writeFileSync(rawPath, writeNpy(raw, [raw.length]));
  r = run('encode', rawPath, '-o', codes, '--model', model, '-q');
  assert.is(r.code, 0, r.stderr);
  const padded = new Float32Array(Math.ceil(raw.length / 320) * 320);
  padded.set(raw);
  const lib = m.encode(padded).audioCodes;
  const viaCli = readNpy(new Uint8Array(readFileSync(codes)));
  assert.equal(viaCli.shape, lib.dims);
  assertCodesEqual(viaCli.data, lib.data, 'CLI (N,) codes');
});

test('stereo 44.1 kHz WAV is downmixed by the mean and resampled', async () => {
  const n = 44100;
  const left = new Float32Array(n);
  const right = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    left[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / 44100);
    right[i] = -0.25 * left[i];
  }
  const path = join(out, 'stereo.wav');
  writeFileSync(path, encodeWav([left, right], 44100));
  const codes = join(out, 'stereo_codes.npy');
  const r = run('encode', path, '-o', codes, '--model', model);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /2 channel\(s\), 44100 Hz.*resampled to 16000 Hz.*downmixed by the mean/);
  assert.equal(readNpy(new Uint8Array(readFileSync(codes))).shape, [1, 8, 50]);
});

test('demo runs on the embedded model and says the weights are random', () => {
  const wav = join(out, 'demo.wav');
  const r = run('demo', '-o', wav);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /RANDOM weights/);
  assert.match(r.stdout, /audio_codes \(1, 8, 246\) at 4 kbps/);
  assert.ok(existsSync(wav));
});

test("--conv-algorithm: decode with the direct convolutions gives the library's direct decode, bit for bit", async () => {
  const T = 40;
  const { codes, codesPath } = writeCodes('conv_codes.npy', T, 613);
  const decoded = {};
  for (const algorithm of ['direct', 'winograd']) {
    const path = join(out, `conv_${algorithm}.npy`);
    const r = run('decode', codesPath, '-o', path, '--model', model, '--conv-algorithm', algorithm);
    assert.is(r.code, 0, r.stderr);
    decoded[algorithm] = readNpy(new Uint8Array(readFileSync(path))).data;
    const m = await XcodecModelSync.fromPretrained(model, { numThreads: 1, convAlgorithm: algorithm });
    const lib = m.decode({ data: codes, dims: [1, 2, T] }).audioValues.data;
    m.dispose();
    assert.is(decoded[algorithm].length, lib.length);
    let diff = 0;
    for (let i = 0; i < lib.length; i++) if (!Object.is(decoded[algorithm][i], lib[i])) diff++;
    assert.is(diff, 0, `${algorithm}: the CLI's decode equals the library's`);
  }
  let differ = 0;
  for (let i = 0; i < decoded.direct.length; i++) if (!Object.is(decoded.direct[i], decoded.winograd[i])) differ++;
  assert.ok(differ > 0, 'the flag reaches the model: the two algorithms round differently');
  const r = run('decode', codesPath, '-o', join(out, 'conv_bad.npy'), '--model', model, '--conv-algorithm', 'fast');
  assert.is(r.code, 1);
  assert.match(r.stderr, /--conv-algorithm fast is not accepted; accepted: direct, winograd/);
  assert.not.ok(existsSync(join(out, 'conv_bad.npy')), 'no output for a bad flag');
});

test('decode -o -: a WAV streamed to stdout, its samples those of -o FILE.wav; a reader that leaves ends it quietly', () => {
  const { codesPath } = writeCodes('stream.npy', 57, 13);
  const file = join(out, 'stream-file.wav');
  assert.is(run('decode', codesPath, '-o', file, '--model', model).code, 0);
  const r = spawnSync(process.execPath, [cli, 'decode', codesPath, '-o', '-', '--model', model]);
  assert.is(r.status, 0, r.stderr.toString());
  const streamed = new Uint8Array(r.stdout);
  const whole = new Uint8Array(readFileSync(file));
  const view = new DataView(streamed.buffer, streamed.byteOffset);
  assert.is(String.fromCharCode(...streamed.subarray(0, 4)), 'RIFF');
  assert.is(view.getUint32(4, true), 0xffffffff, 'RIFF length unknown');
  assert.is(String.fromCharCode(...streamed.subarray(36, 40)), 'data');
  assert.is(view.getUint32(40, true), 0xffffffff, 'data length unknown');
  assert.equal(streamed.subarray(12, 36), whole.subarray(12, 36), 'the same format chunk');
  assert.is(streamed.length, whole.length, 'every sample');
  assert.ok(Buffer.from(streamed.subarray(44)).equals(Buffer.from(whole.subarray(44))), 'the same samples');
  assert.not.match(r.stderr.toString(), /audio_values/, 'no report mixed into the audio');
  // a reader that takes 1000 bytes and closes the pipe: exit 0, nothing on stderr but the log
  const early = spawnSync(
    'bash',
    [
      '-c',
      `"${process.execPath}" "${cli}" decode "${codesPath}" -o - --model "${model}" --quiet | head -c 1000 | wc -c; echo "rc \${PIPESTATUS[0]}"`,
    ],
    {
      encoding: 'utf8',
    },
  );
  assert.match(early.stdout, /^1000\nrc 0\n$/, early.stdout + early.stderr);
  assert.is(early.stderr, '');
  // errors
  const rescale = run('decode', codesPath, '-o', '-', '--model', model, '--rescale');
  assert.is(rescale.code, 1);
  assert.match(rescale.stderr, /--rescale .* accepted: -o - without --rescale/);
  const batch = join(out, 'batch.npy');
  writeFileSync(batch, writeNpy(new BigInt64Array(2 * 2 * 5), [2, 2, 5]));
  const b = run('decode', batch, '-o', '-', '--model', model);
  assert.is(b.code, 1);
  assert.match(b.stderr, /a batch of 2; accepted: codes \(1, nq, T\)/);
  assert.is(b.stdout, '', 'nothing written before the error');
});

test('errors: clear messages, exit code 1, and no partial output', () => {
  const before = readdirSync(out).length;
  let r = run('encode', join(audio, 'nope.wav'), '-o', join(out, 'x.npy'), '--model', model);
  assert.is(r.code, 1);
  assert.match(r.stderr, /XcodecInputError: cannot read .*nope\.wav: ENOENT/);
  r = run('encode', join(audio, 'music.wav'), '--model', model);
  assert.match(r.stderr, /missing -o/);
  r = run('encode', join(audio, 'music.wav'), '-o', join(out, 'x.wav'), '--model', model);
  assert.match(r.stderr, /encode writes codes as \.npy/);
  r = run('encode', join(audio, 'music.wav'), '-o', join(out, 'x.npy'), '--model', model, '--bandwidth', '3');
  assert.is(r.code, 1);
  assert.match(r.stderr, /bandwidth 3 is not supported.*0\.5, 1, 1\.5, 2, 4/);
  r = run('decode', join(audio, 'music.wav'), '-o', join(out, 'x.wav'), '--model', model);
  assert.match(r.stderr, /codes must be a \.npy file/);
  r = run('roundtrip', join(audio, 'README.md'), '-o', join(out, 'x.wav'), '--model', model);
  assert.match(
    r.stderr,
    /not an audio file of an accepted format.*accepted: WAV \(RIFF\/WAVE\), FLAC, MP3, Ogg Vorbis, Ogg Opus/,
  );
  r = run('encode', join(audio, 'music.wav'), '-o', join(out, 'x.npy'), '--frobnicate');
  assert.match(r.stderr, /unknown option --frobnicate/);
  r = run('encode', join(audio, 'music.wav'), '-o', join(out, 'x.npy'), '--model', join(out, 'no-model'));
  assert.is(r.code, 1);
  assert.match(r.stderr, /XcodecConfigError: .*config\.json: cannot read/);
  assert.is(readdirSync(out).length, before, 'no file was left behind');
});

test.run();
