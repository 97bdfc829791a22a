// Norms on channel-major [C, T] activations: LayerNorm over channels, GroupNorm(C, C) over time
// (whole rows at once, or any stretch of them with statistics taken beforehand).

import * as launch from '../backend/launch.js';
import type { Runtime, Tensor } from '../backend/runtime.js';

/** A norm's affine parameters (byte offsets of gamma and beta) and epsilon. */
export interface Norm {
  gamma: number;
  beta: number;
  eps: number;
}

/** LayerNorm over channels for every time step. x: [C, T]. */
export function layerNormChannels(
  rt: Runtime,
  x: Tensor,
  gamma: number,
  beta: number,
  eps: number,
  inPlace = false,
): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.layerNormColumns(rt, { out: out.ptr, x: x.ptr, gamma, beta, C: x.dims[0], T: x.dims[1], eps });
  return out;
}

/** GroupNorm(C, C): each channel normalised over time. x: [C, T]. */
export function groupNormRows(
  rt: Runtime,
  x: Tensor,
  gamma: number,
  beta: number,
  eps: number,
  inPlace = false,
): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.groupNormRows(rt, { out: out.ptr, x: x.ptr, gamma, beta, C: x.dims[0], T: x.dims[1], eps });
  return out;
}

/** GroupNorm(C, C)'s whole-row statistics of x [C, T] into stats [C, 2] (mean, 1 / sqrt(var + eps)) from row `row0` on. */
export function groupNormStats(rt: Runtime, stats: number, row0: number, x: Tensor, eps: number): void {
  launch.groupNormStats(rt, { stats: stats + 8 * row0, x: x.ptr, C: x.dims[0], T: x.dims[1], eps });
}

/** GroupNorm(C, C) of any stretch x [C, T] of longer rows, with their whole-row statistics [C, 2]. */
export function groupNormApply(
  rt: Runtime,
  x: Tensor,
  gamma: number,
  beta: number,
  stats: number,
  inPlace = false,
): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.groupNormApply(rt, { out: out.ptr, x: x.ptr, gamma, beta, stats, C: x.dims[0], T: x.dims[1] });
  return out;
}

/** GroupNorm(groups, C) of x [C, T] (each group's rows together), then SiLU when `silu`. */
export function groupNorm(rt: Runtime, x: Tensor, n: Norm, groups: number, silu = false, inPlace = false): Tensor {
  const [C, T] = x.dims;
  if (C % groups !== 0) throw new Error(`groupNorm: ${C} channels do not split into ${groups} groups`);
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.groupNormGroups(rt, { out: out.ptr, x: x.ptr, gamma: n.gamma, beta: n.beta, C, T, groups, eps: n.eps, silu });
  return out;
}

/** RMSNorm (Llama's) over the channels of every column of x [C, T], times gamma [C]. */
export function rmsNormChannels(rt: Runtime, x: Tensor, gamma: number, eps: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.rmsNormColumns(rt, { out: out.ptr, x: x.ptr, gamma, C: x.dims[0], T: x.dims[1], eps });
  return out;
}
