// Normalisations: GroupNorm with one channel per group (rows of [C, T]) or several (blocks of rows),
// LayerNorm and RMSNorm over channels (columns of [C, T]). Kernels that take a [begin, end) range of
// rows, groups or columns are split across threads by that range.

import { sigmoidv } from './simd';

// Per-row normalisation over T (GroupNorm with one channel per group): x, out: [C, T].
// Two passes (mean, then centred variance) in f32 like PyTorch's CPU group norm.
export function group_norm_rows(
  out: usize,
  x: usize,
  gamma: usize,
  beta: usize,
  T: i32,
  eps: f32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  for (let c = rowBegin; c < rowEnd; c++) {
    const xr = x + ((<usize>c * T) << 2);
    const mean = rowMean(xr, T);
    normRowWith(out + ((<usize>c * T) << 2), xr, T, gamma, beta, c, mean, rowRstd(xr, T, mean, eps));
  }
}

// group_norm_rows in two steps, for rows too long to hold at once: group_norm_stats takes each whole
// row's statistics (stats: [C, 2] = mean, 1 / sqrt(var + eps)), and group_norm_apply normalises any
// stretch of the rows with them (x, out: [C, T], T that stretch's length). Same operations, same bits.
export function group_norm_stats(stats: usize, x: usize, T: i32, eps: f32, rowBegin: i32, rowEnd: i32): void {
  for (let c = rowBegin; c < rowEnd; c++) {
    const xr = x + ((<usize>c * T) << 2);
    const mean = rowMean(xr, T);
    store<f32>(stats + ((<usize>c) << 3), mean);
    store<f32>(stats + ((<usize>c) << 3), rowRstd(xr, T, mean, eps), 4);
  }
}

export function group_norm_apply(
  out: usize,
  x: usize,
  gamma: usize,
  beta: usize,
  stats: usize,
  T: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = (<usize>c * T) << 2;
    normRowWith(
      out + o,
      x + o,
      T,
      gamma,
      beta,
      c,
      load<f32>(stats + ((<usize>c) << 3)),
      load<f32>(stats + ((<usize>c) << 3), 4),
    );
  }
}

@inline function rowMean(xr: usize, T: i32): f32 {
  return rowSum(xr, T) / <f32>T;
}

@inline function rowRstd(xr: usize, T: i32, mean: f32, eps: f32): f32 {
  const var_ = rowSumSqDev(xr, T, mean) / <f32>T;
  return <f32>1.0 / Mathf.sqrt(var_ + eps);
}

@inline function normRowWith(
  or: usize,
  xr: usize,
  T: i32,
  gamma: usize,
  beta: usize,
  c: i32,
  mean: f32,
  rstd: f32,
): void {
  const g = load<f32>(gamma + ((<usize>c) << 2));
  const b = load<f32>(beta + ((<usize>c) << 2));
  normRow(or, xr, T, mean, rstd * g, b, g);
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

function rowSum(x: usize, T: i32): f32 {
  let acc = f32x4.splat(0);
  let t = 0;
  for (; t + 4 <= T; t += 4) acc = f32x4.add(acc, v128.load(x + ((<usize>t) << 2)));
  let s = hsum(acc);
  for (; t < T; t++) s += load<f32>(x + ((<usize>t) << 2));
  return s;
}

function rowSumSqDev(x: usize, T: i32, mean: f32): f32 {
  const mv = f32x4.splat(mean);
  let acc = f32x4.splat(0);
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const d = f32x4.sub(v128.load(x + ((<usize>t) << 2)), mv);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let s = hsum(acc);
  for (; t < T; t++) {
    const d = load<f32>(x + ((<usize>t) << 2)) - mean;
    s += d * d;
  }
  return s;
}

// out = (x - mean) * (rstd * gamma) + beta along a row.
function normRow(out: usize, x: usize, T: i32, mean: f32, k: f32, b: f32, _g: f32): void {
  const mv = f32x4.splat(mean);
  const kv = f32x4.splat(k);
  const bv = f32x4.splat(b);
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const o = (<usize>t) << 2;
    v128.store(out + o, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), kv), bv));
  }
  for (; t < T; t++) {
    const o = (<usize>t) << 2;
    store<f32>(out + o, (load<f32>(x + o) - mean) * k + b);
  }
}

// LayerNorm over the channel axis of x: [C, T] for each column t in [colBegin, colEnd).
// Columns are processed four at a time with the channel loop inside, so memory is read row-wise.
export function layer_norm_cols(
  out: usize,
  x: usize,
  gamma: usize,
  beta: usize,
  C: i32,
  T: i32,
  eps: f32,
  colBegin: i32,
  colEnd: i32,
): void {
  const invC = f32x4.splat(<f32>1.0 / <f32>C);
  const epsv = f32x4.splat(eps);
  let t = colBegin;
  for (; t + 4 <= colEnd; t += 4) layerNorm4(out, x, gamma, beta, C, T, t, invC, epsv);
  if (t < colEnd) {
    // Tail columns: gather into a padded 4-column scratch strip is avoided by computing lanes one by one
    // with the same operation order as a vector lane.
    for (; t < colEnd; t++) layerNorm1(out, x, gamma, beta, C, T, t, eps);
  }
}

@inline function layerNorm4(
  out: usize,
  x: usize,
  gamma: usize,
  beta: usize,
  C: i32,
  T: i32,
  t: i32,
  invC: v128,
  epsv: v128,
): void {
  const stride = (<usize>T) << 2;
  const x0 = x + ((<usize>t) << 2);
  const o0 = out + ((<usize>t) << 2);
  let s = f32x4.splat(0);
  let p = x0;
  for (let c = 0; c < C; c++) {
    s = f32x4.add(s, v128.load(p));
    p += stride;
  }
  const mean = f32x4.mul(s, invC);
  let v = f32x4.splat(0);
  p = x0;
  for (let c = 0; c < C; c++) {
    const d = f32x4.sub(v128.load(p), mean);
    v = f32x4.add(v, f32x4.mul(d, d));
    p += stride;
  }
  const rstd = f32x4.div(f32x4.splat(1.0), f32x4.sqrt(f32x4.add(f32x4.mul(v, invC), epsv)));
  p = x0;
  let q = o0;
  for (let c = 0; c < C; c++) {
    const g = v128.load32_splat(gamma + ((<usize>c) << 2));
    const b = v128.load32_splat(beta + ((<usize>c) << 2));
    v128.store(q, f32x4.add(f32x4.mul(f32x4.mul(f32x4.sub(v128.load(p), mean), rstd), g), b));
    p += stride;
    q += stride;
  }
}

function layerNorm1(out: usize, x: usize, gamma: usize, beta: usize, C: i32, T: i32, t: i32, eps: f32): void {
  const stride = (<usize>T) << 2;
  const x0 = x + ((<usize>t) << 2);
  let s: f32 = 0;
  let p = x0;
  for (let c = 0; c < C; c++) {
    s += load<f32>(p);
    p += stride;
  }
  const mean = s * (<f32>1.0 / <f32>C);
  let v: f32 = 0;
  p = x0;
  for (let c = 0; c < C; c++) {
    const d = load<f32>(p) - mean;
    v += d * d;
    p += stride;
  }
  const rstd = <f32>1.0 / Mathf.sqrt(v * (<f32>1.0 / <f32>C) + eps);
  p = x0;
  let q = out + ((<usize>t) << 2);
  for (let c = 0; c < C; c++) {
    store<f32>(
      q,
      (load<f32>(p) - mean) * rstd * load<f32>(gamma + ((<usize>c) << 2)) + load<f32>(beta + ((<usize>c) << 2)),
    );
    p += stride;
    q += stride;
  }
}

// GroupNorm(groups, C) of x [C, T]: group g is rows [g C/G, (g + 1) C/G), one contiguous block of
// (C/G) T floats whose mean and centred variance are taken in two passes; then each row's affine,
// and SiLU after it when silu != 0 (the Vocos ResNet block's norm-then-activation), for groups
// [groupBegin, groupEnd).
export function group_norm_groups(
  out: usize,
  x: usize,
  gamma: usize,
  beta: usize,
  C: i32,
  T: i32,
  groups: i32,
  eps: f32,
  silu: i32,
  groupBegin: i32,
  groupEnd: i32,
): void {
  const rows = C / groups;
  const n = rows * T;
  for (let g = groupBegin; g < groupEnd; g++) {
    const xg = x + ((<usize>g * n) << 2);
    const mean = rowMean(xg, n);
    const rstd = rowRstd(xg, n, mean, eps);
    for (let r = 0; r < rows; r++) {
      const c = g * rows + r;
      const o = (<usize>c * T) << 2;
      normRowWith(out + o, x + o, T, gamma, beta, c, mean, rstd);
      if (silu != 0) siluRow(out + o, T);
    }
  }
}

@inline function siluRow(p: usize, T: i32): void {
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const v = v128.load(p + ((<usize>t) << 2));
    v128.store(p + ((<usize>t) << 2), f32x4.mul(v, sigmoidv(v)));
  }
  for (; t < T; t++) {
    const v = f32x4.splat(load<f32>(p + ((<usize>t) << 2)));
    store<f32>(p + ((<usize>t) << 2), f32x4.extract_lane(f32x4.mul(v, sigmoidv(v)), 0));
  }
}

// RMSNorm over the channel axis of x [C, T] (Llama's: x / sqrt(mean(x^2) + eps), then times gamma),
// columns [colBegin, colEnd): four columns per vector with the channel loop inside, the tail one lane
// at a time in the same operation order.
export function rms_norm_cols(
  out: usize,
  x: usize,
  gamma: usize,
  C: i32,
  T: i32,
  eps: f32,
  colBegin: i32,
  colEnd: i32,
): void {
  const stride = (<usize>T) << 2;
  const invC = f32x4.splat(<f32>1.0 / <f32>C);
  const epsv = f32x4.splat(eps);
  let t = colBegin;
  for (; t + 4 <= colEnd; t += 4) {
    const x0 = x + ((<usize>t) << 2);
    let s = f32x4.splat(0);
    let p = x0;
    for (let c = 0; c < C; c++) {
      const v = v128.load(p);
      s = f32x4.add(s, f32x4.mul(v, v));
      p += stride;
    }
    const r = f32x4.div(f32x4.splat(1.0), f32x4.sqrt(f32x4.add(f32x4.mul(s, invC), epsv)));
    p = x0;
    let q = out + ((<usize>t) << 2);
    for (let c = 0; c < C; c++) {
      v128.store(q, f32x4.mul(v128.load32_splat(gamma + ((<usize>c) << 2)), f32x4.mul(v128.load(p), r)));
      p += stride;
      q += stride;
    }
  }
  for (; t < colEnd; t++) {
    const x0 = x + ((<usize>t) << 2);
    let s: f32 = 0;
    let p = x0;
    for (let c = 0; c < C; c++) {
      const v = load<f32>(p);
      s += v * v;
      p += stride;
    }
    const r = <f32>1.0 / Mathf.sqrt(s * (<f32>1.0 / <f32>C) + eps);
    p = x0;
    let q = out + ((<usize>t) << 2);
    for (let c = 0; c < C; c++) {
      store<f32>(q, load<f32>(gamma + ((<usize>c) << 2)) * (load<f32>(p) * r));
      p += stride;
      q += stride;
    }
  }
}
