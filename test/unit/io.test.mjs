// Audio and array file I/O: WAV read/write in every accepted variant, FLAC against the reference
// decoder (libFLAC's `flac -d`) and hand-built streams, the resampler's frequency response, .npy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWav, encodeWav } from '../../dist/audio.js';
import { decodeFlac } from '../../dist/audio.js';
import { resample } from '../../dist/audio.js';
import { loadAudio, readAudio, downmixMean, toMono } from '../../dist/audio.js';
import { readNpy, writeNpy } from '../../dist/audio.js';
import { fixtures, rejectsWith } from '../support/helpers.mjs';

const audioDir = join(fixtures, 'audio');
const flacDir = join(audioDir, 'flac');
const load = (path) => new Uint8Array(readFileSync(path));

/** Runs fn, expecting an XcodecInputError whose message contains every given fragment. */
function throwsInput(fn, ...fragments) {
  let error = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected an XcodecInputError containing ${JSON.stringify(fragments)}, nothing was thrown`);
  assert.is(error.name, 'XcodecInputError', `wrong error type: ${error.name}: ${error.message}`);
  for (const f of fragments)
    assert.ok(error.message.includes(f), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(f)}`);
  return error;
}

function assertSamplesEqual(got, expected, what) {
  assert.is(got.length, expected.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== expected[i]) assert.unreachable(`${what}: sample ${i} is ${got[i]}, expected ${expected[i]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// WAV

const ascii = (s) => Array.from(s, (c) => c.charCodeAt(0));
const u16 = (v) => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const chunk = (id, body, declaredSize = body.length) => [
  ...ascii(id),
  ...u32(declaredSize),
  ...body,
  ...(body.length % 2 ? [0] : []),
];
const PCM_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

function fmtBody({
  tag = 1,
  channels = 1,
  rate = 16000,
  bits = 16,
  container = bits,
  extensibleTag = null,
  guidTail = PCM_GUID_TAIL,
}) {
  const block = (channels * container) / 8;
  const common = [
    ...u16(extensibleTag === null ? tag : 0xfffe),
    ...u16(channels),
    ...u32(rate),
    ...u32(rate * block),
    ...u16(block),
    ...u16(container),
  ];
  if (extensibleTag === null) return common;
  return [...common, ...u16(22), ...u16(bits), ...u32(0), ...u16(extensibleTag), ...guidTail];
}

function riff(chunks) {
  const body = [...ascii('WAVE'), ...chunks.flat()];
  return new Uint8Array([...ascii('RIFF'), ...u32(body.length), ...body]);
}

/** Little-endian bytes of integer samples of the given width. */
function intBytes(values, bytesPerSample) {
  const out = [];
  for (const v of values)
    for (let b = 0; b < bytesPerSample; b++) out.push(Number((BigInt(v) >> BigInt(8 * b)) & 0xffn));
  return out;
}

function floatBytes(values, bits) {
  const view = new DataView(new ArrayBuffer(values.length * (bits / 8)));
  values.forEach((v, i) => (bits === 32 ? view.setFloat32(i * 4, v, true) : view.setFloat64(i * 8, v, true)));
  return [...new Uint8Array(view.buffer)];
}

test('WAV: encodeWav writes 16-bit PCM with round(x * 32767) after clamping to +-0.99; decodeWav reads it back', () => {
  const left = Float32Array.from([0, 0.5, -0.5, 0.25, 1.5, -2, 0.99, -0.99]);
  const right = Float32Array.from([0.1, -0.1, 0, 0, 0, 0, 0, 1e-6]);
  const bytes = encodeWav([left, right], 22050);
  assert.is(bytes.length, 44 + 8 * 2 * 2);
  const view = new DataView(bytes.buffer);
  assert.equal(
    [view.getUint16(20, true), view.getUint16(22, true), view.getUint32(24, true), view.getUint16(34, true)],
    [1, 2, 22050, 16],
  );
  const leftInts = Array.from({ length: 8 }, (_, i) => view.getInt16(44 + i * 4, true));
  const clamp = (x) => Math.max(-0.99, Math.min(0.99, x));
  assert.equal(
    leftInts,
    Array.from(left, (x) => Math.round(clamp(x) * 32767)),
  );
  const decoded = decodeWav(bytes);
  assert.is(decoded.sampleRate, 22050);
  assert.is(decoded.channels.length, 2);
  decoded.channels[0].forEach((v, i) => assert.is(v, Math.fround(leftInts[i] / 32768)));
  decoded.channels[1].forEach((v, i) => assert.ok(Math.abs(v - right[i]) < 1 / 32767, `right ${i}`));
  assert.is(encodeWav(left, 8000).length, 44 + 16, 'a single Float32Array is one channel');
});

test('WAV: rescale brings the peak to 0.99 and leaves silence silent', () => {
  const x = Float32Array.from([0.1, -0.4, 0.2]);
  const view = new DataView(encodeWav(x, 16000, { rescale: true }).buffer);
  assert.equal(
    [0, 1, 2].map((i) => view.getInt16(44 + 2 * i, true)),
    [0.1, -0.4, 0.2].map((v) => Math.round(((Math.fround(v) * 0.99) / Math.fround(0.4)) * 32767)),
  );
  assert.is(view.getInt16(46, true), -Math.round(0.99 * 32767));
  const loud = new DataView(encodeWav(Float32Array.from([3, -6]), 16000, { rescale: true }).buffer);
  assert.equal(
    [loud.getInt16(44, true), loud.getInt16(46, true)],
    [Math.round(0.495 * 32767), -Math.round(0.99 * 32767)],
  );
  const silent = new DataView(encodeWav(new Float32Array(4), 16000, { rescale: true }).buffer);
  for (let i = 0; i < 4; i++) assert.is(silent.getInt16(44 + 2 * i, true), 0);
});

test('WAV: every accepted sample format decodes with soundfile scaling', () => {
  const cases = [
    { name: '8-bit unsigned', fmt: { bits: 8 }, data: [0, 128, 255, 64], expected: [-1, 0, 127 / 128, -0.5] },
    {
      name: '16-bit',
      fmt: { bits: 16 },
      data: intBytes([-32768, 32767, -1, 1234], 2),
      expected: [-1, 32767 / 32768, -1 / 32768, 1234 / 32768],
    },
    {
      name: '24-bit',
      fmt: { bits: 24 },
      data: intBytes([-8388608, 8388607, -1, 123456], 3),
      expected: [-1, 8388607 / 8388608, -1 / 8388608, 123456 / 8388608],
    },
    {
      name: '32-bit',
      fmt: { bits: 32 },
      data: intBytes([-(2 ** 31), 2 ** 31 - 1, -1, 0x12345678], 4),
      expected: [-1, (2 ** 31 - 1) / 2 ** 31, -1 / 2 ** 31, 0x12345678 / 2 ** 31],
    },
    {
      name: 'float32',
      fmt: { tag: 3, bits: 32 },
      data: floatBytes([0.25, -1.5, 1e-8], 32),
      expected: [0.25, -1.5, 1e-8],
    },
    { name: 'float64', fmt: { tag: 3, bits: 64 }, data: floatBytes([0.1, -0.7, 2], 64), expected: [0.1, -0.7, 2] },
    {
      name: 'extensible 16-bit',
      fmt: { bits: 16, extensibleTag: 1 },
      data: intBytes([-32768, 5], 2),
      expected: [-1, 5 / 32768],
    },
    {
      name: 'extensible 24 valid bits in 32',
      fmt: { bits: 24, container: 32, extensibleTag: 1 },
      data: intBytes([-(2 ** 31), 256 * 3], 4),
      expected: [-1, 3 / 8388608],
    },
    {
      name: 'extensible float32',
      fmt: { bits: 32, extensibleTag: 3 },
      data: floatBytes([0.5, -0.125], 32),
      expected: [0.5, -0.125],
    },
    { name: 'extensible float64', fmt: { bits: 64, extensibleTag: 3 }, data: floatBytes([0.3], 64), expected: [0.3] },
  ];
  for (const c of cases) {
    const decoded = decodeWav(riff([chunk('fmt ', fmtBody(c.fmt)), chunk('data', c.data)]));
    assert.is(decoded.sampleRate, 16000, c.name);
    assertSamplesEqual(decoded.channels[0], Float32Array.from(c.expected), c.name);
  }
});

test('WAV: interleaved multichannel frames are split per channel', () => {
  const data = intBytes([1, -1, 100, 2, -2, 200], 3); // 2 frames of 3 channels, 24-bit
  const { channels } = decodeWav(
    riff([chunk('fmt ', fmtBody({ channels: 3, bits: 24, extensibleTag: 1 })), chunk('data', data)]),
  );
  assert.equal(
    channels.map((c) => Array.from(c, (v) => v * 8388608)),
    [
      [1, 2],
      [-1, -2],
      [100, 200],
    ],
  );
});

test('WAV: unknown chunks are skipped, odd sizes with their padding byte; fmt may follow data', () => {
  const data = intBytes([7, -7, 300], 2);
  const fmt = chunk('fmt ', fmtBody({}));
  const withJunk = riff([
    chunk('LIST', [1, 2, 3]),
    fmt,
    chunk('junk', [9, 9, 9, 9, 9]),
    chunk('data', data),
    chunk('id3 ', [1]),
  ]);
  assert.equal(
    Array.from(decodeWav(withJunk).channels[0], (v) => v * 32768),
    [7, -7, 300],
  );
  const fmtLast = riff([chunk('data', data), chunk('bext', [0]), fmt]);
  assert.equal(
    Array.from(decodeWav(fmtLast).channels[0], (v) => v * 32768),
    [7, -7, 300],
  );
});

test('WAV: a data chunk whose size runs past the end (streaming writers) is cut to whole frames', () => {
  const fmt = chunk('fmt ', fmtBody({ channels: 2 }));
  const frames = [...intBytes([1, 2, 3, 4], 2), 5, 6, 7]; // two stereo frames and 3 bytes of a third
  for (const declared of [0xffffffff, 0, 1000]) {
    const bytes = riff([fmt, [...ascii('data'), ...u32(declared), ...frames]]);
    const { channels } = decodeWav(bytes);
    assert.equal(
      channels.map((c) => Array.from(c, (v) => v * 32768)),
      [
        [1, 3],
        [2, 4],
      ],
      `declared size ${declared}`,
    );
  }
});

test('WAV: malformed or unsupported files throw XcodecInputError saying what is accepted', () => {
  const fmt = chunk('fmt ', fmtBody({}));
  const data = chunk('data', [0, 0]);
  throwsInput(() => decodeWav(new Uint8Array([1, 2, 3])), 'WAV', 'RIFF/WAVE');
  throwsInput(
    () => decodeWav(new Uint8Array([...ascii('RIFF'), 0, 0, 0, 0, ...ascii('AVI ')])),
    'not a RIFF/WAVE file',
  );
  throwsInput(() => decodeWav(new Uint8Array([...ascii('RIFX'), 0, 0, 0, 0, ...ascii('WAVE')])), 'big-endian RIFX');
  throwsInput(() => decodeWav(riff([data])), 'no fmt chunk');
  throwsInput(() => decodeWav(riff([fmt])), 'no data chunk');
  throwsInput(() => decodeWav(riff([chunk('fmt ', [1, 0, 1, 0]), data])), 'fmt chunk of 4 bytes is too short');
  throwsInput(
    () => decodeWav(riff([chunk('fmt ', fmtBody({ tag: 2, bits: 4 })), data])),
    'unsupported format tag 0x0002 (ADPCM)',
    'accepted: PCM 8/16/24/32-bit, IEEE float 32/64-bit, WAVE_FORMAT_EXTENSIBLE',
  );
  throwsInput(() => decodeWav(riff([chunk('fmt ', fmtBody({ tag: 0x55 })), data])), '0x0055 (MPEG Layer 3)');
  throwsInput(
    () => decodeWav(riff([chunk('fmt ', fmtBody({ bits: 12 })), data])),
    'unsupported PCM bit depth 12',
    'accepted',
  );
  throwsInput(
    () => decodeWav(riff([chunk('fmt ', fmtBody({ tag: 3, bits: 16 })), data])),
    'unsupported IEEE float bit depth 16',
  );
  throwsInput(() => decodeWav(riff([chunk('fmt ', fmtBody({ channels: 0 })), data])), '0 channels');
  throwsInput(() => decodeWav(riff([chunk('fmt ', fmtBody({ rate: 0 })), data])), 'sample rate of 0');
  throwsInput(
    () => decodeWav(riff([chunk('fmt ', fmtBody({ extensibleTag: 1 }).slice(0, 30)), data])),
    'WAVE_FORMAT_EXTENSIBLE fmt chunk of 30 bytes is too short',
  );
  const ambisonic = [0x00, 0x00, 0x21, 0x07, 0xd3, 0x11, 0x86, 0x44, 0xc8, 0xc1, 0xca, 0x00, 0x00, 0x00];
  throwsInput(
    () => decodeWav(riff([chunk('fmt ', fmtBody({ extensibleTag: 1, guidTail: ambisonic })), data])),
    'unsupported WAVE_FORMAT_EXTENSIBLE sub-format GUID {00000001-0721-11d3-8644-c8c1ca000000}',
  );
  throwsInput(() => encodeWav([], 16000), 'no channels');
  throwsInput(() => encodeWav([new Float32Array(2), new Float32Array(3)], 16000), 'channels differ in length (2, 3)');
  throwsInput(() => encodeWav(new Float32Array(2), 44100.5), 'sample rate 44100.5');
  throwsInput(() => encodeWav(Float32Array.from([0, NaN]), 16000), 'sample 1 of channel 0 is NaN');
});

test('WAV: the real samples (16 kHz mono, 20.00 s and 14.34 s)', () => {
  for (const [name, seconds] of [
    ['music.wav', '20.00'],
    ['speech_cn.wav', '14.34'],
  ]) {
    const { sampleRate, channels } = decodeWav(load(join(audioDir, name)));
    assert.is(sampleRate, 16000, name);
    assert.is(channels.length, 1, name);
    assert.is((channels[0].length / sampleRate).toFixed(2), seconds, name);
    let peak = 0;
    for (const v of channels[0]) peak = Math.max(peak, Math.abs(v));
    assert.ok(peak > 0.01 && peak <= 1, `${name}: peak ${peak}`);
  }
});

// ---------------------------------------------------------------------------------------------
// FLAC against the reference decoder

test('FLAC: speech_en.flac decodes sample for sample like libFLAC (flac -d)', () => {
  const ours = decodeFlac(load(join(audioDir, 'speech_en.flac')));
  const reference = decodeWav(load(join(audioDir, 'speech_en_flac_reference.wav')));
  assert.is(ours.sampleRate, 16000);
  assert.is(ours.channels.length, 1);
  assert.is(ours.channels[0].length, 78480);
  assertSamplesEqual(ours.channels[0], reference.channels[0], 'speech_en');
});

// What each file exercises (see generate.py there; `flac -a` lists the subframes).
const FLAC_FIXTURES = {
  stereo_decorrelation_44100:
    '16-bit stereo, blocksize 192: independent, left/side, side/right and mid/side frames; fixed and LPC',
  stereo_independent_22050: 'stereo without decorrelation (--no-mid-side), 22.05 kHz',
  mono_24bit_48000: '24-bit, 5-bit Rice parameters (residual coding method 1)',
  lpc_order32_16000: 'LPC of order 32 (--lax), 15-bit coefficients',
  blocksize4608_11025:
    'blocksize 4608 (code 5), 11025 Hz given in the header as 16-bit Hz, a 16-bit coded last block size',
  mono_8bit_8000: '8-bit',
  mono_12bit_32000: '12-bit (sample size code 2)',
  stereo_20bit_96000: '20-bit stereo at 96 kHz',
  stereo_32bit_88200: '32-bit stereo, mid/side with a 33-bit side channel',
  subframe_types_16000: 'CONSTANT, VERBATIM, wasted bits (3 and 8), FIXED, LPC; 8-bit coded last block size',
  three_channels_24000: 'three independent channels',
  rate_code_khz_37000: 'sample rate in kHz in the frame header (code 12)',
  rate_code_tens_37010: 'sample rate in tens of Hz in the frame header (code 14)',
};

test('FLAC: every synthetic fixture matches its libFLAC decode exactly', () => {
  const files = readdirSync(flacDir)
    .filter((f) => f.endsWith('.flac'))
    .map((f) => f.slice(0, -5))
    .sort();
  assert.equal(files, Object.keys(FLAC_FIXTURES).sort(), 'fixture list');
  for (const [name, what] of Object.entries(FLAC_FIXTURES)) {
    const ours = decodeFlac(load(join(flacDir, `${name}.flac`)));
    const reference = decodeWav(load(join(flacDir, `${name}.reference.wav`)));
    assert.is(ours.sampleRate, reference.sampleRate, `${name} (${what}): sample rate`);
    assert.is(ours.channels.length, reference.channels.length, `${name}: channels`);
    ours.channels.forEach((c, i) => assertSamplesEqual(c, reference.channels[i], `${name} (${what}) channel ${i}`));
  }
});

test('FLAC: the 32-bit fixture really needs 33-bit side samples and full-scale output', () => {
  const { channels } = decodeFlac(load(join(flacDir, 'stereo_32bit_88200.flac')));
  let widestSide = 0;
  for (let i = 0; i < channels[0].length; i++)
    widestSide = Math.max(widestSide, Math.abs(channels[0][i] - channels[1][i]));
  assert.ok(widestSide > 1, `side peak ${widestSide} (of 2^31) should exceed 1`);
});

// ---------------------------------------------------------------------------------------------
// FLAC streams built by hand, for what the reference encoder never writes

class BitWriter {
  bits = [];

  u(value, n) {
    const v = BigInt(value);
    for (let i = n - 1; i >= 0; i--) this.bits.push(Number((v >> BigInt(i)) & 1n));
    return this;
  }

  s(value, n) {
    return this.u(BigInt.asUintN(n, BigInt(value)), n);
  }

  unary(q) {
    for (let i = 0; i < q; i++) this.bits.push(0);
    this.bits.push(1);
    return this;
  }

  rice(value, k) {
    const folded = value >= 0 ? 2 * value : -2 * value - 1;
    return this.unary(Math.floor(folded / 2 ** k)).u(folded % 2 ** k, k);
  }

  bytes() {
    while (this.bits.length % 8) this.bits.push(0);
    const out = new Uint8Array(this.bits.length / 8);
    this.bits.forEach((b, i) => {
      out[i >> 3] |= b << (7 - (i & 7));
    });
    return out;
  }
}

/** Bitwise CRCs, independent of the decoder's tables. */
function crc(bytes, poly, width) {
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  let c = 0;
  for (const byte of bytes) {
    c ^= byte << (width - 8);
    for (let k = 0; k < 8; k++) c = c & top ? ((c << 1) ^ poly) & mask : (c << 1) & mask;
  }
  return c;
}

/** UTF-8-style coding of a frame or sample number (up to 36 bits, 7 bytes). */
function codedNumber(n) {
  const v = BigInt(n);
  if (v < 0x80n) return [Number(v)];
  let length = 2;
  while (v >= 1n << BigInt(5 * length + 1)) length++;
  const out = [Number(((0xff00n >> BigInt(length)) & 0xffn) | (v >> BigInt(6 * (length - 1))))];
  for (let i = length - 2; i >= 0; i--) out.push(0x80 | Number((v >> BigInt(6 * i)) & 0x3fn));
  return out;
}

/**
 * One frame: header fields, then `subframes(writer)`, padding, CRC-16.
 * blockSizeCode/rateCode extras are written as the spec orders them (block size bits, then rate bits).
 */
function frame({
  variable = 0,
  blockSizeCode,
  blockSizeBits = null,
  rateCode = 0,
  rateBits = null,
  channelCode = 0,
  sizeCode = 0,
  number = 0,
  subframes,
  corruptCrc8 = false,
  corruptCrc16 = false,
}) {
  const header = new BitWriter()
    .u(0b111111111111100, 15)
    .u(variable, 1)
    .u(blockSizeCode, 4)
    .u(rateCode, 4)
    .u(channelCode, 4)
    .u(sizeCode, 3)
    .u(0, 1);
  for (const b of codedNumber(number)) header.u(b, 8);
  if (blockSizeBits) header.u(...blockSizeBits);
  if (rateBits) header.u(...rateBits);
  const headerBytes = header.bytes();
  const body = new BitWriter();
  for (const b of headerBytes) body.u(b, 8);
  body.u(crc(headerBytes, 0x07, 8) ^ (corruptCrc8 ? 1 : 0), 8);
  subframes(body);
  const bytes = body.bytes();
  return new Uint8Array([...bytes, ...u16be(crc(bytes, 0x8005, 16) ^ (corruptCrc16 ? 1 : 0))]);
}

const u16be = (v) => [(v >>> 8) & 0xff, v & 0xff];

function streamInfo({ rate, channels, bits, total = 0 }) {
  return new BitWriter()
    .u(16, 16)
    .u(65535, 16)
    .u(0, 24)
    .u(0, 24)
    .u(rate, 20)
    .u(channels - 1, 3)
    .u(bits - 1, 5)
    .u(total, 36)
    .u(0, 128)
    .bytes();
}

function metadataBlock(type, body, last) {
  return [(last ? 0x80 : 0) | type, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff, ...body];
}

function flacStream(info, frames, { extraBlock = null, prefix = [], suffix = [] } = {}) {
  const blocks = extraBlock
    ? [...metadataBlock(0, streamInfo(info), false), ...metadataBlock(extraBlock.type, extraBlock.body, true)]
    : metadataBlock(0, streamInfo(info), true);
  return new Uint8Array([...prefix, ...ascii('fLaC'), ...blocks, ...frames.flatMap((f) => [...f]), ...suffix]);
}

/** Subframe header: zero bit, 6-bit type, wasted-bits flag (with unary count). */
function subframeHeader(w, type, wasted = 0) {
  w.u(0, 1).u(type, 6);
  if (wasted) w.u(1, 1).unary(wasted - 1);
  else w.u(0, 1);
}

/** LPC subframe writer plus the samples it must decode to (computed here the slow obvious way). */
function lpcSubframe(w, { bits, warmUp, precision, shift, coefficients, method, partitions }) {
  subframeHeader(w, 31 + coefficients.length);
  for (const v of warmUp) w.s(v, bits);
  w.u(precision - 1, 4).s(shift, 5);
  for (const c of coefficients) w.s(c, precision);
  w.u(method, 2).u(Math.log2(partitions.length), 4);
  const residuals = [];
  for (const p of partitions) {
    if (p.escapeBits !== undefined) {
      w.u(method === 0 ? 15 : 31, method === 0 ? 4 : 5).u(p.escapeBits, 5);
      for (const r of p.residuals) w.s(r, p.escapeBits);
    } else {
      w.u(p.rice, method === 0 ? 4 : 5);
      for (const r of p.residuals) w.rice(r, p.rice);
    }
    residuals.push(...p.residuals);
  }
  const samples = [...warmUp];
  for (const r of residuals) {
    const i = samples.length;
    const sum = coefficients.reduce((acc, c, j) => acc + c * samples[i - 1 - j], 0);
    samples.push(r + Math.floor(sum / 2 ** shift));
  }
  return samples;
}

test('FLAC: escaped residual partitions (methods 0 and 1), a 5-bit Rice parameter, a 7-byte sample number', () => {
  let expected;
  const f = frame({
    variable: 1,
    blockSizeCode: 6,
    blockSizeBits: [15, 8],
    rateCode: 13,
    rateBits: [12345, 16],
    sizeCode: 4,
    number: 2 ** 35 + 3,
    subframes: (w) => {
      expected = lpcSubframe(w, {
        bits: 16,
        warmUp: [1000, -1000],
        precision: 4,
        shift: 1,
        coefficients: [3, -1],
        method: 1,
        partitions: [
          { escapeBits: 7, residuals: [-64, 63, 0, 5, -5, 1] }, // raw 7-bit signed residuals
          { rice: 17, residuals: [3000, -3000, 3, 0, -1, 2, 100, -100] }, // parameter 17 needs 5 bits
        ],
      });
    },
  });
  const decoded = decodeFlac(flacStream({ rate: 0, channels: 1, bits: 16 }, [f]));
  assert.is(decoded.sampleRate, 12345, 'STREAMINFO rate 0: the frame header gives it');
  assert.equal(
    Array.from(decoded.channels[0], (v) => v * 32768),
    expected,
  );

  const zeros = frame({
    blockSizeCode: 7,
    blockSizeBits: [9, 16],
    rateCode: 12,
    rateBits: [44, 8],
    sizeCode: 1,
    subframes: (w) => {
      subframeHeader(w, 8 + 2); // FIXED order 2
      w.s(-3, 8).s(4, 8).u(0, 2).u(0, 4).u(15, 4).u(0, 5); // method 0, one partition, escape with 0 raw bits
    },
  });
  const line = decodeFlac(flacStream({ rate: 44000, channels: 1, bits: 8 }, [zeros]));
  assert.is(line.sampleRate, 44000);
  assert.equal(
    Array.from(line.channels[0], (v) => v * 128),
    [-3, 4, 11, 18, 25, 32, 39, 46, 53, 60],
    'zero residuals continue the line',
  );
});

test('FLAC: 4-bit samples, left/side with a 5-bit side channel, skipped metadata, ID3v2 prefix, ID3v1 suffix', () => {
  const left = [7, -8, 0, 3];
  const right = [-8, 7, 0, -4];
  const f = frame({
    blockSizeCode: 6,
    blockSizeBits: [3, 8],
    channelCode: 8,
    sizeCode: 0,
    subframes: (w) => {
      subframeHeader(w, 1); // VERBATIM left, 4 bits
      for (const v of left) w.s(v, 4);
      subframeHeader(w, 1); // VERBATIM side = left - right, 5 bits
      for (let i = 0; i < 4; i++) w.s(left[i] - right[i], 5);
    },
  });
  const id3v2 = [...ascii('ID3'), 4, 0, 0, 0, 0, 0, 3, 1, 2, 3];
  const id3v1 = [...ascii('TAG'), ...new Array(125).fill(32)];
  const bytes = flacStream({ rate: 8000, channels: 2, bits: 4, total: 4 }, [f], {
    extraBlock: { type: 4, body: ascii('vorbis comment, skipped') },
    prefix: id3v2,
    suffix: id3v1,
  });
  const { channels } = decodeFlac(bytes);
  assert.equal(
    Array.from(channels[0], (v) => v * 8),
    left,
  );
  assert.equal(
    Array.from(channels[1], (v) => v * 8),
    right,
  );
});

test('FLAC: corrupt and unsupported streams throw XcodecInputError', () => {
  const info = { rate: 16000, channels: 1, bits: 16 };
  const constant = (opts = {}) =>
    frame({
      blockSizeCode: 6,
      blockSizeBits: [15, 8],
      sizeCode: 4,
      subframes: (w) => {
        subframeHeader(w, 0);
        w.s(5, 16);
      },
      ...opts,
    });
  assert.equal(
    Array.from(decodeFlac(flacStream(info, [constant()])).channels[0], (v) => v * 32768),
    new Array(16).fill(5),
  );
  throwsInput(() => decodeFlac(new Uint8Array(ascii('OggS'))), 'FLAC', 'missing the "fLaC" marker');
  throwsInput(() => decodeFlac(flacStream(info, [constant({ corruptCrc16: true })])), 'CRC-16 mismatch');
  throwsInput(() => decodeFlac(flacStream(info, [constant({ corruptCrc8: true })])), 'CRC-8 mismatch');
  const whole = flacStream(info, [constant()]);
  throwsInput(() => decodeFlac(whole.subarray(0, whole.length - 3)), 'unexpected end of stream');
  throwsInput(() => decodeFlac(flacStream(info, [constant({ channelCode: 11 })])), 'reserved channel assignment 11');
  throwsInput(() => decodeFlac(flacStream(info, [constant({ sizeCode: 3 })])), 'reserved sample size code 3');
  throwsInput(
    () => decodeFlac(flacStream(info, [constant({ sizeCode: 6 })])),
    'has 24 bits per sample but STREAMINFO says 16',
  );
  throwsInput(
    () => decodeFlac(flacStream(info, [constant({ rateCode: 9 })])),
    'is at 44100 Hz but STREAMINFO says 16000 Hz',
  );
  throwsInput(
    () => decodeFlac(flacStream(info, [constant({ channelCode: 1 })])),
    'has 2 channels but STREAMINFO says 1',
  );
  const negativeShift = frame({
    blockSizeCode: 6,
    blockSizeBits: [3, 8],
    sizeCode: 4,
    subframes: (w) =>
      lpcSubframe(w, {
        bits: 16,
        warmUp: [1],
        precision: 4,
        shift: -2,
        coefficients: [1],
        method: 0,
        partitions: [{ rice: 0, residuals: [0, 0, 0] }],
      }),
  });
  throwsInput(() => decodeFlac(flacStream(info, [negativeShift])), 'negative LPC shift -2');
  const reservedType = frame({
    blockSizeCode: 6,
    blockSizeBits: [3, 8],
    sizeCode: 4,
    subframes: (w) => subframeHeader(w, 2),
  });
  throwsInput(() => decodeFlac(flacStream(info, [reservedType])), 'reserved subframe type 2');
  throwsInput(
    () => decodeFlac(new Uint8Array([...ascii('fLaC'), ...metadataBlock(4, [1, 2], true)])),
    'must be STREAMINFO',
  );
  throwsInput(() => decodeFlac(flacStream({ ...info, bits: 3 }, [])), '3 bits per sample; accepted: 4..32');
  throwsInput(
    () => decodeFlac(new Uint8Array([...flacStream(info, [constant()]), 1, 2, 3])),
    'lost frame sync at byte',
  );
});

// ---------------------------------------------------------------------------------------------
// readAudio, downmix, toMono

test('readAudio picks the decoder by magic bytes and names the accepted formats otherwise', () => {
  const wav = encodeWav(Float32Array.from([0.5, -0.5]), 16000);
  assert.equal(Array.from(readAudio(wav, 'a.wav').channels[0]), [16384 / 32768, -16383 / 32768]); // Math.round(-16383.5) = -16383
  const flac = load(join(audioDir, 'speech_en.flac'));
  assert.is(readAudio(flac, 'x.bin').channels[0].length, 78480, 'the file name does not matter');
  const tagged = new Uint8Array([...ascii('ID3'), 3, 0, 0, 0, 0, 0, 2, 0, 0, ...flac]);
  assert.is(readAudio(tagged, 'tagged.flac').channels[0].length, 78480);
  const mp3 = new Uint8Array([...ascii('ID3'), 3, 0, 0, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x00]);
  throwsInput(
    () => readAudio(mp3, 'song.mp3'),
    'song.mp3',
    'not an audio file of an accepted format',
    'accepted: WAV (RIFF/WAVE), FLAC, MP3, Ogg Vorbis, Ogg Opus',
  );
  throwsInput(() => readAudio(new Uint8Array(ascii('OggS\0\0')), 'a.ogg'), 'a.ogg', 'starts with "OggS"');
  throwsInput(() => readAudio(riff([chunk('data', [0, 0])]), 'broken.wav'), 'broken.wav: WAV: no fmt chunk');
});

test('downmixMean averages the channels; toMono downmixes then resamples', () => {
  const a = Float32Array.from([1, 0.5, -1]);
  const b = Float32Array.from([0, -0.5, 0.5]);
  assert.equal(Array.from(downmixMean([a, b])), [0.5, 0, -0.25]);
  const mono = downmixMean([a]);
  assert.equal(Array.from(mono), Array.from(a));
  assert.is.not(mono, a, 'a copy, so callers may modify it');
  throwsInput(() => downmixMean([]), 'no channels');
  throwsInput(() => downmixMean([a, new Float32Array(2)]), 'differ in length');
  const stereo44k = [new Float32Array(44100).fill(0.25), new Float32Array(44100).fill(0.75)];
  const y = toMono({ sampleRate: 44100, channels: stereo44k }, 16000);
  assert.is(y.length, 16000);
  // torchaudio's Hann-windowed sinc passes DC at a gain of about 1.0005 for 44.1 -> 16 kHz
  assert.ok(Math.abs(y[8000] - 0.5) < 1e-3, `DC level ${y[8000]}`);
  assert.equal(toMono({ sampleRate: 16000, channels: [a] }, 16000), a);
  throwsInput(() => toMono({ sampleRate: 16000, channels: [new Float32Array(0)] }, 16000), 'no samples');
});

// ---------------------------------------------------------------------------------------------
// Resampler: torchaudio.functional.resample with its defaults (test/fixtures/resample, copied from
// the project's ground truth: torchaudio 0.13.1, float32 in and out)

const resampleDir = join(fixtures, 'resample');
const resampleManifest = JSON.parse(readFileSync(join(resampleDir, 'manifest.json'), 'utf8'));

test('resample: every torchaudio fixture case within its atol, lengths equal', () => {
  assert.ok(resampleManifest.cases.length >= 10, `${resampleManifest.cases.length} cases`);
  let worst = 0;
  for (const c of resampleManifest.cases) {
    const x = readNpy(load(join(resampleDir, c.input))).data;
    const expected = readNpy(load(join(resampleDir, c.output))).data;
    const y = resample(x, c.from, c.to);
    assert.is(y.length, expected.length, `${c.name}: length`);
    assert.is(y.length, c.length_out, `${c.name}: manifest length`);
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - expected[i]));
    assert.ok(err <= c.atol, `${c.name}: max abs error ${err} > atol ${c.atol}`);
    worst = Math.max(worst, err / c.atol);
  }
  console.log(`  # resample: worst error / atol over ${resampleManifest.cases.length} cases: ${worst.toFixed(3)}`);
});

const sine = (n, rate, freq) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * freq * i) / rate));

test('resample: a 1 kHz sine keeps its frequency and amplitude away from the edges', () => {
  for (const [from, to] of [
    [44100, 16000],
    [16000, 48000],
    [48000, 44100],
    [22050, 16000],
  ]) {
    const y = resample(sine(from / 2, from, 1000), from, to);
    let worst = 0;
    for (let i = 400; i < y.length - 400; i++)
      worst = Math.max(worst, Math.abs(y[i] - Math.sin((2 * Math.PI * 1000 * i) / to)));
    assert.ok(worst < 1e-3, `${from} -> ${to}: max error ${worst}`);
  }
});

test('resample: output length is ceil(new * n / orig), identity is a copy', () => {
  for (const [n, from, to] of [
    [1000, 44100, 16000],
    [10, 16000, 48000],
    [0, 22050, 16000],
    [1, 8000, 16000],
    [12345, 48000, 16000],
    [7, 44100, 16000],
  ]) {
    assert.is(
      resample(new Float32Array(n), from, to).length,
      Math.ceil((n * to) / from),
      `${n} samples ${from} -> ${to}`,
    );
  }
  const x = Float32Array.from([1, 2, 3]);
  const same = resample(x, 16000, 16000);
  assert.equal(same, x);
  assert.is.not(same, x);
});

test('resample: rates outside 1000..768000 Hz, non-integer rates and absurd ratios are typed errors', () => {
  const x = new Float32Array(100);
  throwsInput(() => resample(x, 0, 16000), 'fromRate 0 is not accepted', 'from 1000 to 768000');
  throwsInput(() => resample(x, 1, 16000), 'fromRate 1 is not accepted');
  throwsInput(() => resample(x, 8, 16000), 'fromRate 8');
  throwsInput(() => resample(x, 16000, NaN), 'toRate NaN');
  throwsInput(() => resample(x, 44100.5, 16000), 'fromRate 44100.5', 'an integer number of Hz');
  throwsInput(() => resample(x, 16000, 768001), 'toRate 768001');
  throwsInput(() => resample(x, 767999, 768000), '767999 -> 768000', 'filter bank');
  throwsInput(() => resample([1, 2, 3], 44100, 16000), 'Float32Array');
});

// ---------------------------------------------------------------------------------------------
// The authors' pipeline (test/fixtures/pipeline-tiny-hubert): read, mean over channels, torchaudio
// resample to 16 kHz; the codes of those files are checked in cli.test.mjs and pipeline.test.mjs

test('loadAudio: every pipeline fixture file reads, downmixes and resamples like the Python pipeline', async () => {
  const dir = join(fixtures, 'pipeline-tiny-hubert');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.is(manifest.cases.length, 5);
  for (const c of manifest.cases) {
    const y = await loadAudio(load(join(dir, c.file)), { sampleRate: 16000, fileName: c.file });
    const expected = readNpy(load(join(dir, c.resampled))).data;
    assert.is(y.length, c.resampled_length, `${c.file}: length`);
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i] - expected[i]));
    assert.ok(err <= c.resampled_atol, `${c.file}: max abs error ${err} > ${c.resampled_atol}`);
  }
  await rejectsWith('XcodecInputError', loadAudio(load(join(dir, manifest.cases[0].file))), 'sampleRate', 'required');
  await rejectsWith(
    'XcodecInputError',
    loadAudio(encodeWav([new Float32Array(100)], 1), { sampleRate: 16000, fileName: 'one-hertz.wav' }),
    'one-hertz.wav: resample: fromRate 1 is not accepted',
  );
});

// ---------------------------------------------------------------------------------------------
// .npy

test('npy: every dtype round trips through writeNpy/readNpy', () => {
  const arrays = [
    [Float32Array.from([1.5, -2, 3e-8, 0]), '<f4'],
    [Float64Array.from([Math.PI, -1e300, 0.1, 2]), '<f8'],
    [BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, 1023n]), '<i8'],
    [Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, -5]), '<i4'],
    [Int16Array.from([-32768, 32767, 0, 1]), '<i2'],
    [Int8Array.from([-128, 127, 0, 1]), '|i1'],
    [Uint8Array.from([0, 255, 7, 8]), '|u1'],
    [Uint16Array.from([0, 65535, 7, 8]), '<u2'],
    [Uint32Array.from([0, 2 ** 32 - 1, 7, 8]), '<u4'],
  ];
  for (const [data, dtype] of arrays) {
    for (const shape of [[4], [2, 2], [1, 4, 1]]) {
      const back = readNpy(writeNpy(data, shape));
      assert.is(back.dtype, dtype);
      assert.equal(back.shape, shape);
      assert.is(back.data.constructor, data.constructor);
      assert.equal(Array.from(back.data), Array.from(data), `${dtype} ${shape}`);
    }
  }
  const scalar = readNpy(writeNpy(Float32Array.from([7]), []));
  assert.equal([scalar.shape, Array.from(scalar.data)], [[], [7]]);
  const empty = readNpy(writeNpy(new Float32Array(0), [3, 0]));
  assert.equal([empty.shape, empty.data.length], [[3, 0], 0]);
  throwsInput(() => writeNpy(new Float32Array(5), [2, 2]), 'shape (2, 2) holds 4 values but the data has 5');
  throwsInput(() => writeNpy(new Float32Array(0), [-1]), 'non-negative integers');
});

test('npy: the writer emits a version 1.0 header padded to 64 bytes and ended by a newline, as numpy', () => {
  const bytes = writeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.equal(Array.from(bytes.subarray(0, 8)), [0x93, ...ascii('NUMPY'), 1, 0]);
  const headerLength = bytes[8] | (bytes[9] << 8);
  assert.is((10 + headerLength) % 64, 0);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  assert.is(header, `${`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.padEnd(headerLength - 1)}\n`);
  assert.is(bytes.length, 10 + headerLength + 24);
  const oneD = new TextDecoder().decode(writeNpy(new Int32Array(3), [3]).subarray(10));
  assert.ok(oneD.startsWith(`{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }`), oneD);
});

/** A hand-made .npy of any version, header dict as given, data bytes appended. */
function npyBytes(major, dict, data, { dataPadding = true } = {}) {
  const lengthBytes = major === 1 ? 2 : 4;
  let header = dict;
  if (dataPadding) header += ' '.repeat((64 - ((8 + lengthBytes + header.length + 1) % 64)) % 64);
  header += '\n';
  const encoded = new TextEncoder().encode(header);
  const length = major === 1 ? u16(encoded.length) : u32(encoded.length);
  return new Uint8Array([0x93, ...ascii('NUMPY'), major, 0, ...length, ...encoded, ...data]);
}

test('npy: versions 2.0 and 3.0, bools, spellings numpy may use, unaligned buffers', () => {
  const two = readNpy(
    npyBytes(2, `{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }`, intBytes([-1, 2, 300], 2)),
  );
  assert.equal([two.dtype, two.shape, Array.from(two.data)], ['<i2', [3], [-1, 2, 300]]);
  const three = readNpy(
    npyBytes(3, `{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }`, floatBytes([0.5], 64)),
  );
  assert.equal(Array.from(three.data), [0.5]);
  const scalar = readNpy(npyBytes(1, `{'descr': '<f4', 'fortran_order': False, 'shape': (), }`, floatBytes([2.5], 32)));
  assert.equal([scalar.shape, Array.from(scalar.data)], [[], [2.5]]);
  const bools = readNpy(npyBytes(1, `{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }`, [1, 0]));
  assert.equal([bools.dtype, Array.from(bools.data)], ['|b1', [1, 0]]);
  const native = readNpy(
    npyBytes(1, `{"descr": "=f4", "fortran_order": False, "shape": (1L, 2L)}`, floatBytes([1, 2], 32)),
  );
  assert.equal([native.dtype, native.shape, Array.from(native.data)], ['<f4', [1, 2], [1, 2]]);
  const file = writeNpy(Float64Array.from([1, 2, 3]), [3]);
  const shifted = new Uint8Array(file.length + 3);
  shifted.set(file, 3);
  assert.equal(
    Array.from(readNpy(shifted.subarray(3)).data),
    [1, 2, 3],
    'data at an odd address is copied into an aligned array',
  );
});

test('npy: unsupported or broken files throw XcodecInputError', () => {
  const dict = (descr, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': (2,), }`;
  throwsInput(
    () => readNpy(npyBytes(1, dict('<f4', 'True'), floatBytes([1, 2], 32))),
    'fortran_order',
    'accepted: C order',
  );
  throwsInput(() => readNpy(npyBytes(1, dict('>f4'), floatBytes([1, 2], 32))), 'big-endian dtype >f4', 'little-endian');
  throwsInput(
    () => readNpy(npyBytes(1, dict('<c8'), new Array(16).fill(0))),
    'dtype <c8 is not supported',
    'accepted: <f4',
  );
  throwsInput(() => readNpy(npyBytes(1, dict('<U3'), new Array(24).fill(0))), 'dtype <U3 is not supported');
  throwsInput(
    () => readNpy(npyBytes(1, `{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }`, [])),
    'structured dtypes',
  );
  throwsInput(
    () => readNpy(npyBytes(1, dict('<f4'), floatBytes([1], 32))),
    'data is truncated',
    'needs 8 bytes, the file has 4',
  );
  throwsInput(
    () => readNpy(npyBytes(4, dict('<f4'), [])),
    'format version 4.0 is not supported; accepted: 1.0, 2.0, 3.0',
  );
  throwsInput(() => readNpy(new Uint8Array(ascii('PK\x03\x04 not an npy'))), 'not a numpy file');
  throwsInput(
    () => readNpy(npyBytes(1, `{'descr': '<f4', 'shape': (2,)}`, [])),
    'header keys are descr, shape',
    'accepted: exactly descr, fortran_order, shape',
  );
  throwsInput(
    () =>
      readNpy(
        npyBytes(3, `{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'note': 'é', }`, floatBytes([0.5], 64)),
      ),
    'header keys are descr, fortran_order, note, shape',
  );
  throwsInput(() => readNpy(npyBytes(1, `garbage`, [])), 'unreadable header');
});

test('npy: shapes are plain decimal integers and every key appears once (as numpy reads them)', () => {
  const f4 = floatBytes([1, 2], 32);
  for (const bad of ['0x2', '2e0', '2.0', '-2', '+2', '2 2', 'two']) {
    throwsInput(
      () => readNpy(npyBytes(1, `{'descr': '<f4', 'fortran_order': False, 'shape': (${bad},), }`, f4)),
      'bad shape entry',
      'non-negative decimal integers',
    );
  }
  throwsInput(
    () => readNpy(npyBytes(1, `{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,), }`, f4)),
    "header key 'descr' appears twice",
  );
  throwsInput(
    () => readNpy(npyBytes(1, `{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (1,), }`, f4)),
    "header key 'shape' appears twice",
  );
  assert.equal(
    readNpy(npyBytes(1, `{'descr': '<f4', 'fortran_order': False, 'shape': ( 2 , ), }`, f4)).shape,
    [2],
    'spaces inside the tuple',
  );
  const valid = writeNpy(new Float32Array(2), [2]);
  throwsInput(() => readNpy(valid.subarray(0, 40)), 'header length', 'runs past the end');
});

test('npy: the tiny-hubert fixtures (float32 [1, 1, 16000] input, int64 [1, 8, 50] codes)', () => {
  const cases = join(fixtures, 'tiny-hubert', 'cases', 'mono_1.0s');
  const input = readNpy(load(join(cases, 'input_values.npy')));
  assert.is(input.dtype, '<f4');
  assert.equal(input.shape, [1, 1, 16000]);
  assert.ok(input.data instanceof Float32Array && input.data.length === 16000);
  assert.ok(input.data.every(Number.isFinite));
  const codes = readNpy(load(join(cases, 'audio_codes_bw4.npy')));
  assert.is(codes.dtype, '<i8');
  assert.equal(codes.shape, [1, 8, 50]);
  assert.ok(codes.data instanceof BigInt64Array && codes.data.length === 400);
  assert.ok(
    codes.data.every((c) => c >= 0n),
    'codebook indices are non-negative',
  );
  const rewritten = readNpy(writeNpy(codes.data, codes.shape));
  assert.equal(Array.from(rewritten.data), Array.from(codes.data));
});

test.run();
