// encodeTrace's result: every intermediate of one encode, copied out of linear memory, the semantic
// features transposed to transformers' [T, H].

import type { Runtime, Tensor } from '../backend/runtime.js';
import type { EncodeTrace } from '../model/network.js';
import type { FloatTensor } from './options.js';

export function downloadTrace(rt: Runtime, t: EncodeTrace): Record<keyof EncodeTrace, FloatTensor> {
  const get = (v: Tensor): FloatTensor => ({ data: rt.download(v), dims: [...v.dims] });
  const sf = get(t.semanticFeatures);
  const [H, T] = sf.dims;
  const sfT = new Float32Array(H * T);
  for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) sfT[i * H + h] = sf.data[h * T + i];
  return {
    semanticInput: get(t.semanticInput),
    semanticFeatures: { data: sfT, dims: [T, H] },
    eSemantic: get(t.eSemantic),
    eAcoustic: get(t.eAcoustic),
    embeddings: get(t.embeddings),
  };
}
