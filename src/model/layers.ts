// The layers every block is built from, loaded from a weight view keyed by the checkpoint's names:
// convolutions (plain or weight-normed, packed for the GEMM at load), transposed convolutions,
// linear layers and norms. Their forwards are the named ops of ../nn/.

import {
  type Conv1d,
  type ConvSpec,
  type ConvTranspose1d,
  expandBias,
  packConv1d,
  packConvTranspose1d,
} from '../nn/conv.js';
import type { Linear } from '../nn/linear.js';
import type { Norm } from '../nn/norm.js';
import { packConvWinograd, winogradApplies } from '../nn/winograd.js';
import type { Weights } from '../checkpoint/weights.js';
import type { WinogradTile } from '../nn/winograd_matrices.js';

export type { Conv1d, ConvTranspose1d } from '../nn/conv.js';
export type { Linear } from '../nn/linear.js';
export type { Norm } from '../nn/norm.js';

export interface ConvLoad {
  /** load `bias` (default true) */
  bias?: boolean;
  /** accept weight_g/weight_v or parametrizations (default true); false reads `weight` only */
  weightNorm?: boolean;
  /** run as Winograd with this tile where the conv's shape allows (winogradApplies), else direct */
  winograd?: WinogradTile;
}

/**
 * `${vb}.weight` [cout, cin/groups, kernel] (and `.bias`), packed for conv1d. Only the packed copy
 * stays in memory: the PyTorch-layout original is a temporary when packing copies.
 */
export async function loadConv(vb: Weights, spec: ConvSpec, opts: ConvLoad = {}): Promise<Conv1d> {
  const shape = [spec.cout, spec.cin / (spec.groups ?? 1), spec.kernel];
  const rt = vb.rt;
  const m = rt.mark();
  const src = opts.weightNorm === false ? await vb.tensor('weight', shape) : await vb.convWeight(shape);
  const conv = packConv1d(rt, src, 0, spec, vb.prefix);
  if (opts.winograd && winogradApplies(rt, conv, opts.winograd)) {
    const packed = packConvWinograd(rt, conv, opts.winograd);
    const base = rt.keepRegion(m, packed.base, packed.bytes);
    const moved = base - packed.base;
    const wg = packed.winograd;
    conv.winograd = { ...wg, u: wg.u + moved, bt: wg.bt + moved, at: wg.at + moved };
    conv.w = 0;
  } else if (conv.w !== src) conv.w = rt.keepRegion(m, conv.w, 4 * conv.cout * (conv.cin / conv.groups) * conv.kernel);
  if (opts.bias !== false) conv.bias = await vb.tensor('bias', [spec.cout]);
  return conv;
}

/** `${vb}.weight` [cin, cout, kernel] (plain or weight-normed) and `.bias`, packed for convTranspose1d. */
export async function loadConvTranspose(
  vb: Weights,
  spec: { cin: number; cout: number; kernel: number; stride: number; padding: number; outputPadding: number },
): Promise<ConvTranspose1d> {
  const rt = vb.rt;
  const m = rt.mark();
  const src = await vb.convWeight([spec.cin, spec.cout, spec.kernel]);
  const c = packConvTranspose1d(rt, src, 0, spec);
  c.w = rt.keepRegion(m, c.w, 4 * c.cout * c.stride * c.cin * c.taps);
  const bm = rt.mark();
  const bias = await vb.tensor('bias', [spec.cout]);
  c.bias = rt.keepRegion(bm, expandBias(rt, bias, c.cout, c.stride), 4 * c.cout * c.stride);
  return c;
}

/** `${vb}.weight` [out, in] and `.bias` (a layer built with bias=False has none: pass bias false). */
export async function loadLinear(vb: Weights, inFeatures: number, outFeatures: number, bias = true): Promise<Linear> {
  return {
    w: await vb.tensor('weight', [outFeatures, inFeatures]),
    bias: bias ? await vb.tensor('bias', [outFeatures]) : 0,
    inFeatures,
    outFeatures,
  };
}

export async function loadNorm(vb: Weights, size: number, eps: number): Promise<Norm> {
  return { gamma: await vb.tensor('weight', [size]), beta: await vb.tensor('bias', [size]), eps };
}
