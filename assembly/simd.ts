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

// The constants of the functions below, as scalars in the module's static data (the first page of
// linear memory, which the TS allocator never hands out). A v128.const inside a loop is rebuilt by V8
// in every iteration (3-4 instructions each, no hoisting), and binaryen folds constants hoisted into
// locals back into the loop; a load32_splat from this table is one instruction. Every thread's
// instance writes the same bytes here when it is instantiated.
const K = memory.data<f32>(
  [
    88.72283935546875,
    -103.97,
    1.44269504088896341,
    12582912.0,
    0.693359375,
    -2.1219444e-4, // 0-5
    1.98756915e-4,
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1, // 6-11
    1.0,
    Infinity,
    0.0,
    0.5, // 12-15
    0.31830988618379067,
    3.140625,
    9.67502593994140625e-4,
    1.509957990978376432e-7, // 16-19
    -2.3889859e-8,
    2.7525562e-6,
    -1.9840874e-4,
    8.333331e-3,
    -1.6666667e-1, // 20-24
    0.17087277,
    -0.82215223,
    1.48851587,
    -1.13520398,
    0.27886807,
    -0.18628806,
    0.09678418,
    0.37409196, // 25-32
    1.00002368,
    -1.26551223,
    0.7071067811865476,
    0.25, // 33-36
    <f32>(1.0 / 5040.0),
    <f32>(1.0 / 720.0),
    <f32>(1.0 / 120.0),
    <f32>(1.0 / 24.0),
    <f32>(1.0 / 6.0), // 37-41
    -86.6, // 42
    -0.693359375,
    2.1219444e-4, // 43-44: -k(4), -k(5), the reduction's multiply-add form
  ],
  16,
);
const I127 = memory.data<i32>([127], 4);

@inline function k(i: i32): v128 {
  return v128.load32_splat(K + ((<usize>i) << 2));
}

// The shared core of the exps: for xc = n ln2 + r with |r| <= ln2/2, t holds n + 1.5 * 2^23 (adding
// the shifter rounds xc / ln2 to nearest-even and leaves n in the low mantissa bits: the same n as
// f32x4.nearest, with no float-to-int convert), and the result is e^r.
@inline function expShift(xc: v128): v128 {
  return madd(xc, k(2), k(3));
}

// The reduction, the polynomial and the shift are multiply-adds: fused in the relaxed build (one
// rounding each, as its GEMM), the plain build's exact former mul-then-add sequence (the same bits as
// before). Fused, the attention's softmax ran a 256 x 64 block in 12.5 instead of 15 us.
@inline function expReduced(xc: v128, t: v128): v128 {
  const n = f32x4.sub(t, k(3));
  // ln2 split in two so n * LN2_HI is exact for |n| < 2^10.
  let r = madd(n, k(43), xc);
  r = madd(n, k(44), r);
  // Taylor/minimax for e^r on [-ln2/2, ln2/2] (cephes expf coefficients).
  let p = k(6);
  p = madd(p, r, k(7));
  p = madd(p, r, k(8));
  p = madd(p, r, k(9));
  p = madd(p, r, k(10));
  p = madd(p, r, k(11));
  const r2 = f32x4.mul(r, r);
  return f32x4.add(madd(p, r2, r), k(12));
}

// e^x for f32 lanes: x = n ln2 + r, e^r by a degree-6 polynomial, 2^n by exponent bits.
// Inputs beyond the f32 range saturate to 0 or +inf like expf; NaN gives NaN.
// The clamp uses pmin/pmax (x64's minps/maxps: f32x4.min/max's NaN rules cost several instructions;
// a NaN input is restored at the end either way).
@inline export function expv(x: v128): v128 {
  const hi = k(0);
  const xc = f32x4.pmax(f32x4.pmin(x, hi), k(1));
  const t = expShift(xc);
  const p = expReduced(xc, t);
  // 2^n in two halves so n down to -150 (subnormal results) and up to 128 do not overflow the exponent.
  const ni = i32x4.sub(t, k(3));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const bias = v128.load32_splat(I127);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  const y = f32x4.mul(f32x4.mul(p, s1), s2);
  // x > hi means overflow (+inf); NaN propagates through the compare mask.
  const over = f32x4.gt(x, hi);
  const res = v128.bitselect(k(13), y, over);
  const isnan = f32x4.ne(x, x);
  return v128.bitselect(x, res, isnan);
}

// e^x for x <= 0 (softmax after subtracting the maximum), the same bits as expv() down to x = -86.6
// (results >= 2^-125) and 0 below, where expv() returns subnormals under 2.3e-38. With no overflow to
// handle, 2^n goes straight into the exponent bits and the selects go, so it is cheaper than expv().
// NaN stays NaN (the clamps return their first operand for NaN, and the polynomial propagates it).
@inline export function expNonPositivev(x: v128): v128 {
  const lo = k(42);
  const xc = f32x4.pmax(x, lo);
  const t = expShift(xc);
  // t's bits are 1.5 * 2^23's (0x4B400000, low 9 bits zero) plus n: shifted by 23, only n << 23 remains.
  const y = i32x4.add(expReduced(xc, t), i32x4.shl(t, 23));
  return v128.andnot(y, f32x4.lt(x, lo));
}

// sin(x)^2. Snake only needs the square, so the sign of the half-period never matters: reduce by pi.
@inline export function sin2v(x: v128): v128 {
  const n = f32x4.nearest(f32x4.mul(x, k(16)));
  // pi in three parts (Cody-Waite) so the reduction stays accurate for |n| up to ~2^16.
  let r = f32x4.sub(x, f32x4.mul(n, k(17)));
  r = f32x4.sub(r, f32x4.mul(n, k(18)));
  r = f32x4.sub(r, f32x4.mul(n, k(19)));
  const r2 = f32x4.mul(r, r);
  // sin on [-pi/2, pi/2], odd polynomial to r^11 (|error| < 1e-8 in exact arithmetic).
  let p = k(20);
  p = f32x4.add(f32x4.mul(p, r2), k(21));
  p = f32x4.add(f32x4.mul(p, r2), k(22));
  p = f32x4.add(f32x4.mul(p, r2), k(23));
  p = f32x4.add(f32x4.mul(p, r2), k(24));
  const s = f32x4.add(f32x4.mul(f32x4.mul(p, r2), r), r);
  return f32x4.mul(s, s);
}

// erfc(|x|) with relative error < 1.2e-7 (Numerical Recipes' Chebyshev fit), branch-free. The exp
// argument is at most ~3e-8 (at x = 0), so expNonPositivev applies: it flushes to 0 only where erfc is
// below ~1e-38 (|x| > 9.3), and is a quarter cheaper than expv().
@inline export function erfcAbsv(x: v128): v128 {
  const z = f32x4.abs(x);
  const t = f32x4.div(k(12), f32x4.add(k(12), f32x4.mul(k(15), z)));
  let p = k(25);
  p = f32x4.add(f32x4.mul(p, t), k(26));
  p = f32x4.add(f32x4.mul(p, t), k(27));
  p = f32x4.add(f32x4.mul(p, t), k(28));
  p = f32x4.add(f32x4.mul(p, t), k(29));
  p = f32x4.add(f32x4.mul(p, t), k(30));
  p = f32x4.add(f32x4.mul(p, t), k(31));
  p = f32x4.add(f32x4.mul(p, t), k(32));
  p = f32x4.add(f32x4.mul(p, t), k(33));
  p = f32x4.add(f32x4.mul(p, t), k(34));
  const e = expNonPositivev(f32x4.sub(p, f32x4.mul(z, z)));
  return f32x4.mul(t, e);
}

// GELU, exact erf form: x * Phi(x), Phi(x) = erfc(-x / sqrt2) / 2. Using erfc on both sides keeps
// relative accuracy in the negative tail where 1 + erf(x) would cancel.
@inline export function geluv(x: v128): v128 {
  const h = f32x4.mul(erfcAbsv(f32x4.mul(x, k(35))), k(15));
  const phi = v128.bitselect(f32x4.sub(k(12), h), h, f32x4.ge(x, k(14)));
  return f32x4.mul(x, phi);
}

// ELU with alpha 1: x for x > 0, expm1(x) otherwise. Near zero e^x - 1 cancels, so |x| < 0.25 uses
// the Taylor series of expm1 (truncation below 1e-9 relative), like PyTorch's expm1-based ELU.
@inline export function eluv(x: v128): v128 {
  const xn = f32x4.pmin(x, k(14));
  const far = f32x4.sub(expNonPositivev(xn), k(12));
  let p = k(37);
  p = f32x4.add(f32x4.mul(p, xn), k(38));
  p = f32x4.add(f32x4.mul(p, xn), k(39));
  p = f32x4.add(f32x4.mul(p, xn), k(40));
  p = f32x4.add(f32x4.mul(p, xn), k(41));
  p = f32x4.add(f32x4.mul(p, xn), k(15));
  const near = f32x4.add(f32x4.mul(f32x4.mul(p, xn), xn), xn);
  const neg = v128.bitselect(near, far, f32x4.lt(f32x4.abs(xn), k(36)));
  return v128.bitselect(x, neg, f32x4.gt(x, k(14)));
}

@inline export function sigmoidv(x: v128): v128 {
  return f32x4.div(k(12), f32x4.add(k(12), expv(f32x4.neg(x))));
}
