// Linear layers on channel-major activations: x [in, T] -> [out, T], a 1x1 convolution on the GEMM.

import { gemm, rowTable } from '../backend/launch.js';
import { type Runtime, type Tensor, overlaps } from '../backend/runtime.js';

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
  if (
    into &&
    (into.dims[0] !== l.outFeatures ||
      into.dims[1] !== T ||
      overlaps(into, x) ||
      (residual && residual.ptr !== into.ptr && overlaps(into, residual)))
  ) {
    throw new Error(
      `linear: output buffer [${into.dims}] must be [${l.outFeatures}, ${T}], apart from the input, and either the residual itself or apart from it`,
    );
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
export function linearColumns(
  rt: Runtime,
  x: Tensor,
  xCol: number,
  l: Linear,
  out: Tensor,
  outCol: number,
  width: number,
  residual?: Tensor,
): void {
  if (
    x.dims[0] !== l.inFeatures ||
    out.dims[0] !== l.outFeatures ||
    xCol < 0 ||
    outCol < 0 ||
    width < 0 ||
    xCol + width > x.dims[1] ||
    outCol + width > out.dims[1] ||
    (residual && (residual.dims[0] !== out.dims[0] || residual.dims[1] !== out.dims[1]))
  ) {
    throw new Error(
      `linearColumns: columns [${xCol}, ${xCol + width}) of [${x.dims}] into [${outCol}, ${outCol + width}) of [${out.dims}] do not fit a ${l.inFeatures} -> ${l.outFeatures} linear`,
    );
  }
  if (width === 0) return;
  rt.scope(() => {
    const K = l.inFeatures;
    const rows = rowTable(rt, K, x.dims[1]);
    gemm(rt, {
      out: out.ptr + 4 * outCol,
      ldo: out.dims[1],
      a: l.w,
      lda: K,
      b: x.ptr + 4 * xCol,
      rows,
      bias: l.bias,
      init: residual ? residual.ptr + 4 * outCol : 0,
      M: l.outFeatures,
      N: width,
      K,
    });
  });
}
