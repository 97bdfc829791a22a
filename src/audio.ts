// `xcodec-wasm/audio`: reading and writing audio and arrays without a file system (bytes in, bytes
// out), in every runtime: WAV and FLAC decoding, WAV encoding, numpy .npy, resampling and downmixing.
export { loadAudio, readAudio, downmixMean, toMono } from './io/audio.js';
export type { DecodedAudio } from './io/audio.js';
export { decodeWav, encodeWav } from './io/wav.js';
export { decodeFlac } from './io/flac.js';
export { readNpy, writeNpy } from './io/npy.js';
export { resample, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE } from './io/resample.js';
