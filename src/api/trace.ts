// encodeTrace's result: every intermediate of one encode, copied out of linear memory; X-Codec's
// semantic features transposed to transformers' [T, H].

import type { Runtime, Tensor } from '../backend/runtime.js';
import type { FloatTensor } from './options.js';

export function downloadTrace(rt: Runtime, t: object): Record<string, FloatTensor> {
  const out: Record<string, FloatTensor> = {};
  for (const [name, v] of Object.entries(t) as [string, Tensor][]) {
    const data = rt.download(v);
    if (name !== 'semanticFeatures') {
      out[name] = { data, dims: [...v.dims] };
      continue;
    }
    const [H, T] = v.dims;
    const transposed = new Float32Array(H * T);
    for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) transposed[i * H + h] = data[h * T + i];
    out[name] = { data: transposed, dims: [T, H] };
  }
  return out;
}
