// f32x4 helpers and vector transcendental functions (exp, sin^2, erfc) used by the activation kernels.
// Accuracy target: a few ulp, well inside the fixtures' tolerances, without calling scalar libm per
// lane (AssemblyScript's Math.* is f64 software code, an order of magnitude slower).

// a * b + c. The relaxed build fuses (one rounding); the plain build rounds twice like PyTorch's
// CPU kernels without FMA. Either is within tolerance; a build is consistent with itself.
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  }
  return f32x4.add(f32x4.mul(a, b), c);
}

// e^x for f32 lanes: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n by exponent bits.
// Inputs beyond the f32 range saturate to 0 or +inf like expf.
@inline export function expv(x: v128): v128 {
  const hi = f32x4.splat(88.72283935546875);
  const lo = f32x4.splat(-103.97);
  const xc = f32x4.max(f32x4.min(x, hi), lo);
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  // ln2 split in two so n * LN2_HI is exact for |n| < 2^10.
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  // Taylor/minimax for e^r on [-ln2/2, ln2/2] (cephes expf coefficients).
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  p = f32x4.add(f32x4.add(f32x4.mul(p, r2), r), f32x4.splat(1.0));
  // 2^n in two halves so n down to -150 (subnormal results) and up to 128 do not overflow the exponent.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  const y = f32x4.mul(f32x4.mul(p, s1), s2);
  // x > hi means overflow (+inf); NaN propagates through the compare mask.
  const over = f32x4.gt(x, hi);
  const res = v128.bitselect(f32x4.splat(Infinity), y, over);
  const isnan = f32x4.ne(x, x);
  return v128.bitselect(x, res, isnan);
}

// sin(x)^2. Snake only needs the square, so the sign of the half-period never matters: reduce by pi.
@inline export function sin2v(x: v128): v128 {
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(0.31830988618379067)));
  // pi in three parts (Cody-Waite) so the reduction stays accurate for |n| up to ~2^16.
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(3.140625)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(9.67502593994140625e-4)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(1.509957990978376432e-7)));
  const r2 = f32x4.mul(r, r);
  // sin on [-pi/2, pi/2], odd polynomial to r^11 (|error| < 1e-8 in exact arithmetic).
  let p = f32x4.splat(-2.3889859e-8);
  p = f32x4.add(f32x4.mul(p, r2), f32x4.splat(2.7525562e-6));
  p = f32x4.add(f32x4.mul(p, r2), f32x4.splat(-1.9840874e-4));
  p = f32x4.add(f32x4.mul(p, r2), f32x4.splat(8.3333310e-3));
  p = f32x4.add(f32x4.mul(p, r2), f32x4.splat(-1.6666667e-1));
  const s = f32x4.add(f32x4.mul(f32x4.mul(p, r2), r), r);
  return f32x4.mul(s, s);
}

// erfc(|x|) with relative error < 1.2e-7 (Numerical Recipes' Chebyshev fit), branch-free.
@inline export function erfcAbsv(x: v128): v128 {
  const z = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  const e = expv(f32x4.sub(p, f32x4.mul(z, z)));
  return f32x4.mul(t, e);
}

// GELU, exact erf form: x * Phi(x), Phi(x) = erfc(-x / sqrt2) / 2. Using erfc on both sides keeps
// relative accuracy in the negative tail where 1 + erf(x) would cancel.
@inline export function geluv(x: v128): v128 {
  const h = f32x4.mul(erfcAbsv(f32x4.mul(x, f32x4.splat(0.7071067811865476))), f32x4.splat(0.5));
  const phi = v128.bitselect(f32x4.sub(f32x4.splat(1.0), h), h, f32x4.ge(x, f32x4.splat(0)));
  return f32x4.mul(x, phi);
}

// ELU with alpha 1: x for x > 0, expm1(x) otherwise. Near zero e^x - 1 cancels, so |x| < 0.25 uses
// the Taylor series of expm1 (truncation below 1e-9 relative), like PyTorch's expm1-based ELU.
@inline export function eluv(x: v128): v128 {
  const xn = f32x4.min(x, f32x4.splat(0));
  const far = f32x4.sub(expv(xn), f32x4.splat(1.0));
  let p = f32x4.splat(<f32>(1.0 / 5040.0));
  p = f32x4.add(f32x4.mul(p, xn), f32x4.splat(<f32>(1.0 / 720.0)));
  p = f32x4.add(f32x4.mul(p, xn), f32x4.splat(<f32>(1.0 / 120.0)));
  p = f32x4.add(f32x4.mul(p, xn), f32x4.splat(<f32>(1.0 / 24.0)));
  p = f32x4.add(f32x4.mul(p, xn), f32x4.splat(<f32>(1.0 / 6.0)));
  p = f32x4.add(f32x4.mul(p, xn), f32x4.splat(<f32>0.5));
  const near = f32x4.add(f32x4.mul(f32x4.mul(p, xn), xn), xn);
  const neg = v128.bitselect(near, far, f32x4.lt(f32x4.abs(xn), f32x4.splat(<f32>0.25)));
  return v128.bitselect(x, neg, f32x4.gt(x, f32x4.splat(0)));
}

@inline export function sigmoidv(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), expv(f32x4.neg(x))));
}
