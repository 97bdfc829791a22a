// Activations, norms and data movement. Activation tensors are channel-major [C, T] row-major f32
// (PyTorch's NCT for one batch item); the transformer uses the same layout ([H, T]), so a linear layer
// is a 1x1 convolution and LayerNorm normalises each column.
// Kernels that take [rowBegin, rowEnd) are split across threads by rows.

import { expNonPositivev, sin2v, geluv, eluv, sigmoidv } from './simd';

// Applies a vector function to x[i..n) -> out. Eight independent vectors per iteration: the functions
// are long dependent chains (polynomials, exp), and a loop of one vector runs at their latency, not at
// the core's throughput (gelu 5.7 ns per element with one vector, 3.1 with four, 2.0-2.2 with eight,
// even though eight chains spill some of their registers). The rest goes four lanes, then one lane at
// a time through the same vector code, so every element is computed identically wherever it falls.
@inline function mapVec(out: usize, x: usize, n: i32, i: i32, kind: i32): void {
  for (; i + 32 <= n; i += 32) {
    const o = <usize>i << 2;
    const a = apply(v128.load(x + o), kind);
    const b = apply(v128.load(x + o, 16), kind);
    const c = apply(v128.load(x + o, 32), kind);
    const d = apply(v128.load(x + o, 48), kind);
    const e = apply(v128.load(x + o, 64), kind);
    const f = apply(v128.load(x + o, 80), kind);
    const g = apply(v128.load(x + o, 96), kind);
    const h = apply(v128.load(x + o, 112), kind);
    v128.store(out + o, a); v128.store(out + o, b, 16); v128.store(out + o, c, 32); v128.store(out + o, d, 48);
    v128.store(out + o, e, 64); v128.store(out + o, f, 80); v128.store(out + o, g, 96); v128.store(out + o, h, 112);
  }
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), apply(v128.load(x + (<usize>i << 2)), kind));
  for (; i < n; i++) {
    const v = f32x4.splat(load<f32>(x + (<usize>i << 2)));
    store<f32>(out + (<usize>i << 2), f32x4.extract_lane(apply(v, kind), 0));
  }
}

const GELU: i32 = 0;
const ELU: i32 = 1;
const SIGMOID: i32 = 2;

@inline function apply(v: v128, kind: i32): v128 {
  if (kind == GELU) return geluv(v);
  if (kind == ELU) return eluv(v);
  return sigmoidv(v);
}

// out[i] = gelu(x[i]) (exact erf form), i in [begin, end). out may equal x.
export function gelu(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, GELU);
}

// out[i] = elu(x[i]) with alpha 1, i in [begin, end). out may equal x.
export function elu(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, ELU);
}

// out[i] = 1 / (1 + e^-x[i]), i in [begin, end).
export function sigmoid(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, SIGMOID);
}

// out[i] = a[i] + b[i], i in [begin, end).
export function add(out: usize, a: usize, b: usize, begin: i32, end: i32): void {
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

// out[i] = x[i] * s, i in [begin, end).
export function scale(out: usize, x: usize, s: f32, begin: i32, end: i32): void {
  const sv = f32x4.splat(s);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * s);
  }
}

// Snake: out[c, padLeft + t] = x[c, t] + sin(alpha[c] x[c, t])^2 / (alpha[c] + 1e-9), with zero
// margins. x: [C, T]; out: [C, padLeft + T + padRight], so a convolution's zero padding is written in the
// same pass (no separate pad copy). out may be x itself when there is no padding.
export function snake(out: usize, x: usize, alpha: usize, T: i32, padLeft: i32, padRight: i32, rowBegin: i32, rowEnd: i32): void {
  const To = padLeft + T + padRight;
  for (let c = rowBegin; c < rowEnd; c++) {
    const a = load<f32>(alpha + (<usize>c << 2));
    const inv: f32 = <f32>1.0 / (a + <f32>1e-9);
    const av = f32x4.splat(a);
    const iv = f32x4.splat(inv);
    const xr = x + ((<usize>c * T) << 2);
    const row = out + ((<usize>c * To) << 2);
    memory.fill(row, 0, <usize>padLeft << 2);
    memory.fill(row + ((<usize>(padLeft + T)) << 2), 0, <usize>padRight << 2);
    const or = row + (<usize>padLeft << 2);
    let t = 0;
    // six independent vectors per iteration, as in mapVec (0.91 ns per element with one, 0.67-0.83 with three)
    for (; t + 24 <= T; t += 24) {
      const o = <usize>t << 2;
      const v0 = v128.load(xr + o);
      const v1 = v128.load(xr + o, 16);
      const v2 = v128.load(xr + o, 32);
      const v3 = v128.load(xr + o, 48);
      const v4 = v128.load(xr + o, 64);
      const v5 = v128.load(xr + o, 80);
      const r0 = f32x4.add(v0, f32x4.mul(iv, sin2v(f32x4.mul(av, v0))));
      const r1 = f32x4.add(v1, f32x4.mul(iv, sin2v(f32x4.mul(av, v1))));
      const r2 = f32x4.add(v2, f32x4.mul(iv, sin2v(f32x4.mul(av, v2))));
      const r3 = f32x4.add(v3, f32x4.mul(iv, sin2v(f32x4.mul(av, v3))));
      const r4 = f32x4.add(v4, f32x4.mul(iv, sin2v(f32x4.mul(av, v4))));
      const r5 = f32x4.add(v5, f32x4.mul(iv, sin2v(f32x4.mul(av, v5))));
      v128.store(or + o, r0); v128.store(or + o, r1, 16); v128.store(or + o, r2, 32);
      v128.store(or + o, r3, 48); v128.store(or + o, r4, 64); v128.store(or + o, r5, 80);
    }
    for (; t + 4 <= T; t += 4) {
      const v = v128.load(xr + (<usize>t << 2));
      v128.store(or + (<usize>t << 2), f32x4.add(v, f32x4.mul(iv, sin2v(f32x4.mul(av, v)))));
    }
    for (; t < T; t++) {
      const v = f32x4.splat(load<f32>(xr + (<usize>t << 2)));
      const r = f32x4.add(v, f32x4.mul(iv, sin2v(f32x4.mul(av, v))));
      store<f32>(or + (<usize>t << 2), f32x4.extract_lane(r, 0));
    }
  }
}

// Per-row normalisation over T (GroupNorm with one channel per group): x, out: [C, T].
// Two passes (mean, then centred variance) in f32 like PyTorch's CPU group norm.
export function group_norm_rows(out: usize, x: usize, gamma: usize, beta: usize, T: i32, eps: f32,
  rowBegin: i32, rowEnd: i32): void {
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
    store<f32>(stats + (<usize>c << 3), mean);
    store<f32>(stats + (<usize>c << 3), rowRstd(xr, T, mean, eps), 4);
  }
}

export function group_norm_apply(out: usize, x: usize, gamma: usize, beta: usize, stats: usize, T: i32,
  rowBegin: i32, rowEnd: i32): void {
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = (<usize>c * T) << 2;
    normRowWith(out + o, x + o, T, gamma, beta, c, load<f32>(stats + (<usize>c << 3)), load<f32>(stats + (<usize>c << 3), 4));
  }
}

@inline function rowMean(xr: usize, T: i32): f32 {
  return rowSum(xr, T) / <f32>T;
}

@inline function rowRstd(xr: usize, T: i32, mean: f32, eps: f32): f32 {
  const var_ = rowSumSqDev(xr, T, mean) / <f32>T;
  return <f32>1.0 / Mathf.sqrt(var_ + eps);
}

@inline function normRowWith(or: usize, xr: usize, T: i32, gamma: usize, beta: usize, c: i32, mean: f32, rstd: f32): void {
  const g = load<f32>(gamma + (<usize>c << 2));
  const b = load<f32>(beta + (<usize>c << 2));
  normRow(or, xr, T, mean, rstd * g, b, g);
}

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

function rowSum(x: usize, T: i32): f32 {
  let acc = f32x4.splat(0);
  let t = 0;
  for (; t + 4 <= T; t += 4) acc = f32x4.add(acc, v128.load(x + (<usize>t << 2)));
  let s = hsum(acc);
  for (; t < T; t++) s += load<f32>(x + (<usize>t << 2));
  return s;
}

function rowSumSqDev(x: usize, T: i32, mean: f32): f32 {
  const mv = f32x4.splat(mean);
  let acc = f32x4.splat(0);
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const d = f32x4.sub(v128.load(x + (<usize>t << 2)), mv);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let s = hsum(acc);
  for (; t < T; t++) {
    const d = load<f32>(x + (<usize>t << 2)) - mean;
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
    const o = <usize>t << 2;
    v128.store(out + o, f32x4.add(f32x4.mul(f32x4.sub(v128.load(x + o), mv), kv), bv));
  }
  for (; t < T; t++) {
    const o = <usize>t << 2;
    store<f32>(out + o, (load<f32>(x + o) - mean) * k + b);
  }
}

// LayerNorm over the channel axis of x: [C, T] for each column t in [colBegin, colEnd).
// Columns are processed four at a time with the channel loop inside, so memory is read row-wise.
export function layer_norm_cols(out: usize, x: usize, gamma: usize, beta: usize, C: i32, T: i32, eps: f32,
  colBegin: i32, colEnd: i32): void {
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

@inline function layerNorm4(out: usize, x: usize, gamma: usize, beta: usize, C: i32, T: i32, t: i32,
  invC: v128, epsv: v128): void {
  const stride = <usize>T << 2;
  const x0 = x + (<usize>t << 2);
  const o0 = out + (<usize>t << 2);
  let s = f32x4.splat(0);
  let p = x0;
  for (let c = 0; c < C; c++) { s = f32x4.add(s, v128.load(p)); p += stride; }
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
    const g = v128.load32_splat(gamma + (<usize>c << 2));
    const b = v128.load32_splat(beta + (<usize>c << 2));
    v128.store(q, f32x4.add(f32x4.mul(f32x4.mul(f32x4.sub(v128.load(p), mean), rstd), g), b));
    p += stride;
    q += stride;
  }
}

function layerNorm1(out: usize, x: usize, gamma: usize, beta: usize, C: i32, T: i32, t: i32, eps: f32): void {
  const stride = <usize>T << 2;
  const x0 = x + (<usize>t << 2);
  let s: f32 = 0;
  let p = x0;
  for (let c = 0; c < C; c++) { s += load<f32>(p); p += stride; }
  const mean = s * (<f32>1.0 / <f32>C);
  let v: f32 = 0;
  p = x0;
  for (let c = 0; c < C; c++) { const d = load<f32>(p) - mean; v += d * d; p += stride; }
  const rstd = <f32>1.0 / Mathf.sqrt(v * (<f32>1.0 / <f32>C) + eps);
  p = x0;
  let q = out + (<usize>t << 2);
  for (let c = 0; c < C; c++) {
    store<f32>(q, (load<f32>(p) - mean) * rstd * load<f32>(gamma + (<usize>c << 2)) + load<f32>(beta + (<usize>c << 2)));
    p += stride;
    q += stride;
  }
}

// Softmax down each column of s: [R, Cn] (normalises over rows r for every column), in place,
// columns [colBegin, colEnd). Attention scores are stored transposed (keys x queries) so this is the
// usual softmax over keys. scratch: 2 rows of ceil(Cn / 16) * 16 f32 (64-byte aligned), the running
// max and sum of each column; a call touches only its own columns there, so threads working on
// disjoint column ranges share it, and with ranges split at multiples of 16 columns no cache line of
// it is written by two threads (it is updated for every row).
//
// The passes walk rows (contiguous), not columns: a column walk reads 16 bytes per 2 KB stride and
// chains every row's max and add, several times slower. Per column the operations and their order are
// the same whatever the range or the lane, so results do not depend on how columns are split.
// pmax is x64's plain maxps; f32x4.max's NaN and signed-zero rules cost several instructions and would
// change no result (a NaN score makes its column's sum, so all of the column, NaN either way).
export function softmax_cols(s: usize, R: i32, Cn: i32, scratch: usize, colBegin: i32, colEnd: i32): void {
  const stride = <usize>Cn << 2;
  const mx = scratch;
  const sum = scratch + ((<usize>(Cn + 15) & ~15) << 2);
  const vecEnd = colBegin + ((colEnd - colBegin) & ~3);
  for (let t = colBegin; t < colEnd; t++) {
    store<f32>(mx + (<usize>t << 2), -Infinity);
    store<f32>(sum + (<usize>t << 2), 0);
  }
  let row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = <usize>t << 2;
      v128.store(mx + o, f32x4.pmax(v128.load(mx + o), v128.load(row + o)));
    }
    for (; t < colEnd; t++) {
      const o = <usize>t << 2;
      const m = load<f32>(mx + o);
      const v = load<f32>(row + o);
      store<f32>(mx + o, m < v ? v : m);
    }
    row += stride;
  }
  const vec6End = colBegin + (vecEnd - colBegin) / 24 * 24;
  row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vec6End; t += 24) { // six independent exps per iteration, as in mapVec
      const o = <usize>t << 2;
      const e0 = expNonPositivev(f32x4.sub(v128.load(row + o), v128.load(mx + o)));
      const e1 = expNonPositivev(f32x4.sub(v128.load(row + o, 16), v128.load(mx + o, 16)));
      const e2 = expNonPositivev(f32x4.sub(v128.load(row + o, 32), v128.load(mx + o, 32)));
      const e3 = expNonPositivev(f32x4.sub(v128.load(row + o, 48), v128.load(mx + o, 48)));
      const e4 = expNonPositivev(f32x4.sub(v128.load(row + o, 64), v128.load(mx + o, 64)));
      const e5 = expNonPositivev(f32x4.sub(v128.load(row + o, 80), v128.load(mx + o, 80)));
      v128.store(row + o, e0); v128.store(row + o, e1, 16); v128.store(row + o, e2, 32);
      v128.store(row + o, e3, 48); v128.store(row + o, e4, 64); v128.store(row + o, e5, 80);
      v128.store(sum + o, f32x4.add(v128.load(sum + o), e0));
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 16), e1), 16);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 32), e2), 32);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 48), e3), 48);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 64), e4), 64);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 80), e5), 80);
    }
    for (; t < vecEnd; t += 4) {
      const o = <usize>t << 2;
      const e = expNonPositivev(f32x4.sub(v128.load(row + o), v128.load(mx + o)));
      v128.store(row + o, e);
      v128.store(sum + o, f32x4.add(v128.load(sum + o), e));
    }
    for (; t < colEnd; t++) {
      const o = <usize>t << 2;
      const e = f32x4.extract_lane(expNonPositivev(f32x4.splat(load<f32>(row + o) - load<f32>(mx + o))), 0);
      store<f32>(row + o, e);
      store<f32>(sum + o, load<f32>(sum + o) + e);
    }
    row += stride;
  }
  // The reciprocals replace the maxima in scratch.
  for (let t = colBegin; t < colEnd; t++) store<f32>(mx + (<usize>t << 2), <f32>1.0 / load<f32>(sum + (<usize>t << 2)));
  row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = <usize>t << 2;
      v128.store(row + o, f32x4.mul(v128.load(row + o), v128.load(mx + o)));
    }
    for (; t < colEnd; t++) {
      const o = <usize>t << 2;
      store<f32>(row + o, load<f32>(row + o) * load<f32>(mx + o));
    }
    row += stride;
  }
}

// Copies x: [C, T] into out: [C, T + padLeft + padRight] with zero margins (the implicit im2col of
// gemm reads past each row's ends into these zeros).
export function pad_rows(out: usize, x: usize, T: i32, padLeft: i32, padRight: i32, rowBegin: i32, rowEnd: i32): void {
  const To = T + padLeft + padRight;
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = out + ((<usize>c * To) << 2);
    memory.fill(o, 0, <usize>padLeft << 2);
    memory.copy(o + (<usize>padLeft << 2), x + ((<usize>c * T) << 2), <usize>T << 2);
    memory.fill(o + ((<usize>(padLeft + T)) << 2), 0, <usize>padRight << 2);
  }
}

// Stores column j of the 4x4 matrix with rows a, b, c, d at p + j * stride (bytes).
@inline function storeTransposed(a: v128, b: v128, c: v128, d: v128, p: usize, stride: usize): void {
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(p, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
  v128.store(p + stride, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7));
  v128.store(p + 2 * stride, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5));
  v128.store(p + 3 * stride, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7));
}

// Polyphase split for strided convolution: out[c * s + r, m] = x[c, m * s + r] for m < Tp, zero where
// m * s + r >= T. x: [C, T], out: [C * s, Tp]. A stride-s conv over x is then a stride-1 conv over out.
// Reads x in order and writes the s phase rows side by side; only the last, partial group needs the
// bounds check (a per-element check and strided reads ran at ~1 ns per element).
export function deinterleave(out: usize, x: usize, T: i32, s: i32, Tp: i32, rowBegin: i32, rowEnd: i32): void {
  const phase = <usize>Tp << 2;
  const full = min(Tp, T / s);
  const group = <usize>s << 2; // bytes of x per group of s samples
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = out + ((<usize>(c * s) * Tp) << 2);
    let xp = x + ((<usize>c * T) << 2);
    let m = 0;
    if (s == 2) {
      for (; m + 4 <= full; m += 4) {
        const a = v128.load(xp);
        const b = v128.load(xp, 16);
        v128.store(o + (<usize>m << 2), i32x4.shuffle(a, b, 0, 2, 4, 6));
        v128.store(o + phase + (<usize>m << 2), i32x4.shuffle(a, b, 1, 3, 5, 7));
        xp += 32;
      }
    } else if (s == 4 || s == 8) {
      // 4 groups at a time: the 4x4 transposes of their first (and for s = 8, second) four phases
      for (; m + 4 <= full; m += 4) {
        const op = o + (<usize>m << 2);
        storeTransposed(v128.load(xp), v128.load(xp + group), v128.load(xp + 2 * group), v128.load(xp + 3 * group), op, phase);
        if (s == 8) {
          storeTransposed(v128.load(xp, 16), v128.load(xp + group, 16), v128.load(xp + 2 * group, 16), v128.load(xp + 3 * group, 16),
            op + 4 * phase, phase);
        }
        xp += 4 * group;
      }
    }
    // the remaining whole groups (every group for other strides), one sample at a time
    for (; m < full; m++) {
      let op = o + (<usize>m << 2);
      for (let r = 0; r < s; r++) {
        store<f32>(op, load<f32>(xp));
        xp += 4;
        op += phase;
      }
    }
    for (let m = full; m < Tp; m++) {
      for (let r = 0; r < s; r++) {
        const i = m * s + r;
        store<f32>(o + <usize>r * phase + (<usize>m << 2), i < T ? load<f32>(x + ((<usize>c * T + i) << 2)) : 0);
      }
    }
  }
}

// Inverse of the transposed convolution's phase split: out[c, t] = y[c, p, n] with t = n * s + p - shift,
// for the output range t in [0, Tout). y: [C, s, Tn] (phase p's stride-1 result in row c * s + p).
// Walks t in order with (n, p) carried along: whole groups of s outputs read the s phase rows side by
// side, the partial groups at both ends one element at a time (a division per element ran at ~1.8 ns).
export function interleave(out: usize, y: usize, s: i32, Tn: i32, shift: i32, Tout: i32, rowBegin: i32, rowEnd: i32): void {
  const phase = <usize>Tn << 2;
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = out + ((<usize>c * Tout) << 2);
    const y0 = y + ((<usize>(c * s) * Tn) << 2);
    let n = shift / s;
    let p = shift - n * s;
    let t = 0;
    for (; p != 0 && t < Tout; t++) {
      store<f32>(o + (<usize>t << 2), load<f32>(y0 + <usize>p * phase + (<usize>n << 2)));
      if (++p == s) {
        p = 0;
        n++;
      }
    }
    if (s == 2) {
      for (; t + 8 <= Tout; t += 8) {
        const a = v128.load(y0 + (<usize>n << 2));
        const b = v128.load(y0 + phase + (<usize>n << 2));
        v128.store(o + (<usize>t << 2), i32x4.shuffle(a, b, 0, 4, 1, 5));
        v128.store(o + (<usize>t << 2), i32x4.shuffle(a, b, 2, 6, 3, 7), 16);
        n += 4;
      }
    }
    if (s == 4 || s == 8) {
      // 4 groups at a time: transposing 4 columns of the first (and second) four phase rows gives each
      // group's outputs in order
      const g = <usize>s << 2; // bytes per group of outputs
      for (; t + 4 * s <= Tout; t += 4 * s) {
        const yp = y0 + (<usize>n << 2);
        const op = o + (<usize>t << 2);
        storeTransposed(v128.load(yp), v128.load(yp + phase), v128.load(yp + 2 * phase), v128.load(yp + 3 * phase), op, g);
        if (s == 8) {
          const yq = yp + 4 * phase;
          storeTransposed(v128.load(yq), v128.load(yq + phase), v128.load(yq + 2 * phase), v128.load(yq + 3 * phase), op + 16, g);
        }
        n += 4;
      }
    }
    for (; t + s <= Tout; t += s) {
      let yp = y0 + (<usize>n << 2);
      const op = o + (<usize>t << 2);
      for (let q = 0; q < s; q++) {
        store<f32>(op + (<usize>q << 2), load<f32>(yp));
        yp += phase;
      }
      n++;
    }
    for (let q = 0; t < Tout; t++, q++) store<f32>(o + (<usize>t << 2), load<f32>(y0 + <usize>q * phase + (<usize>n << 2)));
  }
}

// out[j, i] = x[i, j]; x: [R, Cn] -> out: [Cn, R].
export function transpose(out: usize, x: usize, R: i32, Cn: i32, rowBegin: i32, rowEnd: i32): void {
  for (let i = rowBegin; i < rowEnd; i++) {
    const xr = x + ((<usize>i * Cn) << 2);
    for (let j = 0; j < Cn; j++) store<f32>(out + ((<usize>j * R + i) << 2), load<f32>(xr + (<usize>j << 2)));
  }
}

// Weight norm: w = v * g / ||v|| with the norm over every axis but `dim`, for v viewed as
// [outer, D, inner] where D is the kept axis; g: [D]. Accumulated in f64 (load time only).
export function weight_norm(out: usize, v: usize, g: usize, outer: i32, D: i32, inner: i32): void {
  for (let d = 0; d < D; d++) {
    let s: f64 = 0;
    for (let o = 0; o < outer; o++) {
      const base = v + ((<usize>(o * D + d) * inner) << 2);
      for (let i = 0; i < inner; i++) { const e = <f64>load<f32>(base + (<usize>i << 2)); s += e * e; }
    }
    const k: f32 = <f32>(<f64>load<f32>(g + (<usize>d << 2)) / Math.sqrt(s));
    for (let o = 0; o < outer; o++) {
      const off = (<usize>(o * D + d) * inner) << 2;
      for (let i = 0; i < inner; i++) {
        const p = <usize>i << 2;
        store<f32>(out + off + p, load<f32>(v + off + p) * k);
      }
    }
  }
}

// Repacks a strided Conv1d weight w: [cout, cin, K] into out: [cout, cin * K] for the phase-split conv:
// row co holds, for each input channel c and phase r < s, the taps q*s + r < K in q order:
// out[co, ...] = w[co, c, q*s + r]. A phase with fewer taps than ceil(K / s) (K % s != 0) gets no
// zero columns, so the GEMM multiplies nothing by zero (gemm_rows_phases lists the matching B rows).
export function pack_conv_strided(out: usize, w: usize, cout: i32, cin: i32, K: i32, s: i32): void {
  let o = out;
  for (let co = 0; co < cout; co++) {
    for (let c = 0; c < cin; c++) {
      const row = w + ((<usize>(co * cin + c) * K) << 2);
      for (let r = 0; r < s; r++) {
        for (let k = r; k < K; k += s) {
          store<f32>(o, load<f32>(row + (<usize>k << 2)));
          o += 4;
        }
      }
    }
  }
}

// Repacks a ConvTranspose1d weight w: [cin, cout, K] into out: [cout * s, cin * taps] with
// out[co*s + ph, ci*taps + j] = w[ci, co, ph + (taps - 1 - j) * s] (zero where that tap is >= K).
export function pack_conv_transpose(out: usize, w: usize, cin: i32, cout: i32, K: i32, s: i32, taps: i32): void {
  let o = out;
  for (let co = 0; co < cout; co++) {
    for (let ph = 0; ph < s; ph++) {
      for (let ci = 0; ci < cin; ci++) {
        const row = w + ((<usize>(ci * cout + co) * K) << 2);
        for (let j = 0; j < taps; j++) {
          const k = ph + (taps - 1 - j) * s;
          store<f32>(o, k < K ? load<f32>(row + (<usize>k << 2)) : 0);
          o += 4;
        }
      }
    }
  }
}
