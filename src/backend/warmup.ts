// V8 first runs WebAssembly with its baseline compiler (Liftoff, ~5x slower here) and tiers a
// function up to TurboFan only after it has run for a while, in the background. Without this, the
// first encode spends its biggest convolutions in baseline code. Running every kernel briefly at load
// time (which takes far longer than the tier-up) makes the first call as fast as the later ones.

import type { Runtime } from './runtime.js';

export function warmUpKernels(rt: Runtime): void {
  const m = rt.mark();
  const n = 128;
  const a = rt.allocBytes(4 * n * n);
  const b = rt.allocBytes(4 * n * (n + 8));
  const o = rt.allocBytes(4 * n * n);
  const v = rt.allocBytes(4 * n);
  const rows = rt.allocBytes(4 * n);
  const codes = rt.allocBytes(4 * n);
  const scratch = rt.allocBytes(4 * n);
  rt.f32.fill(0.25, a >>> 2, (o >>> 2) + n * n);
  rt.f32.fill(1, v >>> 2, (v >>> 2) + n);
  rt.i32.fill(0, codes >>> 2, (codes >>> 2) + n);
  const k = rt.k;
  for (let r = 0; r < 4; r++) {
    k.gemm_rows(rows, n, 2, n + 8, 3);
    k.gemm(o, n, a, n, b, rows, v, r & 1 ? o : 0, n, n, n, 0, n, 0, n);
    k.snake(o, b, v, n - 16, 8, 8, 0, n);
    k.gelu(o, b, 0, n * n);
    k.elu(o, b, 0, n * n);
    k.sigmoid(o, b, 0, n * n);
    k.add(o, o, b, 0, n * n);
    k.scale(o, o, 0.5, 0, n * n);
    k.layer_norm_cols(o, b, v, v, n, n, 1e-5, 0, n);
    k.group_norm_rows(o, b, v, v, n, 1e-5, 0, n);
    k.group_norm_stats(scratch, b, n, 1e-5, 0, n / 2);
    k.group_norm_apply(o, b, v, v, scratch, n, 0, n / 2);
    // 2 heads of 32 over 64 frames (the online softmax and scaling inside)
    k.gemm_rows(rows, n / 2, 1, n / 2, 1);
    k.self_attention(o, a, b, a, rows, 0, 0, 0, n / 2, 2, n / 2, 0, n / 2);
    k.pad_rows(o, b, n - 16, 8, 8, 0, n / 2);
    k.deinterleave(o, b, n, 2, n / 2, 0, n / 2);
    k.interleave(o, b, 2, n / 2, 1, n - 2, 0, n / 2);
    k.transpose(o, b, n, n, 0, n);
    k.argmin_cols(codes, b, n, n, 0, n);
    k.subtract_codewords(o, a, codes, n, n, 0, n);
    k.add_codewords(o, a, codes, n, n, 0, n);
  }
  rt.release(m);
}
