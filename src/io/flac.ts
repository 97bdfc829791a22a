// FLAC decoding per RFC 9639: STREAMINFO, every subframe type (CONSTANT, VERBATIM, FIXED 0-4, LPC 1-32),
// Rice residuals (4- and 5-bit parameters, escaped partitions), wasted bits, the four channel
// assignments, bit depths 4..32. Each frame header's CRC-8 and each frame's CRC-16 are checked; the
// STREAMINFO MD5 is not.
//
// While a frame is decoded its samples are held in float64. That is exact here: a sample has at most 33 bits (the side channel of
// a 32-bit stream), an LPC coefficient at most 15, and at most 32 products are summed, so every
// prediction stays below 2^(33 + 15 + 5) = 2^53. Decoded samples are range-checked against their bit
// depth, which keeps that bound true even for a corrupt stream.

import { BitReader, crc8, crc16, fail } from './flac_bits.js';
import type { DecodedAudio } from './wav.js';

interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 0 when unknown. */
  totalSamples: number;
}

/** Length of an ID3v2 tag at the start of the file (some taggers put one before "fLaC"), else 0. */
function id3v2Length(bytes: Uint8Array): number {
  if (bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) return 0; // "ID3"
  const syncsafe = ((bytes[6] & 0x7f) << 21) | ((bytes[7] & 0x7f) << 14) | ((bytes[8] & 0x7f) << 7) | (bytes[9] & 0x7f);
  const hasFooter = (bytes[5] & 0x10) !== 0;
  return 10 + syncsafe + (hasFooter ? 10 : 0);
}

/** Offset of the "fLaC" marker (after an optional ID3v2 tag), or -1. */
export function flacStreamStart(bytes: Uint8Array): number {
  const start = id3v2Length(bytes);
  const isFlac =
    bytes.length >= start + 4 &&
    bytes[start] === 0x66 &&
    bytes[start + 1] === 0x4c &&
    bytes[start + 2] === 0x61 &&
    bytes[start + 3] === 0x43;
  return isFlac ? start : -1;
}

export function decodeFlac(bytes: Uint8Array): DecodedAudio {
  const start = flacStreamStart(bytes);
  if (start < 0) fail('not a FLAC stream (missing the "fLaC" marker)');
  const reader = new BitReader(bytes);
  reader.seekToByte(start + 4);
  const info = readMetadata(reader);
  // A corrupt STREAMINFO could claim any length, so preallocate no more than the file could plausibly hold.
  const output = new ChannelBuffers(info.channels, Math.min(info.totalSamples, 4 * bytes.length), info.bitsPerSample);
  while (hasAnotherFrame(bytes, reader.bytePos, info, output.length)) {
    const frame = decodeFrame(reader, info);
    if (info.sampleRate === 0) info.sampleRate = frame.sampleRate;
    output.append(frame.samples, frame.blockSize);
  }
  if (info.sampleRate === 0) fail('neither STREAMINFO nor any frame header gives the sample rate');
  return { sampleRate: info.sampleRate, channels: output.result() };
}

/** Reads the metadata blocks, returning STREAMINFO and leaving the reader at the first frame. */
function readMetadata(reader: BitReader): StreamInfo {
  let info: StreamInfo | null = null;
  for (let isLast = 0, index = 0; !isLast; index++) {
    isLast = reader.bits(1);
    const type = reader.bits(7);
    const length = reader.bits(24);
    const body = reader.bytePos;
    if (body + length > reader.bytes.length)
      fail(`metadata block ${index} (${length} bytes) runs past the end of the file`);
    if (type === 127) fail(`metadata block ${index} has the invalid type 127`);
    if (index === 0 && type !== 0) fail(`the first metadata block is of type ${type}; it must be STREAMINFO (type 0)`);
    if (type === 0) {
      if (index !== 0) fail('a second STREAMINFO block');
      if (length < 34) fail(`STREAMINFO of ${length} bytes is too short (needs 34)`);
      info = readStreamInfo(reader);
    }
    reader.seekToByte(body + length); // every other block (seek table, tags, pictures...) is skipped
  }
  return info!;
}

function readStreamInfo(reader: BitReader): StreamInfo {
  reader.bits(16); // minimum block size
  reader.bits(16); // maximum block size
  reader.bits(24); // minimum frame size
  reader.bits(24); // maximum frame size
  const sampleRate = reader.bits(20);
  const channels = reader.bits(3) + 1;
  const bitsPerSample = reader.bits(5) + 1;
  const totalSamples = reader.bits(36);
  if (bitsPerSample < 4) fail(`STREAMINFO declares ${bitsPerSample} bits per sample; accepted: 4..32`);
  return { sampleRate, channels, bitsPerSample, totalSamples };
}

/**
 * Whether a frame starts at `offset`. Anything that is not a frame sync ends the stream cleanly when
 * it is a known trailer (zero padding, an ID3v1 "TAG" block) or when STREAMINFO's sample count is
 * already reached; otherwise the file is corrupt.
 */
function hasAnotherFrame(bytes: Uint8Array, offset: number, info: StreamInfo, decoded: number): boolean {
  if (offset >= bytes.length) return false;
  if (offset + 1 < bytes.length && bytes[offset] === 0xff && (bytes[offset + 1] & 0xfe) === 0xf8) return true;
  const rest = bytes.subarray(offset);
  const isId3v1 = rest.length === 128 && rest[0] === 0x54 && rest[1] === 0x41 && rest[2] === 0x47; // "TAG"
  const done = info.totalSamples > 0 && decoded >= info.totalSamples;
  if (isId3v1 || done || rest.every((b) => b === 0)) return false;
  return fail(`lost frame sync at byte ${offset} (found 0x${bytes[offset].toString(16).padStart(2, '0')})`);
}

/** Growable per-channel output, already scaled to floats in [-1, 1) by 2^(bitsPerSample - 1). */
class ChannelBuffers {
  length = 0;
  private buffers: Float32Array[];
  private readonly scale: number;

  constructor(channels: number, expectedLength: number, bitsPerSample: number) {
    const capacity = Math.max(expectedLength, 4096);
    this.buffers = Array.from({ length: channels }, () => new Float32Array(capacity));
    this.scale = 1 / 2 ** (bitsPerSample - 1);
  }

  append(samples: Float64Array[], count: number): void {
    if (this.length + count > this.buffers[0].length) this.grow(this.length + count);
    for (let c = 0; c < samples.length; c++) {
      const from = samples[c];
      const to = this.buffers[c];
      for (let i = 0; i < count; i++) to[this.length + i] = from[i] * this.scale;
    }
    this.length += count;
  }

  result(): Float32Array[] {
    return this.buffers.map((b) => (b.length === this.length ? b : b.slice(0, this.length)));
  }

  private grow(needed: number): void {
    const capacity = Math.max(2 * this.buffers[0].length, needed);
    this.buffers = this.buffers.map((b) => {
      const grown = new Float32Array(capacity);
      grown.set(b.subarray(0, this.length));
      return grown;
    });
  }
}

interface Frame {
  blockSize: number;
  sampleRate: number;
  samples: Float64Array[];
}

/** Stereo channel assignment codes; codes 0..7 mean 1..8 independent channels. */
const ChannelAssignment = { LeftSide: 8, SideRight: 9, MidSide: 10 } as const;

interface FrameHeader {
  blockSize: number;
  /** 0 when the header defers to STREAMINFO. */
  sampleRate: number;
  bitsPerSample: number;
  channelCode: number;
  channels: number;
}

const SAMPLE_RATES_BY_CODE = [0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000];
/** Bit depth per sample-size code; 0 defers to STREAMINFO, -1 is reserved. */
const BIT_DEPTHS_BY_CODE = [0, 8, 12, -1, 16, 20, 24, 32];

function decodeFrame(reader: BitReader, info: StreamInfo): Frame {
  const frameStart = reader.bytePos;
  const header = readFrameHeader(reader, info, frameStart);
  const { blockSize, channels, channelCode } = header;
  const samples: Float64Array[] = [];
  for (let c = 0; c < channels; c++) {
    const isSide =
      (channelCode === ChannelAssignment.LeftSide && c === 1) ||
      (channelCode === ChannelAssignment.SideRight && c === 0) ||
      (channelCode === ChannelAssignment.MidSide && c === 1);
    // The side channel (a difference of two samples) needs one more bit than the others.
    samples.push(decodeSubframe(reader, blockSize, header.bitsPerSample + (isSide ? 1 : 0)));
  }
  reader.alignToByte(); // zero padding to the byte boundary
  const crcAt = reader.bytePos;
  const expected = reader.bits(16);
  if (crc16(reader.bytes, frameStart, crcAt) !== expected)
    fail(`CRC-16 mismatch in the frame at byte ${frameStart} (corrupt file)`);
  undoDecorrelation(samples, channelCode, blockSize);
  return { blockSize, sampleRate: header.sampleRate || info.sampleRate, samples };
}

function readFrameHeader(reader: BitReader, info: StreamInfo, frameStart: number): FrameHeader {
  reader.bits(15); // sync code 0b111111111111100
  reader.bits(1); // blocking strategy: fixed or variable block size; only changes how the number below counts
  const blockSizeCode = reader.bits(4);
  const sampleRateCode = reader.bits(4);
  const channelCode = reader.bits(4);
  const sampleSizeCode = reader.bits(3);
  if (reader.bits(1) !== 0) fail(`reserved bit set in the frame header at byte ${frameStart}`);
  skipCodedNumber(reader, frameStart);

  let blockSize: number;
  if (blockSizeCode === 0) fail(`reserved block size code 0 in the frame at byte ${frameStart}`);
  else if (blockSizeCode === 1) blockSize = 192;
  else if (blockSizeCode <= 5) blockSize = 576 << (blockSizeCode - 2);
  else if (blockSizeCode === 6) blockSize = reader.bits(8) + 1;
  else if (blockSizeCode === 7) blockSize = reader.bits(16) + 1;
  else blockSize = 256 << (blockSizeCode - 8);
  if (blockSize > 65535) fail(`block size ${blockSize} exceeds the maximum of 65535`);

  let sampleRate: number;
  if (sampleRateCode < 12) sampleRate = SAMPLE_RATES_BY_CODE[sampleRateCode];
  else if (sampleRateCode === 12) sampleRate = reader.bits(8) * 1000;
  else if (sampleRateCode === 13) sampleRate = reader.bits(16);
  else if (sampleRateCode === 14) sampleRate = reader.bits(16) * 10;
  else fail(`invalid sample rate code 15 in the frame at byte ${frameStart}`);
  if (sampleRate !== 0 && info.sampleRate !== 0 && sampleRate !== info.sampleRate) {
    fail(
      `the frame at byte ${frameStart} is at ${sampleRate} Hz but STREAMINFO says ${info.sampleRate} Hz; accepted: one sample rate per stream`,
    );
  }

  let bitsPerSample = BIT_DEPTHS_BY_CODE[sampleSizeCode];
  if (bitsPerSample < 0) fail(`reserved sample size code 3 in the frame at byte ${frameStart}`);
  if (bitsPerSample === 0) bitsPerSample = info.bitsPerSample;
  if (bitsPerSample !== info.bitsPerSample) {
    fail(
      `the frame at byte ${frameStart} has ${bitsPerSample} bits per sample but STREAMINFO says ${info.bitsPerSample}`,
    );
  }

  let channels: number;
  if (channelCode < 8) channels = channelCode + 1;
  else if (channelCode <= ChannelAssignment.MidSide) channels = 2;
  else fail(`reserved channel assignment ${channelCode} in the frame at byte ${frameStart}`);
  if (channels !== info.channels)
    fail(`the frame at byte ${frameStart} has ${channels} channels but STREAMINFO says ${info.channels}`);

  const crcAt = reader.bytePos;
  if (crc8(reader.bytes, frameStart, crcAt) !== reader.bits(8))
    fail(`CRC-8 mismatch in the frame header at byte ${frameStart} (corrupt file)`);
  return { blockSize, sampleRate, bitsPerSample, channelCode, channels };
}

/** Skips the UTF-8-style coded frame number (fixed block size) or sample number (variable), 1 to 7 bytes. */
function skipCodedNumber(reader: BitReader, frameStart: number): void {
  const first = reader.bits(8);
  const length = first < 0x80 ? 1 : Math.clz32(~(first << 24)); // count of leading 1 bits
  if ((length === 1 && first >= 0x80) || length > 7)
    fail(`invalid coded frame number in the frame at byte ${frameStart}`);
  for (let i = 1; i < length; i++) {
    if ((reader.bits(8) & 0xc0) !== 0x80) fail(`invalid coded frame number in the frame at byte ${frameStart}`);
  }
}

/** Turns left/side, side/right and mid/side pairs back into left and right. */
function undoDecorrelation(samples: Float64Array[], channelCode: number, n: number): void {
  if (channelCode < 8) return;
  const [a, b] = samples;
  if (channelCode === ChannelAssignment.LeftSide) {
    for (let i = 0; i < n; i++) b[i] = a[i] - b[i];
  } else if (channelCode === ChannelAssignment.SideRight) {
    for (let i = 0; i < n; i++) a[i] += b[i];
  } else {
    for (let i = 0; i < n; i++) {
      const side = b[i];
      // mid was stored as floor((left + right) / 2); the bit lost by the halving is the parity of side
      const mid = a[i] * 2 + (side % 2 !== 0 ? 1 : 0);
      a[i] = (mid + side) / 2;
      b[i] = (mid - side) / 2;
    }
  }
}

const SUBFRAME_CONSTANT = 0;
const SUBFRAME_VERBATIM = 1;
/** Coefficients of the fixed predictors of order 0..4 (RFC 9639 section 9.2.5). */
const FIXED_COEFFICIENTS = [[], [1], [2, -1], [3, -3, 1], [4, -6, 4, -1]];

function decodeSubframe(reader: BitReader, n: number, bitsPerSample: number): Float64Array {
  if (reader.bits(1) !== 0) fail('subframe padding bit is set');
  const type = reader.bits(6);
  const wasted = reader.bits(1) ? reader.unary() + 1 : 0;
  const width = bitsPerSample - wasted; // bits actually coded per sample
  if (width < 1) fail(`${wasted} wasted bits leave no bits of a ${bitsPerSample}-bit sample`);
  let samples: Float64Array;
  if (type === SUBFRAME_CONSTANT) {
    samples = new Float64Array(n).fill(reader.signed(width));
  } else if (type === SUBFRAME_VERBATIM) {
    samples = new Float64Array(n);
    for (let i = 0; i < n; i++) samples[i] = reader.signed(width);
  } else if (type >= 8 && type <= 12) {
    const order = type - 8;
    const warmUp = readWarmUp(reader, order, n, width);
    samples = predict(reader, n, width, warmUp, FIXED_COEFFICIENTS[order], 0);
  } else if (type >= 32) {
    const order = type - 31;
    const warmUp = readWarmUp(reader, order, n, width);
    const precision = reader.bits(4) + 1;
    if (precision === 16) fail('invalid LPC coefficient precision code 15');
    const shift = reader.signed(5);
    if (shift < 0) fail(`negative LPC shift ${shift} (not allowed by RFC 9639)`);
    const coefficients: number[] = [];
    for (let i = 0; i < order; i++) coefficients.push(reader.signed(precision));
    samples = predict(reader, n, width, warmUp, coefficients, shift);
  } else {
    fail(`reserved subframe type ${type}`);
  }
  if (wasted > 0) {
    const factor = 2 ** wasted;
    for (let i = 0; i < n; i++) samples[i] *= factor;
  }
  return samples;
}

function readWarmUp(reader: BitReader, order: number, n: number, width: number): number[] {
  if (order > n) fail(`predictor order ${order} exceeds the block size ${n}`);
  const warmUp: number[] = [];
  for (let i = 0; i < order; i++) warmUp.push(reader.signed(width));
  return warmUp;
}

/** Residuals plus the prediction from the previous samples: sum(c_j * s[i-1-j]) >> shift. */
function predict(
  reader: BitReader,
  n: number,
  width: number,
  warmUp: number[],
  coefficients: number[],
  shift: number,
): Float64Array {
  const order = warmUp.length;
  const samples = new Float64Array(n);
  samples.set(warmUp);
  readResidual(reader, n, order, samples);
  const divisor = 2 ** shift;
  const limit = 2 ** (width - 1);
  for (let i = order; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < order; j++) sum += coefficients[j] * samples[i - 1 - j];
    const value = samples[i] + Math.floor(sum / divisor); // floor == arithmetic shift right
    if (value >= limit || value < -limit) fail(`decoded sample ${value} does not fit ${width} bits (corrupt file)`);
    samples[i] = value;
  }
  return samples;
}

/** Rice-coded residuals into samples[order..n). */
function readResidual(reader: BitReader, n: number, order: number, samples: Float64Array): void {
  const method = reader.bits(2);
  if (method > 1) fail(`reserved residual coding method ${method}`);
  const parameterBits = method === 0 ? 4 : 5;
  const escapeCode = method === 0 ? 15 : 31;
  const partitionOrder = reader.bits(4);
  const partitionSize = n >>> partitionOrder;
  if (partitionSize << partitionOrder !== n || partitionSize < order) {
    fail(
      `residual partition order ${partitionOrder} does not fit a block of ${n} samples with predictor order ${order}`,
    );
  }
  let i = order;
  for (let p = 0; p < 1 << partitionOrder; p++) {
    const end = (p + 1) * partitionSize;
    const parameter = reader.bits(parameterBits);
    if (parameter === escapeCode) {
      const rawBits = reader.bits(5); // residuals stored as plain signed integers of this width
      for (; i < end; i++) samples[i] = reader.signed(rawBits);
    } else {
      const scale = 2 ** parameter;
      for (; i < end; i++) {
        const folded = reader.unary() * scale + reader.bits(parameter);
        samples[i] = folded % 2 === 0 ? folded / 2 : -(folded + 1) / 2; // zigzag: 0, -1, 1, -2, ...
      }
    }
  }
}
