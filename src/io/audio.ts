// Audio files in, mono signals at the model's rate out.

import { XcodecInputError } from '../errors.js';
import { COMPRESSED_FORMAT_NAMES, type CompressedFormat, sniffCompressed, streamCompressed } from './compressed.js';
import { decodeFlac, flacStreamStart } from './flac.js';
import { StreamingResampler, resample } from './resample.js';
import { type DecodedAudio, decodeWav } from './wav.js';

export type { DecodedAudio } from './wav.js';

const ACCEPTED = 'accepted: WAV (RIFF/WAVE), FLAC, MP3, Ogg Vorbis, Ogg Opus';

/** Runs fn; an XcodecInputError it throws comes out prefixed with the file's name. */
function labelled<T>(fileName: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (fileName !== undefined && err instanceof XcodecInputError)
      throw new XcodecInputError(`${fileName}: ${err.message}`);
    throw err;
  }
}

export type AudioFormat = 'wav' | 'flac' | CompressedFormat;

function checkBytes(bytes: unknown, fileName: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array))
    throw new XcodecInputError(
      `${fileName}: audio file contents must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`,
    );
}

/** The format of an audio file by its magic bytes (its name plays no part); an error lists the accepted ones. */
export function sniffAudio(bytes: Uint8Array, fileName = 'input'): AudioFormat {
  checkBytes(bytes, fileName);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if ((magic === 'RIFF' || magic === 'RF64') && String.fromCharCode(...bytes.subarray(8, 12)) === 'WAVE') return 'wav';
  // "ID3" can also start an MP3, so only a "fLaC" after the tag makes it FLAC.
  if (flacStreamStart(bytes) >= 0) return 'flac';
  const compressed = sniffCompressed(bytes);
  if (compressed) return compressed;
  const shown = Array.from(bytes.subarray(0, 4), (b) =>
    b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`,
  ).join('');
  throw new XcodecInputError(
    `${fileName}: not an audio file of an accepted format (it starts with "${shown}"); ${ACCEPTED}`,
  );
}

/**
 * Decodes WAV or FLAC synchronously. MP3 and Ogg decoders are WebAssembly modules that load
 * asynchronously: use `decodeAudio` or `loadAudio` for them.
 */
export function readAudio(bytes: Uint8Array, fileName = 'input'): DecodedAudio {
  const format = sniffAudio(bytes, fileName);
  if (format === 'wav') return labelled(fileName, () => decodeWav(bytes));
  if (format === 'flac') return labelled(fileName, () => decodeFlac(bytes));
  throw new XcodecInputError(
    `${fileName}: ${COMPRESSED_FORMAT_NAMES[format]} is decoded asynchronously; use await decodeAudio(bytes) or await loadAudio(bytes, { sampleRate }) (readAudio reads WAV and FLAC)`,
  );
}

async function labelledAsync<T>(fileName: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof XcodecInputError) throw new XcodecInputError(`${fileName}: ${err.message}`);
    throw err;
  }
}

/** Decodes any accepted format (WAV, FLAC, MP3, Ogg Vorbis, Ogg Opus) to its channels at the file's rate. */
export async function decodeAudio(bytes: Uint8Array, options: { fileName?: string } = {}): Promise<DecodedAudio> {
  const fileName = options?.fileName ?? 'input';
  const format = sniffAudio(bytes, fileName);
  if (format === 'wav' || format === 'flac') return readAudio(bytes, fileName);
  return labelledAsync(fileName, async () => {
    const pieces: Float32Array[][] = [];
    const info = await streamCompressed(bytes, format, (channels) => pieces.push(channels.map((c) => c.slice())));
    const channels = Array.from({ length: info.channels }, (_, ch) =>
      concat(
        pieces.map((p) => p[ch]),
        info.samples,
      ),
    );
    return { sampleRate: info.sampleRate, channels };
  });
}

function concat(parts: Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The mean of the channels, as the X-Codec authors' inference script downmixes. */
export function downmixMean(channels: Float32Array[]): Float32Array {
  if (channels.length === 0) throw new XcodecInputError('audio has no channels');
  const n = channels[0].length;
  if (channels.some((c) => c.length !== n))
    throw new XcodecInputError(`channels differ in length (${channels.map((c) => c.length).join(', ')})`);
  if (channels.length === 1) return channels[0].slice();
  const sum = new Float64Array(n);
  for (const c of channels) for (let i = 0; i < n; i++) sum[i] += c[i];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sum[i] / channels.length;
  return out;
}

/**
 * Downmixes by the mean, then resamples to `targetRate` with torchaudio's resampler (no-op when the
 * rate already matches). `fileName`, when given, labels errors.
 */
export function toMono(audio: DecodedAudio, targetRate: number, fileName?: string): Float32Array {
  return labelled(fileName, () => {
    const mono = downmixMean(audio.channels);
    if (mono.length === 0) throw new XcodecInputError('audio has no samples');
    return audio.sampleRate === targetRate ? mono : resample(mono, audio.sampleRate, targetRate);
  });
}

/** What `loadAudio` read, besides the samples. */
export interface AudioSource {
  format: AudioFormat;
  sampleRate: number;
  channels: number;
  /** Samples per channel at the file's own rate. */
  samples: number;
}

/**
 * Audio file bytes (WAV, FLAC, MP3, Ogg Vorbis, Ogg Opus) to mono float32 at `sampleRate`, as the
 * X-Codec authors' pipeline reads it: integer PCM divided by 2^(bits - 1), float as stored (decoders'
 * float output for compressed formats), the mean over channels, then torchaudio.functional.resample
 * to the model's rate. Compressed files are decoded, downmixed and resampled slice by slice, so a
 * long file is never held decoded in full. `onSource`, when given, receives what was read. Pad the
 * result with the feature extractor.
 */
export async function loadAudio(
  bytes: Uint8Array,
  options: { sampleRate: number; fileName?: string; onSource?: (source: AudioSource) => void },
): Promise<Float32Array> {
  if (typeof options !== 'object' || options === null || typeof options.sampleRate !== 'number') {
    throw new XcodecInputError(
      "loadAudio(bytes, { sampleRate, fileName? }): sampleRate (the model's rate in Hz, e.g. model.config.sampleRate) is required",
    );
  }
  const fileName = options.fileName ?? 'input';
  const format = sniffAudio(bytes, fileName);
  if (format === 'wav' || format === 'flac') {
    const audio = readAudio(bytes, fileName);
    options.onSource?.({
      format,
      sampleRate: audio.sampleRate,
      channels: audio.channels.length,
      samples: audio.channels[0]?.length ?? 0,
    });
    return toMono(audio, options.sampleRate, fileName);
  }
  return labelledAsync(fileName, async () => {
    let resampler: StreamingResampler | null = null;
    const out: Float32Array[] = [];
    let length = 0;
    const keep = (y: Float32Array) => {
      if (y.length > 0) out.push(y);
      length += y.length;
    };
    const info = await streamCompressed(bytes, format, (channels, rate) => {
      resampler ??= new StreamingResampler(rate, options.sampleRate);
      keep(resampler.push(downmixMean(channels)));
    });
    keep(resampler!.end());
    options.onSource?.({ format, sampleRate: info.sampleRate, channels: info.channels, samples: info.samples });
    return out.length === 1 ? out[0] : concat(out, length);
  });
}
