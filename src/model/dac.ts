// DAC acoustic encoder and decoder, X-Codec variant (transposed convs use output_padding = stride % 2,
// and the decoder ends without tanh). Activations: [C, T].

import type { AcousticConfig } from '../checkpoint/config.js';
import { snake } from '../nn/activation.js';
import { type Conv1d, type ConvTranspose1d, conv1d, convOutputLength, convTranspose1d } from '../nn/conv.js';
import { copyColumns } from '../nn/layout.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { KERNEL7_TILE, type WinogradTile } from '../nn/winograd_matrices.js';
import { loadConv as loadConv1d, loadConvTranspose } from './layers.js';
import { frameWindows } from './windows.js';

function loadConv(
  vb: Weights,
  cin: number,
  cout: number,
  kernel: number,
  opts: { stride?: number; padding?: number; dilation?: number } = {},
  winograd?: WinogradTile,
): Promise<Conv1d> {
  return loadConv1d(vb, { cin, cout, kernel, ...opts }, { winograd });
}

/**
 * How the residual units' kernel-7 convolutions run: 'direct' (the GEMM over the 7 taps) or 'winograd'
 * (F(4, 7): 10 multiplies for 4 outputs instead of 28; a different fp32 rounding).
 */
export type ConvAlgorithm = 'direct' | 'winograd';

/** The Winograd tile of `algorithm`, if any. */
function unitTile(algorithm: ConvAlgorithm): WinogradTile | undefined {
  return algorithm === 'winograd' ? KERNEL7_TILE : undefined;
}

/**
 * How much further than its receptive field a residual unit's conv1 output reaches on each side, in
 * units of its dilation: a Winograd tile's outputs all read the whole tile's inputs, which adds m - 1
 * taps each side (as rounding only: mathematically those products cancel).
 */
function tileReach(algorithm: ConvAlgorithm): number {
  return algorithm === 'winograd' ? KERNEL7_TILE.m - 1 : 0;
}

/** The strided conv of encoder block i and the transposed conv of decoder block i: kernel 2s, padding ceil(s / 2). */
function blockConv(stride: number): { kernel: number; stride: number; padding: number } {
  return { kernel: 2 * stride, stride, padding: Math.ceil(stride / 2) };
}

/** A residual unit's weights: x + conv2(snake2(conv1(snake1(x)))). */
export interface UnitParts {
  snake1: number;
  conv1: Conv1d;
  snake2: number;
  conv2: Conv1d;
}

/** The decoder as a chain of layers, in forward()'s order: what a decoder stream steps through (dac_stream.ts). */
export type DecoderLayer =
  | { kind: 'conv'; conv: Conv1d; snake?: number }
  | { kind: 'convTranspose'; conv: ConvTranspose1d; snake: number }
  | ({ kind: 'unit' } & UnitParts);

// The dilations of each block's three residual units (DAC's res_unit1..3).
const RESIDUAL_DILATIONS = [1, 3, 9];

class ResidualUnit {
  private constructor(
    private snake1: number,
    private conv1: Conv1d,
    private snake2: number,
    private conv2: Conv1d,
  ) {}

  static async load(vb: Weights, dim: number, dilation: number, algorithm: ConvAlgorithm): Promise<ResidualUnit> {
    return new ResidualUnit(
      await vb.pp('snake1').vector('alpha', dim),
      await loadConv(vb.pp('conv1'), dim, dim, 7, { dilation, padding: 3 * dilation }, unitTile(algorithm)),
      await vb.pp('snake2').vector('alpha', dim),
      await loadConv(vb.pp('conv2'), dim, dim, 1),
    );
  }

  /** What a decoder stream runs of this unit (dac_stream.ts). */
  get parts(): UnitParts {
    return { snake1: this.snake1, conv1: this.conv1, snake2: this.snake2, conv2: this.conv2 };
  }

  // x += conv2(snake2(conv1(snake1(x)))), in place: the padding keeps the length, and updating x
  // itself means a chain of units holds one activation and one temporary, with no copies between them.
  // origin: x's first step in the whole signal (a window's offset), where Winograd tiles align.
  forward(rt: Runtime, x: Tensor, origin: number): Tensor {
    return rt.scope(() => {
      const h = conv1d(rt, x, this.conv1, undefined, { snake: this.snake1, origin });
      return conv1d(rt, snake(rt, h, this.snake2, true), this.conv2, x, { into: x });
    });
  }
}

class EncoderBlock {
  private constructor(
    private units: ResidualUnit[],
    private snake1: number,
    private conv1: Conv1d,
  ) {}

  get stride(): number {
    return this.conv1.stride;
  }

  frames(t: number): number {
    return convOutputLength(t, this.conv1);
  }

  static async load(vb: Weights, dim: number, stride: number, algorithm: ConvAlgorithm): Promise<EncoderBlock> {
    const units = [];
    for (const [i, d] of RESIDUAL_DILATIONS.entries())
      units.push(await ResidualUnit.load(vb.pp(`res_unit${i + 1}`), dim / 2, d, algorithm));
    const snake1 = await vb.pp('snake1').vector('alpha', dim / 2);
    const { kernel, padding } = blockConv(stride);
    const conv1 = await loadConv(vb.pp('conv1'), dim / 2, dim, kernel, { stride, padding });
    return new EncoderBlock(units, snake1, conv1);
  }

  forward(rt: Runtime, x: Tensor, origin: number): Tensor {
    return rt.scope(() => {
      for (const u of this.units) x = u.forward(rt, x, origin);
      return conv1d(rt, x, this.conv1, undefined, { snake: this.snake1 });
    });
  }
}

export class DacEncoder {
  private constructor(
    private conv1: Conv1d,
    private blocks: EncoderBlock[],
    private snake1: number,
    private conv2: Conv1d,
    readonly algorithm: ConvAlgorithm,
  ) {}

  static async load(vb: Weights, c: AcousticConfig, algorithm: ConvAlgorithm): Promise<DacEncoder> {
    const conv1 = await loadConv(vb.pp('conv1'), 1, c.encoderHiddenSize, 7, { padding: 3 });
    const blocks = [];
    for (const [i, s] of c.downsamplingRatios.entries()) {
      blocks.push(await EncoderBlock.load(vb.pp('block').pp(i), c.encoderHiddenSize * 2 ** (i + 1), s, algorithm));
    }
    const dModel = c.encoderHiddenSize * 2 ** c.downsamplingRatios.length;
    const snake1 = await vb.pp('snake1').vector('alpha', dModel);
    const conv2 = await loadConv(vb.pp('conv2'), dModel, c.hiddenSize, 3, { padding: 1 });
    return new DacEncoder(conv1, blocks, snake1, conv2, algorithm);
  }

  /**
   * x: [1, N] audio -> [hidden_size, frames]. Audio of more than `window` frames runs in windows of
   * that many frames, each with `context` frames of audio on both sides (see contextFrames), with
   * the same result: memory then follows the window, not the audio. With `into` ([hidden_size,
   * frames], apart from x) the output is written there instead of a new tensor.
   */
  forward(rt: Runtime, x: Tensor, window = Infinity, context = 0, tick: () => void = () => {}, into?: Tensor): Tensor {
    const N = x.dims[1];
    const T = this.frames(N);
    const windows = frameWindows(T, window, context);
    if (windows.length === 1) {
      const y = this.layers(rt, x, into);
      tick();
      return y;
    }
    return rt.scope(() => {
      const out = into ?? rt.tensor([this.conv2.cout, T]);
      const S = this.blocks.reduce((p, b) => p * b.stride, 1);
      for (const w of windows) {
        // Frames [from, to) come from samples [from * S, to * S) (to the end for the last); [begin, end) are kept.
        rt.scope(() => {
          const h = this.layers(
            rt,
            { ptr: x.ptr + 4 * w.from * S, dims: [1, w.to === T ? N - w.from * S : (w.to - w.from) * S] },
            undefined,
            w.from * S,
          );
          if (h.dims[1] !== w.to - w.from)
            throw new Error(`acoustic encoder window: ${h.dims[1]} frames for [${w.from}, ${w.to})`);
          copyColumns(rt, out, w.begin, h, w.begin - w.from, w.end - w.begin);
        });
        tick();
      }
      return out;
    });
  }

  // origin: the first sample's position in the whole input (each block's in its own steps: the
  // windows start on whole frames, so it divides exactly).
  private layers(rt: Runtime, x: Tensor, into?: Tensor, origin = 0): Tensor {
    return rt.scope(() => {
      x = conv1d(rt, x, this.conv1);
      for (const b of this.blocks) {
        x = b.forward(rt, x, origin);
        origin /= b.stride;
      }
      return conv1d(rt, x, this.conv2, undefined, { snake: this.snake1, into });
    });
  }

  /**
   * Frames of context a window needs on each side to encode, alone, exactly as within the whole audio
   * (the counterpart of DacDecoder.contextFrames): layer by layer, how many outputs from each edge can
   * see the window's zero padding. A stride-1 conv adds its padding on the left and its span minus the
   * padding on the right; a strided conv (kernel 2s, padding p) maps n such inputs to ceil((n + p) / s)
   * outputs on the left and ceil((n + s - p) / s) on the right (windows start and end on whole frames).
   * A Winograd unit reaches tileReach dilations further each side.
   */
  static contextFrames(c: AcousticConfig, algorithm: ConvAlgorithm = 'direct'): number {
    // kernel 7, padding 3d: 3d each side, plus the tile's reach
    const units = RESIDUAL_DILATIONS.reduce((sum, d) => sum + (3 + tileReach(algorithm)) * d, 0);
    let left = 3;
    let right = 3; // conv1: kernel 7, padding 3
    for (const s of c.downsamplingRatios) {
      const p = blockConv(s).padding;
      left = Math.ceil((left + units + p) / s);
      right = Math.ceil((right + units + s - p) / s);
    }
    return Math.max(left, right) + 1; // conv2: kernel 3, padding 1
  }

  /** Frames for N samples: the convolutions' own length rule over conv1, the strided blocks and conv2. */
  frames(n: number): number {
    let t = convOutputLength(n, this.conv1);
    for (const b of this.blocks) t = b.frames(t);
    return convOutputLength(t, this.conv2);
  }
}

class DecoderBlock {
  private constructor(
    private snake1: number,
    private convT: ConvTranspose1d,
    private units: ResidualUnit[],
  ) {}

  static async load(
    vb: Weights,
    cin: number,
    cout: number,
    stride: number,
    algorithm: ConvAlgorithm,
  ): Promise<DecoderBlock> {
    const snake1 = await vb.pp('snake1').vector('alpha', cin);
    const convT = await loadConvTranspose(vb.pp('conv_t1'), {
      cin,
      cout,
      ...blockConv(stride),
      outputPadding: stride % 2,
    });
    const units = [];
    for (const [i, d] of RESIDUAL_DILATIONS.entries())
      units.push(await ResidualUnit.load(vb.pp(`res_unit${i + 1}`), cout, d, algorithm));
    return new DecoderBlock(snake1, convT, units);
  }

  get stride(): number {
    return this.convT.stride;
  }

  get layers(): DecoderLayer[] {
    return [
      { kind: 'convTranspose', conv: this.convT, snake: this.snake1 },
      ...this.units.map((u): DecoderLayer => ({ kind: 'unit', ...u.parts })),
    ];
  }

  /**
   * The upsampled output replaces the input x, which starts at `base` (the top of the arena): one
   * copy, and the widest blocks never hold their input next to their output. origin: the output's
   * first step in the whole signal.
   */
  forward(rt: Runtime, x: Tensor, base: number, origin: number): Tensor {
    x = rt.keep(base, convTranspose1d(rt, x, this.convT, this.snake1));
    for (const u of this.units) x = u.forward(rt, x, origin);
    return x;
  }
}

export class DacDecoder {
  private constructor(
    private conv1: Conv1d,
    private blocks: DecoderBlock[],
    private snake1: number,
    private conv2: Conv1d,
    readonly algorithm: ConvAlgorithm,
  ) {}

  static async load(vb: Weights, c: AcousticConfig, algorithm: ConvAlgorithm): Promise<DacDecoder> {
    const ch = c.decoderHiddenSize;
    const conv1 = await loadConv(vb.pp('conv1'), c.hiddenSize, ch, 7, { padding: 3 });
    const blocks = [];
    for (const [i, s] of c.upsamplingRatios.entries()) {
      blocks.push(await DecoderBlock.load(vb.pp('block').pp(i), ch / 2 ** i, ch / 2 ** (i + 1), s, algorithm));
    }
    const out = ch / 2 ** c.upsamplingRatios.length;
    const snake1 = await vb.pp('snake1').vector('alpha', out);
    const conv2 = await loadConv(vb.pp('conv2'), out, 1, 7, { padding: 3 });
    return new DacDecoder(conv1, blocks, snake1, conv2, algorithm);
  }

  /**
   * Frames of context a window of frames needs on each side to decode, alone, exactly as it does
   * within the whole sequence. Every layer is local, and the only difference a window makes is the zero
   * padding at its edges, so this follows, layer by layer as forward() runs them, how many outputs from
   * each edge can see that padding: a stride-1 conv adds its padding on the left and its span minus
   * the padding on the right; a transposed conv (stride s, kernel k, padding p) maps n such inputs to
   * n * s + k - 1 - p outputs on the left (an upper bound) and n * s + p on the right; Snake and the
   * residual adds add nothing. The kernels give every output element the same operations wherever the
   * window starts (see assembly/gemm.ts), so outside this margin the samples are bit-identical. A
   * Winograd unit reaches tileReach dilations further each side (its tiles align to the whole signal).
   */
  static contextFrames(c: AcousticConfig, algorithm: ConvAlgorithm = 'direct'): number {
    let left = 0;
    let right = 0;
    const conv = (kernel: number, dilation: number, padding: number): void => {
      left += padding;
      right += (kernel - 1) * dilation - padding;
    };
    conv(7, 1, 3);
    let hop = 1;
    for (const s of c.upsamplingRatios) {
      const p = blockConv(s).padding;
      left = left * s + 2 * s - 1 - p;
      right = right * s + p;
      for (const d of RESIDUAL_DILATIONS) {
        conv(7, d, 3 * d);
        left += tileReach(algorithm) * d;
        right += tileReach(algorithm) * d;
      }
      hop *= s;
    }
    conv(7, 1, 3);
    return Math.ceil(Math.max(left, right) / hop);
  }

  /** The layers forward() runs, in order (a decoder stream steps through them one chunk at a time). */
  get layers(): DecoderLayer[] {
    return [
      { kind: 'conv', conv: this.conv1 },
      ...this.blocks.flatMap((b) => b.layers),
      { kind: 'conv', conv: this.conv2, snake: this.snake1 },
    ];
  }

  /** x: [hidden_size, frames] -> [1, samples]; originFrame: x's first frame in the whole sequence. */
  forward(rt: Runtime, x: Tensor, originFrame = 0): Tensor {
    const base = rt.mark(); // where each block's output replaces its input (DecoderBlock.forward)
    return rt.scope(() => {
      x = conv1d(rt, x, this.conv1);
      let origin = originFrame;
      for (const b of this.blocks) {
        origin *= b.stride;
        x = b.forward(rt, x, base, origin);
      }
      return conv1d(rt, x, this.conv2, undefined, { snake: this.snake1 });
    });
  }
}
