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
      const src = w + ((<usize>co * cin + ci) * r << 2);
      for (let p = 0; p < alpha; p++) {
        let s: f64 = 0;
        for (let j = 0; j < r; j++) s += <f64>load<f32>(g + (<usize>(p * r + j) << 2)) * <f64>load<f32>(src + (<usize>j << 2));
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

@inline function lo4(a: v128, b: v128): v128 {
  return f32x4.shuffle(a, b, 0, 4, 1, 5);
}
@inline function hi4(a: v128, b: v128): v128 {
  return f32x4.shuffle(a, b, 2, 6, 3, 7);
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

// Coefficient k of row p of a 10-column matrix, splat (one load32_splat).
@inline function coef(m: usize, p: i32, k: i32): v128 {
  return v128.load32_splat(m + (<usize>(p * 10 + k) << 2));
}

// out [cout, tout] = conv(x) through the transforms above, for tile columns [tileBegin, tileEnd): both
// multiples of 8, and x [cin, ldx] (xq) long enough for every lane group of those columns to read
// z[0 .. 24) (src/ops.ts sizes it). F(4, 7) only (alpha 10: 0, four pairs, infinity), with the zero
// pattern src/winograd.ts checks: BT's row 0 has only even taps, its last row only odd ones, the pair
// rows taps 1 to 8; AT[i, 0] is nonzero only for i = 0 and AT[i, infinity] only for i = 3. Each sum
// starts from 0 and adds its nonzero terms in tap (point) order.
// u: winograd_weights' [10, cout, cin]; cout a multiple of 4; bias [cout] or 0.
export function conv_winograd(out: usize, x: usize, ldx: i32, u: usize, bias: usize, bt: usize, at: usize,
  alpha: i32, m: i32, cin: i32, cout: i32, tout: i32, dil: i32, shift: i32, tileBegin: i32, tileEnd: i32): void {
  const chunk = winograd_chunk_tiles(alpha, cin, cout);
  if (chunk == 0 || m != 4 || alpha != 10) unreachable();
  const rowBytes = <usize>ldx << 2;
  const step = <usize>dil << 2;
  const unit = dil == 1;
  const zero = f32x4.splat(0);
  for (let c0 = tileBegin; c0 < tileEnd; c0 += chunk) {
    const cols = min(chunk, tileEnd - c0);
    const nPanels = cols >> 3;
    const kb = kBlock(cols);
    const vBytes = (<usize>cin * cols << 2) + <usize>PLANE_PAD;
    const mBytes = (<usize>cout * cols << 2) + <usize>PLANE_PAD;
    const V = scratch;
    const Mbuf = scratch + <usize>10 * vBytes;

    // Input transform, written as the GEMM's B panels: K block k0 at k0 * nPanels * 32 bytes, its panel
    // j at + j * (k1 - k0) * 32, row ci at + (ci - k0) * 32, this group in the panel's low or high half.
    for (let g = 0; g < cols; g += 4) {
      const base = <usize>tileStart(c0 + g, dil) << 2;
      const panelByte = <usize>(g >> 3);
      const half = <usize>((g & 4) << 2);
      for (let ci = 0; ci < cin; ci++) {
        const row = x + <usize>ci * rowBytes + base;
        // lane l, tap k reads z[4l + k]: X_(4a + j) is column j of the rows Z_a .. Z_(a+3)
        const z0 = zVector(row, 0, step, unit);
        const z1 = zVector(row, 1, step, unit);
        const z2 = zVector(row, 2, step, unit);
        const z3 = zVector(row, 3, step, unit);
        const z4 = zVector(row, 4, step, unit);
        const z5 = zVector(row, 5, step, unit);
        let t0 = lo4(z0, z1);
        let t1 = hi4(z0, z1);
        let t2 = lo4(z2, z3);
        let t3 = hi4(z2, z3);
        const x0 = f32x4.shuffle(t0, t2, 0, 1, 4, 5);
        const x1 = f32x4.shuffle(t0, t2, 2, 3, 6, 7);
        const x2 = f32x4.shuffle(t1, t3, 0, 1, 4, 5);
        const x3 = f32x4.shuffle(t1, t3, 2, 3, 6, 7);
        t0 = lo4(z1, z2);
        t1 = hi4(z1, z2);
        t2 = lo4(z3, z4);
        t3 = hi4(z3, z4);
        const x4 = f32x4.shuffle(t0, t2, 0, 1, 4, 5);
        const x5 = f32x4.shuffle(t0, t2, 2, 3, 6, 7);
        const x6 = f32x4.shuffle(t1, t3, 0, 1, 4, 5);
        const x7 = f32x4.shuffle(t1, t3, 2, 3, 6, 7);
        t0 = lo4(z2, z3);
        t2 = lo4(z4, z5);
        const x8 = f32x4.shuffle(t0, t2, 0, 1, 4, 5);
        const x9 = f32x4.shuffle(t0, t2, 2, 3, 6, 7);
        const k0 = (ci / kb) * kb;
        const k1 = min(cin, k0 + kb);
        const dst = V + (<usize>k0 * nPanels << 5) + (panelByte * <usize>(k1 - k0) << 5) + (<usize>(ci - k0) << 5) + half;
        let e = madd(coef(bt, 0, 0), x0, zero);
        e = madd(coef(bt, 0, 2), x2, e);
        e = madd(coef(bt, 0, 4), x4, e);
        e = madd(coef(bt, 0, 6), x6, e);
        v128.store(dst, madd(coef(bt, 0, 8), x8, e));
        for (let p = 1; p < 9; p += 2) {
          let ev = madd(coef(bt, p, 2), x2, zero);
          ev = madd(coef(bt, p, 4), x4, ev);
          ev = madd(coef(bt, p, 6), x6, ev);
          ev = madd(coef(bt, p, 8), x8, ev);
          let od = madd(coef(bt, p, 1), x1, zero);
          od = madd(coef(bt, p, 3), x3, od);
          od = madd(coef(bt, p, 5), x5, od);
          od = madd(coef(bt, p, 7), x7, od);
          v128.store(dst + <usize>p * vBytes, f32x4.add(ev, od));
          v128.store(dst + <usize>(p + 1) * vBytes, f32x4.sub(ev, od));
        }
        let o = madd(coef(bt, 9, 1), x1, zero);
        o = madd(coef(bt, 9, 3), x3, o);
        o = madd(coef(bt, 9, 5), x5, o);
        o = madd(coef(bt, 9, 7), x7, o);
        v128.store(dst + <usize>9 * vBytes, madd(coef(bt, 9, 9), x9, o));
      }
    }

    const plane = <usize>cout * cin << 2;
    for (let p = 0; p < 10; p++) {
      gemmPackedPanels(Mbuf + <usize>p * mBytes, cols, u + <usize>p * plane, cin, 0, cout, cols, cin, V + <usize>p * vBytes);
    }

    // Output transform: lane l of group g is the tile at tileStart(c0 + g) + 4 l d, output i at + i d.
    for (let g = 0; g < cols; g += 4) {
      const t0 = tileStart(c0 + g, dil) - shift;
      const inside = t0 >= 0 && t0 + 15 * dil < tout;
      const span = 4 * dil;
      for (let co = 0; co < cout; co++) {
        const b = bias != 0 ? v128.load32_splat(bias + (<usize>co << 2)) : zero;
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
        let y = madd(coef(at, 0, 0), v128.load(src), zero);
        y = madd(coef(at, 0, 1), s0, y);
        y = madd(coef(at, 0, 3), s1, y);
        y = madd(coef(at, 0, 5), s2, y);
        const y0 = f32x4.add(madd(coef(at, 0, 7), s3, y), b);
        y = madd(coef(at, 1, 1), d0, zero);
        y = madd(coef(at, 1, 3), d1, y);
        y = madd(coef(at, 1, 5), d2, y);
        const y1 = f32x4.add(madd(coef(at, 1, 7), d3, y), b);
        y = madd(coef(at, 2, 1), s0, zero);
        y = madd(coef(at, 2, 3), s1, y);
        y = madd(coef(at, 2, 5), s2, y);
        const y2 = f32x4.add(madd(coef(at, 2, 7), s3, y), b);
        y = madd(coef(at, 3, 1), d0, zero);
        y = madd(coef(at, 3, 3), d1, y);
        y = madd(coef(at, 3, 5), d2, y);
        y = madd(coef(at, 3, 7), d3, y);
        const y3 = f32x4.add(madd(coef(at, 3, 9), v128.load(src + 9 * mBytes), y), b);
        const orow = out + (<usize>co * tout << 2);
        if (inside && unit) {
          // d = 1: lane l's 4 outputs are t0 + 4l .. t0 + 4l + 3
          const p = orow + (<usize>t0 << 2);
          const a0 = lo4(y0, y1);
          const a1 = hi4(y0, y1);
          const a2 = lo4(y2, y3);
          const a3 = hi4(y2, y3);
          v128.store(p, f32x4.shuffle(a0, a2, 0, 1, 4, 5));
          v128.store(p, f32x4.shuffle(a0, a2, 2, 3, 6, 7), 16);
          v128.store(p, f32x4.shuffle(a1, a3, 0, 1, 4, 5), 32);
          v128.store(p, f32x4.shuffle(a1, a3, 2, 3, 6, 7), 48);
        } else {
          storeLanes(orow, y0, t0, span, tout, inside);
          storeLanes(orow, y1, t0 + dil, span, tout, inside);
          storeLanes(orow, y2, t0 + 2 * dil, span, tout, inside);
          storeLanes(orow, y3, t0 + 3 * dil, span, tout, inside);
        }
      }
    }
  }
}

// Lane l of v to row[t + l * span] where 0 <= t + l span < tout (all of them when `inside`).
@inline function storeLanes(row: usize, v: v128, t: i32, span: i32, tout: i32, inside: bool): void {
  if (inside) {
    v128.store32_lane(row + (<usize>t << 2), v, 0);
    v128.store32_lane(row + (<usize>(t + span) << 2), v, 1);
    v128.store32_lane(row + (<usize>(t + 2 * span) << 2), v, 2);
    v128.store32_lane(row + (<usize>(t + 3 * span) << 2), v, 3);
    return;
  }
  if (t >= 0 && t < tout) v128.store32_lane(row + (<usize>t << 2), v, 0);
  if (t + span >= 0 && t + span < tout) v128.store32_lane(row + (<usize>(t + span) << 2), v, 1);
  if (t + 2 * span >= 0 && t + 2 * span < tout) v128.store32_lane(row + (<usize>(t + 2 * span) << 2), v, 2);
  if (t + 3 * span >= 0 && t + 3 * span < tout) v128.store32_lane(row + (<usize>(t + 3 * span) << 2), v, 3);
}
