// The semantic model's transformer (`semantic_model.encoder.*`), shared by HuBERT and WavLM: a grouped
// positional convolution, then layers of self-attention and feed-forward with post-LN (base models)
// or pre-LN (`do_stable_layer_norm`). Activations are channel-major [H, T] like everything else.

import type { SemanticModelConfig } from '../checkpoint/config.js';
import { add as addKernel, unary } from '../backend/launch.js';
import { gelu, scale } from '../nn/activation.js';
import { type AttentionBiasTables, selfAttention } from '../nn/attention.js';
import { type Conv1d, conv1d } from '../nn/conv.js';
import { transpose } from '../nn/layout.js';
import { type Linear, linear, linearColumns } from '../nn/linear.js';
import { type Norm, layerNormChannels } from '../nn/norm.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { loadConv, loadLinear, loadNorm } from './layers.js';

/**
 * An extra additive attention bias (WavLM's gated relative position bias): the tables the attention
 * kernel reads to add gates[h, i] * embed[bucket(j - i), h] to head h's scores before the softmax,
 * made in the caller's arena scope from the layer's input x [H, T].
 */
export interface AttentionBias {
  prepare(rt: Runtime, x: Tensor): AttentionBiasTables;
}

/** `pos_conv_embed.conv`: x + gelu(conv(x)), the conv grouped and weight-normed. */
export class PositionalConvEmbedding {
  private constructor(private conv: Conv1d) {}

  static async load(vb: Weights, c: SemanticModelConfig): Promise<PositionalConvEmbedding> {
    const k = c.numConvPosEmbeddings;
    const H = c.hiddenSize;
    return new PositionalConvEmbedding(
      await loadConv(vb, {
        cin: H,
        cout: H,
        kernel: k,
        padding: Math.floor(k / 2),
        groups: c.numConvPosEmbeddingGroups,
      }),
    );
  }

  /**
   * x + gelu(conv(x)) over x's T frames. x: [H, T]. An even kernel yields one extra frame, which HuBERT
   * drops (HubertSamePadLayer): only the first T columns of the conv are read.
   */
  forward(rt: Runtime, x: Tensor): Tensor {
    return rt.scope(() => addGeluPrefix(rt, x, conv1d(rt, x, this.conv)));
  }
}

/** `attention`: q, k, v and out projections around every head's softmax(q k^T / sqrt(d) + bias) v. */
export class SelfAttention {
  private constructor(
    private q: Linear,
    private k: Linear,
    private v: Linear,
    private out: Linear,
    private heads: number,
    private headDim: number,
  ) {}

  static async load(vb: Weights, H: number, heads: number): Promise<SelfAttention> {
    return new SelfAttention(
      await loadLinear(vb.pp('q_proj'), H, H),
      await loadLinear(vb.pp('k_proj'), H, H),
      await loadLinear(vb.pp('v_proj'), H, H),
      await loadLinear(vb.pp('out_proj'), H, H),
      heads,
      H / heads,
    );
  }

  /**
   * out_proj(attention(x)) (+ residual). x: [H, T]. Four [H, T] buffers at the peak (keys, queries,
   * values, context): the keys' untransposed projection is gone before the queries exist, and the
   * output overwrites the keys, which are dead once the context is.
   */
  forward(rt: Runtime, x: Tensor, bias?: AttentionBias, residual?: Tensor): Tensor {
    return rt.scope(() => {
      const [H, T] = x.dims;
      const kT = rt.tensor([T, H]); // head h's keys as rows j, columns h*d..; their projection goes once transposed
      rt.scope(() => transpose(rt, linear(rt, x, this.k), kT));
      const q = scale(rt, linear(rt, x, this.q), this.headDim ** -0.5, true);
      const v = linear(rt, x, this.v);
      const ctx = selfAttention(rt, q, kT, v, this.heads, bias?.prepare(rt, x) ?? null);
      return linear(rt, ctx, this.out, residual, { ptr: kT.ptr, dims: x.dims });
    });
  }
}

/**
 * Frames per block of the feed-forward: its [intermediate, T] activation exists one block at a time
 * (6 MiB at full size), not for the whole input (352 MiB at 10 minutes). Any width gives one call's
 * bits (linearColumns). 512 keeps the activation small while the thread split still cuts the weight's
 * product by rows (threads/split.ts); docs/performance.md has the widths measured.
 */
const FEED_FORWARD_BLOCK = 512;

/** `feed_forward`: output_dense(gelu(intermediate_dense(x))) + residual. */
class FeedForward {
  private constructor(
    private inner: Linear,
    private outer: Linear,
  ) {}

  static async load(vb: Weights, c: SemanticModelConfig): Promise<FeedForward> {
    return new FeedForward(
      await loadLinear(vb.pp('intermediate_dense'), c.hiddenSize, c.intermediateSize),
      await loadLinear(vb.pp('output_dense'), c.intermediateSize, c.hiddenSize),
    );
  }

  /**
   * residual + ff(x) into `into` ([H, T]), block by block over time; `into` may be x or the residual
   * (a block reads its columns of both before it writes them).
   */
  forward(rt: Runtime, x: Tensor, residual: Tensor, into: Tensor): Tensor {
    const [, T] = x.dims;
    return rt.scope(() => {
      const block = Math.min(T, FEED_FORWARD_BLOCK);
      const inner = rt.tensor([this.inner.outFeatures, block]);
      for (let t0 = 0; t0 < T; t0 += block) {
        const width = Math.min(block, T - t0);
        const h: Tensor = { ptr: inner.ptr, dims: [this.inner.outFeatures, width] };
        linearColumns(rt, x, t0, this.inner, h, 0, width);
        gelu(rt, h, true);
        linearColumns(rt, h, 0, this.outer, into, t0, width, residual);
      }
      return into;
    });
  }
}

/** `layers.N`. */
export class EncoderLayer {
  constructor(
    private attention: SelfAttention,
    private norm: Norm,
    private ff: FeedForward,
    private finalNorm: Norm,
    private stable: boolean,
  ) {}

  static async load(vb: Weights, c: SemanticModelConfig, attention: SelfAttention): Promise<EncoderLayer> {
    return new EncoderLayer(
      attention,
      await loadNorm(vb.pp('layer_norm'), c.hiddenSize, c.layerNormEps),
      await FeedForward.load(vb.pp('feed_forward'), c),
      await loadNorm(vb.pp('final_layer_norm'), c.hiddenSize, c.layerNormEps),
      c.doStableLayerNorm,
    );
  }

  forward(rt: Runtime, x: Tensor, bias: AttentionBias | undefined): Tensor {
    const ln = (t: Tensor, n: Norm, inPlace = false) => layerNormChannels(rt, t, n.gamma, n.beta, n.eps, inPlace);
    return rt.scope(() => {
      if (this.stable) {
        const xn = ln(x, this.norm);
        const h = this.attention.forward(rt, xn, bias, x); // pre-LN: x + attn(LN(x)), then h + ff(LN(h))
        return this.ff.forward(rt, ln(h, this.finalNorm), h, h);
      }
      // post-LN: LN(x + attn(x)), then LN(h + ff(h))
      const h = ln(this.attention.forward(rt, x, bias, x), this.norm, true);
      return ln(this.ff.forward(rt, h, h, h), this.finalNorm, true);
    });
  }
}

/** x + gelu(y) over x's T columns, where y [H, T + extra] may run longer: [H, T]. y is overwritten. */
function addGeluPrefix(rt: Runtime, x: Tensor, y: Tensor): Tensor {
  const [H, T] = x.dims;
  const Ty = y.dims[1];
  const out = rt.tensor([H, T]);
  for (let h = 0; h < H; h++) {
    unary(rt, 'gelu', y.ptr + 4 * h * Ty, y.ptr + 4 * h * Ty, T);
    addKernel(rt, out.ptr + 4 * h * T, x.ptr + 4 * h * T, y.ptr + 4 * h * Ty, T);
  }
  return out;
}
