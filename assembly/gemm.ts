// The one heavy kernel: every convolution, linear layer, attention product and RVQ distance of the
// model is this GEMM with a row-offset table for B.
//
//   out[m, n] = init(m, n) + sum_{kk < K} a[m * lda + kk] * B(kk)[n]       m < M, n < N
//   B(kk)     = b + rowOffsets[kk] bytes  (an f32 row; consecutive n are contiguous)
//   init      = (init ? init[m * ldo + n] : 0) + (bias ? bias[m] : 0)
//               init: 0, out itself (accumulate), or a residual laid out like out
//
// Layouts: a: [M, K] row-major with row stride lda; out: [M, N] with row stride ldo; all f32.
// With rowOffsets[kk] = ((kk / kw) * ldb + (kk % kw) * dil) * 4 B is the implicit im2col of a
// zero-padded signal x[C, ldb]: a stride-1 dilated convolution needs no patch matrix.
//
// Each output element is the same sequence of operations wherever it falls in a tile and whatever
// [mBegin, mEnd) x [nBegin, nEnd) slice a thread computes (first bias/residual, then products in kk
// order, mul then add), so results are bit-identical for any split of the work.

import { madd } from './simd';

// K is blocked so a 4-row strip of A stays in L1 and a KB x NB panel of B in L2. A call of at most
// KB_WIDE_MAX_COLS columns takes K blocks of KB_WIDE instead (its B block is as small): each tile then
// reloads and stores its accumulators a quarter as often. Measured side by side on one thread, same
// bits: 1024x50x1024 +4-11%, 3072x50x768 +18-22%, 768x50x3072 level to +8%; wider calls with KB 512
// and NB 256 read level or slower, so they keep 256 x 512.
const KB: i32 = 256;
const NB: i32 = 512;
const KB_WIDE: i32 = 1024;
const KB_WIDE_MAX_COLS: i32 = 128;

// The K block of a call (or thread's slice) of `cols` columns; gemm_pack_b and gemm_prepacked agree on
// it because they get the same [nBegin, nEnd).
@inline export function kBlock(cols: i32): i32 {
  return cols <= KB_WIDE_MAX_COLS ? KB_WIDE : KB;
}

@inline function biasLane(bias: usize, m: i32): f32 {
  let v: f32 = 0;
  if (bias != 0) v = load<f32>(bias + ((<usize>m) << 2));
  return v;
}

// Where init holds the element that out holds at o (0 when there is no init).
@inline function initAt(init: usize, out: usize, o: usize): usize {
  return init == 0 ? 0 : init + (o - out);
}

// Where a tile reads B: `packed` (a compile-time constant at every call) picks a panel of packPanels,
// b = the panel, one 32-byte row per step; else b = B itself, row kk at b + rows[kk], from column n.

// 4 rows x w columns, w in 5..8 (8 everywhere but a packed panel's column tail): 8 accumulators, 2 B
// vectors, 1 broadcast and the product temporary = 12 of x64's 16 XMM registers (V8 uses no more). A
// 4x12 tile needs 17 with the temporary: V8 spilled in its inner loop and it ran at half this tile's
// speed (21 against 42 GFLOP/s on one thread).
@inline function tile4x8(
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
@inline function tileRxW(
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
@inline function tile1x16(
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
@inline function tile1xW(
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
@inline function loadCols(p: usize, w: i32): v128 {
  if (w >= 4) return v128.load(p);
  if (w == 1) return v128.load32_zero(p);
  if (w == 2) return v128.load64_zero(p);
  return v128.load32_lane(p, v128.load64_zero(p), 2, 8);
}

// Stores the low w lanes of v to p[0..w), w in 1..4.
@inline function storeCols(p: usize, v: v128, w: i32): void {
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
@inline function initCols(o: usize, i: usize, w: i32, bias: usize, first: bool, m: i32): v128 {
  if (!first) return loadCols(o, w);
  const b = f32x4.splat(biasLane(bias, m));
  return i != 0 ? f32x4.add(loadCols(i, w), b) : b;
}

// ---- Packed B ----
// With enough rows, B's K block x N block is first copied into 8-column panels (panel t: [kb, 8] for
// columns n0 + 8t .. n0 + 8t + 7, zero past the last column), which every row strip then reads
// sequentially: no row-offset load per step, no loads split across cache lines (rows of N = 50 are
// 200 bytes), and long-strided linear-layer rows become one stream. Measured on one thread, pointwise
// shapes ran 10-30% faster from 32 rows up (1024x1024x50, 3072x768x500, 64x500x500, 32x64x160000);
// at 8 rows the copy cost more than it saved (47 against 42 GFLOP/s), at 16 it was level. When threads
// split a call's rows, the runtime has gemm_pack_b pack all of B once into a shared buffer and the
// slices run gemm_prepacked on it, instead of each slice repacking every block of B.

// Panels of B(k0..k1)[n0..n1) at `panel`: ceil((n1 - n0) / 8) panels of (k1 - k0) x 8 floats.
@inline function packPanels(panel: usize, b: usize, rows: usize, n0: i32, n1: i32, k0: i32, k1: i32): void {
  let p = panel;
  for (let n = n0; n < n1; n += 8) {
    const w = min(8, n1 - n);
    const bn = b + ((<usize>n) << 2);
    if (w == 8) {
      for (let kk = k0; kk < k1; kk++) {
        const bp = bn + <usize>load<i32>(rows + ((<usize>kk) << 2));
        v128.store(p, v128.load(bp));
        v128.store(p, v128.load(bp, 16), 16);
        p += 32;
      }
    } else {
      const z = f32x4.splat(0);
      for (let kk = k0; kk < k1; kk++) {
        const bp = bn + <usize>load<i32>(rows + ((<usize>kk) << 2));
        v128.store(p, z);
        v128.store(p, z, 16);
        for (let j = 0; j < w; j++) store<f32>(p + ((<usize>j) << 2), load<f32>(bp + ((<usize>j) << 2)));
        p += 32;
      }
    }
  }
}

// The packed path's scratch: gemm_panel_bytes() bytes, set once per instance by gemm_panel (each
// thread's instance has its own globals, so threads never share a panel). 0: never pack.
let panel: usize = 0;
// Rows a call (or a thread's slice) needs before packing pays for the copy (see "Packed B").
const PACK_MIN_ROWS: i32 = 32;

// Gives this instance its panel: gemm_panel_bytes() bytes at p, used by no other thread (0: none).
export function gemm_panel(p: usize): void {
  panel = p;
}

export function gemm_panel_bytes(): i32 {
  return max(KB * NB, KB_WIDE * KB_WIDE_MAX_COLS) * 4; // both 512 KiB
}

// Whether at most half of B's steps kk read the row of the step before shifted by under a cache line:
// true for linear layers, 1x1 convolutions and attention (every step a row of its own) and for the
// 2-tap phases of strided and transposed convolutions, which run 10-15% faster packed. A k7 convolution
// reads 7 shifted views of each signal row, which the direct path finds in L1; as panels they would
// take 7 times the cache (measured: a 128-channel k7 conv at 44 instead of 51 GFLOP/s packed).
function fewTapsPerRow(rows: usize, K: i32): bool {
  let near = 0;
  for (let kk = 1; kk < K; kk++) {
    const gap = load<i32>(rows + ((<usize>kk) << 2)) - load<i32>(rows + ((<usize>(kk - 1)) << 2));
    if (gap > -64 && gap < 64) near++;
  }
  return 2 * near <= K;
}

export function gemm(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  bias: usize,
  init: usize,
  M: i32,
  N: i32,
  K: i32,
  mBegin: i32,
  mEnd: i32,
  nBegin: i32,
  nEnd: i32,
): void {
  gemmRange(out, ldo, a, lda, b, rows, bias, init, M, N, K, mBegin, mEnd, nBegin, nEnd, 0);
}

// gemm with B already in panels at `packed`, as gemm_pack_b wrote them for columns [nBegin, nEnd)
// (the same nBegin, nEnd here), so the threads that split a call's rows share one copy of B instead of
// each packing all of it. b and rows still serve the row tail (< 4 rows), which reads B directly.
export function gemm_prepacked(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  bias: usize,
  init: usize,
  M: i32,
  N: i32,
  K: i32,
  mBegin: i32,
  mEnd: i32,
  nBegin: i32,
  nEnd: i32,
  packed: usize,
): void {
  gemmRange(out, ldo, a, lda, b, rows, bias, init, M, N, K, mBegin, mEnd, nBegin, nEnd, packed);
}

// Panels [panelBegin, panelEnd) of B's columns [nBegin, nEnd) for gemm_prepacked, every K block (of
// kBlock(nEnd - nBegin) steps): block k0 at packed + k0 * nPanels * 32 bytes (nPanels =
// ceil((nEnd - nBegin) / 8)), its panel j (columns nBegin + 8j ..) at + j * (k1 - k0) * 32, laid out
// as packPanels writes them. Split by panels.
export function gemm_pack_b(
  packed: usize,
  b: usize,
  rows: usize,
  K: i32,
  nBegin: i32,
  nEnd: i32,
  panelBegin: i32,
  panelEnd: i32,
): void {
  const nPanels = (nEnd - nBegin + 7) >> 3;
  const kb = kBlock(nEnd - nBegin);
  for (let k0 = 0; k0 < K; k0 += kb) {
    const k1 = min(K, k0 + kb);
    const p = packed + ((<usize>k0 * nPanels) << 5) + ((<usize>panelBegin * (k1 - k0)) << 5);
    packPanels(p, b, rows, nBegin + 8 * panelBegin, min(nEnd, nBegin + 8 * panelEnd), k0, k1);
  }
}

// Whether gemm packs B for a slice of enough rows (see fewTapsPerRow): 1 or 0.
export function gemm_packs_b(rows: usize, K: i32): i32 {
  return panel != 0 && K > 0 && fewTapsPerRow(rows, K) ? 1 : 0;
}

// out[m, n] = bias[m] + sum_kk a[m, kk] B(kk)[n] with B already in gemm_pack_b's panels for columns
// [0, N) (the Winograd convolution writes its transformed input straight into that layout). M must be a
// multiple of 4: the row tail (< 4 rows) reads B unpacked, which such a caller does not have.
export function gemmPackedPanels(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  bias: usize,
  M: i32,
  N: i32,
  K: i32,
  packed: usize,
): void {
  gemmRange(out, ldo, a, lda, 0, 0, bias, 0, M, N, K, 0, M, 0, N, packed);
}

function gemmRange(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  b: usize,
  rows: usize,
  bias: usize,
  init: usize,
  M: i32,
  N: i32,
  K: i32,
  mBegin: i32,
  mEnd: i32,
  nBegin: i32,
  nEnd: i32,
  packed: usize,
): void {
  if (K == 0) {
    // Degenerate product: out = init only.
    for (let m = mBegin; m < mEnd; m++) {
      for (let n = nBegin; n < nEnd; n++) {
        const o = out + ((<usize>m * ldo + n) << 2);
        const v = biasLane(bias, m);
        store<f32>(o, init != 0 ? load<f32>(initAt(init, out, o)) + v : v);
      }
    }
    return;
  }
  const packB = packed != 0 || (panel != 0 && mEnd - mBegin >= PACK_MIN_ROWS && fewTapsPerRow(rows, K));
  const nPanels = (nEnd - nBegin + 7) >> 3;
  const kb = kBlock(nEnd - nBegin);
  for (let k0 = 0; k0 < K; k0 += kb) {
    const k1 = min(K, k0 + kb);
    const first = k0 == 0;
    for (let n0 = nBegin; n0 < nEnd; n0 += NB) {
      const n1 = min(nEnd, n0 + NB);
      let m = mBegin;
      if (packB) {
        let p = panel;
        if (packed != 0) {
          p = packed + ((<usize>k0 * nPanels) << 5) + ((<usize>((n0 - nBegin) >> 3) * (k1 - k0)) << 5);
        } else {
          packPanels(panel, b, rows, n0, n1, k0, k1);
        }
        m = packedBlock(out, ldo, a, lda, p, bias, init, first, mBegin, mEnd, n0, n1, k0, k1);
      } else {
        for (; m + 4 <= mEnd; m += 4) {
          let n = n0;
          for (; n + 8 <= n1; n += 8) tile4x8(out, ldo, a, lda, b, rows, false, bias, init, first, m, n, 8, k0, k1);
          if (n + 4 <= n1) {
            tileRxW(out, ldo, a, lda, b, rows, false, bias, init, first, m, n, 4, 4, k0, k1);
            n += 4;
          }
          if (n < n1) tileRxW(out, ldo, a, lda, b, rows, false, bias, init, first, m, n, n1 - n, 4, k0, k1);
        }
      }
      for (; m < mEnd; m++) {
        let n = n0;
        for (; n + 16 <= n1; n += 16) tile1x16(out, ldo, a, lda, b, rows, bias, init, first, m, n, k0, k1);
        for (; n < n1; n += 4) tile1xW(out, ldo, a, lda, b, rows, bias, init, first, m, n, min(4, n1 - n), k0, k1);
      }
    }
  }
}

// Rows [mBegin, m) x columns [n0, n1) of one K block through the packed panels at `panels` (packPanels'
// layout): 12-row strips (three 4x8 tiles per panel; a column tail of 5-7 as partial 4x8 tiles, of 1-4
// as two 6-row tiles), then 4-row strips. Returns m, the first row of the row tail (< 4 rows, which the
// caller runs unpacked).
@inline function packedBlock(
  out: usize,
  ldo: i32,
  a: usize,
  lda: i32,
  panels: usize,
  bias: usize,
  init: usize,
  first: bool,
  mBegin: i32,
  mEnd: i32,
  n0: i32,
  n1: i32,
  k0: i32,
  k1: i32,
): i32 {
  const panelBytes = (<usize>(k1 - k0)) << 5;
  const nFull = n0 + ((n1 - n0) & ~7);
  const wTail = n1 - nFull;
  const tailPanel = panels + <usize>((nFull - n0) >> 3) * panelBytes;
  let m = mBegin;
  for (; m + 12 <= mEnd; m += 12) {
    let pb = panels;
    for (let n = n0; n < nFull; n += 8) {
      tile4x8(out, ldo, a, lda, pb, 0, true, bias, init, first, m, n, 8, k0, k1);
      tile4x8(out, ldo, a, lda, pb, 0, true, bias, init, first, m + 4, n, 8, k0, k1);
      tile4x8(out, ldo, a, lda, pb, 0, true, bias, init, first, m + 8, n, 8, k0, k1);
      pb += panelBytes;
    }
    if (wTail > 4) {
      tile4x8(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m, nFull, wTail, k0, k1);
      tile4x8(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m + 4, nFull, wTail, k0, k1);
      tile4x8(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m + 8, nFull, wTail, k0, k1);
    } else if (wTail > 0) {
      tileRxW(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m, nFull, wTail, 6, k0, k1);
      tileRxW(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m + 6, nFull, wTail, 6, k0, k1);
    }
  }
  for (; m + 4 <= mEnd; m += 4) {
    let pb = panels;
    for (let n = n0; n < nFull; n += 8) {
      tile4x8(out, ldo, a, lda, pb, 0, true, bias, init, first, m, n, 8, k0, k1);
      pb += panelBytes;
    }
    if (wTail > 4) tile4x8(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m, nFull, wTail, k0, k1);
    else if (wTail > 0) tileRxW(out, ldo, a, lda, tailPanel, 0, true, bias, init, first, m, nFull, wTail, 4, k0, k1);
  }
  return m;
}

// Row-offset table for B (bytes): rows[kk] = ((kk / kw) * ldb + (kk % kw) * dil) * 4, kk < K.
export function gemm_rows(rows: usize, K: i32, kw: i32, ldb: i32, dil: i32): void {
  for (let kk = 0; kk < K; kk++) {
    const c = kk / kw;
    const k = kk - c * kw;
    store<i32>(rows + ((<usize>kk) << 2), (c * ldb + k * dil) << 2);
  }
}

// The B rows of a strided conv over the phase-split input x[C * s, ldb] (row c*s + r holds phase r of
// channel c), in pack_conv_strided's column order: for each c and r, the taps q with q*s + r < kw.
// rows receives C * kw entries.
export function gemm_rows_phases(rows: usize, C: i32, s: i32, kw: i32, ldb: i32): void {
  let p = rows;
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < s; r++) {
      for (let q = 0; q * s + r < kw; q++) {
        store<i32>(p, ((c * s + r) * ldb + q) << 2);
        p += 4;
      }
    }
  }
}
