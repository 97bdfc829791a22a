// Audio files in, mono signals at the model's rate out.

import { XcodecInputError } from '../errors.js';
import { decodeFlac, flacStreamStart } from './flac.js';
import { resample } from './resample.js';
import { type DecodedAudio, decodeWav } from './wav.js';

export type { DecodedAudio } from './wav.js';

const ACCEPTED = 'accepted: WAV (RIFF/WAVE), FLAC';

/** Runs fn; an XcodecInputError it throws comes out prefixed with the file's name. */
function labelled<T>(fileName: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (fileName !== undefined && err instanceof XcodecInputError) throw new XcodecInputError(`${fileName}: ${err.message}`);
    throw err;
  }
}

/** Decodes WAV or FLAC, chosen by the magic bytes (the file name only labels errors). */
export function readAudio(bytes: Uint8Array, fileName = 'input'): DecodedAudio {
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  const isWav = (magic === 'RIFF' || magic === 'RF64') && String.fromCharCode(...bytes.subarray(8, 12)) === 'WAVE';
  if (isWav) return labelled(fileName, () => decodeWav(bytes));
  // "ID3" can also start an MP3, so only a "fLaC" after the tag makes it FLAC.
  if (flacStreamStart(bytes) >= 0) return labelled(fileName, () => decodeFlac(bytes));
  const shown = Array.from(bytes.subarray(0, 4), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
  throw new XcodecInputError(`${fileName}: not a WAV or FLAC file (it starts with "${shown}"); ${ACCEPTED}`);
}

/** The mean of the channels, as the X-Codec authors' inference script downmixes. */
export function downmixMean(channels: Float32Array[]): Float32Array {
  if (channels.length === 0) throw new XcodecInputError('audio has no channels');
  const n = channels[0].length;
  if (channels.some((c) => c.length !== n)) throw new XcodecInputError(`channels differ in length (${channels.map((c) => c.length).join(', ')})`);
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

/**
 * Audio file bytes (WAV or FLAC) to mono float32 at `sampleRate`, as the X-Codec authors' pipeline
 * reads it: integer PCM divided by 2^(bits - 1), float as stored, the mean over channels, then
 * torchaudio.functional.resample to the model's rate. Pad the result with the feature extractor.
 */
export function loadAudio(bytes: Uint8Array, options: { sampleRate: number; fileName?: string }): Float32Array {
  if (typeof options !== 'object' || options === null || typeof options.sampleRate !== 'number') {
    throw new XcodecInputError('loadAudio(bytes, { sampleRate, fileName? }): sampleRate (the model\'s rate in Hz, e.g. model.config.sampleRate) is required');
  }
  const fileName = options.fileName ?? 'input';
  return toMono(readAudio(bytes, fileName), options.sampleRate, fileName);
}
