// WavLM's gated relative position bias (`semantic_model.encoder.layers.N.attention.{rel_attn_embed,
// gru_rel_pos_linear, gru_rel_pos_const}`), added to every attention layer of HuBERT's transformer. The bucketed
// bias table (rel_attn_embed) lives in layer 0 and is shared by all layers; each layer gates it per
// head and per query position with gru_rel_pos_linear / gru_rel_pos_const.

import type { SemanticModelConfig } from '../checkpoint/config.js';
import { gemm, rowTable, wavlmGate } from '../backend/launch.js';
import type { AttentionBiasTables } from '../nn/attention.js';
import type { Linear } from '../nn/linear.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { loadLinear } from './layers.js';
import type { AttentionBias } from './transformer.js';

/** Relative-position bucket of (key - query), exactly as WavLM computes it in f32. */
export function relativePositionBucket(rel: number, numBuckets: number, maxDistance: number): number {
  const nb = Math.floor(numBuckets / 2);
  let bucket = rel > 0 ? nb : 0;
  const a = Math.abs(rel);
  const maxExact = Math.floor(nb / 2);
  if (a < maxExact) return bucket + a;
  const f = Math.fround;
  // torch: log(rel.float() / max_exact) / math.log(max_distance / max_exact) * (nb - max_exact), in f32
  const ratio = f(f(a) / f(maxExact));
  const large = f(f(f(Math.log(ratio)) / f(Math.log(maxDistance / maxExact))) * f(nb - maxExact));
  const idx = Math.trunc(f(maxExact + large));
  bucket += Math.min(idx, nb - 1);
  return bucket;
}

/**
 * The shared bias table (layer 0's rel_attn_embed) and, per attention call, the bucket of every
 * key - query in [-(T-1), T-1] as i32 [2T - 1] (O(T) work, re-made in each layer's arena scope).
 */
class RelativePositions {
  buckets = 0;

  constructor(
    readonly embed: number,
    readonly heads: number,
    readonly numBuckets: number,
    readonly maxDistance: number,
  ) {}

  prepare(rt: Runtime, T: number): void {
    this.buckets = rt.allocBytes(4 * (2 * T - 1));
    const view = rt.i32;
    for (let d = -(T - 1); d <= T - 1; d++)
      view[(this.buckets >>> 2) + d + T - 1] = relativePositionBucket(d, this.numBuckets, this.maxDistance);
  }
}

class GatedRelativeBias implements AttentionBias {
  constructor(
    readonly positions: RelativePositions,
    private gateLinear: Linear,
    private gateConst: number,
    private heads: number,
  ) {}

  /** The buckets and every head's gate [heads, T], in the caller's arena scope. x: [H, T]. */
  prepare(rt: Runtime, x: Tensor): AttentionBiasTables {
    this.positions.prepare(rt, x.dims[1]);
    const gates = rt.allocBytes(4 * this.heads * x.dims[1]);
    wavlmGates(rt, gates, x, this.gateLinear, this.gateConst, this.heads);
    return { gates, embed: this.positions.embed, buckets: this.positions.buckets };
  }
}

/**
 * Layer i's bias, from its `attention` weights; layer 0 also holds the bucketed table that every
 * layer shares (`layers` are the biases of the layers before i).
 */
export async function loadWavLMBiases(
  av: Weights,
  c: SemanticModelConfig,
  i: number,
  layers: readonly AttentionBias[],
): Promise<AttentionBias> {
  const heads = c.numAttentionHeads;
  const headDim = c.hiddenSize / heads;
  const positions =
    i === 0
      ? new RelativePositions(
          await av.pp('rel_attn_embed').tensor('weight', [c.numBuckets, heads]),
          heads,
          c.numBuckets,
          c.maxBucketDistance,
        )
      : (layers[0] as GatedRelativeBias).positions;
  const gateLinear = await loadLinear(av.pp('gru_rel_pos_linear'), headDim, 8);
  const gateConst = await av.vector('gru_rel_pos_const', heads);
  return new GatedRelativeBias(positions, gateLinear, gateConst, heads);
}

/**
 * WavLM's per-head gates [heads, T] (at byte offset `gates`): for head h, the 8 outputs of
 * gru_rel_pos_linear on that head's slice of x [H, T], combined with gru_rel_pos_const[h].
 */
function wavlmGates(rt: Runtime, gates: number, x: Tensor, gateLinear: Linear, gateConst: number, heads: number): void {
  const [H, T] = x.dims;
  const headDim = H / heads;
  rt.scope(() => {
    const g = rt.tensor([8, T]);
    const rows = rowTable(rt, headDim, T);
    for (let h = 0; h < heads; h++) {
      gemm(rt, {
        out: g.ptr,
        ldo: T,
        a: gateLinear.w,
        lda: headDim,
        b: x.ptr + 4 * h * headDim * T,
        rows,
        bias: gateLinear.bias,
        M: 8,
        N: T,
        K: headDim,
      });
      wavlmGate(rt, gates + 4 * h * T, g.ptr, rt.f32[(gateConst >>> 2) + h], T);
    }
  });
}
