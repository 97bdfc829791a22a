// The named ops by family, for the model, the tests and the benches: each allocates its output in
// linear memory and makes one or a few kernel calls through backend/launch.ts.
export * from './activation.js';
export * from './attention.js';
export * from './conv.js';
export * from './istft.js';
export * from './layout.js';
export * from './linear.js';
export * from './norm.js';
export * from './quantizer.js';
export * from './winograd.js';
export {
  KERNEL7_TILE,
  type WinogradTile,
  exactMatrices,
  kernelRuns,
  tile,
  winogradMatrices,
} from './winograd_matrices.js';
