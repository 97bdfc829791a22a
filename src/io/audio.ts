// Audio files in, mono signals at the model's rate out.

import { XcodecInputError } from '../errors.js';
import { decodeFlac } from './flac.js';
import { resample } from './resample.js';
import { type DecodedAudio, decodeWav } from './wav.js';

export type { DecodedAudio } from './wav.js';

/** Decodes WAV or FLAC by their magic bytes. */
export function readAudio(bytes: Uint8Array, fileName = 'input'): DecodedAudio {
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic === 'RIFF') return decodeWav(bytes);
  if (magic === 'fLaC' || magic.startsWith('ID3')) return decodeFlac(bytes);
  throw new XcodecInputError(`${fileName}: not a WAV or FLAC file (starts with ${JSON.stringify(magic)}); accepted: WAV (RIFF/WAVE), FLAC`);
}

/** The mean of the channels, as the X-Codec authors' inference script downmixes. */
export function downmixMean(channels: Float32Array[]): Float32Array {
  if (channels.length === 0) throw new XcodecInputError('audio has no channels');
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const c of channels) s += c[i];
    out[i] = s / channels.length;
  }
  return out;
}

/** Downmix then resample to `targetRate`. */
export function toMono(audio: DecodedAudio, targetRate: number): Float32Array {
  const mono = downmixMean(audio.channels);
  if (mono.length === 0) throw new XcodecInputError('audio has no samples');
  return audio.sampleRate === targetRate ? mono : resample(mono, audio.sampleRate, targetRate);
}
