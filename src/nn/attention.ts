// Multi-head self-attention over channel-major q, k, v: keys in blocks with an online softmax in each
// thread's scratch (assembly/attention.ts), so no T x T score matrix exists at any length.

import { rowTable, selfAttention as attentionKernel } from '../backend/launch.js';
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
