// An audio file to X-Codec codes and back, in Node (also runs under Deno and Bun).
//   node examples/node-file-to-codes.mjs [audio file] [checkpoint dir or Hub repo id]
// Defaults: the package's embedded test model and sample (no download). With a real checkpoint,
// e.g. hf-audio/xcodec-hubert-librispeech, the reconstruction sounds like the input.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAudio, encodeWav, writeNpy } from 'xcodec-wasm/audio';
import { XcodecFeatureExtractor, XcodecModel } from 'xcodec-wasm/node';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const file = process.argv[2] ?? here('../weights/sample_speech_en.flac');
const repo = process.argv[3] ?? here('../weights/default');

const model = await XcodecModel.fromPretrained(repo); // runs in a worker; calls return Promises
const fe = await XcodecFeatureExtractor.fromPretrained(repo);
const rate = model.config.sampleRate;
const samples = await loadAudio(readFileSync(file), { sampleRate: rate }); // mono, resampled like torchaudio
const { inputValues } = fe.call(samples, { samplingRate: rate }); // [1, 1, N], padded to the hop
const { audioCodes } = await model.encode(inputValues, { bandwidth: 2 }); // int64 [1, nq, frames]
const { audioValues } = await model.decode({ audioCodes }); // float32 [1, 1, frames * hop]

writeFileSync('codes.npy', writeNpy(audioCodes.data, audioCodes.dims)); // numpy.load('codes.npy')
writeFileSync('reconstruction.wav', encodeWav([audioValues.data.subarray(0, samples.length)], rate));
console.log(`codes ${audioCodes.dims.join(' x ')}: ${[...audioCodes.data.slice(0, 8)].join(' ')} ...`);
console.log(`wrote codes.npy and reconstruction.wav (${(samples.length / rate).toFixed(2)} s at ${rate} Hz)`);
await model.dispose();
