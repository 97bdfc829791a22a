// The checkpoint tensors a config's model reads, with their shapes, taken from the loaders themselves:
// they run in a recording weight view (checkpoint/weights.ts) inside a measuring pass (no memory, no
// compute). The weight generator (scripts/generate-weights.mjs) writes its checkpoints from this list.

import { Runtime } from '../backend/runtime.js';
import { parseXcodecConfig } from '../checkpoint/config.js';
import { type CheckpointSource, type TensorRequest, WeightLoader } from '../checkpoint/weights.js';
import { loadNetwork } from './codec.js';

export type { TensorRequest } from '../checkpoint/weights.js';

const NO_TENSORS: CheckpointSource = {
  names: () => [],
  info: () => undefined,
  readF32: async () => {},
};

/**
 * Tensors transformers' checkpoints hold that inference never reads: HuBERT's masked_spec_embed, the
 * semantic decoder and fc1 (reconstruction losses in training), and each codebook's EMA state.
 */
const TRAINING_ONLY =
  /^(semantic_model\.masked_spec_embed$|decoder_semantic\.|fc1\.)|\.codebook\.(inited|cluster_size|embed_avg)$/;

/** The tensors of the half `components` leaves out ('decoder' loads no encoder, 'encoder' no decoder). */
const SKIPPED_HALF: Record<string, RegExp | null> = {
  all: null,
  decoder: /^(semantic_model|encoder_semantic|acoustic_encoder|fc)\./,
  encoder: /^(acoustic_decoder|fc2)\./,
};

/** X-Codec 2: Wav2Vec2-BERT's masked_spec_embed is for training; the halves as above. */
const XCODEC2_TRAINING_ONLY = /^semantic_encoder\.masked_spec_embed$/;
const XCODEC2_SKIPPED_HALF: Record<string, RegExp | null> = {
  all: null,
  decoder: /^(semantic_encoder|semantic_adapter|acoustic_encoder|fc_encoder|quantizer\.project_in)\./,
  encoder: /^(acoustic_decoder|decoder)\./,
};

/**
 * Checkpoint tensors a model loaded with `components` did not read and has no reason to skip: a
 * config that disagrees with its checkpoint (fewer layers, other dilations, fewer quantizers...).
 */
export function unexpectedTensors(unread: string[], components: string, modelType = 'xcodec'): string[] {
  const x2 = modelType === 'xcodec2';
  const training = x2 ? XCODEC2_TRAINING_ONLY : TRAINING_ONLY;
  const skipped = (x2 ? XCODEC2_SKIPPED_HALF : SKIPPED_HALF)[components] ?? null;
  return unread.filter((n) => !training.test(n) && !(skipped?.test(n) ?? false));
}

/** Every tensor the model of `config` (config.json, parsed) reads at load, in load order. */
export async function tensorsRead(config: unknown): Promise<TensorRequest[]> {
  const cfg = parseXcodecConfig(config);
  const rt = await Runtime.create({ numThreads: 1 });
  try {
    const record: TensorRequest[] = [];
    const loader = new WeightLoader(rt, NO_TENSORS, 'model.safetensors', record);
    await rt.measureAsync(() => loadNetwork(loader.root(), cfg, 'all', { encoder: 'direct', decoder: 'direct' }));
    return record;
  } finally {
    rt.dispose();
  }
}
