// RIFF/WAVE reading (PCM 8/16/24/32-bit, IEEE float 32/64-bit, WAVE_FORMAT_EXTENSIBLE of those) and
// 16-bit PCM writing. Integer samples are scaled like soundfile/torchaudio: by 2^(bits-1), 8-bit is
// unsigned with its zero at 128.

import { XcodecInputError } from '../errors.js';

export interface DecodedAudio {
  sampleRate: number;
  channels: Float32Array[];
}

const ACCEPTED = 'accepted: PCM 8/16/24/32-bit, IEEE float 32/64-bit, WAVE_FORMAT_EXTENSIBLE of those';

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;

/** Names of common format tags we do not decode, so the error says what the file actually is. */
const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3',
  0x00ff: 'AAC',
  0x2000: 'AC-3',
};

/** Bytes 4..15 of every KSDATAFORMAT_SUBTYPE GUID derived from a format tag (tag in bytes 0..1). */
const SUBFORMAT_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** Streaming writers leave this (or 0) as the data size when they cannot seek back to fix it. */
const UNKNOWN_SIZE = 0xffffffff;

function fail(message: string): never {
  throw new XcodecInputError(`WAV: ${message}`);
}

function fourCC(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
}

function hex4(tag: number): string {
  return `0x${tag.toString(16).toUpperCase().padStart(4, '0')}`;
}

type SampleEncoding = 'pcm' | 'float';

interface WavFormat {
  encoding: SampleEncoding;
  bitsPerSample: number;
  channels: number;
  sampleRate: number;
}

/** Reads the fmt chunk body, resolving WAVE_FORMAT_EXTENSIBLE to its sub-format. */
function parseFmt(bytes: Uint8Array, body: number, size: number): WavFormat {
  if (size < 16 || body + 16 > bytes.length) fail(`fmt chunk of ${size} bytes is too short (needs 16)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + body, Math.min(size, bytes.length - body));
  let tag = view.getUint16(0, true);
  const channels = view.getUint16(2, true);
  const sampleRate = view.getUint32(4, true);
  const bitsPerSample = view.getUint16(14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (view.byteLength < 40) fail(`WAVE_FORMAT_EXTENSIBLE fmt chunk of ${size} bytes is too short (needs 40)`);
    tag = view.getUint16(24, true);
    const tail = bytes.subarray(body + 26, body + 40);
    const isStandardGuid = SUBFORMAT_GUID_TAIL.every((b, i) => tail[i] === b);
    if (!isStandardGuid || (tag !== FORMAT_PCM && tag !== FORMAT_FLOAT)) {
      fail(
        `unsupported WAVE_FORMAT_EXTENSIBLE sub-format GUID ${guidText(bytes.subarray(body + 24, body + 40))}; ${ACCEPTED}`,
      );
    }
  }
  if (channels < 1) fail('fmt chunk declares 0 channels');
  if (sampleRate < 1) fail('fmt chunk declares a sample rate of 0');
  if (tag === FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample))
    return { encoding: 'pcm', bitsPerSample, channels, sampleRate };
  if (tag === FORMAT_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64))
    return { encoding: 'float', bitsPerSample, channels, sampleRate };
  if (tag === FORMAT_PCM || tag === FORMAT_FLOAT) {
    fail(`unsupported ${tag === FORMAT_PCM ? 'PCM' : 'IEEE float'} bit depth ${bitsPerSample}; ${ACCEPTED}`);
  }
  const name = FORMAT_NAMES[tag];
  return fail(`unsupported format tag ${hex4(tag)}${name ? ` (${name})` : ''}; ${ACCEPTED}`);
}

function guidText(g: Uint8Array): string {
  const h = (from: number, to: number) =>
    Array.from(g.subarray(from, to), (b) => b.toString(16).padStart(2, '0')).join('');
  const le = (from: number, to: number) => h(from, to).match(/../g)!.reverse().join('');
  return `{${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${h(8, 10)}-${h(10, 16)}}`;
}

/** RF64 keeps the real data size (64-bit) in a ds64 chunk right after the header. */
function rf64DataSize(bytes: Uint8Array): number {
  if (bytes.length < 36 || fourCC(bytes, 12) !== 'ds64') fail('RF64 file without a ds64 chunk');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(28, true) + view.getUint32(32, true) * 2 ** 32;
}

/** Walks the chunks after the RIFF header and returns the fmt description and the sample bytes. */
function findChunks(bytes: Uint8Array): { format: WavFormat; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isRf64 = fourCC(bytes, 0) === 'RF64';
  let format: WavFormat | null = null;
  let data: Uint8Array | null = null;
  let offset = 12;
  while (offset + 8 <= bytes.length && !(format && data)) {
    const id = fourCC(bytes, offset);
    let size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = parseFmt(bytes, body, size);
    } else if (id === 'data' && !data) {
      if (isRf64 && size === UNKNOWN_SIZE) size = rf64DataSize(bytes);
      const runsPastEnd = body + size > bytes.length;
      const placeholder = size === 0 && body < bytes.length;
      if (runsPastEnd || placeholder) {
        // Streaming writers cannot fix the size afterwards: the samples are whatever follows.
        data = bytes.subarray(body);
        break;
      }
      data = bytes.subarray(body, body + size);
    }
    offset = body + size + (size & 1); // chunk bodies are padded to an even length
  }
  if (!format) fail(data ? 'no fmt chunk before the end of the data' : 'no fmt chunk');
  if (!data) fail('no data chunk');
  return { format, data };
}

export function decodeWav(bytes: Uint8Array): DecodedAudio {
  const riff = bytes.length >= 4 ? fourCC(bytes, 0) : '';
  if (bytes.length < 12 || (riff !== 'RIFF' && riff !== 'RF64') || fourCC(bytes, 8) !== 'WAVE') {
    if (riff === 'RIFX') fail('big-endian RIFX files are not supported; accepted: little-endian RIFF/WAVE');
    fail('not a RIFF/WAVE file (missing the "RIFF....WAVE" header)');
  }
  const { format, data } = findChunks(bytes);
  return { sampleRate: format.sampleRate, channels: deinterleave(data, format) };
}

/** Splits interleaved frames into one float array per channel; a trailing partial frame is dropped. */
function deinterleave(data: Uint8Array, format: WavFormat): Float32Array[] {
  const { channels, bitsPerSample } = format;
  const width = bitsPerSample / 8;
  const frameBytes = width * channels;
  const frames = Math.floor(data.length / frameBytes);
  const read = sampleReader(format, new DataView(data.buffer, data.byteOffset, data.byteLength));
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let c = 0; c < channels; c++) {
    const samples = out[c];
    for (let f = 0, p = c * width; f < frames; f++, p += frameBytes) samples[f] = read(p);
  }
  return out;
}

/** A function reading one sample at a byte offset as a float, scaled as soundfile does. */
function sampleReader({ encoding, bitsPerSample }: WavFormat, view: DataView): (offset: number) => number {
  if (encoding === 'float') {
    return bitsPerSample === 32 ? (p) => view.getFloat32(p, true) : (p) => view.getFloat64(p, true);
  }
  switch (bitsPerSample) {
    case 8:
      return (p) => (view.getUint8(p) - 128) / 128;
    case 16:
      return (p) => view.getInt16(p, true) / 32768;
    case 24:
      return (p) => ((view.getInt8(p + 2) << 16) | view.getUint16(p, true)) / 8388608;
    default:
      return (p) => view.getInt32(p, true) / 2147483648;
  }
}

export interface EncodeWavOptions {
  /** Scale the whole signal so its peak magnitude is 0.99 instead of clamping (silence stays silence). */
  rescale?: boolean;
}

/** 16-bit PCM WAV; samples are clamped to +-0.99 (or, with `rescale`, scaled so the peak is 0.99), then round(x * 32767). */
export function encodeWav(
  channels: Float32Array[] | Float32Array,
  sampleRate: number,
  opts: EncodeWavOptions = {},
): Uint8Array {
  const chans = channels instanceof Float32Array ? [channels] : channels;
  if (chans.length < 1) fail('nothing to write (no channels)');
  if (chans.length > 0xffff) fail(`${chans.length} channels; accepted: at most 65535`);
  const frames = chans[0].length;
  if (chans.some((c) => c.length !== frames))
    fail(`channels differ in length (${chans.map((c) => c.length).join(', ')})`);
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff)
    fail(`sample rate ${sampleRate} is not a positive 32-bit integer`);
  const dataBytes = frames * chans.length * 2;
  if (dataBytes > 0xffffffff - 36) fail(`${dataBytes} bytes of samples do not fit a RIFF file (4 GiB limit)`);
  const gain = opts.rescale ? peakGain(chans) : 1;
  const out = new Uint8Array(44 + dataBytes);
  writeHeader(out, chans.length, sampleRate, dataBytes);
  const view = new DataView(out.buffer);
  const n = chans.length;
  for (let c = 0; c < n; c++) {
    const samples = chans[c];
    for (let f = 0, p = 44 + c * 2; f < frames; f++, p += n * 2) {
      const v = samples[f] * gain;
      if (Number.isNaN(v)) fail(`sample ${f} of channel ${c} is NaN`);
      view.setInt16(p, pcm16(v), true);
    }
  }
  return out;
}

/** A sample as 16-bit PCM: clamped to +-0.99, then round(x * 32767). */
function pcm16(v: number): number {
  return Math.round(Math.max(-0.99, Math.min(0.99, v)) * 32767);
}

/**
 * A mono 16-bit PCM WAV as a stream, written while `audio` still comes: the header holds the length
 * unknown (0xFFFFFFFF, as streaming WAV writers do, which players read to the end of the stream), then
 * each chunk's samples as encodeWav writes them (clamped to +-0.99). Stopping the stream stops `audio`.
 */
export function encodeWavStream(audio: AsyncIterable<Float32Array>, sampleRate: number): ReadableStream<Uint8Array> {
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff)
    fail(`sample rate ${sampleRate} is not a positive 32-bit integer`);
  const iterator = audio[Symbol.asyncIterator]();
  let sample = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const header = new Uint8Array(44);
      writeHeader(header, 1, sampleRate, 0xffffffff - 36);
      new DataView(header.buffer).setUint32(40, 0xffffffff, true); // the data chunk's length: unknown too
      controller.enqueue(header);
    },
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) {
        controller.close();
        return;
      }
      const out = new Uint8Array(2 * next.value.length);
      const view = new DataView(out.buffer);
      for (let i = 0; i < next.value.length; i++, sample++) {
        const v = next.value[i];
        if (Number.isNaN(v)) fail(`sample ${sample} is NaN`);
        view.setInt16(2 * i, pcm16(v), true);
      }
      controller.enqueue(out);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/** The gain that brings the largest magnitude over all channels to 0.99 (1 for silence). */
function peakGain(chans: Float32Array[]): number {
  let peak = 0;
  for (const c of chans) for (let i = 0; i < c.length; i++) peak = Math.max(peak, Math.abs(c[i]));
  return peak > 0 && Number.isFinite(peak) ? 0.99 / peak : 1;
}

/** The canonical 44-byte header of a 16-bit PCM file. */
function writeHeader(out: Uint8Array, channels: number, sampleRate: number, dataBytes: number): void {
  const view = new DataView(out.buffer, out.byteOffset, 44);
  const put = (offset: number, id: string) => {
    for (let i = 0; i < 4; i++) out[offset + i] = id.charCodeAt(i);
  };
  put(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true); // 0xFFFFFFFF for a stream of unknown length
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels * 2, true); // byte rate
  view.setUint16(32, channels * 2, true); // block align
  view.setUint16(34, 16, true);
  put(36, 'data');
  view.setUint32(40, dataBytes, true);
}
