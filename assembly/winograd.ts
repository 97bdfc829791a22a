// Winograd minimal filtering F(4, r) for the stride-1 dilated convolutions (the residual units' kernel-7
// convs): 4 outputs of a tile from alpha = r + 3 products per channel pair instead of 4 r. With
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
const CHUNK_BYTES: i32 = 1 << 20;
// The tap vectors of one lane group (up to 12: three 4 x 4 transposes), then reused for the pair sums.
const MAX_ALPHA: i32 = 12;

// Each point's plane of V and of M starts one cache line further than a whole number of planes: the
// transforms touch all alpha planes at once, and planes a multiple of 4 KiB apart (64 or 128 channels
// x 128 columns) would all fall in the same L1 sets.
const PLANE_PAD: i32 = 64;

let scratch: usize = 0;

export function winograd_scratch_bytes(): i32 {
  return CHUNK_BYTES + MAX_ALPHA * 16;
}

// Only records p (like the GEMM's panel: a worker's instance is set up before that memory exists).
export function winograd_scratch(p: usize): void {
  scratch = p;
}

// Tile columns per chunk for a conv of cin -> cout channels: a multiple of 8 (whole B panels) whose V
// and M fit the chunk scratch, at most 128 (the GEMM's wide K block); 0 when not even 8 fit, or when
// alpha is not one conv_winograd runs (even: 0, pairs, infinity; 6 to 12).
export function winograd_chunk_tiles(alpha: i32, cin: i32, cout: i32): i32 {
  if (alpha < 6 || alpha > MAX_ALPHA || (alpha & 1) != 0 || cin < 1 || cout < 1) return 0;
  const perColumn = 4 * alpha * (cin + cout);
  const cols = min(128, ((CHUNK_BYTES - 2 * alpha * PLANE_PAD) / perColumn) & ~7);
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

// Rows a, b, c, d of a 4 x 4 block -> its columns, stored at dst (16 bytes apart), `cols` of them.
@inline function transposeStore(dst: usize, a: v128, b: v128, c: v128, d: v128, cols: i32): void {
  const t0 = lo4(a, b);
  const t1 = hi4(a, b);
  const t2 = lo4(c, d);
  const t3 = hi4(c, d);
  v128.store(dst, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(dst, f32x4.shuffle(t0, t2, 2, 3, 6, 7), 16);
  if (cols > 2) {
    v128.store(dst, f32x4.shuffle(t1, t3, 0, 1, 4, 5), 32);
    v128.store(dst, f32x4.shuffle(t1, t3, 2, 3, 6, 7), 48);
  }
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

// sum over taps k = first, first + 2, ... < alpha of c[k] x[k] (zero coefficients skipped).
@inline function taps(coef: usize, x: usize, first: i32, alpha: i32): v128 {
  let acc = f32x4.splat(0);
  for (let k = first; k < alpha; k += 2) {
    const c = load<f32>(coef + (<usize>k << 2));
    if (c != 0) acc = madd(f32x4.splat(c), v128.load(x + (<usize>k << 4)), acc);
  }
  return acc;
}

// out [cout, tout] = conv(x) through the transforms above, for tile columns [tileBegin, tileEnd): both
// multiples of 8, and x [cin, ldx] (xq) long enough for every lane group of those columns to read
// z[0 .. 4 ceil((12 + alpha) / 4)) (src/ops.ts sizes it).
// u: winograd_weights' [alpha, cout, cin]; cout a multiple of 4; bias [cout] or 0; alpha <= MAX_ALPHA.
export function conv_winograd(out: usize, x: usize, ldx: i32, u: usize, bias: usize, bt: usize, at: usize,
  alpha: i32, m: i32, cin: i32, cout: i32, tout: i32, dil: i32, shift: i32, tileBegin: i32, tileEnd: i32): void {
  const chunk = winograd_chunk_tiles(alpha, cin, cout);
  if (chunk == 0 || m != 4) unreachable();
  const xs = scratch + <usize>CHUNK_BYTES; // the group's tap vectors, then the output's pair sums
  const rowBytes = <usize>ldx << 2;
  const step = <usize>dil << 2;
  const unit = dil == 1;
  const pairs = (alpha - 2) >> 1;
  const inf = alpha - 1;
  const atRow = <usize>alpha << 2;
  for (let c0 = tileBegin; c0 < tileEnd; c0 += chunk) {
    const cols = min(chunk, tileEnd - c0);
    const nPanels = cols >> 3;
    const kb = kBlock(cols);
    const vBytes = (<usize>cin * cols << 2) + <usize>PLANE_PAD;
    const mBytes = (<usize>cout * cols << 2) + <usize>PLANE_PAD;
    const V = scratch;
    const Mbuf = scratch + <usize>alpha * vBytes;

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
        transposeStore(xs, z0, z1, z2, z3, 4);
        const z4 = zVector(row, 4, step, unit);
        transposeStore(xs + 64, z1, z2, z3, z4, 4);
        if (alpha > 8) {
          const z5 = zVector(row, 5, step, unit);
          transposeStore(xs + 128, z2, z3, z4, z5, alpha - 8);
        }
        const k0 = (ci / kb) * kb;
        const k1 = min(cin, k0 + kb);
        const dst = V + (<usize>k0 * nPanels << 5) + (panelByte * <usize>(k1 - k0) << 5) + (<usize>(ci - k0) << 5) + half;
        v128.store(dst, f32x4.add(taps(bt, xs, 0, alpha), taps(bt, xs, 1, alpha)));
        for (let j = 0; j < pairs; j++) {
          const p = 2 * j + 1;
          const coef = bt + <usize>p * atRow;
          const even = taps(coef, xs, 0, alpha);
          const odd = taps(coef, xs, 1, alpha);
          v128.store(dst + <usize>p * vBytes, f32x4.add(even, odd));
          v128.store(dst + <usize>(p + 1) * vBytes, f32x4.sub(even, odd));
        }
        const last = bt + <usize>inf * atRow;
        v128.store(dst + <usize>inf * vBytes, f32x4.add(taps(last, xs, 0, alpha), taps(last, xs, 1, alpha)));
      }
    }

    const plane = <usize>cout * cin << 2;
    for (let p = 0; p < alpha; p++) {
      gemmPackedPanels(Mbuf + <usize>p * mBytes, cols, u + <usize>p * plane, cin, 0, cout, cols, cin, V + <usize>p * vBytes);
    }

    // Output transform: lane l of group g is the tile at tileStart(c0 + g) + 4 l d, output i at + i d.
    for (let g = 0; g < cols; g += 4) {
      const t0 = tileStart(c0 + g, dil) - shift;
      const inside = t0 >= 0 && t0 + 15 * dil < tout;
      const span = 4 * dil;
      for (let co = 0; co < cout; co++) {
        const b = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>co << 2)) : 0);
        const src = Mbuf + ((<usize>co * cols + g) << 2);
        // pair sums and differences: xs[2j] = M_+ + M_-, xs[2j + 1] = M_+ - M_-
        for (let j = 0; j < pairs; j++) {
          const mp = v128.load(src + <usize>(2 * j + 1) * mBytes);
          const mn = v128.load(src + <usize>(2 * j + 2) * mBytes);
          v128.store(xs + (<usize>(2 * j) << 4), f32x4.add(mp, mn));
          v128.store(xs + (<usize>(2 * j + 1) << 4), f32x4.sub(mp, mn));
        }
        const m0 = v128.load(src);
        const mInf = v128.load(src + <usize>inf * mBytes);
        const y0 = outputRow(at, 0, alpha, pairs, m0, mInf, xs, b);
        const y1 = outputRow(at, 1, alpha, pairs, m0, mInf, xs, b);
        const y2 = outputRow(at, 2, alpha, pairs, m0, mInf, xs, b);
        const y3 = outputRow(at, 3, alpha, pairs, m0, mInf, xs, b);
        const orow = out + (<usize>co * tout << 2);
        if (inside && unit) {
          // d = 1: lane l's 4 outputs are t0 + 4l .. t0 + 4l + 3
          const o = orow + (<usize>t0 << 2);
          const a0 = lo4(y0, y1);
          const a1 = hi4(y0, y1);
          const a2 = lo4(y2, y3);
          const a3 = hi4(y2, y3);
          v128.store(o, f32x4.shuffle(a0, a2, 0, 1, 4, 5));
          v128.store(o, f32x4.shuffle(a0, a2, 2, 3, 6, 7), 16);
          v128.store(o, f32x4.shuffle(a1, a3, 0, 1, 4, 5), 32);
          v128.store(o, f32x4.shuffle(a1, a3, 2, 3, 6, 7), 48);
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

// Output i of 4 tiles: AT[i, 0] M_0 + sum over pairs of AT[i, +a] (M_+ +- M_-) + AT[i, inf] M_inf + bias.
@inline function outputRow(at: usize, i: i32, alpha: i32, pairs: i32, m0: v128, mInf: v128, sums: usize, b: v128): v128 {
  const row = at + (<usize>(i * alpha) << 2);
  let acc = f32x4.splat(0);
  const c0 = load<f32>(row);
  if (c0 != 0) acc = madd(f32x4.splat(c0), m0, acc);
  for (let j = 0; j < pairs; j++) {
    const c = load<f32>(row + (<usize>(2 * j + 1) << 2));
    if (c != 0) acc = madd(f32x4.splat(c), v128.load(sums + (<usize>(2 * j + (i & 1)) << 4)), acc);
  }
  const cInf = load<f32>(row + (<usize>(alpha - 1) << 2));
  if (cInf != 0) acc = madd(f32x4.splat(cInf), mInf, acc);
  return f32x4.add(acc, b);
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
