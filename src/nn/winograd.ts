// Winograd F(4, 7) convolution (assembly/winograd.ts): a stride-1 conv loaded with a tile runs as
// alpha GEMMs over the channels between an input and an output transform; the matrices are
// winograd_matrices.ts', the weight becomes G w once at load.

import { convWinograd as convWinogradKernel, winogradChunkTiles, winogradWeights } from '../backend/launch.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import { paddedInput } from './layout.js';
import { type WinogradTile, kernelRuns, winogradMatrices } from './winograd_matrices.js';

/** A conv's Winograd form: byte offsets of U [alpha, cout, cin], BT [alpha, alpha] and AT [m, alpha]. */
export interface WinogradConv {
  u: number;
  bt: number;
  at: number;
  m: number;
  alpha: number;
}

/** A convolution's shape and bias, as the Winograd path reads them (nn/conv.ts' Conv1d extends it). */
export interface WinogradTarget {
  /** PyTorch's weight [cout, cin, kernel] (before packConvWinograd) */
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
}

/**
 * Whether `c` can run as Winograd with tile `t`: a tile conv_winograd runs (F(4, 7), kernelRuns), stride
 * 1, one group, `t.r` taps, output channels in whole 4-row GEMM strips, and a chunk of at least 8 tile
 * columns fitting the kernel's scratch.
 */
export function winogradApplies(rt: Runtime, c: WinogradTarget, t: WinogradTile): boolean {
  return (
    kernelRuns(t) &&
    c.stride === 1 &&
    c.groups === 1 &&
    c.kernel === t.r &&
    c.cout % 4 === 0 &&
    winogradChunkTiles(rt, t.alpha, c.cin, c.cout) > 0
  );
}

/**
 * The Winograd form of a stride-1 conv whose weight `c.w` is PyTorch's [cout, cin, kernel]: U, BT and
 * AT in one region at `at` (the caller's allocator top, released and re-kept by the caller).
 */
export function packConvWinograd(
  rt: Runtime,
  c: WinogradTarget,
  t: WinogradTile,
): { winograd: WinogradConv; bytes: number; base: number } {
  const { AT, G, BT } = winogradMatrices(t);
  const uFloats = t.alpha * c.cout * c.cin;
  const bytes = 4 * (uFloats + BT.length + AT.length);
  const base = rt.allocBytes(bytes);
  const bt = base + 4 * uFloats;
  const at = bt + 4 * BT.length;
  if (!rt.isMeasuring) {
    rt.f32.set(BT, bt >>> 2);
    rt.f32.set(AT, at >>> 2);
  }
  rt.scope(() => {
    const g = rt.allocBytes(4 * G.length);
    if (!rt.isMeasuring) rt.f32.set(G, g >>> 2);
    winogradWeights(rt, { u: base, w: c.w, g, alpha: t.alpha, r: t.r, cout: c.cout, cin: c.cin });
  });
  return { winograd: { u: base, bt, at, m: t.m, alpha: t.alpha }, bytes, base };
}

/**
 * conv(x) into out ([cout, Tout]) through the Winograd form: tiles of 4 outputs spaced d apart,
 * aligned to the whole signal by `origin`; the padded input gets that shift of zeros more on the
 * left, and on the right enough for the last lane group of a multiple of 8 tile columns (whole quads
 * of blocks) to read its taps. snake/elu apply to the padded copy as in conv1d.
 */
export function convWinograd(
  rt: Runtime,
  x: Tensor,
  c: WinogradTarget,
  wg: WinogradConv,
  out: Tensor,
  opts: { snake?: number; elu?: boolean; origin?: number },
): void {
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
  rt.scope(() => {
    const xq = paddedInput(rt, x, left, length - left - T, opts.snake, opts.elu);
    convWinogradKernel(rt, {
      out: out.ptr,
      x: xq.ptr,
      ldx: length,
      u: wg.u,
      bias: c.bias,
      bt: wg.bt,
      at: wg.at,
      alpha: wg.alpha,
      m: wg.m,
      cin: c.cin,
      cout: c.cout,
      tout: Tout,
      dilation: d,
      shift,
      tiles,
    });
  });
}

/** Where tile column n starts in the padded input (assembly/winograd.ts' tileStart). */
export function winogradTileStart(n: number, d: number): number {
  const quad = Math.floor(n / (4 * d));
  const within = n - quad * 4 * d;
  return (4 * quad + (within & 3)) * 4 * d + (within >> 2);
}
