// The edge template (edge-app.mjs) as Deno.serve runs it in the tests: the model files fetched
// relative to this module (a file: URL here; an HTTP URL or a bundled asset on a real edge platform).
import { createEdgeApp } from '../../../examples/edge-worker/app.mjs';

const MODEL_URL = new URL('../../fixtures/tiny-hubert/', import.meta.url);

async function fetchBytes(name) {
  const r = await fetch(new URL(name, MODEL_URL));
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export default createEdgeApp(async () => ({
  files: { 'config.json': await fetchBytes('config.json'), 'model.safetensors': await fetchBytes('model.safetensors') },
  preprocessor: await fetchBytes('preprocessor_config.json'),
}));
