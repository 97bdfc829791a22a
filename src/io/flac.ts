// FLAC decoding (RFC 9639): STREAMINFO, every subframe type (constant, verbatim, fixed, LPC), Rice
// residuals with escape codes, wasted bits, stereo decorrelation, bit depths 4..32; frame CRC-16 checked.
// Sample arithmetic uses doubles (exact to 2^53), so 32-bit streams with a 33-bit side channel decode.

import { XcodecInputError } from '../errors.js';
import type { DecodedAudio } from './wav.js';

const fail = (msg: string): never => { throw new XcodecInputError(`FLAC: ${msg}`); };

class BitReader {
  pos = 0; // bit position
  constructor(readonly b: Uint8Array) {}

  bit(): number {
    const p = this.pos++;
    if (p >>> 3 >= this.b.length) fail('unexpected end of stream');
    return (this.b[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** Unsigned n-bit value, n <= 53. */
  bits(n: number): number {
    let v = 0;
    while (n > 0) {
      const p = this.pos;
      const byte = p >>> 3;
      if (byte >= this.b.length) fail('unexpected end of stream');
      const off = p & 7;
      const take = Math.min(8 - off, n);
      const chunk = (this.b[byte] >>> (8 - off - take)) & ((1 << take) - 1);
      v = v * (1 << take) + chunk;
      this.pos += take;
      n -= take;
    }
    return v;
  }

  signed(n: number): number {
    if (n === 0) return 0;
    const v = this.bits(n);
    return v >= 2 ** (n - 1) ? v - 2 ** n : v;
  }

  unary(): number {
    let q = 0;
    while (this.bit() === 0) q++;
    return q;
  }

  align(): void {
    this.pos = (this.pos + 7) & ~7;
  }
}

interface StreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  totalSamples: number;
}

const CRC16 = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(b: Uint8Array, from: number, to: number): number {
  let c = 0;
  for (let i = from; i < to; i++) c = ((c << 8) & 0xffff) ^ CRC16[(c >>> 8) ^ b[i]];
  return c;
}

function skipId3(b: Uint8Array): number {
  if (b.length >= 10 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) {
    const size = ((b[6] & 0x7f) << 21) | ((b[7] & 0x7f) << 14) | ((b[8] & 0x7f) << 7) | (b[9] & 0x7f);
    return 10 + size + (b[5] & 0x10 ? 10 : 0);
  }
  return 0;
}

export function decodeFlac(bytes: Uint8Array): DecodedAudio {
  const start = skipId3(bytes);
  if (bytes.length < start + 4 || String.fromCharCode(...bytes.subarray(start, start + 4)) !== 'fLaC') fail('not a FLAC stream (missing "fLaC")');
  const r = new BitReader(bytes);
  r.pos = (start + 4) * 8;
  let info: StreamInfo | null = null;
  for (let last = 0; !last;) {
    last = r.bit();
    const type = r.bits(7);
    const length = r.bits(24);
    const body = r.pos >>> 3;
    if (body + length > bytes.length) fail(`metadata block of ${length} bytes runs past the end of the file`);
    if (type === 0) {
      if (length < 34) fail('STREAMINFO is too short');
      r.bits(16); r.bits(16); r.bits(24); r.bits(24);
      const sampleRate = r.bits(20);
      const channels = r.bits(3) + 1;
      const bitsPerSample = r.bits(5) + 1;
      const totalSamples = r.bits(36);
      info = { sampleRate, channels, bitsPerSample, totalSamples };
    } else if (type === 127) fail('invalid metadata block type 127');
    r.pos = (body + length) * 8;
  }
  if (!info) return fail('no STREAMINFO block');
  if (info.bitsPerSample < 4) fail(`${info.bitsPerSample} bits per sample; accepted: 4..32`);
  const out: number[][] = Array.from({ length: info.channels }, () => []);
  while ((r.pos >>> 3) + 2 <= bytes.length) {
    const frameStart = r.pos >>> 3;
    if (bytes[frameStart] !== 0xff || (bytes[frameStart + 1] & 0xfe) !== 0xf8) {
      if (frameStart + 2 >= bytes.length || bytes.subarray(frameStart).every((v) => v === 0)) break;
      fail(`lost frame sync at byte ${frameStart}`);
    }
    const frame = decodeFrame(r, info, frameStart);
    for (let c = 0; c < info.channels; c++) for (const v of frame[c]) out[c].push(v);
  }
  const scale = 2 ** (info.bitsPerSample - 1);
  return { sampleRate: info.sampleRate, channels: out.map((c) => Float32Array.from(c, (v) => v / scale)) };
}

function decodeFrame(r: BitReader, info: StreamInfo, frameStart: number): number[][] {
  r.bits(16); // sync + reserved + blocking strategy
  const bsCode = r.bits(4);
  const srCode = r.bits(4);
  const chCode = r.bits(4);
  const ssCode = r.bits(3);
  if (r.bit() !== 0) fail('reserved frame header bit is set');
  // UTF-8-like coded frame/sample number
  let first = r.bits(8);
  let extra = 0;
  while (first & 0x80) { first = (first << 1) & 0xff; extra++; }
  if (extra === 1 || extra > 7) fail('bad coded frame number');
  for (let i = 1; i < extra; i++) r.bits(8);
  let blockSize: number;
  if (bsCode === 0) return fail('reserved block size code 0');
  else if (bsCode === 1) blockSize = 192;
  else if (bsCode <= 5) blockSize = 576 << (bsCode - 2);
  else if (bsCode === 6) blockSize = r.bits(8) + 1;
  else if (bsCode === 7) blockSize = r.bits(16) + 1;
  else blockSize = 256 << (bsCode - 8);
  if (srCode === 12) r.bits(8);
  else if (srCode === 13 || srCode === 14) r.bits(16);
  else if (srCode === 15) fail('invalid sample rate code 15');
  const bps = [info.bitsPerSample, 8, 12, 0, 16, 20, 24, 32][ssCode];
  if (bps === 0) fail('reserved sample size code 3');
  r.bits(8); // CRC-8 of the header (the CRC-16 below covers the whole frame)
  let channels: number;
  if (chCode < 8) channels = chCode + 1;
  else if (chCode <= 10) channels = 2;
  else return fail(`reserved channel assignment ${chCode}`);
  if (channels !== info.channels) fail(`frame has ${channels} channels, STREAMINFO says ${info.channels}`);
  const data: number[][] = [];
  for (let c = 0; c < channels; c++) {
    const side = (chCode === 8 && c === 1) || (chCode === 9 && c === 0) || (chCode === 10 && c === 1);
    data.push(decodeSubframe(r, blockSize, bps + (side ? 1 : 0)));
  }
  r.align();
  const end = r.pos >>> 3;
  const crc = r.bits(16);
  if (crc16(r.b, frameStart, end) !== crc) fail(`CRC-16 mismatch in the frame at byte ${frameStart}`);
  if (chCode === 8) for (let i = 0; i < blockSize; i++) data[1][i] = data[0][i] - data[1][i];
  else if (chCode === 9) for (let i = 0; i < blockSize; i++) data[0][i] = data[0][i] + data[1][i];
  else if (chCode === 10) {
    for (let i = 0; i < blockSize; i++) {
      const side = data[1][i];
      const mid = data[0][i] * 2 + (side & 1 ? 1 : 0);
      data[0][i] = (mid + side) / 2;
      data[1][i] = (mid - side) / 2;
    }
  }
  return data;
}

const FIXED: number[][] = [[], [1], [2, -1], [3, -3, 1], [4, -6, 4, -1]];

function decodeSubframe(r: BitReader, n: number, bps: number): number[] {
  if (r.bit() !== 0) fail('subframe padding bit is set');
  const type = r.bits(6);
  let wasted = 0;
  if (r.bit()) wasted = r.unary() + 1;
  const width = bps - wasted;
  if (width < 1) fail(`wasted bits ${wasted} leave no sample bits`);
  let s: number[];
  if (type === 0) {
    const v = r.signed(width);
    s = new Array(n).fill(v);
  } else if (type === 1) {
    s = new Array(n);
    for (let i = 0; i < n; i++) s[i] = r.signed(width);
  } else if (type >= 8 && type <= 12) {
    const order = type - 8;
    s = predict(r, n, width, order, FIXED[order], 0);
  } else if (type >= 32) {
    const order = type - 31;
    if (order > n) fail(`LPC order ${order} exceeds the block size ${n}`);
    s = new Array(n);
    const warm: number[] = [];
    for (let i = 0; i < order; i++) warm.push(r.signed(width));
    const precision = r.bits(4) + 1;
    if (precision === 16) fail('invalid LPC coefficient precision');
    const shift = r.signed(5);
    if (shift < 0) fail(`negative LPC shift ${shift}`);
    const coefs: number[] = [];
    for (let i = 0; i < order; i++) coefs.push(r.signed(precision));
    s = predict(r, n, width, order, coefs, shift, warm);
  } else return fail(`reserved subframe type ${type}`);
  if (wasted) for (let i = 0; i < n; i++) s[i] *= 2 ** wasted;
  return s;
}

function predict(r: BitReader, n: number, width: number, order: number, coefs: number[], shift: number, warm?: number[]): number[] {
  const s = new Array<number>(n);
  if (order > n) fail(`predictor order ${order} exceeds the block size ${n}`);
  for (let i = 0; i < order; i++) s[i] = warm ? warm[i] : r.signed(width);
  const res = residual(r, n, order);
  const div = 2 ** shift;
  for (let i = order; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < order; j++) sum += coefs[j] * s[i - 1 - j];
    s[i] = res[i - order] + Math.floor(sum / div);
  }
  return s;
}

function residual(r: BitReader, n: number, order: number): number[] {
  const method = r.bits(2);
  if (method > 1) fail(`reserved residual coding method ${method}`);
  const paramBits = method === 0 ? 4 : 5;
  const escape = method === 0 ? 15 : 31;
  const partitionOrder = r.bits(4);
  const partitions = 1 << partitionOrder;
  if (n % partitions !== 0 || n / partitions < order) fail(`partition order ${partitionOrder} does not fit a block of ${n}`);
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const count = n / partitions - (p === 0 ? order : 0);
    const k = r.bits(paramBits);
    if (k === escape) {
      const raw = r.bits(5);
      for (let i = 0; i < count; i++) out.push(r.signed(raw));
    } else {
      for (let i = 0; i < count; i++) {
        const v = r.unary() * 2 ** k + r.bits(k);
        out.push(v % 2 === 0 ? v / 2 : -(v + 1) / 2);
      }
    }
  }
  return out;
}
