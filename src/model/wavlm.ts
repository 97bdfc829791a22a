// WavLM: HuBERT's trunk plus a gated relative position bias in every attention layer. The bucketed
// bias table (rel_attn_embed) lives in layer 0 and is shared by all layers; each layer gates it per
// head and per query position with gru_rel_pos_linear / gru_rel_pos_const.

import type { SemanticConfig } from '../config.js';
import type { Linear } from '../ops.js';
import type { Runtime, Tensor } from '../runtime.js';
import type { Weights } from '../weights.js';
import { type AttentionBias, SelfAttention, SemanticTrunk, loadLinear } from './hubert.js';

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

  constructor(readonly embed: number, readonly heads: number, readonly numBuckets: number, readonly maxDistance: number) {}

  prepare(rt: Runtime, T: number): void {
    this.buckets = rt.allocBytes(4 * (2 * T - 1));
    const view = rt.i32;
    for (let d = -(T - 1); d <= T - 1; d++) view[(this.buckets >>> 2) + d + T - 1] = relativePositionBucket(d, this.numBuckets, this.maxDistance);
  }
}

class GatedRelativeBias implements AttentionBias {
  constructor(private positions: RelativePositions, private gateLinear: Linear, private gateConst: number,
    private heads: number, private headDim: number) {}

  /** The buckets and every head's gate [heads, T], in the caller's arena scope. x: [H, T]. */
  prepare(rt: Runtime, x: Tensor): { gates: number; embed: number; buckets: number } {
    const T = x.dims[1];
    this.positions.prepare(rt, T);
    const gates = rt.allocBytes(4 * this.heads * T);
    const m = rt.mark();
    const g = rt.tensor([8, T]);
    const rows = rt.allocBytes(4 * this.headDim);
    rt.k.gemm_rows(rows, this.headDim, 1, T, 1);
    for (let h = 0; h < this.heads; h++) {
      // g = gru_rel_pos_linear(x_head): [8, T]
      rt.k.gemm(g.ptr, T, this.gateLinear.w, this.headDim, x.ptr + 4 * h * this.headDim * T, rows, this.gateLinear.bias, 0,
        8, T, this.headDim, 0, 8, 0, T);
      rt.k.wavlm_gate(gates + 4 * h * T, g.ptr, rt.f32[(this.gateConst >>> 2) + h], T, 0, T);
    }
    rt.release(m);
    return { gates, embed: this.positions.embed, buckets: this.positions.buckets };
  }
}

export async function loadWavLM(vb: Weights, c: SemanticConfig): Promise<SemanticTrunk> {
  const heads = c.numAttentionHeads;
  const headDim = c.hiddenSize / heads;
  const biases: GatedRelativeBias[] = [];
  let positions: RelativePositions | null = null;
  const attention = async (av: Weights, i: number): Promise<SelfAttention> => {
    const att = await SelfAttention.load(av, c.hiddenSize, heads);
    if (i === 0) {
      const embed = await av.pp('rel_attn_embed').tensor('weight', [c.numBuckets, heads]);
      positions = new RelativePositions(embed, heads, c.numBuckets, c.maxBucketDistance);
    }
    const gateLinear = await loadLinear(av.pp('gru_rel_pos_linear'), headDim, 8);
    const gateConst = await av.vector('gru_rel_pos_const', heads);
    biases.push(new GatedRelativeBias(positions!, gateLinear, gateConst, heads, headDim));
    return att;
  };
  return SemanticTrunk.load(vb, c, attention, (i) => biases[i]);
}
