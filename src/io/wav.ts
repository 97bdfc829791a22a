// RIFF/WAVE reading (PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE) and 16-bit writing.

import { XcodecInputError } from '../errors.js';

export interface DecodedAudio {
  sampleRate: number;
  channels: Float32Array[];
}

const ACCEPTED = 'accepted: PCM 8/16/24/32-bit, IEEE float 32/64-bit, WAVE_FORMAT_EXTENSIBLE of those';
const fail = (msg: string): never => { throw new XcodecInputError(`WAV: ${msg}`); };
const tag = (b: Uint8Array, o: number) => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);

export function decodeWav(bytes: Uint8Array): DecodedAudio {
  if (bytes.length < 12 || tag(bytes, 0) !== 'RIFF' || tag(bytes, 8) !== 'WAVE') fail('not a RIFF/WAVE file');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format = -1;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let blockAlign = 0;
  let data: Uint8Array | null = null;
  let o = 12;
  while (o + 8 <= bytes.length) {
    const id = tag(bytes, o);
    let size = dv.getUint32(o + 4, true);
    const body = o + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) fail(`fmt chunk of ${size} bytes is too short`);
      format = dv.getUint16(body, true);
      channels = dv.getUint16(body + 2, true);
      sampleRate = dv.getUint32(body + 4, true);
      blockAlign = dv.getUint16(body + 12, true);
      bits = dv.getUint16(body + 14, true);
      if (format === 0xfffe) {
        if (size < 40 || body + 40 > bytes.length) fail('WAVE_FORMAT_EXTENSIBLE fmt chunk is too short');
        format = dv.getUint16(body + 24, true); // first two bytes of the sub-format GUID
      }
    } else if (id === 'data') {
      // Streaming writers leave 0 or 0xFFFFFFFF: take what the file holds, in whole frames.
      if (size === 0 || body + size > bytes.length) size = bytes.length - body;
      data = bytes.subarray(body, body + size);
      break;
    }
    o = body + size + (size & 1); // chunks are padded to even sizes
  }
  if (format < 0) fail('no fmt chunk');
  if (!data) return fail('no data chunk');
  if (channels < 1) fail(`${channels} channels`);
  if (sampleRate < 1) fail(`sample rate ${sampleRate}`);
  const isPcm = format === 1 && [8, 16, 24, 32].includes(bits);
  const isFloat = format === 3 && (bits === 32 || bits === 64);
  if (!isPcm && !isFloat) fail(`unsupported format tag 0x${format.toString(16).padStart(4, '0')} with ${bits} bits per sample; ${ACCEPTED}`);
  const width = bits / 8;
  if (blockAlign !== width * channels) fail(`block align ${blockAlign} does not match ${channels} channels of ${bits} bits`);
  const frames = Math.floor(data.length / blockAlign);
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) {
      const p = f * blockAlign + c * width;
      let v: number;
      if (isFloat) v = bits === 32 ? d.getFloat32(p, true) : d.getFloat64(p, true);
      else if (bits === 8) v = (d.getUint8(p) - 128) / 128;
      else if (bits === 16) v = d.getInt16(p, true) / 32768;
      else if (bits === 24) v = (((d.getUint8(p + 2) << 24) | (d.getUint8(p + 1) << 16) | (d.getUint8(p) << 8)) >> 8) / 8388608;
      else v = d.getInt32(p, true) / 2147483648;
      out[c][f] = v;
    }
  }
  return { sampleRate, channels: out };
}

/** 16-bit PCM WAV; samples clamped to +-0.99, or with `rescale` scaled so the peak is 0.99. */
export function encodeWav(channels: Float32Array[] | Float32Array, sampleRate: number, opts: { rescale?: boolean } = {}): Uint8Array {
  const chans = channels instanceof Float32Array ? [channels] : channels;
  if (chans.length < 1) throw new XcodecInputError('WAV: nothing to write (no channels)');
  const frames = chans[0].length;
  if (chans.some((c) => c.length !== frames)) throw new XcodecInputError('WAV: channels differ in length');
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new XcodecInputError(`WAV: sample rate ${sampleRate} is not a positive integer`);
  let gain = 1;
  if (opts.rescale) {
    let peak = 0;
    for (const c of chans) for (let i = 0; i < frames; i++) peak = Math.max(peak, Math.abs(c[i]));
    gain = peak > 0 ? 0.99 / peak : 1;
  }
  const n = chans.length;
  const out = new Uint8Array(44 + frames * n * 2);
  const dv = new DataView(out.buffer);
  const put = (o: number, s: string) => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); dv.setUint32(4, 36 + frames * n * 2, true); put(8, 'WAVE');
  put(12, 'fmt '); dv.setUint32(16, 16, true); dv.setUint16(20, 1, true); dv.setUint16(22, n, true);
  dv.setUint32(24, sampleRate, true); dv.setUint32(28, sampleRate * n * 2, true); dv.setUint16(32, n * 2, true); dv.setUint16(34, 16, true);
  put(36, 'data'); dv.setUint32(40, frames * n * 2, true);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < n; c++) {
      let v = chans[c][f] * gain;
      if (!(v === v)) v = 0; // NaN would otherwise become 0 anyway; keep it explicit
      v = Math.max(-0.99, Math.min(0.99, v));
      dv.setInt16(44 + (f * n + c) * 2, Math.round(v * 32767), true);
    }
  }
  return out;
}
