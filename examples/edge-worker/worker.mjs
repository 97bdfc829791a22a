// The edge app (app.mjs) as a Cloudflare Worker: the checkpoint comes in as `data` modules and the
// kernels as `wasm` modules (Workers and workerd forbid compiling WebAssembly from bytes). Bundle it
// with the four files beside it (wrangler: `rules` for *.bin as Data and *.wasm as CompiledWasm);
// test/runtimes.test.mjs runs it under workerd and checks its codes against Node's.
import config from './config.json.bin';
import weights from './model.safetensors.bin';
import preprocessor from './preprocessor_config.json.bin';
import simd from './simd.wasm'; // xcodec-wasm/wasm/simd.wasm
import relaxed from './relaxed.wasm'; // xcodec-wasm/wasm/relaxed.wasm
import { createEdgeApp } from './app.mjs';

export default createEdgeApp(async () => ({
  files: { 'config.json': new Uint8Array(config), 'model.safetensors': new Uint8Array(weights) },
  preprocessor: new Uint8Array(preprocessor),
  wasmModules: { simd, relaxed },
}));
