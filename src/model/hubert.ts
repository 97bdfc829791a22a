// HuBERT (and the parts WavLM shares with it): conv feature encoder, feature projection, positional
// conv embedding and the transformer encoder. X-Codec uses the mean of all hidden states.
// Transformer activations are kept channel-major [H, T] like the convolutions, so every linear layer
// is the same GEMM and LayerNorm normalises columns.

import type { SemanticConfig } from '../config.js';
import {
  type Conv1d, type Linear, add, conv1d, convRows, copyColumns, gelu, groupNormRows, layerNormChannels, linear, loadPackedConv1d, packConv1d, transpose,
} from '../ops.js';
import type { Runtime, Tensor } from '../runtime.js';
import type { Weights } from '../weights.js';

export async function loadLinear(vb: Weights, inFeatures: number, outFeatures: number): Promise<Linear> {
  return { w: await vb.tensor('weight', [outFeatures, inFeatures]), bias: await vb.tensor('bias', [outFeatures]), inFeatures, outFeatures };
}

export interface Norm {
  gamma: number;
  beta: number;
  eps: number;
}

export async function loadNorm(vb: Weights, size: number, eps: number): Promise<Norm> {
  return { gamma: await vb.tensor('weight', [size]), beta: await vb.tensor('bias', [size]), eps };
}

/**
 * Floats of the first layer's output held at once while GroupNorm's statistics of long audio are
 * taken (32 MiB); tests lower it to run several blocks of channels on short audio.
 */
export const featureEncoderLimits = { statsBlockFloats: 1 << 23 };

class FeatureEncoder {
  private constructor(private convs: Conv1d[], private norms: (Norm | null)[], private kind: 'group' | 'layer') {}

  static async load(vb: Weights, c: SemanticConfig): Promise<FeatureEncoder> {
    const convs: Conv1d[] = [];
    const norms: (Norm | null)[] = [];
    for (let i = 0; i < c.convDim.length; i++) {
      const l = vb.pp('conv_layers').pp(i);
      const cin = i === 0 ? 1 : c.convDim[i - 1];
      const cout = c.convDim[i];
      const conv = await loadPackedConv1d(vb.rt, () => l.pp('conv').tensor('weight', [cout, cin, c.convKernel[i]]),
        { cin, cout, kernel: c.convKernel[i], stride: c.convStride[i] }, l.key('conv'));
      if (c.convBias) conv.bias = await l.pp('conv').tensor('bias', [cout]);
      convs.push(conv);
      // "group": GroupNorm(C, C) on the first layer only (eps 1e-5, torch's default); "layer": LayerNorm on every layer.
      const hasNorm = c.featExtractNorm === 'layer' || i === 0;
      norms.push(hasNorm ? await loadNorm(l.pp('layer_norm'), cout, 1e-5) : null);
    }
    return new FeatureEncoder(convs, norms, c.featExtractNorm);
  }

  /**
   * x: [1, N] -> [conv_dim[-1], frames]. Audio of more than `window` frames runs in windows of that
   * many frames, with the same result: the convolutions have no padding, so frames [f0, f1) are
   * exactly what samples [f0 * S, (f1 - 1) * S + span) give (S the total stride), and GroupNorm's
   * per-channel statistics, which need whole rows, are taken first from the first layer's output in
   * blocks of channels. Memory then follows the window, not the audio.
   */
  forward(rt: Runtime, x: Tensor, window = Infinity, tick: () => void = () => {}): Tensor {
    const T = FeatureEncoder.framesOf(this.convs.map((c) => c.kernel), this.convs.map((c) => c.stride), x.dims[1]);
    if (T <= window) {
      const y = this.layers(rt, x, 0);
      tick();
      return y;
    }
    const m = rt.mark();
    const stats = this.kind === 'group' ? this.firstLayerStats(rt, x) : 0;
    const C = this.convs[this.convs.length - 1].cout;
    const out = rt.tensor([C, T]);
    const S = this.convs.reduce((p, c) => p * c.stride, 1);
    for (let f0 = 0; f0 < T; f0 += window) {
      const f1 = Math.min(T, f0 + window);
      const wm = rt.mark();
      const h = this.layers(rt, { ptr: x.ptr + 4 * f0 * S, dims: [1, this.samplesFor(f1 - f0)] }, stats);
      copyColumns(rt, out, f0, h, 0, f1 - f0);
      rt.release(wm);
      tick();
    }
    return rt.keep(m, out);
  }

  /** The layers on x; with `stats` (group norm only), the first layer's norm uses those whole-row statistics. */
  private layers(rt: Runtime, x: Tensor, stats: number): Tensor {
    const m = rt.mark();
    for (let i = 0; i < this.convs.length; i++) {
      x = conv1d(rt, x, this.convs[i]);
      const n = this.norms[i];
      if (n) {
        if (this.kind === 'layer') layerNormChannels(rt, x, n.gamma, n.beta, n.eps, true);
        else if (stats) rt.k.group_norm_apply(x.ptr, x.ptr, n.gamma, n.beta, stats, x.dims[1], 0, x.dims[0]);
        else groupNormRows(rt, x, n.gamma, n.beta, n.eps, true);
      }
      gelu(rt, x, true);
    }
    return rt.keep(m, x);
  }

  /**
   * GroupNorm's statistics (mean, 1 / sqrt(var + eps)) of every row of the first layer's output over
   * the whole audio, [C, 2], computed a block of channels at a time so the full output never exists.
   */
  private firstLayerStats(rt: Runtime, x: Tensor): number {
    const conv = this.convs[0];
    const norm = this.norms[0]!;
    const T0 = FeatureEncoder.framesOf([conv.kernel], [conv.stride], x.dims[1]);
    const stats = rt.allocBytes(8 * conv.cout);
    const block = Math.max(1, Math.min(conv.cout, Math.floor(featureEncoderLimits.statsBlockFloats / T0)));
    for (let c0 = 0; c0 < conv.cout; c0 += block) {
      const c1 = Math.min(conv.cout, c0 + block);
      const m = rt.mark();
      const y = conv1d(rt, x, convRows(conv, c0, c1));
      rt.k.group_norm_stats(stats + 8 * c0, y.ptr, T0, norm.eps, 0, c1 - c0);
      rt.release(m);
    }
    return stats;
  }

  /** Samples that give exactly n frames. */
  private samplesFor(n: number): number {
    let t = n;
    for (let i = this.convs.length - 1; i >= 0; i--) t = (t - 1) * this.convs[i].stride + this.convs[i].kernel;
    return t;
  }

  /** Frames that n samples give through unpadded convolutions of these kernels and strides. */
  private static framesOf(kernels: number[], strides: number[], n: number): number {
    let t = n;
    for (let i = 0; i < kernels.length; i++) t = Math.floor((t - kernels[i]) / strides[i]) + 1;
    return t;
  }

  static frames(c: SemanticConfig, n: number): number {
    return FeatureEncoder.framesOf(c.convKernel, c.convStride, n);
  }
}

class PositionalConvEmbedding {
  private constructor(private conv: Conv1d, private trim: number) {}

  static async load(vb: Weights, c: SemanticConfig): Promise<PositionalConvEmbedding> {
    const k = c.numConvPosEmbeddings;
    const H = c.hiddenSize;
    const g = c.numConvPosEmbeddingGroups;
    const w = await vb.convWeight([H, H / g, k]);
    const bias = await vb.tensor('bias', [H]);
    const conv = packConv1d(vb.rt, w, bias, { cin: H, cout: H, kernel: k, padding: Math.floor(k / 2), groups: g }, vb.prefix);
    // An even kernel yields one extra frame, which HuBERT drops (HubertSamePadLayer).
    return new PositionalConvEmbedding(conv, k % 2 === 0 ? 1 : 0);
  }

  /** x + gelu(conv(x)) trimmed to T. x: [H, T]. */
  forward(rt: Runtime, x: Tensor): Tensor {
    const m = rt.mark();
    const [H, T] = x.dims;
    const y = conv1d(rt, x, this.conv);
    const Ty = y.dims[1];
    const out = rt.tensor([H, T]);
    // gelu and the residual add row by row over the first T columns of y ([H, T + trim]).
    for (let h = 0; h < H; h++) {
      rt.k.gelu(y.ptr + 4 * h * Ty, y.ptr + 4 * h * Ty, 0, T);
      rt.k.add(out.ptr + 4 * h * T, x.ptr + 4 * h * T, y.ptr + 4 * h * Ty, 0, T);
    }
    return rt.keep(m, out);
  }
}

/**
 * An extra additive attention bias: WavLM's gated relative position bias. prepare() computes what the
 * attention kernel needs to add gates[h, i] * embed[bucket(j - i), h] to head h's transposed scores
 * S^T[j, i] after scaling and before the softmax (see self_attention in assembly/attention.ts).
 */
export interface AttentionBias {
  prepare(rt: Runtime, x: Tensor): { gates: number; embed: number; buckets: number };
}

/**
 * Frames up to which the attention holds all T x T scores at once (2048: 16 MiB), and the query
 * block it uses above that; tests lower them to run blocks on short inputs.
 */
export const attentionLimits = { blockMax: 2048, block: 1024 };

export class SelfAttention {
  private constructor(private q: Linear, private k: Linear, private v: Linear, private out: Linear,
    private heads: number, private headDim: number) {}

  static async load(vb: Weights, H: number, heads: number): Promise<SelfAttention> {
    return new SelfAttention(
      await loadLinear(vb.pp('q_proj'), H, H), await loadLinear(vb.pp('k_proj'), H, H),
      await loadLinear(vb.pp('v_proj'), H, H), await loadLinear(vb.pp('out_proj'), H, H), heads, H / heads);
  }

  /** softmax(q k^T / sqrt(d) + bias) v, all heads, then out_proj (+ residual). x: [H, T]. */
  forward(rt: Runtime, x: Tensor, bias?: AttentionBias, residual?: Tensor): Tensor {
    const m = rt.mark();
    const [H, T] = x.dims;
    const d = this.headDim;
    const q = linear(rt, x, this.q);
    rt.k.scale(q.ptr, q.ptr, Math.fround(d ** -0.5), 0, H * T);
    const kT = transpose(rt, linear(rt, x, this.k)); // [T, H]: head h's keys as rows j, columns h*d..
    const v = linear(rt, x, this.v);
    const b = bias?.prepare(rt, x) ?? { gates: 0, embed: 0, buckets: 0 };
    const ctx = rt.tensor([H, T]);
    // Scores for `block` query columns at a time: all of them up to attentionLimits.blockMax frames,
    // then blocks of attentionLimits.block, so long inputs need T * block floats instead of T * T (same bits).
    const block = T <= attentionLimits.blockMax ? T : attentionLimits.block;
    const scores = rt.allocBytes(4 * T * block);
    const softmaxScratch = rt.allocBytes(4 * 2 * Math.ceil(block / 16) * 16);
    const rowsT = rt.allocBytes(4 * Math.max(T, d));
    rt.k.gemm_rows(rowsT, Math.max(T, d), 1, T, 1);
    let rowsS = rowsT;
    if (block !== T) {
      rowsS = rt.allocBytes(4 * T);
      rt.k.gemm_rows(rowsS, T, 1, block, 1);
    }
    for (let c0 = 0; c0 < T; c0 += block) {
      rt.k.self_attention(ctx.ptr, q.ptr, kT.ptr, v.ptr, scores - 4 * c0, rowsT, softmaxScratch - 4 * c0, b.gates, b.embed, b.buckets,
        H, this.heads, T, c0, Math.min(T, c0 + block), block, rowsS);
    }
    return rt.keep(m, linear(rt, ctx, this.out, residual));
  }
}

class FeedForward {
  private constructor(private inner: Linear, private outer: Linear) {}

  static async load(vb: Weights, c: SemanticConfig): Promise<FeedForward> {
    return new FeedForward(await loadLinear(vb.pp('intermediate_dense'), c.hiddenSize, c.intermediateSize),
      await loadLinear(vb.pp('output_dense'), c.intermediateSize, c.hiddenSize));
  }

  forward(rt: Runtime, x: Tensor, residual?: Tensor): Tensor {
    const m = rt.mark();
    return rt.keep(m, linear(rt, gelu(rt, linear(rt, x, this.inner), true), this.outer, residual));
  }
}

export class EncoderLayer {
  constructor(private attention: SelfAttention, private norm: Norm, private ff: FeedForward, private finalNorm: Norm,
    private stable: boolean) {}

  static async load(vb: Weights, c: SemanticConfig, attention: SelfAttention): Promise<EncoderLayer> {
    return new EncoderLayer(attention, await loadNorm(vb.pp('layer_norm'), c.hiddenSize, c.layerNormEps),
      await FeedForward.load(vb.pp('feed_forward'), c), await loadNorm(vb.pp('final_layer_norm'), c.hiddenSize, c.layerNormEps),
      c.doStableLayerNorm);
  }

  forward(rt: Runtime, x: Tensor, bias: AttentionBias | undefined): Tensor {
    const m = rt.mark();
    const ln = (t: Tensor, n: Norm, inPlace = false) => layerNormChannels(rt, t, n.gamma, n.beta, n.eps, inPlace);
    if (this.stable) {
      const xn = ln(x, this.norm);
      const h = this.attention.forward(rt, xn, bias, x); // pre-LN: x + attn(LN(x)), then h + ff(LN(h))
      return rt.keep(m, this.ff.forward(rt, ln(h, this.finalNorm), h));
    }
    // post-LN: LN(x + attn(x)), then LN(h + ff(h))
    const h = ln(this.attention.forward(rt, x, bias, x), this.norm, true);
    return rt.keep(m, ln(this.ff.forward(rt, h, h), this.finalNorm, true));
  }
}

/**
 * HuBERT/WavLM trunk shared by both semantic models. `layerBias(i)` supplies WavLM's per-layer
 * attention bias; HuBERT has none.
 */
export class SemanticTrunk {
  constructor(private features: FeatureEncoder, private projNorm: Norm | null, private projection: Linear,
    private posConv: PositionalConvEmbedding, private encoderNorm: Norm, private layers: EncoderLayer[],
    private stable: boolean, private layerBias: (i: number) => AttentionBias | undefined) {}

  static async load(vb: Weights, c: SemanticConfig, attention: (vb: Weights, i: number) => Promise<SelfAttention>,
    layerBias: (i: number) => AttentionBias | undefined): Promise<SemanticTrunk> {
    const features = await FeatureEncoder.load(vb.pp('feature_extractor'), c);
    const fp = vb.pp('feature_projection');
    const convOut = c.convDim[c.convDim.length - 1];
    const projNorm = c.featProjLayerNorm ? await loadNorm(fp.pp('layer_norm'), convOut, c.layerNormEps) : null;
    const projection = await loadLinear(fp.pp('projection'), convOut, c.hiddenSize);
    const enc = vb.pp('encoder');
    const posConv = await PositionalConvEmbedding.load(enc.pp('pos_conv_embed').pp('conv'), c);
    const encoderNorm = await loadNorm(enc.pp('layer_norm'), c.hiddenSize, c.layerNormEps);
    const layers = [];
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const lv = enc.pp('layers').pp(i);
      layers.push(await EncoderLayer.load(lv, c, await attention(lv.pp('attention'), i)));
    }
    return new SemanticTrunk(features, projNorm, projection, posConv, encoderNorm, layers, c.doStableLayerNorm, layerBias);
  }

  /**
   * x: [1, N] audio -> mean of all hidden states, [H, frames]; `window`: see FeatureEncoder.forward.
   * `tick` is called after each window of the feature encoder and after each layer.
   */
  meanHiddenStates(rt: Runtime, x: Tensor, window = Infinity, tick: () => void = () => {}): Tensor {
    const m = rt.mark();
    let f = this.features.forward(rt, x, window, tick);
    if (this.projNorm) f = layerNormChannels(rt, f, this.projNorm.gamma, this.projNorm.beta, this.projNorm.eps);
    let h = this.posConv.forward(rt, linear(rt, f, this.projection));
    const ln = (t: Tensor) => layerNormChannels(rt, t, this.encoderNorm.gamma, this.encoderNorm.beta, this.encoderNorm.eps, true);
    if (!this.stable) h = ln(h);
    const size = h.dims[0] * h.dims[1];
    const sum = rt.tensor(h.dims);
    rt.f32.copyWithin(sum.ptr >>> 2, h.ptr >>> 2, (h.ptr >>> 2) + size);
    for (let i = 0; i < this.layers.length; i++) {
      const lm = rt.mark();
      let next = this.layers[i].forward(rt, h, this.layerBias(i));
      if (this.stable && i === this.layers.length - 1) next = ln(next);
      add(rt, sum, next, sum);
      // The next layer's input overwrites this one's, so memory stays flat across layers.
      rt.f32.copyWithin(h.ptr >>> 2, next.ptr >>> 2, (next.ptr >>> 2) + size);
      rt.release(lm);
      tick();
    }
    const n = this.layers.length + 1;
    rt.k.scale(sum.ptr, sum.ptr, Math.fround(1 / n), 0, sum.dims[0] * sum.dims[1]);
    return rt.keep(m, sum);
  }

  static frames(c: SemanticConfig, n: number): number {
    return FeatureEncoder.frames(c, n);
  }
}

export async function loadHubert(vb: Weights, c: SemanticConfig): Promise<SemanticTrunk> {
  return SemanticTrunk.load(vb, c, (av) => SelfAttention.load(av, c.hiddenSize, c.numAttentionHeads), () => undefined);
}
