// X-Codec's semantic encoder (`encoder_semantic.*`): a conv over the semantic model's mean hidden
// states, then blocks of ELU residual units and a (possibly strided) conv. Activations: [C, T].

import type { XcodecConfig } from '../checkpoint/config.js';
import { elu } from '../nn/activation.js';
import { type Conv1d, conv1d, convOutputLength } from '../nn/conv.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { loadConv as loadConv1d } from './layers.js';

/** A conv of encoder_semantic: plain weights (no weight norm). */
function loadConv(
  vb: Weights,
  cin: number,
  cout: number,
  kernel: number,
  bias: boolean,
  opts: { stride?: number; padding?: number; dilation?: number },
): Promise<Conv1d> {
  return loadConv1d(vb, { cin, cout, kernel, ...opts }, { bias, weightNorm: false });
}

/** Each block's conv: kernel 3 at stride 1, else 2 * stride; padding (k - 1) / 2. */
function blockConv(stride: number): { kernel: number; stride: number; padding: number } {
  const kernel = stride === 1 ? 3 : 2 * stride;
  return { kernel, stride, padding: (kernel - 1) >> 1 };
}

class ResidualUnit {
  private constructor(
    private conv1: Conv1d,
    private conv2: Conv1d,
  ) {}

  static async load(vb: Weights, c: XcodecConfig, dim: number, dilation: number): Promise<ResidualUnit> {
    const k = c.unitKernelSize;
    return new ResidualUnit(
      await loadConv(vb.pp('conv1'), dim, dim, k, false, { dilation, padding: ((k - 1) >> 1) * dilation }),
      await loadConv(vb.pp('conv2'), dim, dim, 1, false, {}),
    );
  }

  // x += conv2(elu(conv1(elu(x)))), in place, with the first elu applied to conv1's padded input copy:
  // a chain of units holds one activation and two temporaries, as the DAC's residual units do.
  forward(rt: Runtime, x: Tensor): Tensor {
    return rt.scope(() => {
      const h = elu(rt, conv1d(rt, x, this.conv1, undefined, { elu: true }), true);
      return conv1d(rt, h, this.conv2, x, { into: x });
    });
  }
}

class Block {
  private constructor(
    private units: ResidualUnit[],
    private conv: Conv1d,
  ) {}

  get channels(): number {
    return this.conv.cout;
  }

  frames(T: number): number {
    return convOutputLength(T, this.conv);
  }

  static async load(vb: Weights, c: XcodecConfig, cin: number, cout: number, stride: number): Promise<Block> {
    const units = [];
    for (const [i, d] of c.blockDilations.entries())
      units.push(await ResidualUnit.load(vb.pp('res_units').pp(i), c, cin, d));
    const { kernel, padding } = blockConv(stride);
    return new Block(units, await loadConv(vb.pp('conv'), cin, cout, kernel, true, { stride, padding }));
  }

  /** With `into`, the block's output is written there ([cout, T'], apart from x) instead of a new tensor. */
  forward(rt: Runtime, x: Tensor, into?: Tensor): Tensor {
    return rt.scope(() => {
      for (const u of this.units) x = u.forward(rt, x);
      return conv1d(rt, x, this.conv, undefined, { into });
    });
  }
}

export class SemanticEncoder {
  private constructor(
    private conv: Conv1d,
    private blocks: Block[],
  ) {}

  static async load(vb: Weights, c: XcodecConfig): Promise<SemanticEncoder> {
    const h = c.semantic.hiddenSize;
    const k = c.kernelSize;
    const conv = await loadConv(vb.pp('conv'), h, h, k, false, { padding: k >> 1 });
    const blocks = [];
    let cin = h;
    for (const [i, s] of c.strides.entries()) {
      const cout = Math.trunc(h * c.channelRatios[i]);
      blocks.push(await Block.load(vb.pp('conv_blocks').pp(i), c, cin, cout, s));
      cin = cout;
    }
    return new SemanticEncoder(conv, blocks);
  }

  /** Output channels. */
  get channels(): number {
    return this.blocks.length ? this.blocks[this.blocks.length - 1].channels : this.conv.cout;
  }

  /** Frames out for T frames in (the strided blocks reduce them; the first conv keeps the length). */
  frames(T: number): number {
    for (const b of this.blocks) T = b.frames(T);
    return T;
  }

  /**
   * x: [H, T] mean hidden states -> [C, T']; with `into` ([C, T'], apart from x) the last conv writes
   * there, so the encoder's output lands in its rows of the concatenation with no copy.
   */
  forward(rt: Runtime, x: Tensor, into?: Tensor): Tensor {
    if (this.blocks.length === 0) return conv1d(rt, x, this.conv, undefined, { into });
    return rt.scope(() => {
      x = conv1d(rt, x, this.conv);
      for (let i = 0; i < this.blocks.length; i++)
        x = this.blocks[i].forward(rt, x, i === this.blocks.length - 1 ? into : undefined);
      return x;
    });
  }
}
