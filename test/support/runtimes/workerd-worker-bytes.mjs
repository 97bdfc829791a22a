// workerd-worker.mjs without the precompiled kernels: the package must then say, as a typed error,
// that this host forbids compiling WebAssembly from bytes and what to pass instead.
import config from './config.json.bin';
import weights from './model.safetensors.bin';
import { createEdgeApp } from '../../../examples/edge-worker/app.mjs';

export default createEdgeApp(async () => ({
  files: { 'config.json': new Uint8Array(config), 'model.safetensors': new Uint8Array(weights) },
}));
