// Codes to audio in Deno: a codes.npy (numpy int64 [1, nq, frames], as `xcodec encode` or numpy
// writes it) decoded to a WAV file, with Deno's own file APIs.
//   deno run --allow-read --allow-write --allow-env examples/deno.mjs codes.npy out.wav [checkpoint dir]
import { encodeWav, readNpy } from 'xcodec-wasm/audio';
import { XcodecModel } from 'xcodec-wasm/node';

const [
  codesFile = 'codes.npy',
  wavFile = 'decoded.wav',
  repo = new URL('../weights/default', import.meta.url).pathname,
] = Deno.args;
const model = await XcodecModel.fromPretrained(repo, { components: 'decoder' }); // the decode path only
const codes = readNpy(await Deno.readFile(codesFile));
const { audioValues } = await model.decode({ data: codes.data, dims: codes.shape });
await Deno.writeFile(wavFile, encodeWav(audioValues.data, model.config.sampleRate));
console.log(`decoded ${codes.shape.join(' x ')} codes to ${audioValues.data.length} samples: ${wavFile}`);
await model.dispose();
