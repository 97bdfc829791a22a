// The edge template (edge-app.mjs) as a Cloudflare Worker under workerd: the checkpoint comes in as
// `data` modules and the kernels as `wasm` modules (workerd, like Workers in production, forbids
// compiling WebAssembly from bytes). test/runtimes.test.mjs bundles this with esbuild and writes the
// workerd config that names these modules.
import config from './config.json.bin';
import weights from './model.safetensors.bin';
import preprocessor from './preprocessor_config.json.bin';
import simd from './simd.wasm';
import relaxed from './relaxed.wasm';
import { createEdgeApp } from './edge-app.mjs';

export default createEdgeApp(async () => ({
  files: { 'config.json': new Uint8Array(config), 'model.safetensors': new Uint8Array(weights) },
  preprocessor: new Uint8Array(preprocessor),
  wasmModules: { simd, relaxed },
}));
