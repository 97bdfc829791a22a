// `acoustic_decoder.layers.N`: a Llama decoder layer with non-causal attention, as X-Codec 2 uses it:
//   x + o_proj(attention(rope(q), rope(k), v))  on input_layernorm(x)   (RMSNorm)
//   x + fc2(silu(fc1(post_attention_layernorm(x))))
// The rotary angle of a head is fixed by its index (position_ids = arange(num_heads), a quirk of the
// port kept for exactness), so it is one cos and sin per row of q and k, the same at every frame.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

import type { Xcodec2Config } from '../../checkpoint/config.js';
import type { Runtime, Tensor } from '../../backend/runtime.js';
import type { Weights } from '../../checkpoint/weights.js';
import { scale, silu } from '../../nn/activation.js';
import { rotateHalf, selfAttention } from '../../nn/attention.js';
import { transpose } from '../../nn/layout.js';
import { type Linear, linear, linearColumns } from '../../nn/linear.js';
import { rmsNormChannels } from '../../nn/norm.js';
import { loadLinear } from '../layers.js';

/** cos and sin [heads * head_dim] (f32) of the rotary embedding at position = head index. */
export class RotaryTables {
  private constructor(
    readonly cos: number,
    readonly sin: number,
  ) {}

  /** transformers' default rope in float32: inv_freq = 1 / theta^(2i / d), angle = head * inv_freq. */
  static create(rt: Runtime, c: Xcodec2Config): RotaryTables {
    const d = c.headDim;
    const rows = c.numAttentionHeads * d;
    const cos = rt.allocBytes(4 * rows);
    const sin = rt.allocBytes(4 * rows);
    if (!rt.isMeasuring) {
      const fr = Math.fround;
      const f = rt.f32;
      for (let h = 0; h < c.numAttentionHeads; h++) {
        for (let i = 0; i < d; i++) {
          const j = i % (d / 2);
          const inv = fr(1 / fr(c.ropeTheta ** fr((2 * j) / d)));
          const angle = fr(inv * h);
          f[(cos >>> 2) + h * d + i] = Math.cos(angle);
          f[(sin >>> 2) + h * d + i] = Math.sin(angle);
        }
      }
    }
    return new RotaryTables(cos, sin);
  }
}

/** Frames per block of the MLP: its [intermediate, T] activation exists one block at a time. */
const MLP_BLOCK = 512;

export class DecoderLayer {
  private constructor(
    private q: Linear,
    private k: Linear,
    private v: Linear,
    private o: Linear,
    private fc1: Linear,
    private fc2: Linear,
    private inputNorm: number,
    private postNorm: number,
    private c: Xcodec2Config,
    private rotary: RotaryTables,
  ) {}

  static async load(vb: Weights, c: Xcodec2Config, rotary: RotaryTables): Promise<DecoderLayer> {
    const h = c.hiddenSize;
    const qd = c.numAttentionHeads * c.headDim;
    const a = vb.pp('self_attn');
    const bias = c.attentionBias;
    return new DecoderLayer(
      await loadLinear(a.pp('q_proj'), h, qd, bias),
      await loadLinear(a.pp('k_proj'), h, qd, bias),
      await loadLinear(a.pp('v_proj'), h, qd, bias),
      await loadLinear(a.pp('o_proj'), qd, h, bias),
      await loadLinear(vb.pp('mlp').pp('fc1'), h, c.intermediateSize, false),
      await loadLinear(vb.pp('mlp').pp('fc2'), c.intermediateSize, h, false),
      await vb.pp('input_layernorm').tensor('weight', [h]),
      await vb.pp('post_attention_layernorm').tensor('weight', [h]),
      c,
      rotary,
    );
  }

  /** x [hidden, T] -> the layer's output, written over x. */
  forward(rt: Runtime, x: Tensor): Tensor {
    const c = this.c;
    const T = x.dims[1];
    rt.scope(() => {
      const h = rmsNormChannels(rt, x, this.inputNorm, c.rmsNormEps);
      const rope = (t: Tensor) => rotateHalf(rt, t, this.rotary.cos, this.rotary.sin, c.headDim);
      const kT = transpose(rt, rope(linear(rt, h, this.k)));
      const q = scale(rt, rope(linear(rt, h, this.q)), c.headDim ** -0.5, true);
      const v = linear(rt, h, this.v);
      const ctx = selfAttention(rt, q, kT, v, c.numAttentionHeads, null);
      linear(rt, ctx, this.o, x, x);
    });
    rt.scope(() => {
      const h = rmsNormChannels(rt, x, this.postNorm, c.rmsNormEps);
      const block = Math.min(T, MLP_BLOCK);
      const inner = rt.tensor([c.intermediateSize, block]);
      for (let t0 = 0; t0 < T; t0 += block) {
        const width = Math.min(block, T - t0);
        const a: Tensor = { ptr: inner.ptr, dims: [c.intermediateSize, width] };
        linearColumns(rt, h, t0, this.fc1, a, 0, width);
        silu(rt, a, true);
        linearColumns(rt, a, 0, this.fc2, x, t0, width, x);
      }
    });
    return x;
  }
}
