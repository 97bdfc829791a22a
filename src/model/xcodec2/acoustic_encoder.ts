// `acoustic_encoder`: a DAC encoder whose activations are anti-aliased SnakeBeta (BigVGAN style):
//   conv1 (k7) -> blocks [3 residual units (dilations 1, 3, 9), act, strided conv] -> act -> conv2 (k3)
// and `semantic_adapter`, the four convolutions X-Codec 2 puts on the semantic hidden state.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

import type { Xcodec2Config } from '../../checkpoint/config.js';
import type { Runtime, Tensor } from '../../backend/runtime.js';
import type { Weights } from '../../checkpoint/weights.js';
import { type SnakeBetaParams, relu, snakeBetaAntiAliased } from '../../nn/activation.js';
import { conv1d } from '../../nn/conv.js';
import { type Conv1d, loadConv } from '../layers.js';

/** The 12-tap Kaiser-windowed sinc low-pass (cutoff 0.25, half width 0.3) of both 2x resamplings. */
export function kaiserSincFilter(cutoff = 0.25, halfWidth = 0.3, kernel = 12): Float32Array {
  const half = kernel >> 1;
  const att = 2.285 * (half - 1) * Math.PI * 4 * halfWidth + 7.95;
  const beta = att > 50 ? 0.1102 * (att - 8.7) : att >= 21 ? 0.5842 * (att - 21) ** 0.4 + 0.07886 * (att - 21) : 0;
  const bessel0 = (x: number) => {
    let sum = 1;
    let term = 1;
    for (let k = 1; k < 50; k++) {
      term *= (x / (2 * k)) ** 2;
      sum += term;
    }
    return sum;
  };
  const even = kernel % 2 === 0;
  const f = new Float64Array(kernel);
  for (let n = 0; n < kernel; n++) {
    const win = bessel0(beta * Math.sqrt(1 - ((2 * n) / (kernel - 1) - 1) ** 2)) / bessel0(beta);
    const t = even ? n - half + 0.5 : n - half;
    const x = 2 * cutoff * t;
    f[n] = 2 * cutoff * win * (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
  }
  const total = f.reduce((p, v) => p + v, 0);
  return Float32Array.from(f, (v) => v / total);
}

/** `snakeN` (`.act.alpha`, `.act.beta`, log-scale) with the shared filter. */
async function loadSnakeBeta(vb: Weights, channels: number, filter: number): Promise<SnakeBetaParams> {
  const rt = vb.rt;
  const a = await vb.pp('act').tensor('alpha', [channels]);
  const inv = await vb.pp('act').tensor('beta', [channels]);
  if (!rt.isMeasuring) {
    const f = rt.f32;
    const fr = Math.fround;
    for (let c = 0; c < channels; c++) {
      f[(a >>> 2) + c] = fr(Math.exp(f[(a >>> 2) + c]));
      f[(inv >>> 2) + c] = fr(1 / fr(fr(Math.exp(f[(inv >>> 2) + c])) + fr(1e-9)));
    }
  }
  return { a, inv, filter };
}

/** `res_unitN`: x + conv2(act(conv1(act(x)))), conv1 k7 dilated, conv2 k1. */
class ResidualUnit {
  constructor(
    private snake1: SnakeBetaParams,
    private conv1: Conv1d,
    private snake2: SnakeBetaParams,
    private conv2: Conv1d,
  ) {}

  static async load(vb: Weights, dim: number, dilation: number, filter: number): Promise<ResidualUnit> {
    const plain = { weightNorm: false };
    return new ResidualUnit(
      await loadSnakeBeta(vb.pp('snake1'), dim, filter),
      await loadConv(vb.pp('conv1'), { cin: dim, cout: dim, kernel: 7, dilation, padding: 3 * dilation }, plain),
      await loadSnakeBeta(vb.pp('snake2'), dim, filter),
      await loadConv(vb.pp('conv2'), { cin: dim, cout: dim, kernel: 1 }, plain),
    );
  }

  forward(rt: Runtime, x: Tensor): Tensor {
    return rt.scope(() => {
      const y = conv1d(rt, snakeBetaAntiAliased(rt, x, this.snake1), this.conv1);
      return conv1d(rt, snakeBetaAntiAliased(rt, y, this.snake2), this.conv2, x);
    });
  }
}

class EncoderBlock {
  constructor(
    private units: ResidualUnit[],
    private snake: SnakeBetaParams,
    private conv: Conv1d,
  ) {}

  static async load(vb: Weights, dim: number, stride: number, filter: number): Promise<EncoderBlock> {
    const h = dim / 2;
    const units = [];
    for (const [i, d] of [1, 3, 9].entries())
      units.push(await ResidualUnit.load(vb.pp(`res_unit${i + 1}`), h, d, filter));
    return new EncoderBlock(
      units,
      await loadSnakeBeta(vb.pp('snake1'), h, filter),
      await loadConv(
        vb.pp('conv1'),
        { cin: h, cout: dim, kernel: 2 * stride, stride, padding: Math.ceil(stride / 2) },
        { weightNorm: false },
      ),
    );
  }

  forward(rt: Runtime, x: Tensor): Tensor {
    return rt.scope(() => {
      let y = x;
      for (const u of this.units) y = u.forward(rt, y);
      return conv1d(rt, snakeBetaAntiAliased(rt, y, this.snake), this.conv);
    });
  }
}

export class AcousticEncoder {
  private constructor(
    private conv1: Conv1d,
    private blocks: EncoderBlock[],
    private snake: SnakeBetaParams,
    private conv2: Conv1d,
  ) {}

  static async load(vb: Weights, c: Xcodec2Config): Promise<AcousticEncoder> {
    const rt = vb.rt;
    const taps = kaiserSincFilter();
    const filter = rt.allocBytes(4 * taps.length);
    if (!rt.isMeasuring) rt.f32.set(taps, filter >>> 2);
    const plain = { weightNorm: false };
    const e = c.encoderHiddenSize;
    const conv1 = await loadConv(vb.pp('conv1'), { cin: 1, cout: e, kernel: 7, padding: 3 }, plain);
    const blocks: EncoderBlock[] = [];
    for (const [i, s] of c.downsamplingRatios.entries())
      blocks.push(await EncoderBlock.load(vb.pp('block').pp(i), e * 2 ** (i + 1), s, filter));
    const d = e * 2 ** c.downsamplingRatios.length;
    return new AcousticEncoder(
      conv1,
      blocks,
      await loadSnakeBeta(vb.pp('snake1'), d, filter),
      await loadConv(vb.pp('conv2'), { cin: d, cout: c.hiddenSize, kernel: 3, padding: 1 }, plain),
    );
  }

  /** x [1, N] -> [hidden_size, N / hop]; `into` receives the output when given. */
  forward(rt: Runtime, x: Tensor, tick: () => void = () => {}, into?: Tensor): Tensor {
    return rt.scope(() => {
      let y = conv1d(rt, x, this.conv1);
      for (const b of this.blocks) {
        y = b.forward(rt, y);
        tick();
      }
      return conv1d(rt, snakeBetaAntiAliased(rt, y, this.snake), this.conv2, undefined, { into });
    });
  }
}

/** `semantic_adapter`: conv4(conv3(relu(conv2(x'))) + x') with x' = relu(conv1(x)); all k3. */
export class SemanticAdapter {
  private constructor(private convs: Conv1d[]) {}

  static async load(vb: Weights, h: number): Promise<SemanticAdapter> {
    const convs: Conv1d[] = [];
    for (let i = 1; i <= 4; i++) {
      const bias = i === 2 || i === 3;
      convs.push(
        await loadConv(vb.pp(`conv${i}`), { cin: h, cout: h, kernel: 3, padding: 1 }, { weightNorm: false, bias }),
      );
    }
    return new SemanticAdapter(convs);
  }

  /** x [H, T] -> [H, T], into `into` when given. */
  forward(rt: Runtime, x: Tensor, into?: Tensor): Tensor {
    const [c1, c2, c3, c4] = this.convs;
    return rt.scope(() => {
      const a = relu(rt, conv1d(rt, x, c1), true);
      const y = conv1d(rt, relu(rt, conv1d(rt, a, c2), true), c3, a);
      return conv1d(rt, y, c4, undefined, { into });
    });
  }
}
