// Layout ops on [C, T] tensors: padding, transposition, column copies and picks, resampling in time.

import { padRows, snake, transpose as transposeKernel, unary } from '../backend/launch.js';
import { type Runtime, type Tensor, numel } from '../backend/runtime.js';
import { resampleInto, resampledLength } from '../io/resample.js';

/** Zero-pads the time axis. x: [C, T] -> [C, left + T + right]. */
export function padTime(rt: Runtime, x: Tensor, left: number, right: number): Tensor {
  const out = rt.tensor([x.dims[0], left + x.dims[1] + right]);
  padRows(rt, { out: out.ptr, x: x.ptr, C: x.dims[0], T: x.dims[1], padLeft: left, padRight: right });
  return out;
}

/** A convolution's zero-padded input copy of x [C, T] (snake(x) or elu(x) when asked): [C, left + T + right]. */
export function paddedInput(
  rt: Runtime,
  x: Tensor,
  left: number,
  right: number,
  snakeAlpha?: number,
  elu = false,
): Tensor {
  if (elu) {
    // elu(0) = 0: the zero margins stay zero, so the whole padded copy goes through it in place
    const out = padTime(rt, x, left, right);
    unary(rt, 'elu', out.ptr, out.ptr, numel(out.dims));
    return out;
  }
  if (snakeAlpha === undefined) return padTime(rt, x, left, right);
  const [C, T] = x.dims;
  const out = rt.tensor([C, left + T + right]);
  snake(rt, { out: out.ptr, x: x.ptr, alpha: snakeAlpha, C, T, padLeft: left, padRight: right });
  return out;
}

/** x [R, C] -> [C, R], into `into` ([C, R], apart from x) when given, else a new tensor. */
export function transpose(rt: Runtime, x: Tensor, into?: Tensor): Tensor {
  const out = into ?? rt.tensor([x.dims[1], x.dims[0]]);
  transposeKernel(rt, out.ptr, x.ptr, x.dims[0], x.dims[1]);
  return out;
}

/** dst = src, both of the same size. */
export function copyInto(rt: Runtime, dst: Tensor, src: Tensor): void {
  if (rt.isMeasuring) return; // shapes only (Runtime.measure)
  rt.f32.copyWithin(dst.ptr >>> 2, src.ptr >>> 2, (src.ptr >>> 2) + numel(src.dims));
}

/** dst[:, dstCol .. dstCol + n) = src[:, srcCol .. srcCol + n), both [C, *]: a window's columns into the whole. */
export function copyColumns(rt: Runtime, dst: Tensor, dstCol: number, src: Tensor, srcCol: number, n: number): void {
  if (rt.isMeasuring) return;
  const f32 = rt.f32;
  const [C, Td] = dst.dims;
  const Ts = src.dims[1];
  for (let c = 0; c < C; c++) {
    const s = (src.ptr >>> 2) + c * Ts + srcCol;
    f32.copyWithin((dst.ptr >>> 2) + c * Td + dstCol, s, s + n);
  }
}

/** Every `step`-th column of x [C, T], from column 0: [C, ceil(T / step)]. */
export function everyNthColumn(rt: Runtime, x: Tensor, step: number): Tensor {
  const [C, T] = x.dims;
  const Tn = Math.ceil(T / step);
  const out = rt.tensor([C, Tn]);
  if (rt.isMeasuring) return out;
  const f = rt.f32;
  for (let c = 0; c < C; c++) {
    const src = (x.ptr >>> 2) + c * T;
    const dst = (out.ptr >>> 2) + c * Tn;
    for (let t = 0; t < Tn; t++) f[dst + t] = f[src + t * step];
  }
  return out;
}

/**
 * x [1, N] at `fromRate` resampled to `toRate` (torchaudio.functional.resample, see io/resample.ts)
 * into a new [1, left + M + right] tensor with `left` and `right` zeros around it.
 */
export function resampleTime(
  rt: Runtime,
  x: Tensor,
  fromRate: number,
  toRate: number,
  left: number,
  right: number,
): Tensor {
  const M = resampledLength(x.dims[1], fromRate, toRate);
  const out = rt.tensor([1, left + M + right]);
  if (rt.isMeasuring) return out;
  const base = out.ptr >>> 2;
  rt.f32.fill(0, base, base + left);
  rt.f32.fill(0, base + left + M, base + left + M + right);
  resampleInto(
    rt.f32.subarray(x.ptr >>> 2, (x.ptr >>> 2) + x.dims[1]),
    fromRate,
    toRate,
    rt.f32.subarray(base + left, base + left + M),
  );
  return out;
}
