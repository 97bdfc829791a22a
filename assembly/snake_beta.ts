// Anti-aliased SnakeBeta (BigVGAN's Activation1d, as X-Codec 2's acoustic encoder uses it), fused per
// channel over chunks of time: 2x upsampling (replicate pad, transposed Kaiser-sinc filter, crop,
// times 2), SnakeBeta u + sin(a u)^2 / (b + 1e-9), then 2x downsampling (replicate pad, the same
// filter, stride 2). With the 12-tap filter the pads and crops reduce to clamped indices:
//   u[m] = 2 sum_{k = m + 1 mod 2} f[k] x[clamp((m + 15 - k) / 2 - 5)]      m < 2L
//   z[j] = sum_k f[k] s[clamp(2 j + k - 5)]                                j < L
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/qwen2_5_omni/modeling_qwen2_5_omni.py

import { sin2v } from './simd';

const TAPS: i32 = 12;
const CHUNK: i32 = 1024;
let buffer: usize = 0;

export function snake_beta_scratch_bytes(): i32 {
  return (2 * CHUNK + 2 * TAPS) * 4;
}

export function snake_beta_scratch(p: usize): void {
  buffer = p;
}

// out[c, :] = down(snakeBeta(up(x[c, :]))) for rows [rowBegin, rowEnd) of x, out: [C, L]; alpha, beta:
// [C] (already exp'd: a = e^alpha, inv = 1 / (e^beta + 1e-9)); filter: the 12 taps. Needs the thread's scratch.
export function snake_beta_aa(
  out: usize,
  x: usize,
  a: usize,
  inv: usize,
  filter: usize,
  L: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const last = 2 * L - 1;
  for (let c = rowBegin; c < rowEnd; c++) {
    const xr = x + ((<usize>c * L) << 2);
    const or = out + ((<usize>c * L) << 2);
    const av = f32x4.splat(load<f32>(a + ((<usize>c) << 2)));
    const iv = f32x4.splat(load<f32>(inv + ((<usize>c) << 2)));
    for (let j0 = 0; j0 < L; j0 += CHUNK) {
      const j1 = min(L, j0 + CHUNK);
      // s[m] for m in [lo, hi], the samples the chunk's outputs read
      const lo = max(0, 2 * j0 - 5);
      const hi = min(last, 2 * (j1 - 1) + TAPS - 1 - 5);
      let m = lo;
      for (; m <= hi; m++) {
        let u: f32 = 0;
        const k0 = (m + 1) & 1;
        for (let k = k0; k < TAPS; k += 2) {
          const i = min(max((m + 15 - k) / 2 - 5, 0), L - 1);
          u += load<f32>(filter + ((<usize>k) << 2)) * load<f32>(xr + ((<usize>i) << 2));
        }
        store<f32>(buffer + ((<usize>(m - lo)) << 2), u * <f32>2.0);
      }
      // SnakeBeta over the buffer, four at a time, the tail through the same vector code
      const n = hi - lo + 1;
      let t = 0;
      for (; t + 4 <= n; t += 4) {
        const v = v128.load(buffer + ((<usize>t) << 2));
        v128.store(buffer + ((<usize>t) << 2), f32x4.add(v, f32x4.mul(iv, sin2v(f32x4.mul(v, av)))));
      }
      for (; t < n; t++) {
        const v = f32x4.splat(load<f32>(buffer + ((<usize>t) << 2)));
        const r = f32x4.add(v, f32x4.mul(iv, sin2v(f32x4.mul(v, av))));
        store<f32>(buffer + ((<usize>t) << 2), f32x4.extract_lane(r, 0));
      }
      for (let j = j0; j < j1; j++) {
        let z: f32 = 0;
        for (let k = 0; k < TAPS; k++) {
          const i = min(max(2 * j + k - 5, 0), last);
          z += load<f32>(filter + ((<usize>k) << 2)) * load<f32>(buffer + ((<usize>(i - lo)) << 2));
        }
        store<f32>(or + ((<usize>j) << 2), z);
      }
    }
  }
}
