// Layer-level ops: each allocates its output in linear memory and makes one or a few kernel calls.
// Activations are channel-major [C, T]; see assembly/ for the kernels and their layouts.
//
// Convolutions of every kind reduce to the stride-1 GEMM of assembly/gemm.ts:
//  - stride 1: the zero-padded input is read through a row-offset table (implicit im2col);
//  - stride s > 1: the padded input is split into s phases ([C, T] -> [C*s, T/s]) and the weight was
//    repacked at load so it becomes a stride-1 conv of phase r with the taps q*s + r < K: C*K products
//    per output like the direct conv (no zero taps where K % s != 0);
//  - transposed, stride s: all s output phases are one stride-1 GEMM of Cout*s rows over the input
//    (weights repacked at load, no multiplications by inserted zeros), then interleaved.

import { XcodecCheckpointError } from './errors.js';
import { type Runtime, type Tensor, numel } from './runtime.js';

export interface Conv1d {
  /**
   * packed weight: [cout, (cin / groups) * kernel] row-major; for stride 1 PyTorch's layout, for
   * stride s columns ordered by input channel, phase r < s, then tap q with q*s + r < kernel
   */
  w: number;
  /** bias [cout], or 0 */
  bias: number;
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
  /** taps of the longest phase: ceil(kernel / stride) (the kernel for stride 1) */
  taps: number;
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

/**
 * Packs a PyTorch Conv1d weight [cout, cin/groups, kernel] (already in linear memory at `src`) into the
 * layout conv1d() reads. For stride 1 the PyTorch layout is used as is (returns src).
 */
export function packConv1d(rt: Runtime, src: number, bias: number, spec: ConvSpec, name: string): Conv1d {
  const stride = spec.stride ?? 1;
  const dilation = spec.dilation ?? 1;
  const groups = spec.groups ?? 1;
  const base = {
    bias, cin: spec.cin, cout: spec.cout, kernel: spec.kernel, stride, padding: spec.padding ?? 0, dilation, groups,
  };
  if (spec.cin % groups !== 0 || spec.cout % groups !== 0) {
    throw new XcodecCheckpointError(`${name}: channels ${spec.cin} -> ${spec.cout} are not divisible by groups ${groups}`);
  }
  if (stride === 1) return { ...base, w: src, taps: spec.kernel };
  if (dilation !== 1 || groups !== 1) {
    throw new XcodecCheckpointError(`${name}: strided convolution with dilation or groups is not supported`);
  }
  const w = rt.allocBytes(4 * spec.cout * spec.cin * spec.kernel);
  rt.k.pack_conv_strided(w, src, spec.cout, spec.cin, spec.kernel, stride);
  return { ...base, w, taps: Math.ceil(spec.kernel / stride) };
}

/**
 * Packs a PyTorch ConvTranspose1d weight [cin, cout, kernel] at `src` into [cout * stride, cin * taps]:
 * row co*s + phase holds, for input channel ci and tap j, w[ci, co, phase + (taps - 1 - j) * s].
 */
export function packConvTranspose1d(rt: Runtime, src: number, bias: number,
  spec: { cin: number; cout: number; kernel: number; stride: number; padding: number; outputPadding: number }): ConvTranspose1d {
  const { cin, cout, kernel, stride: s } = spec;
  const taps = Math.ceil(kernel / s);
  const w = rt.allocBytes(4 * cout * s * cin * taps);
  rt.k.pack_conv_transpose(w, src, cin, cout, kernel, s, taps);
  const b = bias === 0 ? 0 : expandBias(rt, bias, cout, s);
  return { w, bias: b, cin, cout, kernel, stride: s, padding: spec.padding, outputPadding: spec.outputPadding, taps };
}

/**
 * Loads a conv weight with `load` and packs it for conv1d, keeping only the packed copy in memory
 * (the PyTorch-layout original is a temporary when packing copies).
 */
export async function loadPackedConv1d(rt: Runtime, load: () => Promise<number>, spec: ConvSpec, name: string): Promise<Conv1d> {
  const m = rt.mark();
  const src = await load();
  const c = packConv1d(rt, src, 0, spec, name);
  if (c.w !== src) c.w = rt.keepRegion(m, c.w, 4 * c.cout * (c.cin / c.groups) * c.kernel);
  return c;
}

/** loadPackedConv1d() for transposed convolutions; the bias is loaded by `loadBias` afterwards. */
export async function loadPackedConvTranspose1d(rt: Runtime, load: () => Promise<number>, loadBias: () => Promise<number>,
  spec: { cin: number; cout: number; kernel: number; stride: number; padding: number; outputPadding: number }): Promise<ConvTranspose1d> {
  const m = rt.mark();
  const src = await load();
  const c = packConvTranspose1d(rt, src, 0, spec);
  c.w = rt.keepRegion(m, c.w, 4 * c.cout * c.stride * c.cin * c.taps);
  const bm = rt.mark();
  const bias = await loadBias();
  const expanded = expandBias(rt, bias, c.cout, c.stride);
  c.bias = rt.keepRegion(bm, expanded, 4 * c.cout * c.stride);
  return c;
}

function expandBias(rt: Runtime, bias: number, cout: number, s: number): number {
  const b = rt.allocBytes(4 * cout * s);
  const f = rt.f32;
  for (let co = 0; co < cout; co++) f.fill(f[(bias >>> 2) + co], (b >>> 2) + co * s, (b >>> 2) + (co + 1) * s);
  return b;
}

export function convOutputLength(T: number, c: Conv1d): number {
  return Math.floor((T + 2 * c.padding - c.dilation * (c.kernel - 1) - 1) / c.stride) + 1;
}

export interface ConvOptions {
  /** Snake alpha [cin]: convolve snake(x) instead of x, written straight into the padded input copy */
  snake?: number;
  /**
   * Where to write the output ([cout, Tout]) instead of a new tensor. It may be the residual itself
   * (x + conv(...) updated in place: each element reads its residual before it is written).
   */
  into?: Tensor;
}

/** A convolution's zero-padded input copy of x [C, T] (snake(x) when `snake` is given): [C, left + T + right]. */
function paddedInput(rt: Runtime, x: Tensor, left: number, right: number, snake?: number): Tensor {
  if (snake === undefined) return padTime(rt, x, left, right);
  const [C, T] = x.dims;
  const out = rt.tensor([C, left + T + right]);
  rt.k.snake(out.ptr, x.ptr, snake, T, left, right, 0, C);
  return out;
}

/** Output channels [c0, c1) of a stride-1 or strided convolution with one group: rows of its packed weight. */
export function convRows(c: Conv1d, c0: number, c1: number): Conv1d {
  if (c.groups !== 1 || c0 < 0 || c1 > c.cout || c0 >= c1) throw new Error(`convRows: rows [${c0}, ${c1}) of a ${c.cout}-channel, ${c.groups}-group conv`);
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
  if (into && (into.dims[0] !== c.cout || into.dims[1] !== Tout || overlaps(into, x) ||
    (residual && residual.ptr !== into.ptr && overlaps(into, residual)))) {
    throw new Error(`conv1d: output buffer [${into.dims}] must be [${c.cout}, ${Tout}], apart from the input, and either the residual itself or apart from it`);
  }
  const out = into ?? rt.tensor([c.cout, Tout]);
  if (Tout <= 0) return out;
  const mark = rt.mark();
  let src = c.padding > 0 || opts.snake !== undefined ? paddedInput(rt, x, c.padding, c.padding, opts.snake) : x;
  const cinG = C / c.groups;
  const K = cinG * c.kernel;
  const rows = rt.allocBytes(4 * K);
  if (c.stride > 1) {
    const Tp = Tout + c.taps - 1;
    const split = rt.tensor([C * c.stride, Tp]);
    rt.k.deinterleave(split.ptr, src.ptr, src.dims[1], c.stride, Tp, 0, C);
    src = split;
    rt.k.gemm_rows_phases(rows, C, c.stride, c.kernel, Tp);
  } else {
    rt.k.gemm_rows(rows, K, c.kernel, src.dims[1], c.dilation);
  }
  const ldb = src.dims[1];
  const coutG = c.cout / c.groups;
  for (let g = 0; g < c.groups; g++) {
    // groups > 1 only at stride 1 (packConv1d rejects the rest): group g reads input rows from g*cinG
    rt.k.gemm(out.ptr + 4 * g * coutG * Tout, Tout, c.w + 4 * g * coutG * K, K,
      src.ptr + 4 * g * cinG * ldb, rows, c.bias === 0 ? 0 : c.bias + 4 * g * coutG,
      residual ? residual.ptr + 4 * g * coutG * Tout : 0, coutG, Tout, K, 0, coutG, 0, Tout);
  }
  rt.release(mark);
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
  const mark = rt.mark();
  // Phase outputs y[co*s + ph, n] land at t = n*s + ph - padding.
  const Tn = Math.floor((Tout - 1 + c.padding) / s) + 1;
  const left = c.taps - 1;
  const right = Math.max(0, Tn - T);
  const xp = paddedInput(rt, x, left, right, snake);
  const K = C * c.taps;
  const rows = rt.allocBytes(4 * K);
  rt.k.gemm_rows(rows, K, c.taps, xp.dims[1], 1);
  const y = rt.tensor([c.cout * s, Tn]);
  rt.k.gemm(y.ptr, Tn, c.w, K, xp.ptr, rows, c.bias, 0, c.cout * s, Tn, K, 0, c.cout * s, 0, Tn);
  rt.k.interleave(out.ptr, y.ptr, s, Tn, c.padding, Tout, 0, c.cout);
  rt.release(mark);
  return out;
}

/** Linear layer on channel-major activations: x: [in, T] -> [out, T] (a 1x1 convolution). */
export interface Linear {
  w: number;
  bias: number;
  inFeatures: number;
  outFeatures: number;
}

export function linear(rt: Runtime, x: Tensor, l: Linear, residual?: Tensor): Tensor {
  return conv1d(rt, x, {
    w: l.w, bias: l.bias, cin: l.inFeatures, cout: l.outFeatures, kernel: 1, stride: 1, padding: 0, dilation: 1, groups: 1, taps: 1,
  }, residual);
}

export function snake(rt: Runtime, x: Tensor, alpha: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.snake(out.ptr, x.ptr, alpha, x.dims[1], 0, 0, 0, x.dims[0]);
  return out;
}

export function gelu(rt: Runtime, x: Tensor, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.gelu(out.ptr, x.ptr, 0, numel(x.dims));
  return out;
}

export function elu(rt: Runtime, x: Tensor, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.elu(out.ptr, x.ptr, 0, numel(x.dims));
  return out;
}

export function add(rt: Runtime, a: Tensor, b: Tensor, into?: Tensor): Tensor {
  const out = into ?? rt.tensor(a.dims);
  rt.k.add(out.ptr, a.ptr, b.ptr, 0, numel(a.dims));
  return out;
}

/** LayerNorm over channels for every time step. x: [C, T]. */
export function layerNormChannels(rt: Runtime, x: Tensor, gamma: number, beta: number, eps: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.layer_norm_cols(out.ptr, x.ptr, gamma, beta, x.dims[0], x.dims[1], eps, 0, x.dims[1]);
  return out;
}

/** GroupNorm(C, C): each channel normalised over time. x: [C, T]. */
export function groupNormRows(rt: Runtime, x: Tensor, gamma: number, beta: number, eps: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.group_norm_rows(out.ptr, x.ptr, gamma, beta, x.dims[1], eps, 0, x.dims[0]);
  return out;
}

/** dst[:, dstCol .. dstCol + n) = src[:, srcCol .. srcCol + n), both [C, *]: a window's columns into the whole. */
export function copyColumns(rt: Runtime, dst: Tensor, dstCol: number, src: Tensor, srcCol: number, n: number): void {
  const f32 = rt.f32;
  const [C, Td] = dst.dims;
  const Ts = src.dims[1];
  for (let c = 0; c < C; c++) {
    const s = (src.ptr >>> 2) + c * Ts + srcCol;
    f32.copyWithin((dst.ptr >>> 2) + c * Td + dstCol, s, s + n);
  }
}

/** Zero-pads the time axis. x: [C, T] -> [C, left + T + right]. */
export function padTime(rt: Runtime, x: Tensor, left: number, right: number): Tensor {
  const out = rt.tensor([x.dims[0], left + x.dims[1] + right]);
  rt.k.pad_rows(out.ptr, x.ptr, x.dims[1], left, right, 0, x.dims[0]);
  return out;
}

export function transpose(rt: Runtime, x: Tensor): Tensor {
  const out = rt.tensor([x.dims[1], x.dims[0]]);
  rt.k.transpose(out.ptr, x.ptr, x.dims[0], x.dims[1], 0, x.dims[0]);
  return out;
}

function overlaps(a: Tensor, b: Tensor): boolean {
  return a.ptr < b.ptr + 4 * numel(b.dims) && b.ptr < a.ptr + 4 * numel(a.dims);
}
