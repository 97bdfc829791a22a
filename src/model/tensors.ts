// The checkpoint tensors a config's model reads, with their shapes, taken from the loaders themselves:
// they run in a recording weight view (checkpoint/weights.ts) inside a measuring pass (no memory, no
// compute). The weight generator (scripts/generate-weights.mjs) writes its checkpoints from this list.

import { Runtime } from '../backend/runtime.js';
import { parseXcodecConfig } from '../checkpoint/config.js';
import { type CheckpointSource, type TensorRequest, WeightLoader } from '../checkpoint/weights.js';
import { XcodecNetwork } from './network.js';

export type { TensorRequest } from '../checkpoint/weights.js';

const NO_TENSORS: CheckpointSource = {
  names: () => [],
  info: () => undefined,
  readF32: async () => {},
};

/** Every tensor the model of `config` (config.json, parsed) reads at load, in load order. */
export async function tensorsRead(config: unknown): Promise<TensorRequest[]> {
  const cfg = parseXcodecConfig(config);
  const rt = await Runtime.create({ numThreads: 1 });
  try {
    const record: TensorRequest[] = [];
    const loader = new WeightLoader(rt, NO_TENSORS, 'model.safetensors', record);
    await rt.measureAsync(() =>
      XcodecNetwork.load(loader.root(), cfg, 'all', { encoder: 'direct', decoder: 'direct' }),
    );
    return record;
  } finally {
    rt.dispose();
  }
}
