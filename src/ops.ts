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
// A stride-1 conv loaded with a Winograd tile (packConvWinograd) instead runs conv_winograd: alpha
// GEMMs over the channels between an input and an output transform (assembly/winograd.ts).

import { XcodecCheckpointError } from './errors.js';
import { resampleInto, resampledLength } from './io/resample.js';
import { type Runtime, type Tensor, numel } from './runtime.js';
import { type WinogradTile, kernelRuns, winogradMatrices } from './winograd.js';

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
  /** set when the conv runs as Winograd F(m, kernel) (then `w` is 0: only the transformed weight is kept) */
  winograd?: WinogradConv;
}

/** A conv's Winograd form: byte offsets of U [alpha, cout, cin], BT [alpha, alpha] and AT [m, alpha]. */
export interface WinogradConv {
  u: number;
  bt: number;
  at: number;
  m: number;
  alpha: number;
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

/** A norm's affine parameters (byte offsets of gamma and beta) and epsilon. */
export interface Norm {
  gamma: number;
  beta: number;
  eps: number;
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
 * Whether `c` can run as Winograd with tile `t`: a tile conv_winograd runs (F(4, 7), kernelRuns), stride
 * 1, one group, `t.r` taps, output channels in whole 4-row GEMM strips, and a chunk of at least 8 tile
 * columns fitting the kernel's scratch.
 */
export function winogradApplies(rt: Runtime, c: Conv1d, t: WinogradTile): boolean {
  return kernelRuns(t) && c.stride === 1 && c.groups === 1 && c.kernel === t.r && c.cout % 4 === 0 &&
    rt.k.winograd_chunk_tiles(t.alpha, c.cin, c.cout) > 0;
}

/**
 * The Winograd form of a stride-1 conv whose weight `c.w` is PyTorch's [cout, cin, kernel]: U, BT and
 * AT in one region at `at` (the caller's allocator top, released and re-kept by the caller).
 */
export function packConvWinograd(rt: Runtime, c: Conv1d, t: WinogradTile): { winograd: WinogradConv; bytes: number; base: number } {
  const { AT, G, BT } = winogradMatrices(t);
  const uFloats = t.alpha * c.cout * c.cin;
  const bytes = 4 * (uFloats + BT.length + AT.length);
  const base = rt.allocBytes(bytes);
  const bt = base + 4 * uFloats;
  const at = bt + 4 * BT.length;
  rt.f32.set(BT, bt >>> 2);
  rt.f32.set(AT, at >>> 2);
  const m = rt.mark();
  const g = rt.allocBytes(4 * G.length);
  rt.f32.set(G, g >>> 2);
  rt.k.winograd_weights(base, c.w, g, t.alpha, t.r, c.cout, c.cin);
  rt.release(m);
  return { winograd: { u: base, bt, at, m: t.m, alpha: t.alpha }, bytes, base };
}

export function expandBias(rt: Runtime, bias: number, cout: number, s: number): number {
  const b = rt.allocBytes(4 * cout * s);
  const f = rt.f32;
  for (let co = 0; co < cout; co++) f.fill(f[(bias >>> 2) + co], (b >>> 2) + co * s, (b >>> 2) + (co + 1) * s);
  return b;
}

/** Output length of a convolution over T steps: the one frame-count rule every stack folds over its layers. */
export function convOutputLength(T: number, c: { kernel: number; stride?: number; padding?: number; dilation?: number }): number {
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

/** A convolution's zero-padded input copy of x [C, T] (snake(x) when `snake` is given): [C, left + T + right]. */
function paddedInput(rt: Runtime, x: Tensor, left: number, right: number, snake?: number, elu = false): Tensor {
  if (elu) {
    // elu(0) = 0: the zero margins stay zero, so the whole padded copy goes through it in place
    const out = padTime(rt, x, left, right);
    rt.k.elu(out.ptr, out.ptr, 0, numel(out.dims));
    return out;
  }
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
  if (c.winograd) {
    if (residual) throw new Error('conv1d: a Winograd conv takes no residual');
    convWinograd(rt, x, c, c.winograd, out, opts);
    return out;
  }
  const mark = rt.mark();
  let src = c.padding > 0 || opts.snake !== undefined || opts.elu ? paddedInput(rt, x, c.padding, c.padding, opts.snake, opts.elu) : x;
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

// The Winograd path of conv1d (see assembly/winograd.ts): tiles of 4 outputs spaced d apart, aligned
// to the whole signal by `shift`; the padded input gets `shift` more zeros on the left, and on the right
// enough for the last lane group of a multiple of 8 tile columns (whole quads of blocks) to read its taps.
function convWinograd(rt: Runtime, x: Tensor, c: Conv1d, wg: WinogradConv, out: Tensor, opts: ConvOptions): void {
  const [, T] = x.dims;
  const Tout = out.dims[1];
  const d = c.dilation;
  const span = 4 * d;
  const shift = (((opts.origin ?? 0) % span) + span) % span;
  const quads = Math.ceil(Math.ceil((Tout + shift) / span) / 4);
  const tiles = 8 * Math.ceil((quads * 4 * d) / 8);
  const reach = 4 * Math.ceil((12 + wg.alpha) / 4);
  const length = winogradTileStart(tiles - 4, d) + (reach - 1) * d + 1;
  const left = c.padding + shift;
  const mark = rt.mark();
  const xq = paddedInput(rt, x, left, length - left - T, opts.snake, opts.elu);
  rt.k.conv_winograd(out.ptr, xq.ptr, length, wg.u, c.bias, wg.bt, wg.at, wg.alpha, wg.m, c.cin, c.cout, Tout, d, shift, 0, tiles);
  rt.release(mark);
}

/** Where tile column n starts in the padded input (assembly/winograd.ts' tileStart). */
export function winogradTileStart(n: number, d: number): number {
  const quad = Math.floor(n / (4 * d));
  const within = n - quad * 4 * d;
  return (4 * quad + (within & 3)) * 4 * d + (within >> 2);
}

/**
 * A block's last conv: written into `opts.into` when given (everything above `mark` is then
 * released), else kept at `mark` as the block's result.
 */
export function finalConv1d(rt: Runtime, mark: number, x: Tensor, c: Conv1d, opts: ConvOptions = {}): Tensor {
  if (!opts.into) return rt.keep(mark, conv1d(rt, x, c, undefined, opts));
  conv1d(rt, x, c, undefined, opts);
  rt.release(mark);
  return opts.into;
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

/** l(x) (+ residual), into `into` ([out, T], apart from x; it may be the residual itself) when given, else a new tensor. */
export function linear(rt: Runtime, x: Tensor, l: Linear, residual?: Tensor, into?: Tensor): Tensor {
  const [C, T] = x.dims;
  if (C !== l.inFeatures) throw new Error(`linear: input has ${C} features, weight expects ${l.inFeatures}`);
  if (residual && (residual.dims[0] !== l.outFeatures || residual.dims[1] !== T)) {
    throw new Error(`linear: residual is [${residual.dims}], the output is [${l.outFeatures}, ${T}]`);
  }
  if (into && (into.dims[0] !== l.outFeatures || into.dims[1] !== T || overlaps(into, x) ||
    (residual && residual.ptr !== into.ptr && overlaps(into, residual)))) {
    throw new Error(`linear: output buffer [${into.dims}] must be [${l.outFeatures}, ${T}], apart from the input, and either the residual itself or apart from it`);
  }
  const out = into ?? rt.tensor([l.outFeatures, T]);
  linearColumns(rt, x, 0, l, out, 0, T, residual);
  return out;
}

/**
 * Columns [outCol, outCol + width) of out ([l.out, T']) = l(columns [xCol, xCol + width) of x ([l.in, T]))
 * (+ the same columns of residual, laid out like out; it may be out itself). The GEMM gives every
 * column the same operations whatever range a call covers, so a layer run block by block over time
 * is bit-identical to one call.
 */
export function linearColumns(rt: Runtime, x: Tensor, xCol: number, l: Linear, out: Tensor, outCol: number, width: number, residual?: Tensor): void {
  if (x.dims[0] !== l.inFeatures || out.dims[0] !== l.outFeatures || xCol < 0 || outCol < 0 || width < 0 ||
    xCol + width > x.dims[1] || outCol + width > out.dims[1] || (residual && (residual.dims[0] !== out.dims[0] || residual.dims[1] !== out.dims[1]))) {
    throw new Error(`linearColumns: columns [${xCol}, ${xCol + width}) of [${x.dims}] into [${outCol}, ${outCol + width}) of [${out.dims}] do not fit a ${l.inFeatures} -> ${l.outFeatures} linear`);
  }
  if (width === 0) return;
  const mark = rt.mark();
  const K = l.inFeatures;
  const rows = rt.allocBytes(4 * K);
  rt.k.gemm_rows(rows, K, 1, x.dims[1], 1);
  const ldo = out.dims[1];
  rt.k.gemm(out.ptr + 4 * outCol, ldo, l.w, K, x.ptr + 4 * xCol, rows, l.bias, residual ? residual.ptr + 4 * outCol : 0,
    l.outFeatures, width, K, 0, l.outFeatures, 0, width);
  rt.release(mark);
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
/**
 * x [1, N] at `fromRate` resampled to `toRate` (torchaudio.functional.resample, see io/resample.ts)
 * into a new [1, left + M + right] tensor with `left` and `right` zeros around it.
 */
export function resampleTime(rt: Runtime, x: Tensor, fromRate: number, toRate: number, left: number, right: number): Tensor {
  const M = resampledLength(x.dims[1], fromRate, toRate);
  const out = rt.tensor([1, left + M + right]);
  const base = out.ptr >>> 2;
  rt.f32.fill(0, base, base + left);
  rt.f32.fill(0, base + left + M, base + left + M + right);
  resampleInto(rt.f32.subarray(x.ptr >>> 2, (x.ptr >>> 2) + x.dims[1]), fromRate, toRate, rt.f32.subarray(base + left, base + left + M));
  return out;
}

/** Every `step`-th column of x [C, T], from column 0: [C, ceil(T / step)]. */
export function everyNthColumn(rt: Runtime, x: Tensor, step: number): Tensor {
  const [C, T] = x.dims;
  const Tn = Math.ceil(T / step);
  const out = rt.tensor([C, Tn]);
  const f = rt.f32;
  for (let c = 0; c < C; c++) {
    const src = (x.ptr >>> 2) + c * T;
    const dst = (out.ptr >>> 2) + c * Tn;
    for (let t = 0; t < Tn; t++) f[dst + t] = f[src + t * step];
  }
  return out;
}

export function padTime(rt: Runtime, x: Tensor, left: number, right: number): Tensor {
  const out = rt.tensor([x.dims[0], left + x.dims[1] + right]);
  rt.k.pad_rows(out.ptr, x.ptr, x.dims[1], left, right, 0, x.dims[0]);
  return out;
}

/** x [R, C] -> [C, R], into `into` ([C, R], apart from x) when given, else a new tensor. */
export function transpose(rt: Runtime, x: Tensor, into?: Tensor): Tensor {
  const out = into ?? rt.tensor([x.dims[1], x.dims[0]]);
  rt.k.transpose(out.ptr, x.ptr, x.dims[0], x.dims[1], 0, x.dims[0]);
  return out;
}

function overlaps(a: Tensor, b: Tensor): boolean {
  return a.ptr < b.ptr + 4 * numel(b.dims) && b.ptr < a.ptr + 4 * numel(a.dims);
}

export function scale(rt: Runtime, x: Tensor, s: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.scale(out.ptr, x.ptr, Math.fround(s), 0, numel(x.dims));
  return out;
}

/** GroupNorm(C, C)'s whole-row statistics of x [C, T] into stats [C, 2] (mean, 1 / sqrt(var + eps)) from row `row0` on. */
export function groupNormStats(rt: Runtime, stats: number, row0: number, x: Tensor, eps: number): void {
  rt.k.group_norm_stats(stats + 8 * row0, x.ptr, x.dims[1], eps, 0, x.dims[0]);
}

/** GroupNorm(C, C) of any stretch x [C, T] of longer rows, with their whole-row statistics [C, 2]. */
export function groupNormApply(rt: Runtime, x: Tensor, gamma: number, beta: number, stats: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  rt.k.group_norm_apply(out.ptr, x.ptr, gamma, beta, stats, x.dims[1], 0, x.dims[0]);
  return out;
}

/** x + gelu(y) over x's T columns, where y [H, T + extra] may run longer: [H, T]. y is overwritten. */
export function addGeluPrefix(rt: Runtime, x: Tensor, y: Tensor): Tensor {
  const [H, T] = x.dims;
  const Ty = y.dims[1];
  const out = rt.tensor([H, T]);
  for (let h = 0; h < H; h++) {
    rt.k.gelu(y.ptr + 4 * h * Ty, y.ptr + 4 * h * Ty, 0, T);
    rt.k.add(out.ptr + 4 * h * T, x.ptr + 4 * h * T, y.ptr + 4 * h * Ty, 0, T);
  }
  return out;
}

/** A GEMM row table for B = rows of `ldb` floats, one row per k (k in [0, count)). */
function rowTable(rt: Runtime, count: number, ldb: number): number {
  const rows = rt.allocBytes(4 * count);
  rt.k.gemm_rows(rows, count, 1, ldb, 1);
  return rows;
}

/**
 * WavLM's additive attention bias, as the attention kernel reads it: gates [heads, T], the bucketed
 * table embed [buckets, heads] and the i32 bucket of every key - query [2T - 1]. All 0: no bias.
 */
export interface AttentionBiasTables {
  gates: number;
  embed: number;
  buckets: number;
}

/**
 * softmax(q^T k + bias) v for every head, with q already scaled: q, v [H, T], kT [T, H] -> context
 * [H, T]. Keys in blocks with an online softmax, in each thread's own scratch: no T x T scores at any
 * length, and the same bits for every split of the query columns.
 */
export function selfAttention(rt: Runtime, q: Tensor, kT: Tensor, v: Tensor, heads: number, bias: AttentionBiasTables | null): Tensor {
  const [H, T] = q.dims;
  const d = H / heads;
  const b = bias ?? { gates: 0, embed: 0, buckets: 0 };
  const ctx = rt.tensor([H, T]);
  const m = rt.mark();
  const rows = rowTable(rt, d, T);
  rt.k.self_attention(ctx.ptr, q.ptr, kT.ptr, v.ptr, rows, b.gates, b.embed, b.buckets, H, heads, T, 0, T);
  rt.release(m);
  return ctx;
}

/**
 * WavLM's per-head gates [heads, T] (at byte offset `gates`): for head h, the 8 outputs of
 * gru_rel_pos_linear on that head's slice of x [H, T], combined with gru_rel_pos_const[h].
 */
export function wavlmGates(rt: Runtime, gates: number, x: Tensor, gateLinear: Linear, gateConst: number, heads: number): void {
  const [H, T] = x.dims;
  const headDim = H / heads;
  const m = rt.mark();
  const g = rt.tensor([8, T]);
  const rows = rowTable(rt, headDim, T);
  for (let h = 0; h < heads; h++) {
    rt.k.gemm(g.ptr, T, gateLinear.w, headDim, x.ptr + 4 * h * headDim * T, rows, gateLinear.bias, 0, 8, T, headDim, 0, 8, 0, T);
    rt.k.wavlm_gate(gates + 4 * h * T, g.ptr, rt.f32[(gateConst >>> 2) + h], T, 0, T);
  }
  rt.release(m);
}

/** An RVQ codebook as the distance GEMM reads it. */
export interface Codebook {
  /** [K, D] codewords */
  embed: number;
  /** [K, D] codewords times -2 */
  neg2: number;
  /** [K] squared norms */
  sq: number;
  size: number;
  dim: number;
}

/** The distance terms of codewords [K, D] at `embed`, computed once at load. */
export function prepareCodebook(rt: Runtime, embed: number, size: number, dim: number): Codebook {
  const neg2 = rt.allocBytes(4 * size * dim);
  const sq = rt.allocBytes(4 * size);
  rt.k.codebook_prepare(sq, neg2, embed, size, dim);
  return { embed, neg2, sq, size, dim };
}

/**
 * The nearest codeword of each frame of x [D, T]: codes (i32 [T] at `codes`) = argmin over the
 * codebook of |e|^2 - 2 e.x. `scratch` holds the scores [K, T] and a row table (rvqScratch).
 */
export function nearestCodewords(rt: Runtime, x: Tensor, book: Codebook, codes: number, scratch: { scores: number; rows: number }): void {
  const [D, T] = x.dims;
  const K = book.size;
  rt.k.gemm(scratch.scores, T, book.neg2, D, x.ptr, scratch.rows, book.sq, 0, K, T, D, 0, K, 0, T);
  rt.k.argmin_cols(codes, scratch.scores, K, T, 0, T);
}

/** One residual-VQ step over residual [D, T], in place: codes = nearestCodewords, then residual -= e[code]. */
export function quantizeStep(rt: Runtime, residual: Tensor, book: Codebook, codes: number, scratch: { scores: number; rows: number }): void {
  const [D, T] = residual.dims;
  nearestCodewords(rt, residual, book, codes, scratch);
  rt.k.subtract_codewords(residual.ptr, book.embed, codes, D, T, 0, T);
}

/** a -= b, elementwise and in place (b is negated on the way): exactly a - b, as a + (-b) rounds the same. */
export function subtractInPlace(rt: Runtime, a: Tensor, b: Tensor): void {
  scale(rt, b, -1, true);
  add(rt, a, b, a);
}

export function rvqScratch(rt: Runtime, K: number, D: number, T: number): { scores: number; rows: number } {
  return { scores: rt.allocBytes(4 * K * T), rows: rowTable(rt, D, T) };
}

/** out [dim, T] += the codewords of codes (i32 [T] at `codes`). */
export function addCodewords(rt: Runtime, out: Tensor, book: Codebook, codes: number): void {
  rt.k.add_codewords(out.ptr, book.embed, codes, out.dims[0], out.dims[1], 0, out.dims[1]);
}

/** torch.nn.utils.weight_norm folded: out = v * g / ||v||, the norm over every axis but the middle one of [outer, D, inner]. */
export function weightNorm(rt: Runtime, out: number, v: number, g: number, outer: number, D: number, inner: number): void {
  rt.k.weight_norm(out, v, g, outer, D, inner);
}
