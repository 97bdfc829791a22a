// Throughput probe for the benchmark: 12 independent f32x4 multiply-add chains (8 FLOP per chain per
// iteration), the best case any kernel can reach. Uses madd(), so the relaxed build measures fused
// relaxed_madd and the plain build mul + add.
import { madd } from './simd';

// The chains' multiplier and addend, read from memory: as v128 constants V8 13 (Node 24) rebuilds each
// of them before every multiply-add of the loop (a 64-bit immediate and a shuffle, 6 instructions), and
// the probe would read far below what the kernels reach.
const CHAIN = memory.data<f32>([0.9999, 1e-4], 16);

export function peak_madd(iterations: i32, seed: f32): f32 {
  const m = v128.load32_splat(CHAIN);
  const c = v128.load32_splat(CHAIN, 4);
  let a0 = f32x4.splat(seed),
    a1 = f32x4.splat(seed + 1),
    a2 = f32x4.splat(seed + 2),
    a3 = f32x4.splat(seed + 3);
  let a4 = f32x4.splat(seed + 4),
    a5 = f32x4.splat(seed + 5),
    a6 = f32x4.splat(seed + 6),
    a7 = f32x4.splat(seed + 7);
  let a8 = f32x4.splat(seed + 8),
    a9 = f32x4.splat(seed + 9),
    a10 = f32x4.splat(seed + 10),
    a11 = f32x4.splat(seed + 11);
  for (let i = 0; i < iterations; i++) {
    a0 = madd(a0, m, c);
    a1 = madd(a1, m, c);
    a2 = madd(a2, m, c);
    a3 = madd(a3, m, c);
    a4 = madd(a4, m, c);
    a5 = madd(a5, m, c);
    a6 = madd(a6, m, c);
    a7 = madd(a7, m, c);
    a8 = madd(a8, m, c);
    a9 = madd(a9, m, c);
    a10 = madd(a10, m, c);
    a11 = madd(a11, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const t = f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11));
  return f32x4.extract_lane(f32x4.add(s, t), 0);
}

/** FLOPs done by peak_madd(iterations). */
export function peak_madd_flops_per_iteration(): i32 {
  return 12 * 8;
}
