// `semantic_encoder`: Wav2Vec2-BERT (w2v-BERT 2.0) to its last hidden state, as X-Codec 2 hears it:
// feature_projection (LayerNorm, linear), masked frames zeroed, then conformer layers:
//   x + 0.5 ffn1(ln(x)) -> x + attention(ln(x)) with Shaw's relative keys -> x + conv_module(x)
//   -> x + 0.5 ffn2(ln(x)) -> final_layer_norm
// Activations are channel-major [H, T]; `valid` frames (a prefix) are real, the rest padding.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/wav2vec2_bert/modeling_wav2vec2_bert.py

import type { Wav2Vec2BertConfig } from '../../checkpoint/config.js';
import { gemm, rowTable } from '../../backend/launch.js';
import type { Runtime, Tensor } from '../../backend/runtime.js';
import type { Weights } from '../../checkpoint/weights.js';
import { glu, scale, silu } from '../../nn/activation.js';
import { selfAttentionRelative } from '../../nn/attention.js';
import { depthwiseConv1d } from '../../nn/conv.js';
import { transpose } from '../../nn/layout.js';
import { type Linear, linear, linearColumns } from '../../nn/linear.js';
import { type Norm, layerNormChannels } from '../../nn/norm.js';
import { loadLinear, loadNorm } from '../layers.js';

const ln = (rt: Runtime, x: Tensor, n: Norm, inPlace = false) =>
  layerNormChannels(rt, x, n.gamma, n.beta, n.eps, inPlace);

/** Zeroes columns [valid, T) of x [C, T] (a masked frame). */
function zeroFrom(rt: Runtime, x: Tensor, valid: number): void {
  const [C, T] = x.dims;
  if (valid >= T || rt.isMeasuring) return;
  const f = rt.f32;
  for (let c = 0; c < C; c++) f.fill(0, (x.ptr >>> 2) + c * T + valid, (x.ptr >>> 2) + (c + 1) * T);
}

/** Frames per block of a feed-forward: its [intermediate, T] activation exists one block at a time. */
const FFN_BLOCK = 512;

/** `ffnN`: x + 0.5 output_dense(swish(intermediate_dense(ln(x)))), written over x. */
class FeedForward {
  constructor(
    private norm: Norm,
    private inner: Linear,
    private outer: Linear,
  ) {}

  static async load(vb: Weights, norm: Weights, c: Wav2Vec2BertConfig): Promise<FeedForward> {
    const outer = await loadLinear(vb.pp('output_dense'), c.intermediateSize, c.hiddenSize);
    // The residual's 0.5 folded into output_dense: halving is exact, so 0.5 (W a + b) = (W / 2) a + b / 2.
    halve(vb.rt, outer.w, c.hiddenSize * c.intermediateSize);
    halve(vb.rt, outer.bias, c.hiddenSize);
    return new FeedForward(
      await loadNorm(norm, c.hiddenSize, c.layerNormEps),
      await loadLinear(vb.pp('intermediate_dense'), c.hiddenSize, c.intermediateSize),
      outer,
    );
  }

  forward(rt: Runtime, x: Tensor): void {
    const T = x.dims[1];
    rt.scope(() => {
      const h = ln(rt, x, this.norm);
      const block = Math.min(T, FFN_BLOCK);
      const inner = rt.tensor([this.inner.outFeatures, block]);
      for (let t0 = 0; t0 < T; t0 += block) {
        const width = Math.min(block, T - t0);
        const a: Tensor = { ptr: inner.ptr, dims: [this.inner.outFeatures, width] };
        linearColumns(rt, h, t0, this.inner, a, 0, width);
        silu(rt, a, true);
        linearColumns(rt, a, 0, this.outer, x, t0, width, x);
      }
    });
  }
}

function halve(rt: Runtime, ptr: number, n: number): void {
  scale(rt, { ptr, dims: [n] }, 0.5, true);
}

/** `self_attn`: linear_q/k/v/out around every head's softmax(q k^T / sqrt(d) + q E[clamp(j - i)] / sqrt(d)) v. */
class RelativeSelfAttention {
  constructor(
    private q: Linear,
    private k: Linear,
    private v: Linear,
    private out: Linear,
    /** distance_embedding.weight [left + right + 1, d] */
    private distance: number,
    private c: Wav2Vec2BertConfig,
  ) {}

  static async load(vb: Weights, c: Wav2Vec2BertConfig): Promise<RelativeSelfAttention> {
    const H = c.hiddenSize;
    const d = H / c.numAttentionHeads;
    const n = c.leftMaxPositionEmbeddings + c.rightMaxPositionEmbeddings + 1;
    return new RelativeSelfAttention(
      await loadLinear(vb.pp('linear_q'), H, H),
      await loadLinear(vb.pp('linear_k'), H, H),
      await loadLinear(vb.pp('linear_v'), H, H),
      await loadLinear(vb.pp('linear_out'), H, H),
      await vb.pp('distance_embedding').tensor('weight', [n, d]),
      c,
    );
  }

  /** x + linear_out(attention(h)) into x, h = the normed x [H, T]. */
  forward(rt: Runtime, h: Tensor, x: Tensor, valid: number): void {
    const c = this.c;
    const [H, T] = h.dims;
    const heads = c.numAttentionHeads;
    const d = H / heads;
    const n = c.leftMaxPositionEmbeddings + c.rightMaxPositionEmbeddings + 1;
    rt.scope(() => {
      const kT = transpose(rt, linear(rt, h, this.k));
      const q = scale(rt, linear(rt, h, this.q), d ** -0.5, true);
      const v = linear(rt, h, this.v);
      // rel[head] [n, T] = E [n, d] . q[head] [d, T]: each distance's score term for every query
      const rel = rt.tensor([heads, n, T]);
      rt.scope(() => {
        const rows = rowTable(rt, d, T);
        for (let g = 0; g < heads; g++) {
          gemm(rt, {
            out: rel.ptr + 4 * g * n * T,
            ldo: T,
            a: this.distance,
            lda: d,
            b: q.ptr + 4 * g * d * T,
            rows,
            M: n,
            N: T,
            K: d,
          });
        }
      });
      const table = { table: rel, left: c.leftMaxPositionEmbeddings, right: c.rightMaxPositionEmbeddings };
      const ctx = selfAttentionRelative(rt, q, kT, v, heads, table, valid);
      linear(rt, ctx, this.out, x, x);
    });
  }
}

/** `conv_module`: pointwise (GLU), causal depthwise, LayerNorm, swish, pointwise; added onto x. */
class ConvModule {
  constructor(
    private norm: Norm,
    private pointwise1: Linear,
    private depthwise: number,
    private depthwiseNorm: Norm,
    private pointwise2: Linear,
    private kernel: number,
  ) {}

  static async load(vb: Weights, c: Wav2Vec2BertConfig): Promise<ConvModule> {
    const H = c.hiddenSize;
    const K = c.convDepthwiseKernelSize;
    const pointwise = async (name: string, cout: number) => ({
      w: await vb.pp(name).tensor('weight', [cout, H, 1]),
      bias: 0,
      inFeatures: H,
      outFeatures: cout,
    });
    return new ConvModule(
      await loadNorm(vb.pp('layer_norm'), H, c.layerNormEps),
      await pointwise('pointwise_conv1', 2 * H),
      await vb.pp('depthwise_conv').tensor('weight', [H, 1, K]),
      await loadNorm(vb.pp('depthwise_layer_norm'), H, c.layerNormEps),
      await pointwise('pointwise_conv2', H),
      K,
    );
  }

  forward(rt: Runtime, x: Tensor, valid: number): void {
    rt.scope(() => {
      const h = ln(rt, x, this.norm);
      zeroFrom(rt, h, valid);
      const g = glu(rt, linear(rt, h, this.pointwise1));
      const dw = ln(
        rt,
        depthwiseConv1d(rt, g, this.depthwise, this.kernel, this.kernel - 1, 0),
        this.depthwiseNorm,
        true,
      );
      linear(rt, silu(rt, dw, true), this.pointwise2, x, x);
    });
  }
}

class ConformerLayer {
  constructor(
    private ffn1: FeedForward,
    private attnNorm: Norm,
    private attention: RelativeSelfAttention,
    private conv: ConvModule,
    private ffn2: FeedForward,
    private finalNorm: Norm,
  ) {}

  static async load(vb: Weights, c: Wav2Vec2BertConfig): Promise<ConformerLayer> {
    return new ConformerLayer(
      await FeedForward.load(vb.pp('ffn1'), vb.pp('ffn1_layer_norm'), c),
      await loadNorm(vb.pp('self_attn_layer_norm'), c.hiddenSize, c.layerNormEps),
      await RelativeSelfAttention.load(vb.pp('self_attn'), c),
      await ConvModule.load(vb.pp('conv_module'), c),
      await FeedForward.load(vb.pp('ffn2'), vb.pp('ffn2_layer_norm'), c),
      await loadNorm(vb.pp('final_layer_norm'), c.hiddenSize, c.layerNormEps),
    );
  }

  /** x [H, T] -> the layer's output, written over x. */
  forward(rt: Runtime, x: Tensor, valid: number): void {
    this.ffn1.forward(rt, x);
    rt.scope(() => this.attention.forward(rt, ln(rt, x, this.attnNorm), x, valid));
    this.conv.forward(rt, x, valid);
    this.ffn2.forward(rt, x);
    ln(rt, x, this.finalNorm, true);
  }
}

export class Wav2Vec2Bert {
  private constructor(
    private projectionNorm: Norm,
    private projection: Linear,
    private layers: ConformerLayer[],
    readonly config: Wav2Vec2BertConfig,
  ) {}

  static async load(vb: Weights, c: Wav2Vec2BertConfig): Promise<Wav2Vec2Bert> {
    const fp = vb.pp('feature_projection');
    const projectionNorm = await loadNorm(fp.pp('layer_norm'), c.featureProjectionInputDim, c.layerNormEps);
    const projection = await loadLinear(fp.pp('projection'), c.featureProjectionInputDim, c.hiddenSize);
    const layers: ConformerLayer[] = [];
    for (let i = 0; i < c.numHiddenLayers; i++)
      layers.push(await ConformerLayer.load(vb.pp('encoder.layers').pp(i), c));
    return new Wav2Vec2Bert(projectionNorm, projection, layers, c);
  }

  get numLayers(): number {
    return this.layers.length;
  }

  /** input_features [160, T] (channel-major), the first `valid` frames real -> last_hidden_state [H, T]. */
  forward(rt: Runtime, features: Tensor, valid: number, tick: () => void = () => {}): Tensor {
    const x = rt.scope(() => linear(rt, ln(rt, features, this.projectionNorm), this.projection));
    zeroFrom(rt, x, valid);
    for (const layer of this.layers) {
      layer.forward(rt, x, valid);
      tick();
    }
    return x;
  }
}
