// Winograd minimal filtering F(4, 7) for the stride-1 dilated convolutions (the residual units' kernel-7
// convs): 4 outputs of a tile from alpha = 10 products per channel pair instead of 28. With
// U_p = (G w)_p: [cout, cin] (winograd_weights, once at load), per tile column n and point p < alpha
//   V_p[ci, n] = sum_k BT[p, k] xq[ci, s(n) + k d]                   (input transform)
//   M_p        = U_p V_p                                               (alpha GEMMs over the channels)
//   y[co, s(n) + i d - shift] = sum_p AT[i, p] M_p[co, n] + bias[co]   (output transform, i < 4)
// Output position t (counted with `shift`: xq is the input padded with that many more zeros on the
// left) belongs to block b = t / 4d, class r = t % d: the tile of (b, r) starts at s = 4 b d + r and
// holds its outputs s, s + d, s + 2d, s + 3d. The tile boundaries thus sit where the signal's own
// position (output index + shift) is a multiple of 4d: a window whose first output is at global position
// o is called with shift = o mod 4d and computes each of its outputs in the same tile, with the same
// operations, as one call over the whole signal.
//
// A vector holds 4 tiles of one class r in 4 consecutive blocks: column n is block 4 (n / 4d) + n % 4,
// class (n % 4d) / 4. Its lanes' taps then sit 4d apart, so the alpha tap vectors of a lane group are a
// 4 x 4 transpose of 6 vectors of z[j] = xq[base + j d] (plain loads when d = 1), and for d = 1 the
// group's 16 outputs are contiguous (a transpose back, 4 vector stores).
//
// The points come in pairs +a, -a between 0 (first) and infinity (last), so row -a of BT is row +a with
// its odd taps negated and column -a of AT is column +a with odd outputs negated: a pair costs one set
// of even and one of odd products (src/winograd.ts checks the structure).
//
// Each column's transforms read and write only that column, and the GEMM gives every element the same
// operations whatever columns a call covers (gemm.ts), so the result is bit-identical for any split of
// [tileBegin, tileEnd) into threads and chunks.

import { gemmPackedPanels, kBlock } from './gemm';
import { madd } from './simd';

// V and M of one chunk of tile columns: alpha * (cin + cout) * cols floats. 1 MiB keeps a 512-channel
// chunk (24 columns) in L2 from the input transform through the GEMMs to the output transform.
// At most 128 columns: the GEMM's wide K block (1024) then covers every cin up to 1024 in one pass.
// 2 MiB and 512 columns (more columns per GEMM call for 64 channels) read level in an A B A B run.
const CHUNK_BYTES: i32 = 1 << 20;
const MAX_COLS: i32 = 128;

// Each point's plane of V and of M starts one cache line further than a whole number of planes: the
// transforms touch all alpha planes at once, and planes a multiple of 4 KiB apart (64 or 128 channels
// x 128 columns) would all fall in the same L1 sets.
const PLANE_PAD: i32 = 64;

let scratch: usize = 0;

export function winograd_scratch_bytes(): i32 {
  return CHUNK_BYTES;
}

// Only records p (like the GEMM's panel: a worker's instance is set up before that memory exists).
export function winograd_scratch(p: usize): void {
  scratch = p;
}

// Tile columns per chunk for a conv of cin -> cout channels: a multiple of 8 (whole B panels) whose V
// and M fit the chunk scratch, at most 128 (the GEMM's wide K block); 0 when not even 8 fit, or when
// alpha is not the 10 of F(4, 7), the one tile conv_winograd runs.
export function winograd_chunk_tiles(alpha: i32, cin: i32, cout: i32): i32 {
  if (alpha != 10 || cin < 1 || cout < 1) return 0;
  const perColumn = 4 * alpha * (cin + cout);
  const cols = min(MAX_COLS, ((CHUNK_BYTES - 2 * alpha * PLANE_PAD) / perColumn) & ~7);
  return cols >= 8 ? cols : 0;
}

// u[p, co, ci] = sum_j g[p, j] w[co, ci, j] for PyTorch's w [cout, cin, r], summed in f64 and rounded once.
export function winograd_weights(u: usize, w: usize, g: usize, alpha: i32, r: i32, cout: i32, cin: i32): void {
  const plane = <usize>cout * cin;
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      const src = w + (((<usize>co * cin + ci) * r) << 2);
      for (let p = 0; p < alpha; p++) {
        let s: f64 = 0;
        for (let j = 0; j < r; j++)
          s += <f64>load<f32>(g + ((<usize>(p * r + j)) << 2)) * <f64>load<f32>(src + ((<usize>j) << 2));
        store<f32>(u + ((<usize>p * plane + <usize>co * cin + ci) << 2), <f32>s);
      }
    }
  }
}

// Tile start (in xq) of column n, dilation d: block 4 (n / 4d) + n % 4, class (n % 4d) / 4.
@inline function tileStart(n: i32, d: i32): i32 {
  const quad = n / (4 * d);
  const within = n - quad * 4 * d;
  return (4 * quad + (within & 3)) * 4 * d + (within >> 2);
}

// Column j of the 4 x 4 block with rows a, b, c, d (V8 shares the unpacks between the four calls).
@inline function col0(a: v128, b: v128, c: v128, d: v128): v128 {
  return f32x4.shuffle(f32x4.shuffle(a, b, 0, 4, 1, 5), f32x4.shuffle(c, d, 0, 4, 1, 5), 0, 1, 4, 5);
}
@inline function col1(a: v128, b: v128, c: v128, d: v128): v128 {
  return f32x4.shuffle(f32x4.shuffle(a, b, 0, 4, 1, 5), f32x4.shuffle(c, d, 0, 4, 1, 5), 2, 3, 6, 7);
}
@inline function col2(a: v128, b: v128, c: v128, d: v128): v128 {
  return f32x4.shuffle(f32x4.shuffle(a, b, 2, 6, 3, 7), f32x4.shuffle(c, d, 2, 6, 3, 7), 0, 1, 4, 5);
}
@inline function col3(a: v128, b: v128, c: v128, d: v128): v128 {
  return f32x4.shuffle(f32x4.shuffle(a, b, 2, 6, 3, 7), f32x4.shuffle(c, d, 2, 6, 3, 7), 2, 3, 6, 7);
}

// z[4q .. 4q + 3] of z[j] = row[j d] (bytes: step = 4d).
@inline function zVector(row: usize, q: i32, step: usize, unit: bool): v128 {
  const p = row + <usize>(4 * q) * step;
  if (unit) return v128.load(p);
  let v = v128.load32_zero(p);
  v = v128.load32_lane(p + step, v, 1);
  v = v128.load32_lane(p + 2 * step, v, 2);
  return v128.load32_lane(p + 3 * step, v, 3);
}

// One input row's four tiles through BT: lane l, tap k reads z[4l + k] (z[j] = row[j d], step = 4d
// bytes); point p goes to dst + p * vBytes.
@inline function inputRow(dst: usize, row: usize, step: usize, unit: bool, bt: usize, vBytes: usize): void {
  const z0 = zVector(row, 0, step, unit);
  const z1 = zVector(row, 1, step, unit);
  const z2 = zVector(row, 2, step, unit);
  const z3 = zVector(row, 3, step, unit);
  const z4 = zVector(row, 4, step, unit);
  const z5 = zVector(row, 5, step, unit);
  // three 4 x 4 transposes: X_(4a + j) = column j of rows Z_a .. Z_(a+3)
  const x0 = col0(z0, z1, z2, z3);
  const x1 = col1(z0, z1, z2, z3);
  const x2 = col2(z0, z1, z2, z3);
  const x3 = col3(z0, z1, z2, z3);
  const x4 = col0(z1, z2, z3, z4);
  const x5 = col1(z1, z2, z3, z4);
  const x6 = col2(z1, z2, z3, z4);
  const x7 = col3(z1, z2, z3, z4);
  const x8 = col0(z2, z3, z4, z5);
  const x9 = col1(z2, z3, z4, z5);
  v128.store(dst, madd(coef(bt, 0, 8), x8, fourTaps(bt, 0, 0, x0, x2, x4, x6)));
  for (let p = 1; p < 9; p += 2) {
    const ev = fourTaps(bt, p, 2, x2, x4, x6, x8);
    const od = fourTaps(bt, p, 1, x1, x3, x5, x7);
    v128.store(dst + <usize>p * vBytes, f32x4.add(ev, od));
    v128.store(dst + <usize>(p + 1) * vBytes, f32x4.sub(ev, od));
  }
  v128.store(dst + <usize>9 * vBytes, madd(coef(bt, 9, 9), x9, fourTaps(bt, 9, 1, x1, x3, x5, x7)));
}

// acc + AT[i, 1] a0 + AT[i, 3] a1 + AT[i, 5] a2 + AT[i, 7] a3: output i's terms of the four pairs.
@inline function pairTerms(at: usize, i: i32, a0: v128, a1: v128, a2: v128, a3: v128, acc: v128): v128 {
  acc = madd(coef(at, i, 1), a0, acc);
  acc = madd(coef(at, i, 3), a1, acc);
  acc = madd(coef(at, i, 5), a2, acc);
  return madd(coef(at, i, 7), a3, acc);
}

// BT[p, k] a + BT[p, k + 2] b + BT[p, k + 4] c + BT[p, k + 6] d, summed from 0 in that order.
@inline function fourTaps(bt: usize, p: i32, k: i32, a: v128, b: v128, c: v128, d: v128): v128 {
  let acc = madd(coef(bt, p, k), a, f32x4.splat(0));
  acc = madd(coef(bt, p, k + 2), b, acc);
  acc = madd(coef(bt, p, k + 4), c, acc);
  return madd(coef(bt, p, k + 6), d, acc);
}

// Coefficient k of row p of a 10-column matrix, splat (one load32_splat).
@inline function coef(m: usize, p: i32, k: i32): v128 {
  return v128.load32_splat(m + ((<usize>(p * 10 + k)) << 2));
}

// out [cout, tout] = conv(x) through the transforms above, for the outputs of tile columns [tileBegin,
// tileEnd) (any bounds within [0, tiles), tiles a multiple of 8), with x [cin, ldx] (xq) long enough
// for every lane group of the tiles to read z[0 .. 24) (src/nn/winograd.ts sizes it). F(4, 7) only (alpha 10: 0, four pairs, infinity), with the zero
// pattern src/winograd.ts checks: BT's row 0 has only even taps, its last row only odd ones, the pair
// rows taps 1 to 8; AT[i, 0] is nonzero only for i = 0 and AT[i, infinity] only for i = 3. Each sum
// starts from 0 and adds its nonzero terms in tap (point) order.
// u: winograd_weights' [10, cout, cin]; cout a multiple of 4; bias [cout] or 0.
export function conv_winograd(
  out: usize,
  x: usize,
  ldx: i32,
  u: usize,
  bias: usize,
  bt: usize,
  at: usize,
  alpha: i32,
  m: i32,
  cin: i32,
  cout: i32,
  tout: i32,
  dil: i32,
  shift: i32,
  tileBegin: i32,
  tileEnd: i32,
): void {
  const chunk = winograd_chunk_tiles(alpha, cin, cout);
  if (chunk == 0 || m != 4 || alpha != 10) unreachable();
  const rowBytes = (<usize>ldx) << 2;
  const step = (<usize>dil) << 2;
  const unit = dil == 1;
  const zero = f32x4.splat(0);
  // The chunks cover [tileBegin, tileEnd) in whole 8-column panels (a thread's range may start or end
  // anywhere); the output transform stores only the columns of the range.
  const first = tileBegin & ~7;
  const end = (tileEnd + 7) & ~7;
  for (let c0 = first; c0 < end; c0 += chunk) {
    const cols = min(chunk, end - c0);
    const nPanels = cols >> 3;
    const kb = kBlock(cols);
    const vBytes = ((<usize>cin * cols) << 2) + <usize>PLANE_PAD;
    const mBytes = ((<usize>cout * cols) << 2) + <usize>PLANE_PAD;
    const V = scratch;
    const Mbuf = scratch + <usize>10 * vBytes;

    // Input transform, written as the GEMM's B panels: K block k0 at k0 * nPanels * 32 bytes, its panel
    // j at + j * (k1 - k0) * 32, row ci at + (ci - k0) * 32, this group in the panel's low or high half.
    // The K blocks are walked by pointer and d = 1 has its own loop: no division or branch per row.
    for (let g = 0; g < cols; g += 4) {
      let row = x + ((<usize>tileStart(c0 + g, dil)) << 2);
      const panelByte = <usize>(g >> 3);
      const half = <usize>((g & 4) << 2);
      for (let k0 = 0; k0 < cin; k0 += kb) {
        const rowsInBlock = <usize>(min(cin, k0 + kb) - k0);
        let dst = V + ((<usize>k0 * nPanels) << 5) + ((panelByte * rowsInBlock) << 5) + half;
        const stop = dst + (rowsInBlock << 5);
        if (unit) {
          for (; dst < stop; dst += 32) {
            inputRow(dst, row, 4, true, bt, vBytes);
            row += rowBytes;
          }
        } else {
          for (; dst < stop; dst += 32) {
            inputRow(dst, row, step, false, bt, vBytes);
            row += rowBytes;
          }
        }
      }
    }

    const plane = (<usize>cout * cin) << 2;
    for (let p = 0; p < 10; p++) {
      gemmPackedPanels(
        Mbuf + <usize>p * mBytes,
        cols,
        u + <usize>p * plane,
        cin,
        0,
        cout,
        cols,
        cin,
        V + <usize>p * vBytes,
      );
    }

    // Output transform: lane l of group g is the tile at tileStart(c0 + g) + 4 l d, output i at + i d.
    for (let g = 0; g < cols; g += 4) {
      const n = c0 + g;
      if (n + 4 <= tileBegin || n >= tileEnd) continue;
      const whole = n >= tileBegin && n + 4 <= tileEnd;
      const t0 = tileStart(n, dil) - shift;
      const inside = whole && t0 >= 0 && t0 + 15 * dil < tout;
      // lanes [laneLo, laneHi) are columns of the range
      const laneLo = max(0, tileBegin - n);
      const laneHi = min(4, tileEnd - n);
      const span = 4 * dil;
      for (let co = 0; co < cout; co++) {
        const b = bias != 0 ? v128.load32_splat(bias + ((<usize>co) << 2)) : zero;
        const src = Mbuf + ((<usize>co * cols + g) << 2);
        const m1 = v128.load(src + mBytes);
        const m2 = v128.load(src + 2 * mBytes);
        const m3 = v128.load(src + 3 * mBytes);
        const m4 = v128.load(src + 4 * mBytes);
        const m5 = v128.load(src + 5 * mBytes);
        const m6 = v128.load(src + 6 * mBytes);
        const m7 = v128.load(src + 7 * mBytes);
        const m8 = v128.load(src + 8 * mBytes);
        const s0 = f32x4.add(m1, m2);
        const d0 = f32x4.sub(m1, m2);
        const s1 = f32x4.add(m3, m4);
        const d1 = f32x4.sub(m3, m4);
        const s2 = f32x4.add(m5, m6);
        const d2 = f32x4.sub(m5, m6);
        const s3 = f32x4.add(m7, m8);
        const d3 = f32x4.sub(m7, m8);
        const y0 = f32x4.add(pairTerms(at, 0, s0, s1, s2, s3, madd(coef(at, 0, 0), v128.load(src), zero)), b);
        const y1 = f32x4.add(pairTerms(at, 1, d0, d1, d2, d3, zero), b);
        const y2 = f32x4.add(pairTerms(at, 2, s0, s1, s2, s3, zero), b);
        const y3 = f32x4.add(
          madd(coef(at, 3, 9), v128.load(src + 9 * mBytes), pairTerms(at, 3, d0, d1, d2, d3, zero)),
          b,
        );
        const orow = out + ((<usize>co * tout) << 2);
        if (inside && unit) {
          // d = 1: lane l's 4 outputs are t0 + 4l .. t0 + 4l + 3
          const p = orow + ((<usize>t0) << 2);
          v128.store(p, col0(y0, y1, y2, y3));
          v128.store(p, col1(y0, y1, y2, y3), 16);
          v128.store(p, col2(y0, y1, y2, y3), 32);
          v128.store(p, col3(y0, y1, y2, y3), 48);
        } else {
          storeLanes(orow, y0, t0, span, tout, inside, laneLo, laneHi);
          storeLanes(orow, y1, t0 + dil, span, tout, inside, laneLo, laneHi);
          storeLanes(orow, y2, t0 + 2 * dil, span, tout, inside, laneLo, laneHi);
          storeLanes(orow, y3, t0 + 3 * dil, span, tout, inside, laneLo, laneHi);
        }
      }
    }
  }
}

// Lane l of v to row[t + l * span] for lanes [lo, hi) where 0 <= t + l span < tout (all four when
// `inside`).
@inline function storeLanes(row: usize, v: v128, t: i32, span: i32, tout: i32, inside: bool, lo: i32, hi: i32): void {
  if (inside) {
    v128.store32_lane(row + ((<usize>t) << 2), v, 0);
    v128.store32_lane(row + ((<usize>(t + span)) << 2), v, 1);
    v128.store32_lane(row + ((<usize>(t + 2 * span)) << 2), v, 2);
    v128.store32_lane(row + ((<usize>(t + 3 * span)) << 2), v, 3);
    return;
  }
  if (lo <= 0 && hi > 0 && t >= 0 && t < tout) v128.store32_lane(row + ((<usize>t) << 2), v, 0);
  if (lo <= 1 && hi > 1 && t + span >= 0 && t + span < tout) v128.store32_lane(row + ((<usize>(t + span)) << 2), v, 1);
  if (lo <= 2 && hi > 2 && t + 2 * span >= 0 && t + 2 * span < tout)
    v128.store32_lane(row + ((<usize>(t + 2 * span)) << 2), v, 2);
  if (lo <= 3 && hi > 3 && t + 3 * span >= 0 && t + 3 * span < tout)
    v128.store32_lane(row + ((<usize>(t + 3 * span)) << 2), v, 3);
}
