// Multi-head self-attention on the transposed scores, and WavLM's gated relative position bias.
// Layouts: q, v, ctx: [H, T] (head h in rows h*d .. h*d + d - 1, d = H / heads); kT: [T, H] (keys as
// rows); scores: [T keys, queries] with row stride ldS (S^T: a query's scores are a column, so its
// softmax is a column softmax and the context product reads P as B); gates: [heads, T]; embed:
// [numBuckets, heads] (rel_attn_embed); buckets: i32 [2T - 1], bucket of the relative position
// (key - query), indexed by key - query + T - 1.

import { gemm } from './gemm';
import { softmax_cols } from './softmax';
import { expv } from './simd';

// For query columns [colBegin, colEnd) and every head h in turn:
//   S^T[j, i] = sum_c kT[j, h*d + c] q[h*d + c, i]      (q already scaled by 1/sqrt(d))
//   S^T[j, i] += gates[h, i] * embed[buckets[j - i + T - 1], h]        (only when gates != 0)
//   P = softmax over j of S^T[., i];  ctx[h*d + c, i] = sum_j v[h*d + c, j] P[j, i]
// A query column needs no other column at any step, so one call per layer splits the columns across
// threads (instead of three split calls per head) and each thread's slice of the scores stays in its
// cache from the product through the softmax to the context. scores is shared: each call writes only
// its own columns, query i at scores + (j * ldS + i) * 4 (ldS = T holds them all; for long inputs the
// caller passes a block of ldS columns as scores = block - 4 * first column, so memory stays T * ldS).
// scratch: softmax_cols' scratch for ldS columns (2 * round_up(ldS, 16) floats, addressed like scores),
// also shared by column. rows: B row table with rows[c] = c * T * 4 for c < d (q's rows); rowsS:
// rows[j] = j * ldS * 4 for j < T (the scores' rows; the same table when ldS = T).
export function self_attention(ctx: usize, q: usize, kT: usize, v: usize, scores: usize, rows: usize, scratch: usize,
  gates: usize, embed: usize, buckets: usize, H: i32, heads: i32, T: i32, colBegin: i32, colEnd: i32,
  ldS: i32, rowsS: usize): void {
  const d = H / heads;
  for (let h = 0; h < heads; h++) {
    const head = (<usize>(h * d) * T) << 2;
    gemm(scores, ldS, kT + (<usize>(h * d) << 2), H, q + head, rows, 0, 0, T, T, d, 0, T, colBegin, colEnd);
    if (gates != 0) gatedRelBias(scores, ldS, gates + ((<usize>h * T) << 2), embed, buckets, heads, h, T, colBegin, colEnd);
    softmax_cols(scores, T, ldS, scratch, colBegin, colEnd);
    gemm(ctx + head, T, v + head, T, scores, rowsS, 0, 0, d, T, T, 0, d, colBegin, colEnd);
  }
}

// scoresT[j, i] += gate[i] * embed[buckets[j - i + T - 1], head] for every key j, queries i in [colBegin, colEnd).
@inline function gatedRelBias(scoresT: usize, ldS: i32, gate: usize, embed: usize, buckets: usize, heads: i32, head: i32,
  T: i32, colBegin: i32, colEnd: i32): void {
  for (let j = 0; j < T; j++) {
    const row = scoresT + ((<usize>j * ldS) << 2);
    for (let i = colBegin; i < colEnd; i++) {
      const b = load<i32>(buckets + (<usize>(j - i + T - 1) << 2));
      const bias = load<f32>(embed + ((<usize>b * heads + head) << 2));
      const p = row + (<usize>i << 2);
      store<f32>(p, load<f32>(p) + load<f32>(gate + (<usize>i << 2)) * bias);
    }
  }
}

// gate[i] = a * (b * c - 1) + 2 with a = sigmoid(sum g[0..3, i]), b = sigmoid(sum g[4..7, i]),
// g: [8, T] (gru_rel_pos_linear output for one head, channel-major), c: gru_rel_pos_const[head].
export function wavlm_gate(gate: usize, g: usize, c: f32, T: i32, colBegin: i32, colEnd: i32): void {
  const stride = <usize>T << 2;
  for (let i = colBegin; i < colEnd; i++) {
    const p = g + (<usize>i << 2);
    const sa = ((load<f32>(p) + load<f32>(p + stride)) + load<f32>(p + 2 * stride)) + load<f32>(p + 3 * stride);
    const sb = ((load<f32>(p + 4 * stride) + load<f32>(p + 5 * stride)) + load<f32>(p + 6 * stride)) + load<f32>(p + 7 * stride);
    const ab = f32x4.replace_lane(f32x4.splat(sa), 1, sb);
    const s = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), expNeg(ab)));
    const a = f32x4.extract_lane(s, 0);
    const b = f32x4.extract_lane(s, 1);
    store<f32>(gate + (<usize>i << 2), a * (b * c - <f32>1.0) + <f32>2.0);
  }
}

@inline function expNeg(x: v128): v128 {
  return expv(f32x4.neg(x));
}
