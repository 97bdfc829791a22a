// Audio to language-model tokens in Bun: encode a file and print YuE's token ids (X-Codec codes
// offset into YuE's vocabulary), the way an audio LM's data pipeline would consume them.
//   bun examples/bun.mjs [audio file] [checkpoint dir]
import { loadAudio } from 'xcodec-wasm/audio';
import { XcodecFeatureExtractor, XcodecModelSync, toYueTokens } from 'xcodec-wasm/node';

const file = Bun.argv[2] ?? new URL('../weights/sample_speech_en.flac', import.meta.url).pathname;
const repo = Bun.argv[3] ?? new URL('../weights/default', import.meta.url).pathname;
const model = await XcodecModelSync.fromPretrained(repo, { components: 'encoder' }); // blocks this thread
const fe = await XcodecFeatureExtractor.fromPretrained(repo);
const rate = model.config.sampleRate;
const samples = await loadAudio(new Uint8Array(await Bun.file(file).arrayBuffer()), { sampleRate: rate });
const { audioCodes } = model.encode(fe.call(samples, { samplingRate: rate }).inputValues, { bandwidth: 4 });
const ids = toYueTokens(audioCodes);
console.log(
  `${ids.length} YuE tokens for ${(samples.length / rate).toFixed(2)} s: ${[...ids.slice(0, 8)].join(' ')} ...`,
);
model.dispose();
