// Multi-head self-attention over channel-major q, k, v: keys in blocks with an online softmax in each
// thread's scratch (assembly/attention.ts), so no T x T score matrix exists at any length.

import {
  rotateHalfRows,
  rowTable,
  selfAttention as attentionKernel,
  selfAttentionRelative as relativeKernel,
} from '../backend/launch.js';
import type { Runtime, Tensor } from '../backend/runtime.js';

/**
 * WavLM's additive attention bias, as the attention kernel reads it: gates [heads, T], the bucketed
 * table embed [buckets, heads] and the i32 bucket of every key - query [2T - 1]. All 0: no bias.
 */
export interface AttentionBiasTables {
  gates: number;
  embed: number;
  buckets: number;
}

/**
 * softmax(q^T k + bias) v for every head, with q already scaled: q, v [H, T], kT [T, H] -> context
 * [H, T]. The same bits for every split of the query columns.
 */
export function selfAttention(
  rt: Runtime,
  q: Tensor,
  kT: Tensor,
  v: Tensor,
  heads: number,
  bias: AttentionBiasTables | null,
): Tensor {
  const [H, T] = q.dims;
  const d = H / heads;
  const b = bias ?? { gates: 0, embed: 0, buckets: 0 };
  const ctx = rt.tensor([H, T]);
  rt.scope(() => {
    const rows = rowTable(rt, d, T);
    attentionKernel(rt, { ctx: ctx.ptr, q: q.ptr, kT: kT.ptr, v: v.ptr, rows, ...b, H, heads, T });
  });
  return ctx;
}

/** Llama's rotary embedding of x [heads * d, T] with one angle per row: x cos + rotate_half(x) sin. */
export function rotateHalf(rt: Runtime, x: Tensor, cos: number, sin: number, d: number): Tensor {
  const out = rt.tensor(x.dims);
  rotateHalfRows(rt, { out: out.ptr, x: x.ptr, cos, sin, d, T: x.dims[1] }, x.dims[0]);
  return out;
}

/**
 * softmax(q^T k + rel) v over the first `keys` keys (Wav2Vec2-BERT: Shaw's relative keys, a key mask):
 * q (scaled), v [H, T], kT [T, H], rel [heads, left + right + 1, T] -> context [H, T].
 */
export function selfAttentionRelative(
  rt: Runtime,
  q: Tensor,
  kT: Tensor,
  v: Tensor,
  heads: number,
  rel: { table: Tensor; left: number; right: number },
  keys: number,
): Tensor {
  const [H, T] = q.dims;
  const ctx = rt.tensor([H, T]);
  rt.scope(() => {
    const rows = rowTable(rt, H / heads, T);
    const { table, left, right } = rel;
    relativeKernel(rt, {
      ctx: ctx.ptr,
      q: q.ptr,
      kT: kT.ptr,
      v: v.ptr,
      rows,
      rel: table.ptr,
      left,
      right,
      keys,
      H,
      heads,
      T,
    });
  });
  return ctx;
}
