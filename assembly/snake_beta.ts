// Anti-aliased SnakeBeta (BigVGAN's Activation1d, as X-Codec 2's acoustic encoder uses it), fused per
// channel over chunks of time: 2x upsampling (replicate pad, transposed Kaiser-sinc filter, crop,
// times 2), SnakeBeta u + sin(a u)^2 / (b + 1e-9), then 2x downsampling (replicate pad, the same
// filter, stride 2). With the 12-tap filter the pads and crops reduce to clamped indices:
//   u[m] = 2 sum_{k = m + 1 mod 2} f[k] x[clamp((m + 15 - k) / 2 - 5)]      m < 2L
//   z[j] = sum_k f[k] s[clamp(2 j + k - 5)]                                j < L
// The filter is the fixed 12-tap one (TAPS); other lengths would change the index arithmetic below.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/qwen2_5_omni/modeling_qwen2_5_omni.py

import { sin2v } from './simd';

const TAPS: i32 = 12;
const CHUNK: i32 = 1024;
let buffer: usize = 0;

export function snake_beta_scratch_bytes(): i32 {
  return 2 * (CHUNK + 8) * 4;
}

export function snake_beta_scratch(p: usize): void {
  buffer = p;
}

// out[c, :] = down(snakeBeta(up(x[c, :]))) for rows [rowBegin, rowEnd) of x, out: [C, L]; a, inv: [C]
// (already exp'd: a = e^alpha, inv = 1 / (e^beta + 1e-9)); filter: the 12 taps. Needs the thread's
// scratch. With p the input index, the even and odd upsampled samples are
//   u[2p] = 2 sum_j f[2j + 1] x[p + 2 - j],   u[2p + 1] = 2 sum_j f[2j] x[p + 3 - j]   (j < 6)
// and the output z[j] = sum_i f[2i] s[2(j + i - 3) + 1] + f[2i + 1] s[2(j + i - 2)], so SnakeBeta's
// even and odd samples are kept apart (se, so) and every sum runs four consecutive indices per vector.
// Indices past either end take the end sample (the replicate pads).
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
  const se = buffer;
  const so = buffer + ((<usize>(CHUNK + 8)) << 2);
  for (let c = rowBegin; c < rowEnd; c++) {
    const xr = x + ((<usize>c * L) << 2);
    const or = out + ((<usize>c * L) << 2);
    const av = f32x4.splat(load<f32>(a + ((<usize>c) << 2)));
    const iv = f32x4.splat(load<f32>(inv + ((<usize>c) << 2)));
    for (let j0 = 0; j0 < L; j0 += CHUNK) {
      const j1 = min(L, j0 + CHUNK);
      // se[q], so[q] hold p = q + pLo for p in [pLo, pHi)
      const pLo = j0 - 3;
      const pHi = j1 + 3;
      const p0 = max(pLo, 0);
      const p1 = min(pHi, L);
      let p = p0;
      for (; p < p1; ) {
        const q = (<usize>(p - pLo)) << 2;
        if (p >= 3 && p + 4 + 3 <= L) {
          let ue = f32x4.splat(0);
          let uo = f32x4.splat(0);
          for (let j = 0; j < 6; j++) {
            const fo = v128.load32_splat(filter + ((<usize>(2 * j + 1)) << 2));
            const fe = v128.load32_splat(filter + ((<usize>(2 * j)) << 2));
            ue = f32x4.add(ue, f32x4.mul(fo, v128.load(xr + ((<usize>(p + 2 - j)) << 2))));
            uo = f32x4.add(uo, f32x4.mul(fe, v128.load(xr + ((<usize>(p + 3 - j)) << 2))));
          }
          ue = f32x4.mul(ue, f32x4.splat(2));
          uo = f32x4.mul(uo, f32x4.splat(2));
          v128.store(se + q, f32x4.add(ue, f32x4.mul(iv, sin2v(f32x4.mul(ue, av)))));
          v128.store(so + q, f32x4.add(uo, f32x4.mul(iv, sin2v(f32x4.mul(uo, av)))));
          p += 4;
        } else {
          let ue: f32 = 0;
          let uo: f32 = 0;
          for (let j = 0; j < 6; j++) {
            const ie = min(max(p + 2 - j, 0), L - 1);
            const io = min(max(p + 3 - j, 0), L - 1);
            ue += load<f32>(filter + ((<usize>(2 * j + 1)) << 2)) * load<f32>(xr + ((<usize>ie) << 2));
            uo += load<f32>(filter + ((<usize>(2 * j)) << 2)) * load<f32>(xr + ((<usize>io) << 2));
          }
          const u = f32x4.mul(f32x4.replace_lane(f32x4.splat(ue), 1, uo), f32x4.splat(2));
          const r = f32x4.add(u, f32x4.mul(iv, sin2v(f32x4.mul(u, av))));
          store<f32>(se + q, f32x4.extract_lane(r, 0));
          store<f32>(so + q, f32x4.extract_lane(r, 1));
          p += 1;
        }
      }
      // the replicate pads: s[m < 0] = s[0] = se(0), s[m > 2L - 1] = s[2L - 1] = so(L - 1)
      for (let pp = pLo; pp < 0; pp++) {
        const first = load<f32>(se + ((<usize>(0 - pLo)) << 2));
        store<f32>(se + ((<usize>(pp - pLo)) << 2), first);
        store<f32>(so + ((<usize>(pp - pLo)) << 2), first);
      }
      for (let pp = L; pp < pHi; pp++) {
        const last = load<f32>(so + ((<usize>(L - 1 - pLo)) << 2));
        store<f32>(se + ((<usize>(pp - pLo)) << 2), last);
        store<f32>(so + ((<usize>(pp - pLo)) << 2), last);
      }
      let j = j0;
      for (; j < j1; ) {
        const n = j + 4 <= j1 ? 4 : 1;
        let z = f32x4.splat(0);
        for (let i = 0; i < 6; i++) {
          const fe = v128.load32_splat(filter + ((<usize>(2 * i)) << 2));
          const fo = v128.load32_splat(filter + ((<usize>(2 * i + 1)) << 2));
          const qo = (<usize>(j + i - 3 - pLo)) << 2;
          const qe = (<usize>(j + i - 2 - pLo)) << 2;
          if (n == 4) {
            z = f32x4.add(z, f32x4.mul(fe, v128.load(so + qo)));
            z = f32x4.add(z, f32x4.mul(fo, v128.load(se + qe)));
          } else {
            z = f32x4.add(z, f32x4.mul(fe, f32x4.splat(load<f32>(so + qo))));
            z = f32x4.add(z, f32x4.mul(fo, f32x4.splat(load<f32>(se + qe))));
          }
        }
        if (n == 4) v128.store(or + ((<usize>j) << 2), z);
        else store<f32>(or + ((<usize>j) << 2), f32x4.extract_lane(z, 0));
        j += n;
      }
    }
  }
}
