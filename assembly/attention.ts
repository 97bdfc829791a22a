// Multi-head self-attention with an online softmax over key blocks, and WavLM's gated relative
// position bias. Layouts: q, v, ctx: [H, T] (head h in rows h*d .. h*d + d - 1, d = H / heads); kT:
// [T, H] (keys as rows); gates: [heads, T]; embed: [numBuckets, heads] (rel_attn_embed); buckets: i32
// [2T - 1], bucket of the relative position (key - query), indexed by key - query + T - 1.

import { gemm, gemm_pack_b, gemm_prepacked } from './gemm';
import { expv } from './simd';
import { softmax_online_cols, softmaxOnlineToPanels } from './softmax';

// Queries in blocks of BQ columns, keys in blocks of BK rows (FlashAttention's order): per query
// block and head, for each key block in turn,
//   S[j, i] = sum_c kT[j, h*d + c] q[h*d + c, i]      (q already scaled by 1/sqrt(d))
//   S[j, i] += gates[h, i] * embed[buckets[j - i + T - 1], h]        (only when gates != 0)
//   m' = max(m, max_j S[., i]);  a = exp(m - m');  P = exp(S - m');  l = a l + sum_j P[j, i]
//   ctx[h*d + c, i] = a ctx[h*d + c, i] + sum_j v[h*d + c, j] P[j, i]
// and at the end ctx[., i] *= 1 / l. No score matrix larger than BK x BQ exists at any length, and the
// block stays in L2 from the product through the softmax to the context product (a whole-column
// softmax streamed T x 1024 scores per head through memory). The key blocks always start at key 0, and
// a query column needs no other column at any step, so results are the same bits for every split of
// the columns across threads and every BQ cut. 64 x 256: the block is 64 KiB; measured against 128 x 128
// and 64 x 512 in bench:kernels (see docs/design.md).
const BQ: i32 = 64;
const BK: i32 = 256;

// Query blocks per group: each key block (of K and V, 128 KiB at d = 64) is loaded once for a group of
// QG query blocks, which keeps it in L2 while they use it at any length.
const QG: i32 = 8;

// Heads up to this size get both products' B operands in the GEMM's packed panels, written once: a
// group's queries when the group starts (each key block's score product reused a copy it packed
// itself), and P by the softmax (the context product packed it from the score block).
const PACKED_MAX_D: i32 = 128;

// This instance's scratch (attention_scratch_bytes(), set once per instance like the GEMM's panel):
// the score block [BK, BQ], its GEMM row table, per query column of a group the running max, the
// running sum, the block's rescale factor and the block's sum (4 rows of BQ per query block), P's
// panels [BK x BQ] and the group's query panels [PACKED_MAX_D x BQ * QG].
let block: usize = 0;

export function attention_scratch_bytes(): i32 {
  return (BK * BQ + BK + 4 * BQ * QG + BK * BQ + PACKED_MAX_D * BQ * QG) * 4;
}

// Only records p: a worker's instance is set up before the memory above the static page exists.
export function attention_scratch(p: usize): void {
  block = p;
}

export function attention_block_queries(): i32 {
  return BQ;
}

export function attention_block_keys(): i32 {
  return BK;
}

// rows: B row table with rows[c] = c * T * 4 for c < d (q's rows).
export function self_attention(
  ctx: usize,
  q: usize,
  kT: usize,
  v: usize,
  rows: usize,
  gates: usize,
  embed: usize,
  buckets: usize,
  H: i32,
  heads: i32,
  T: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  attention(ctx, q, kT, v, rows, gates, embed, buckets, 0, 0, 0, T, H, heads, T, colBegin, colEnd);
}

// Wav2Vec2-BERT's attention: Shaw's relative keys and a key mask. rel: [heads, left + right + 1, T], the
// scaled query's product with each clamped distance's embedding (rel[h, r, i] = q[h, :, i] . E[r]),
// added as s[j, i] += rel[h, clamp(j - i, -left, right) + left, i]; only the first `keys` keys are
// attended (masked keys get an additive finfo.min upstream, whose exp is exactly 0).
export function self_attention_rel(
  ctx: usize,
  q: usize,
  kT: usize,
  v: usize,
  rows: usize,
  rel: usize,
  left: i32,
  right: i32,
  keys: i32,
  H: i32,
  heads: i32,
  T: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  attention(ctx, q, kT, v, rows, 0, 0, 0, rel, left, right, keys, H, heads, T, colBegin, colEnd);
}

@inline function attention(
  ctx: usize,
  q: usize,
  kT: usize,
  v: usize,
  rows: usize,
  gates: usize,
  embed: usize,
  buckets: usize,
  rel: usize,
  left: i32,
  right: i32,
  keys: i32,
  H: i32,
  heads: i32,
  T: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  const d = H / heads;
  const rowsP = block + ((<usize>(BK * BQ)) << 2);
  const states = rowsP + ((<usize>BK) << 2);
  const pPanels = states + ((<usize>(4 * BQ * QG)) << 2);
  const qPanels = pPanels + ((<usize>(BK * BQ)) << 2);
  // The panels' row tails (M % 4) read B unpacked, which P's panels have no copy of.
  const packed = d <= PACKED_MAX_D && d % 4 == 0;
  for (let j = 0; j < BK; j++) store<i32>(rowsP + ((<usize>j) << 2), j * BQ * 4);
  for (let h = 0; h < heads; h++) {
    const head = (<usize>(h * d) * T) << 2;
    const out = ctx + head;
    for (let g0 = colBegin; g0 < colEnd; g0 += BQ * QG) {
      const g1 = min(colEnd, g0 + BQ * QG);
      if (packed) gemm_pack_b(qPanels, q + head, rows, d, g0, g1, 0, (g1 - g0 + 7) >> 3);
      for (let k0 = 0; k0 < keys; k0 += BK) {
        const kn = min(BK, keys - k0);
        for (let q0 = g0; q0 < g1; q0 += BQ) {
          const q1 = min(g1, q0 + BQ);
          // Addressed by absolute query column, as the GEMM's n: column i of the block at (i - q0).
          const s = block - ((<usize>q0) << 2);
          const st = states + ((<usize>(((q0 - g0) / BQ) * 4 * BQ)) << 2) - ((<usize>q0) << 2);
          const keys = kT + ((<usize>k0 * H + h * d) << 2);
          if (packed) {
            const qBlock = qPanels + ((<usize>(((q0 - g0) >> 3) * d)) << 5);
            gemm_prepacked(s, BQ, keys, H, q + head, rows, 0, 0, kn, T, d, 0, kn, q0, q1, qBlock);
          } else {
            gemm(s, BQ, keys, H, q + head, rows, 0, 0, kn, T, d, 0, kn, q0, q1);
          }
          if (gates != 0) gatedRelBias(s, gates + ((<usize>h * T) << 2), embed, buckets, heads, h, T, k0, kn, q0, q1);
          if (rel != 0)
            relativeKeys(s, rel + ((<usize>(h * (left + right + 1)) * T) << 2), left, right, T, k0, kn, q0, q1);
          if (packed) softmaxOnlineToPanels(s, kn, BQ, st, k0 == 0 ? 1 : 0, q0, q1, pPanels);
          else softmax_online_cols(s, kn, BQ, st, k0 == 0 ? 1 : 0, q0, q1);
          if (k0 != 0) scale_cols(out, T, d, st + ((<usize>(2 * BQ)) << 2), q0, q1);
          const values = v + head + ((<usize>k0) << 2);
          if (packed)
            gemm_prepacked(out, T, values, T, s, rowsP, 0, k0 == 0 ? 0 : out, d, T, kn, 0, d, q0, q1, pPanels);
          else gemm(out, T, values, T, s, rowsP, 0, k0 == 0 ? 0 : out, d, T, kn, 0, d, q0, q1);
        }
      }
      // The running sums become their reciprocals, which scale the context.
      for (let q0 = g0; q0 < g1; q0 += BQ) {
        const q1 = min(g1, q0 + BQ);
        const sum = states + ((<usize>(((q0 - g0) / BQ) * 4 * BQ + BQ)) << 2) - ((<usize>q0) << 2);
        for (let i = q0; i < q1; i++)
          store<f32>(sum + ((<usize>i) << 2), <f32>1.0 / load<f32>(sum + ((<usize>i) << 2)));
        scale_cols(out, T, d, sum, q0, q1);
      }
    }
  }
}

// x[r, t] *= f[t] for rows r < R (row stride ld floats), columns [colBegin, colEnd); f addressed by
// column like x.
export function scale_cols(x: usize, ld: i32, R: i32, f: usize, colBegin: i32, colEnd: i32): void {
  const stride = (<usize>ld) << 2;
  const vecEnd = colBegin + ((colEnd - colBegin) & ~3);
  let row = x;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = (<usize>t) << 2;
      v128.store(row + o, f32x4.mul(v128.load(row + o), v128.load(f + o)));
    }
    for (; t < colEnd; t++) {
      const o = (<usize>t) << 2;
      store<f32>(row + o, load<f32>(row + o) * load<f32>(f + o));
    }
    row += stride;
  }
}

// s[j - k0, i] += gate[i] * embed[buckets[j - i + T - 1], head] for keys j in [k0, k0 + kn), queries i
// in [colBegin, colEnd); s: the score block (row stride BQ) addressed by absolute query column.
@inline function gatedRelBias(
  s: usize,
  gate: usize,
  embed: usize,
  buckets: usize,
  heads: i32,
  head: i32,
  T: i32,
  k0: i32,
  kn: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  for (let j = k0; j < k0 + kn; j++) {
    const row = s + ((<usize>(j - k0) * BQ) << 2);
    for (let i = colBegin; i < colEnd; i++) {
      const b = load<i32>(buckets + ((<usize>(j - i + T - 1)) << 2));
      const bias = load<f32>(embed + ((<usize>b * heads + head) << 2));
      const p = row + ((<usize>i) << 2);
      store<f32>(p, load<f32>(p) + load<f32>(gate + ((<usize>i) << 2)) * bias);
    }
  }
}

// s[j - k0, i] += rel[clamp(j - i, -left, right) + left, i] for keys j in [k0, k0 + kn), queries i in
// [colBegin, colEnd); rel: one head's [left + right + 1, T].
@inline function relativeKeys(
  s: usize,
  rel: usize,
  left: i32,
  right: i32,
  T: i32,
  k0: i32,
  kn: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  for (let j = k0; j < k0 + kn; j++) {
    const row = s + ((<usize>(j - k0) * BQ) << 2);
    for (let i = colBegin; i < colEnd; i++) {
      const r = min(max(j - i, -left), right) + left;
      const p = row + ((<usize>i) << 2);
      store<f32>(p, load<f32>(p) + load<f32>(rel + ((<usize>(r * T + i)) << 2)));
    }
  }
}

// gate[i] = a * (b * c - 1) + 2 with a = sigmoid(sum g[0..3, i]), b = sigmoid(sum g[4..7, i]),
// g: [8, T] (gru_rel_pos_linear output for one head, channel-major), c: gru_rel_pos_const[head].
export function wavlm_gate(gate: usize, g: usize, c: f32, T: i32, colBegin: i32, colEnd: i32): void {
  const stride = (<usize>T) << 2;
  for (let i = colBegin; i < colEnd; i++) {
    const p = g + ((<usize>i) << 2);
    const sa = load<f32>(p) + load<f32>(p + stride) + load<f32>(p + 2 * stride) + load<f32>(p + 3 * stride);
    const sb =
      load<f32>(p + 4 * stride) + load<f32>(p + 5 * stride) + load<f32>(p + 6 * stride) + load<f32>(p + 7 * stride);
    const ab = f32x4.replace_lane(f32x4.splat(sa), 1, sb);
    const s = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), expNeg(ab)));
    const a = f32x4.extract_lane(s, 0);
    const b = f32x4.extract_lane(s, 1);
    store<f32>(gate + ((<usize>i) << 2), a * (b * c - <f32>1.0) + <f32>2.0);
  }
}

@inline function expNeg(x: v128): v128 {
  return expv(f32x4.neg(x));
}
