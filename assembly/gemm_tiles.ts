// The GEMM's register tiles (gemm.ts runs them over its blocks): 4x8, Rx1..4 column remainders,
// 1x16 and 1xW row tails, and the lane-masked loads and stores of partial columns. Every tile gives
// an output element the same operations in the same order, so any split of the work has the same bits.

import { madd } from './simd';

// Where a tile reads B: `packed` (a compile-time constant at every call) picks a panel of packPanels,
// b = the panel, one 32-byte row per step; else b = B itself, row kk at b + rows[kk], from column n.

@inline export function biasLane(bias: usize, m: i32): f32 {
  let v: f32 = 0;
  if (bias != 0) v = load<f32>(bias + ((<usize>m) << 2));
  return v;
}

// Where init holds the element that out holds at o (0 when there is no init).
@inline export function initAt(init: usize, out: usize, o: usize): usize {
  return init == 0 ? 0 : init + (o - out);
}

// 4 rows x w columns, w in 5..8 (8 everywhere but a packed panel's column tail): 8 accumulators, 2 B
// vectors, 1 broadcast and the product temporary = 12 of x64's 16 XMM registers, so V8 never spills
// (a 4x12 tile would need 17; docs/performance.md has the measurement).
@inline export function tile4x8(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  packed: bool,
  bias: usize,
  init: usize,
  first: bool,
  m: i32,
  n: i32,
  w: i32,
  k0: i32,
  k1: i32,
): void {
  const o0 = out + ((<usize>m * ldo + n) << 2);
  const o1 = o0 + ((<usize>ldo) << 2);
  const o2 = o1 + ((<usize>ldo) << 2);
  const o3 = o2 + ((<usize>ldo) << 2);
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (w == 8) {
    if (first) {
      const b0 = f32x4.splat(biasLane(bias, m));
      const b1 = f32x4.splat(biasLane(bias, m + 1));
      const b2 = f32x4.splat(biasLane(bias, m + 2));
      const b3 = f32x4.splat(biasLane(bias, m + 3));
      if (init != 0) {
        const i0 = initAt(init, out, o0);
        const i1 = i0 + ((<usize>ldo) << 2);
        const i2 = i1 + ((<usize>ldo) << 2);
        const i3 = i2 + ((<usize>ldo) << 2);
        c00 = f32x4.add(v128.load(i0), b0);
        c01 = f32x4.add(v128.load(i0, 16), b0);
        c10 = f32x4.add(v128.load(i1), b1);
        c11 = f32x4.add(v128.load(i1, 16), b1);
        c20 = f32x4.add(v128.load(i2), b2);
        c21 = f32x4.add(v128.load(i2, 16), b2);
        c30 = f32x4.add(v128.load(i3), b3);
        c31 = f32x4.add(v128.load(i3, 16), b3);
      } else {
        c00 = b0;
        c01 = b0;
        c10 = b1;
        c11 = b1;
        c20 = b2;
        c21 = b2;
        c30 = b3;
        c31 = b3;
      }
    } else {
      c00 = v128.load(o0);
      c01 = v128.load(o0, 16);
      c10 = v128.load(o1);
      c11 = v128.load(o1, 16);
      c20 = v128.load(o2);
      c21 = v128.load(o2, 16);
      c30 = v128.load(o3);
      c31 = v128.load(o3, 16);
    }
  } else {
    c00 = initCols(o0, initAt(init, out, o0), 4, bias, first, m);
    c01 = initCols(o0 + 16, initAt(init, out, o0 + 16), w - 4, bias, first, m);
    c10 = initCols(o1, initAt(init, out, o1), 4, bias, first, m + 1);
    c11 = initCols(o1 + 16, initAt(init, out, o1 + 16), w - 4, bias, first, m + 1);
    c20 = initCols(o2, initAt(init, out, o2), 4, bias, first, m + 2);
    c21 = initCols(o2 + 16, initAt(init, out, o2 + 16), w - 4, bias, first, m + 2);
    c30 = initCols(o3, initAt(init, out, o3), 4, bias, first, m + 3);
    c31 = initCols(o3 + 16, initAt(init, out, o3 + 16), w - 4, bias, first, m + 3);
  }
  const bn = b + ((<usize>n) << 2);
  let pp = b;
  let a0 = a + ((<usize>m * lda + k0) << 2);
  const la = (<usize>lda) << 2;
  for (let kk = k0; kk < k1; kk++) {
    let bp = pp;
    if (packed) pp += 32;
    else bp = bn + <usize>load<i32>(rows + ((<usize>kk) << 2));
    const x0 = v128.load(bp);
    const x1 = v128.load(bp, 16);
    let s = v128.load32_splat(a0);
    c00 = madd(s, x0, c00);
    c01 = madd(s, x1, c01);
    s = v128.load32_splat(a0 + la);
    c10 = madd(s, x0, c10);
    c11 = madd(s, x1, c11);
    s = v128.load32_splat(a0 + 2 * la);
    c20 = madd(s, x0, c20);
    c21 = madd(s, x1, c21);
    s = v128.load32_splat(a0 + 3 * la);
    c30 = madd(s, x0, c30);
    c31 = madd(s, x1, c31);
    a0 += 4;
  }
  if (w == 8) {
    v128.store(o0, c00);
    v128.store(o0, c01, 16);
    v128.store(o1, c10);
    v128.store(o1, c11, 16);
    v128.store(o2, c20);
    v128.store(o2, c21, 16);
    v128.store(o3, c30);
    v128.store(o3, c31, 16);
  } else {
    v128.store(o0, c00);
    storeCols(o0 + 16, c01, w - 4);
    v128.store(o1, c10);
    storeCols(o1 + 16, c11, w - 4);
    v128.store(o2, c20);
    storeCols(o2 + 16, c21, w - 4);
    v128.store(o3, c30);
    storeCols(o3 + 16, c31, w - 4);
  }
}

// R rows (4 or 6) x w columns, w in 1..4: column remainders, in R independent chains (a 1x4 tile per
// row would be a single chain, bound by the add latency). Unpacked, fewer than 4 columns are read and
// written lane by lane, never past column n + w; a packed panel is zero past its last column. Each
// lane runs the same operations as in the wider tiles. R = 6 covers a packed 12-row strip in two tiles
// of 6 chains where 4-row tiles (4 chains) left half the FMA throughput unused. Not 8 rows: V8 issues a
// loop's loads before its arithmetic, so 8 accumulators, 8 broadcasts and the B vector need 17 XMM
// registers, and it spilled one chain to the stack.
@inline export function tileRxW(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  packed: bool,
  bias: usize,
  init: usize,
  first: bool,
  m: i32,
  n: i32,
  w: i32,
  R: i32,
  k0: i32,
  k1: i32,
): void {
  const ro = (<usize>ldo) << 2;
  const o0 = out + ((<usize>m * ldo + n) << 2);
  let c0 = initCols(o0, initAt(init, out, o0), w, bias, first, m);
  let c1 = initCols(o0 + ro, initAt(init, out, o0 + ro), w, bias, first, m + 1);
  let c2 = initCols(o0 + 2 * ro, initAt(init, out, o0 + 2 * ro), w, bias, first, m + 2);
  let c3 = initCols(o0 + 3 * ro, initAt(init, out, o0 + 3 * ro), w, bias, first, m + 3);
  let c4 = c0,
    c5 = c0;
  if (R == 6) {
    c4 = initCols(o0 + 4 * ro, initAt(init, out, o0 + 4 * ro), w, bias, first, m + 4);
    c5 = initCols(o0 + 5 * ro, initAt(init, out, o0 + 5 * ro), w, bias, first, m + 5);
  }
  const bn = b + ((<usize>n) << 2);
  let pp = b;
  let a0 = a + ((<usize>m * lda + k0) << 2);
  const la = (<usize>lda) << 2;
  for (let kk = k0; kk < k1; kk++) {
    let x: v128;
    if (packed) {
      x = v128.load(pp);
      pp += 32;
    } else {
      x = loadCols(bn + <usize>load<i32>(rows + ((<usize>kk) << 2)), w);
    }
    c0 = madd(v128.load32_splat(a0), x, c0);
    c1 = madd(v128.load32_splat(a0 + la), x, c1);
    c2 = madd(v128.load32_splat(a0 + 2 * la), x, c2);
    c3 = madd(v128.load32_splat(a0 + 3 * la), x, c3);
    if (R == 6) {
      c4 = madd(v128.load32_splat(a0 + 4 * la), x, c4);
      c5 = madd(v128.load32_splat(a0 + 5 * la), x, c5);
    }
    a0 += 4;
  }
  storeCols(o0, c0, w);
  storeCols(o0 + ro, c1, w);
  storeCols(o0 + 2 * ro, c2, w);
  storeCols(o0 + 3 * ro, c3, w);
  if (R == 6) {
    storeCols(o0 + 4 * ro, c4, w);
    storeCols(o0 + 5 * ro, c5, w);
  }
}

// One row x 16 columns: the row tail (M % 4), in four independent chains.
@inline export function tile1x16(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  bias: usize,
  init: usize,
  first: bool,
  m: i32,
  n: i32,
  k0: i32,
  k1: i32,
): void {
  const o = out + ((<usize>m * ldo + n) << 2);
  let c0 = initCols(o, initAt(init, out, o), 4, bias, first, m);
  let c1 = initCols(o + 16, initAt(init, out, o + 16), 4, bias, first, m);
  let c2 = initCols(o + 32, initAt(init, out, o + 32), 4, bias, first, m);
  let c3 = initCols(o + 48, initAt(init, out, o + 48), 4, bias, first, m);
  const bn = b + ((<usize>n) << 2);
  let ap = a + ((<usize>m * lda + k0) << 2);
  for (let kk = k0; kk < k1; kk++) {
    const bp = bn + <usize>load<i32>(rows + ((<usize>kk) << 2));
    const x = v128.load32_splat(ap);
    c0 = madd(x, v128.load(bp), c0);
    c1 = madd(x, v128.load(bp, 16), c1);
    c2 = madd(x, v128.load(bp, 32), c2);
    c3 = madd(x, v128.load(bp, 48), c3);
    ap += 4;
  }
  v128.store(o, c0);
  v128.store(o, c1, 16);
  v128.store(o, c2, 32);
  v128.store(o, c3, 48);
}

// One row x w columns, w in 1..4: what a row tail has left after its 16-column tiles.
@inline export function tile1xW(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  bias: usize,
  init: usize,
  first: bool,
  m: i32,
  n: i32,
  w: i32,
  k0: i32,
  k1: i32,
): void {
  const o = out + ((<usize>m * ldo + n) << 2);
  let c = initCols(o, initAt(init, out, o), w, bias, first, m);
  const bn = b + ((<usize>n) << 2);
  let ap = a + ((<usize>m * lda + k0) << 2);
  for (let kk = k0; kk < k1; kk++) {
    c = madd(v128.load32_splat(ap), loadCols(bn + <usize>load<i32>(rows + ((<usize>kk) << 2)), w), c);
    ap += 4;
  }
  storeCols(o, c, w);
}

// Columns p[0..w), w in 1..4, in the low lanes; the other lanes zero.
@inline export function loadCols(p: usize, w: i32): v128 {
  if (w >= 4) return v128.load(p);
  if (w == 1) return v128.load32_zero(p);
  if (w == 2) return v128.load64_zero(p);
  return v128.load32_lane(p, v128.load64_zero(p), 2, 8);
}

// Stores the low w lanes of v to p[0..w), w in 1..4.
@inline export function storeCols(p: usize, v: v128, w: i32): void {
  if (w >= 4) {
    v128.store(p, v);
  } else if (w == 1) {
    v128.store32_lane(p, v, 0);
  } else {
    v128.store64_lane(p, v, 0);
    if (w == 3) v128.store32_lane(p, v, 2, 8);
  }
}

// A tile's starting accumulator for columns o[0..w) of row m: on the first K block the bias (plus the
// init values at i unless i is 0, added in tile4x8's order), later the partial sums already in out.
@inline export function initCols(o: usize, i: usize, w: i32, bias: usize, first: bool, m: i32): v128 {
  if (!first) return loadCols(o, w);
  const b = f32x4.splat(biasLane(bias, m));
  return i != 0 ? f32x4.add(loadCols(i, w), b) : b;
}
