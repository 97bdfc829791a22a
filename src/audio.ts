// `xcodec-wasm/audio`: reading and writing audio and arrays without a file system (bytes in, bytes
// out), in every runtime: WAV, FLAC, MP3, Ogg Vorbis and Ogg Opus decoding (the compressed formats'
// decoders load on first use), WAV encoding, numpy .npy, resampling and downmixing.
export { loadAudio, decodeAudio, readAudio, sniffAudio, downmixMean, toMono } from './io/audio.js';
export type { AudioFormat, AudioSource, DecodedAudio } from './io/audio.js';
export { decodeWav, encodeWav, encodeWavStream } from './io/wav.js';
export { decodeFlac } from './io/flac.js';
export { readNpy, writeNpy } from './io/npy.js';
export { resample, StreamingResampler, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE } from './io/resample.js';
