// The semantic model's convolutional feature encoder (`semantic_model.feature_extractor.*`): unpadded
// strided convolutions from audio to frames, each followed by GELU, with GroupNorm(C, C) after the
// first ("group", HuBERT base) or LayerNorm after every one ("layer"). Activations: [C, T].

import type { SemanticModelConfig } from '../checkpoint/config.js';
import { gelu } from '../nn/activation.js';
import { type Conv1d, conv1d, convOutputLength, convRows } from '../nn/conv.js';
import { copyColumns } from '../nn/layout.js';
import { type Norm, groupNormApply, groupNormRows, groupNormStats, layerNormChannels } from '../nn/norm.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { loadConv, loadNorm } from './layers.js';
import { frameWindows } from './windows.js';

export class FeatureEncoder {
  private constructor(
    private convs: Conv1d[],
    private norms: (Norm | null)[],
    private kind: 'group' | 'layer',
  ) {}

  static async load(vb: Weights, c: SemanticModelConfig): Promise<FeatureEncoder> {
    const convs: Conv1d[] = [];
    const norms: (Norm | null)[] = [];
    for (let i = 0; i < c.convDim.length; i++) {
      const l = vb.pp('conv_layers').pp(i);
      const cin = i === 0 ? 1 : c.convDim[i - 1];
      const cout = c.convDim[i];
      convs.push(
        await loadConv(
          l.pp('conv'),
          { cin, cout, kernel: c.convKernel[i], stride: c.convStride[i] },
          { bias: c.convBias, weightNorm: false },
        ),
      );
      // "group": GroupNorm(C, C) on the first layer only (eps 1e-5, torch's default); "layer": LayerNorm on every layer.
      const hasNorm = c.featExtractNorm === 'layer' || i === 0;
      norms.push(hasNorm ? await loadNorm(l.pp('layer_norm'), cout, 1e-5) : null);
    }
    return new FeatureEncoder(convs, norms, c.featExtractNorm);
  }

  /** The frames n samples give through the unpadded convolutions. */
  frames(n: number): number {
    let t = n;
    for (const c of this.convs) t = convOutputLength(t, c);
    return t;
  }

  /**
   * x: [1, N] -> [conv_dim[-1], frames]. Audio of more than `window` frames runs in windows of that
   * many frames, with the same result: the convolutions have no padding, so frames [f0, f1) are
   * exactly what samples [f0 * S, (f1 - 1) * S + span) give (S the total stride), and GroupNorm's
   * per-channel statistics, which need whole rows, are taken first from the first layer's output in
   * blocks of channels. Memory then follows the window, not the audio.
   */
  forward(rt: Runtime, x: Tensor, window = Infinity, tick: () => void = () => {}): Tensor {
    const T = this.frames(x.dims[1]);
    const windows = frameWindows(T, window, 0);
    if (windows.length === 1) {
      const y = this.layers(rt, x, 0);
      tick();
      return y;
    }
    return rt.scope(() => {
      const stats = this.kind === 'group' ? this.firstLayerStats(rt, x) : 0;
      const out = rt.tensor([this.convs[this.convs.length - 1].cout, T]);
      const S = this.convs.reduce((p, c) => p * c.stride, 1);
      for (const w of windows) {
        rt.scope(() => {
          const h = this.layers(
            rt,
            { ptr: x.ptr + 4 * w.begin * S, dims: [1, this.samplesFor(w.end - w.begin)] },
            stats,
          );
          copyColumns(rt, out, w.begin, h, 0, w.end - w.begin);
        });
        tick();
      }
      return out;
    });
  }

  /** The layers on x; with `stats` (group norm only), the first layer's norm uses those whole-row statistics. */
  private layers(rt: Runtime, x: Tensor, stats: number): Tensor {
    return rt.scope(() => {
      for (let i = 0; i < this.convs.length; i++) {
        x = conv1d(rt, x, this.convs[i]);
        const n = this.norms[i];
        if (n) {
          if (this.kind === 'layer') layerNormChannels(rt, x, n.gamma, n.beta, n.eps, true);
          else if (stats) groupNormApply(rt, x, n.gamma, n.beta, stats, true);
          else groupNormRows(rt, x, n.gamma, n.beta, n.eps, true);
        }
        gelu(rt, x, true);
      }
      return x;
    });
  }

  /**
   * GroupNorm's statistics (mean, 1 / sqrt(var + eps)) of every row of the first layer's output over
   * the whole audio, [C, 2], computed a block of channels at a time so the full output never exists.
   */
  private firstLayerStats(rt: Runtime, x: Tensor): number {
    const conv = this.convs[0];
    const norm = this.norms[0]!;
    const T0 = convOutputLength(x.dims[1], conv);
    const stats = rt.allocBytes(8 * conv.cout);
    const block = Math.max(1, Math.min(conv.cout, Math.floor(rt.tuning.groupNormStatsFloats / T0)));
    for (let c0 = 0; c0 < conv.cout; c0 += block) {
      const c1 = Math.min(conv.cout, c0 + block);
      rt.scope(() => groupNormStats(rt, stats, c0, conv1d(rt, x, convRows(conv, c0, c1)), norm.eps));
    }
    return stats;
  }

  /** Samples that give exactly n frames. */
  private samplesFor(n: number): number {
    let t = n;
    for (let i = this.convs.length - 1; i >= 0; i--) t = (t - 1) * this.convs[i].stride + this.convs[i].kernel;
    return t;
  }
}
