import { Runtime } from '../dist/runtime.js';
import { warmUpKernels } from '../dist/warmup.js';
const rt = new Runtime(process.argv[2] || 'relaxed');
warmUpKernels(rt);
const k = rt.k;
const T = 3000, H = 768, d = 64, BQ = 64, BK = 256;
const buf = (n) => { const p = rt.allocBytes(4 * n); const f = rt.f32; for (let i = 0; i < n; i++) f[(p >>> 2) + i] = Math.sin(i * 0.37) * 0.1; return p; };
const q = buf(H * T), kT = buf(T * H), v = buf(H * T), ctx = buf(H * T);
const rows = rt.allocBytes(4 * d); k.gemm_rows(rows, d, 1, T, 1);
const s = buf(BK * BQ); const rowsP = rt.allocBytes(4 * BK); for (let j = 0; j < BK; j++) rt.i32 ? 0 : 0;
k.gemm_rows(rowsP, BK, 1, BQ, 1);
const st = buf(4 * BQ);
const N = 2000;
function time(name, fn, flops) {
  for (let i = 0; i < 50; i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  const us = (performance.now() - t0) * 1000 / N;
  console.log(`${name}: ${us.toFixed(1)} us${flops ? `, ${(flops / us / 1e3).toFixed(1)} GFLOP/s` : ''}`);
  return us;
}
const q0 = 0, k0 = 512;
const a = time('S = kT q (256x64x64)', () => k.gemm(s - 4 * q0, BQ, kT + 4 * (k0 * H), H, q, rows, 0, 0, BK, T, d, 0, BK, q0, q0 + BQ), 2 * BK * BQ * d);
const b = time('softmax_online_cols 256x64', () => k.softmax_online_cols(s, BK, BQ, st, 0, 0, BQ));
const c = time('scale_cols 64x64', () => k.scale_cols(ctx, T, d, st + 4 * 2 * BQ, 0, BQ));
const e = time('ctx += v P (64x64x256)', () => k.gemm(ctx, T, v + 4 * k0, T, s, rowsP, 0, ctx, d, T, BK, 0, d, 0, BQ), 2 * BK * BQ * d);
console.log(`total ${(a + b + c + e).toFixed(1)} us: ${(4 * BK * BQ * d / (a + b + c + e) / 1e3).toFixed(1)} GFLOP/s; softmax ${(100 * b / (a + b + c + e)).toFixed(0)}%`);
