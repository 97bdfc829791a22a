// WavLM's gated relative position bias, applied to one head's transposed scores.
// Layouts: scoresT: [T keys, T queries]; gate: [T]; embed: [numBuckets, heads] (rel_attn_embed);
// buckets: i32 [2T - 1], bucket of the relative position (key - query), indexed by key - query + T - 1.

// scoresT[j, i] += gate[i] * embed[buckets[j - i + T - 1], head], rows j in [rowBegin, rowEnd).
export function add_gated_rel_bias(scoresT: usize, gate: usize, embed: usize, buckets: usize, heads: i32, head: i32,
  T: i32, rowBegin: i32, rowEnd: i32): void {
  for (let j = rowBegin; j < rowEnd; j++) {
    const row = scoresT + ((<usize>j * T) << 2);
    for (let i = 0; i < T; i++) {
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

import { expv } from './simd';

@inline function expNeg(x: v128): v128 {
  return expv(f32x4.neg(x));
}
