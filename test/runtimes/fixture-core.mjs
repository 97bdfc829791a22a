// Runs the tiny-hubert fixture cases through the package in any runtime (Node, Deno, Bun, a browser
// page) and returns the raw outputs; the Node test compares them with the expected files, so every
// runtime is held to the same check (codes identical, audio within the manifest's atol).
// Only web-standard APIs here: the caller passes `read(relativePath) -> Uint8Array` for the fixture files.
import { XcodecModel } from '../../dist/index.js';
import { readNpy } from '../../dist/audio.js';

export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Loads the model from in-memory files (as a browser or an edge function would) unless `dir` is given. */
export async function loadModel(read, { numThreads, dir } = {}) {
  if (dir) return XcodecModel.fromPretrained(dir, { numThreads });
  const files = { 'config.json': await read('config.json'), 'model.safetensors': await read('model.safetensors') };
  return XcodecModel.fromBuffers(files, { numThreads });
}

/**
 * Every case of the manifest: codes at every bandwidth, and the audio decoded from the highest
 * bandwidth's codes. Returns { numThreads, workerChunks, crossOriginIsolated, cases: [...] }.
 */
export async function runFixtures(read, options = {}) {
  const manifest = JSON.parse(new TextDecoder().decode(await read('cases/manifest.json')));
  const model = await loadModel(read, options);
  const rt = model.rt; // private in TypeScript; read here to report how many threads really ran
  try {
    const cases = [];
    for (const c of manifest.cases) {
      const input = readNpy(await read(`cases/${c.input_values}`));
      const x = { data: input.data, dims: input.shape };
      const codes = {};
      let top = null;
      for (const key of Object.keys(c.bandwidths).sort((a, b) => Number(a) - Number(b))) {
        const { audioCodes } = model.encode(x, { bandwidth: Number(key) });
        codes[key] = { dims: audioCodes.dims, data: Array.from(audioCodes.data, Number) };
        top = audioCodes;
      }
      const { audioValues } = model.decode(top);
      const audio = new Uint8Array(audioValues.data.buffer, audioValues.data.byteOffset, audioValues.data.byteLength);
      cases.push({ name: c.name, codes, audio: { dims: audioValues.dims, base64: toBase64(audio) } });
    }
    return {
      numThreads: rt?.numThreads ?? null,
      workerChunks: rt?.pool ? rt.pool.workerChunks.reduce((a, b) => a + b, 0) : 0,
      crossOriginIsolated: globalThis.crossOriginIsolated ?? null,
      cases,
    };
  } finally {
    model.dispose();
  }
}
