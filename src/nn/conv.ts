// Convolutions of every kind on channel-major [C, T] activations, all on the stride-1 GEMM of
// assembly/gemm.ts:
//  - stride 1: the zero-padded input is read through a row-offset table (implicit im2col);
//  - stride s > 1: the padded input is split into s phases ([C, T] -> [C*s, T/s]) and the weight was
//    repacked at load so it becomes a stride-1 conv of phase r with the taps q*s + r < K: C*K products
//    per output like the direct conv (no zero taps where K % s != 0);
//  - transposed, stride s: all s output phases are one stride-1 GEMM of Cout*s rows over the input
//    (weights repacked at load, no multiplications by inserted zeros), then interleaved.
// A stride-1 conv loaded with a Winograd tile runs winograd.ts' convWinograd instead.

import {
  convRowTable,
  deinterleave,
  depthwiseConv,
  gemm,
  interleave,
  packConvStrided,
  packConvTranspose,
  phaseRowTable,
} from '../backend/launch.js';
import { type Runtime, type Tensor, overlaps } from '../backend/runtime.js';
import { XcodecCheckpointError } from '../errors.js';
import { padTime, paddedInput } from './layout.js';
import { type WinogradConv, type WinogradTarget, convWinograd } from './winograd.js';

/** A convolution as conv1d runs it (the fields the Winograd path reads are WinogradTarget's). */
export interface Conv1d extends WinogradTarget {
  /**
   * packed weight: [cout, (cin / groups) * kernel] row-major; for stride 1 PyTorch's layout, for
   * stride s columns ordered by input channel, phase r < s, then tap q with q*s + r < kernel
   */
  w: number;
  /** taps of the longest phase: ceil(kernel / stride) (the kernel for stride 1) */
  taps: number;
  /** set when the conv runs as Winograd F(m, kernel) (then `w` is 0: only the transformed weight is kept) */
  winograd?: WinogradConv;
}

export interface ConvTranspose1d {
  /** packed weight: [cout * stride, cin * taps], row co*stride + phase */
  w: number;
  /** bias repeated per phase: [cout * stride], or 0 */
  bias: number;
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  padding: number;
  outputPadding: number;
  taps: number;
}

export interface ConvSpec {
  cin: number;
  cout: number;
  kernel: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

export interface ConvTransposeSpec {
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  padding: number;
  outputPadding: number;
}

/**
 * Packs a PyTorch Conv1d weight [cout, cin/groups, kernel] (already in linear memory at `src`) into the
 * layout conv1d() reads. For stride 1 the PyTorch layout is used as is (returns src).
 */
export function packConv1d(rt: Runtime, src: number, bias: number, spec: ConvSpec, name: string): Conv1d {
  const stride = spec.stride ?? 1;
  const dilation = spec.dilation ?? 1;
  const groups = spec.groups ?? 1;
  const base = {
    bias,
    cin: spec.cin,
    cout: spec.cout,
    kernel: spec.kernel,
    stride,
    padding: spec.padding ?? 0,
    dilation,
    groups,
  };
  if (spec.cin % groups !== 0 || spec.cout % groups !== 0) {
    throw new XcodecCheckpointError(
      `${name}: channels ${spec.cin} -> ${spec.cout} are not divisible by groups ${groups}`,
    );
  }
  if (stride === 1) return { ...base, w: src, taps: spec.kernel };
  if (dilation !== 1 || groups !== 1) {
    throw new XcodecCheckpointError(`${name}: strided convolution with dilation or groups is not supported`);
  }
  const w = rt.allocBytes(4 * spec.cout * spec.cin * spec.kernel);
  packConvStrided(rt, { out: w, w: src, cout: spec.cout, cin: spec.cin, K: spec.kernel, stride });
  return { ...base, w, taps: Math.ceil(spec.kernel / stride) };
}

/**
 * Packs a PyTorch ConvTranspose1d weight [cin, cout, kernel] at `src` into [cout * stride, cin * taps]:
 * row co*s + phase holds, for input channel ci and tap j, w[ci, co, phase + (taps - 1 - j) * s].
 */
export function packConvTranspose1d(rt: Runtime, src: number, bias: number, spec: ConvTransposeSpec): ConvTranspose1d {
  const { cin, cout, kernel, stride: s } = spec;
  const taps = Math.ceil(kernel / s);
  const w = rt.allocBytes(4 * cout * s * cin * taps);
  packConvTranspose(rt, { out: w, w: src, cin, cout, K: kernel, stride: s, taps });
  const b = bias === 0 ? 0 : expandBias(rt, bias, cout, s);
  return { w, bias: b, cin, cout, kernel, stride: s, padding: spec.padding, outputPadding: spec.outputPadding, taps };
}

/** A bias [cout] repeated for each of s phases: [cout * s]. */
export function expandBias(rt: Runtime, bias: number, cout: number, s: number): number {
  const b = rt.allocBytes(4 * cout * s);
  if (rt.isMeasuring) return b;
  const f = rt.f32;
  for (let co = 0; co < cout; co++) f.fill(f[(bias >>> 2) + co], (b >>> 2) + co * s, (b >>> 2) + (co + 1) * s);
  return b;
}

/** Output length of a convolution over T steps: the one frame-count rule every stack folds over its layers. */
export function convOutputLength(
  T: number,
  c: { kernel: number; stride?: number; padding?: number; dilation?: number },
): number {
  return Math.floor((T + 2 * (c.padding ?? 0) - (c.dilation ?? 1) * (c.kernel - 1) - 1) / (c.stride ?? 1)) + 1;
}

export interface ConvOptions {
  /** Snake alpha [cin]: convolve snake(x) instead of x, written straight into the padded input copy */
  snake?: number;
  /** convolve elu(x) instead of x, applied to the padded input copy (not with snake) */
  elu?: boolean;
  /**
   * The position of output 0 in the whole signal, when x is a window of it (default 0): a Winograd
   * conv aligns its tiles to the whole signal, so each output gets the same operations in every window.
   */
  origin?: number;
  /**
   * Where to write the output ([cout, Tout]) instead of a new tensor. It may be the residual itself
   * (x + conv(...) updated in place: each element reads its residual before it is written).
   */
  into?: Tensor;
}

/** Output channels [c0, c1) of a stride-1 or strided convolution with one group: rows of its packed weight. */
export function convRows(c: Conv1d, c0: number, c1: number): Conv1d {
  if (c.groups !== 1 || c0 < 0 || c1 > c.cout || c0 >= c1)
    throw new Error(`convRows: rows [${c0}, ${c1}) of a ${c.cout}-channel, ${c.groups}-group conv`);
  const K = c.cin * c.kernel;
  return { ...c, w: c.w + 4 * c0 * K, bias: c.bias === 0 ? 0 : c.bias + 4 * c0, cout: c1 - c0 };
}

/** y = conv(x) (+ residual). x: [cin, T] -> [cout, Tout]. */
export function conv1d(rt: Runtime, x: Tensor, c: Conv1d, residual?: Tensor, opts: ConvOptions = {}): Tensor {
  const [C, T] = x.dims;
  if (C !== c.cin) throw new Error(`conv1d: input has ${C} channels, weight expects ${c.cin}`);
  const Tout = convOutputLength(T, c);
  if (residual && (residual.dims[0] !== c.cout || residual.dims[1] !== Tout)) {
    throw new Error(`conv1d: residual is [${residual.dims}], the output is [${c.cout}, ${Tout}]`);
  }
  const into = opts.into;
  if (
    into &&
    (into.dims[0] !== c.cout ||
      into.dims[1] !== Tout ||
      overlaps(into, x) ||
      (residual && residual.ptr !== into.ptr && overlaps(into, residual)))
  ) {
    throw new Error(
      `conv1d: output buffer [${into.dims}] must be [${c.cout}, ${Tout}], apart from the input, and either the residual itself or apart from it`,
    );
  }
  const out = into ?? rt.tensor([c.cout, Tout]);
  if (Tout <= 0) return out;
  if (c.winograd) {
    if (residual) throw new Error('conv1d: a Winograd conv takes no residual');
    convWinograd(rt, x, c, c.winograd, out, opts);
    return out;
  }
  rt.scope(() => {
    let src =
      c.padding > 0 || opts.snake !== undefined || opts.elu
        ? paddedInput(rt, x, c.padding, c.padding, opts.snake, opts.elu)
        : x;
    const cinG = C / c.groups;
    const K = cinG * c.kernel;
    const rows = rt.allocBytes(4 * K);
    if (c.stride > 1) {
      const Tp = Tout + c.taps - 1;
      const split = rt.tensor([C * c.stride, Tp]);
      deinterleave(rt, { out: split.ptr, x: src.ptr, C, T: src.dims[1], stride: c.stride, Tp });
      src = split;
      phaseRowTable(rt, { rows, C, stride: c.stride, taps: c.kernel, ldb: Tp });
    } else {
      convRowTable(rt, { rows, K, taps: c.kernel, ldb: src.dims[1], dilation: c.dilation });
    }
    const ldb = src.dims[1];
    const coutG = c.cout / c.groups;
    for (let g = 0; g < c.groups; g++) {
      // groups > 1 only at stride 1 (packConv1d rejects the rest): group g reads input rows from g*cinG
      gemm(rt, {
        out: out.ptr + 4 * g * coutG * Tout,
        ldo: Tout,
        a: c.w + 4 * g * coutG * K,
        lda: K,
        b: src.ptr + 4 * g * cinG * ldb,
        rows,
        bias: c.bias === 0 ? 0 : c.bias + 4 * g * coutG,
        init: residual ? residual.ptr + 4 * g * coutG * Tout : 0,
        M: coutG,
        N: Tout,
        K,
      });
    }
  });
  return out;
}

/**
 * y = conv_transpose(x), or of snake(x) with `snake` (alpha [cin], applied in the padding pass).
 * x: [cin, T] -> [cout, (T - 1) * s - 2 * pad + kernel + outputPadding].
 */
export function convTranspose1d(rt: Runtime, x: Tensor, c: ConvTranspose1d, snake?: number): Tensor {
  const [C, T] = x.dims;
  if (C !== c.cin) throw new Error(`conv_transpose1d: input has ${C} channels, weight expects ${c.cin}`);
  const s = c.stride;
  const Tout = (T - 1) * s - 2 * c.padding + c.kernel + c.outputPadding;
  const out = rt.tensor([c.cout, Tout]);
  rt.scope(() => {
    // Phase outputs y[co*s + ph, n] land at t = n*s + ph - padding.
    const Tn = Math.floor((Tout - 1 + c.padding) / s) + 1;
    const xp = paddedInput(rt, x, c.taps - 1, Math.max(0, Tn - T), snake);
    const K = C * c.taps;
    const rows = rt.allocBytes(4 * K);
    convRowTable(rt, { rows, K, taps: c.taps, ldb: xp.dims[1], dilation: 1 });
    const y = rt.tensor([c.cout * s, Tn]);
    gemm(rt, { out: y.ptr, ldo: Tn, a: c.w, lda: K, b: xp.ptr, rows, bias: c.bias, M: c.cout * s, N: Tn, K });
    interleave(rt, { out: out.ptr, y: y.ptr, C: c.cout, stride: s, Tn, shift: c.padding, Tout });
  });
  return out;
}

/** Depthwise conv (groups = channels, no bias) of x [C, T] padded by padLeft / padRight zeros, w [C, K]: [C, T + pads - K + 1]. */
export function depthwiseConv1d(
  rt: Runtime,
  x: Tensor,
  w: number,
  K: number,
  padLeft: number,
  padRight: number,
): Tensor {
  const [C, T] = x.dims;
  const Tout = T + padLeft + padRight - K + 1;
  const out = rt.tensor([C, Tout]);
  rt.scope(() => {
    const xp = padTime(rt, x, padLeft, padRight);
    depthwiseConv(rt, { out: out.ptr, x: xp.ptr, w, ldx: xp.dims[1], K, C, T: Tout });
  });
  return out;
}
