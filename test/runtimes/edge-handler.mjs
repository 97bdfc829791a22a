// An edge-function style module: `export default { fetch(request) }`, no file system, no workers.
// POST WAV bytes (any rate; resampled to the model's) to get the codes back as an int64 .npy
// [1, quantizers, frames]; `?bandwidth=KBPS` picks the bandwidth. The model files are fetched relative
// to this module (a file: URL here; an HTTP URL or bundled asset on a real edge platform).
import { XcodecModel, XcodecError, XcodecInputError } from '../../dist/index.js';
import { readAudio, toMono } from '../../dist/audio.js';
import { writeNpy } from '../../dist/audio.js';

const MODEL_URL = new URL('../fixtures/tiny-hubert/', import.meta.url);
let loading = null;

async function fetchBytes(name) {
  const r = await fetch(new URL(name, MODEL_URL));
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function model() {
  loading ??= (async () => {
    const files = { 'config.json': await fetchBytes('config.json'), 'model.safetensors': await fetchBytes('model.safetensors') };
    // No numThreads: the default (available cores) must fall back to one thread where workers are
    // forbidden, and the Promise API to this thread (runsOn 'caller').
    return XcodecModel.fromBuffers(files);
  })();
  return loading;
}

export default {
  async fetch(request) {
    if (request.method !== 'POST') return new Response('POST WAV bytes to encode them\n', { status: 405 });
    try {
      const m = await model();
      const audio = readAudio(new Uint8Array(await request.arrayBuffer()), 'request body');
      const samples = toMono(audio, m.config.sampleRate);
      const bw = new URL(request.url).searchParams.get('bandwidth');
      const { audioCodes } = await m.encode(samples, bw === null ? {} : { bandwidth: Number(bw) });
      return new Response(writeNpy(audioCodes.data, audioCodes.dims), {
        headers: { 'content-type': 'application/octet-stream', 'x-xcodec-threads': String(m.numThreads), 'x-xcodec-runs-on': m.runsOn },
      });
    } catch (e) {
      const status = e instanceof XcodecInputError ? 400 : e instanceof XcodecError ? 500 : 500;
      return new Response(`${e?.name ?? 'Error'}: ${e?.message ?? e}\n`, { status });
    }
  },
};
