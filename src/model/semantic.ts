// X-Codec's semantic encoder: a conv over the semantic model's mean hidden states, then blocks of
// ELU residual units and a (possibly strided) conv. Activations: [C, T].

import type { XcodecConfig } from '../config.js';
import { type Conv1d, conv1d, elu, loadPackedConv1d } from '../ops.js';
import type { Runtime, Tensor } from '../runtime.js';
import type { Weights } from '../weights.js';

async function loadConv(vb: Weights, cin: number, cout: number, kernel: number, bias: boolean,
  opts: { stride?: number; padding?: number; dilation?: number }): Promise<Conv1d> {
  const conv = await loadPackedConv1d(vb.rt, () => vb.tensor('weight', [cout, cin, kernel]), { cin, cout, kernel, ...opts }, vb.prefix);
  if (bias) conv.bias = await vb.tensor('bias', [cout]);
  return conv;
}

class ResidualUnit {
  private constructor(private conv1: Conv1d, private conv2: Conv1d) {}

  static async load(vb: Weights, c: XcodecConfig, dim: number, dilation: number): Promise<ResidualUnit> {
    const k = c.unitKernelSize;
    return new ResidualUnit(
      await loadConv(vb.pp('conv1'), dim, dim, k, false, { dilation, padding: ((k - 1) >> 1) * dilation }),
      await loadConv(vb.pp('conv2'), dim, dim, 1, false, {}));
  }

  // x + conv2(elu(conv1(elu(x))))
  forward(rt: Runtime, x: Tensor): Tensor {
    const m = rt.mark();
    const h = elu(rt, conv1d(rt, elu(rt, x), this.conv1), true);
    return rt.keep(m, conv1d(rt, h, this.conv2, x));
  }
}

class Block {
  private constructor(private units: ResidualUnit[], private conv: Conv1d) {}

  static async load(vb: Weights, c: XcodecConfig, cin: number, cout: number, stride: number): Promise<Block> {
    const units = [];
    for (const [i, d] of c.blockDilations.entries()) units.push(await ResidualUnit.load(vb.pp('res_units').pp(i), c, cin, d));
    const k = stride === 1 ? 3 : 2 * stride;
    return new Block(units, await loadConv(vb.pp('conv'), cin, cout, k, true, { stride, padding: (k - 1) >> 1 }));
  }

  forward(rt: Runtime, x: Tensor): Tensor {
    const m = rt.mark();
    for (const u of this.units) x = u.forward(rt, x);
    return rt.keep(m, conv1d(rt, x, this.conv));
  }
}

export class SemanticEncoder {
  private constructor(private conv: Conv1d, private blocks: Block[]) {}

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

  /** x: [H, T] mean hidden states -> [C, T']. */
  forward(rt: Runtime, x: Tensor): Tensor {
    const m = rt.mark();
    x = conv1d(rt, x, this.conv);
    for (const b of this.blocks) x = b.forward(rt, x);
    return rt.keep(m, x);
  }
}
