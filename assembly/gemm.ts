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

import { biasLane, initAt, initCols, loadCols, storeCols, tile1x16, tile1xW, tile4x8, tileRxW } from './gemm_tiles';
import { madd } from './simd';

// K is blocked so a 4-row strip of A stays in L1 and a KB x NB panel of B in L2. A call of at most
// KB_WIDE_MAX_COLS columns takes K blocks of KB_WIDE instead (its B block is as small): each tile then
// reloads and stores its accumulators a quarter as often (docs/performance.md, "GEMM blocking").
const KB: i32 = 256;
const NB: i32 = 512;
const KB_WIDE: i32 = 1024;
const KB_WIDE_MAX_COLS: i32 = 128;

// The K block of a call (or thread's slice) of `cols` columns; gemm_pack_b and gemm_prepacked agree on
// it because they get the same [nBegin, nEnd).
@inline export function kBlock(cols: i32): i32 {
  return cols <= KB_WIDE_MAX_COLS ? KB_WIDE : KB;
}

// ---- Packed B ----
// With enough rows, B's K block x N block is first copied into 8-column panels (panel t: [kb, 8] for
// columns n0 + 8t .. n0 + 8t + 7, zero past the last column), which every row strip then reads
// sequentially: no row-offset load per step, no loads split across cache lines (rows of N = 50 are
// 200 bytes), and long-strided linear-layer rows become one stream; it pays from 32 rows up
// (docs/performance.md, "GEMM blocking"). When threads
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
// 2-tap phases of strided and transposed convolutions, which gain from packing. A k7 convolution reads
// 7 shifted views of each signal row, which the direct path finds in L1; as panels they would take 7
// times the cache (docs/performance.md, "GEMM blocking").
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
