// Plain scalar JavaScript references for the kernels of assembly/ and the ops of src/ops.ts, written
// from the textbook / PyTorch definitions (not from the kernels' code). Sums are accumulated in float64
// and each reference that feeds a tolerance check also returns, per element, the sum of the absolute
// values of the terms, so the test can use a rigorous rounding bound instead of a guessed one.
// Layouts follow the kernels: activations [C, T] row-major, PyTorch weights in PyTorch order.

const fr = Math.fround;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n f32 values uniform in [lo, hi). */
export function uniform(r, n, lo = -1, hi = 1) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

// ---------------------------------------------------------------------------------------------------
// erf / erfc in float64, accurate to ~1e-15 relative (erfc also in the far tail, where 1 - erf cancels).

const SQRT_PI = Math.sqrt(Math.PI);

/** erf(z) for z >= 0 by the all-positive series erf z = 2/sqrt(pi) e^{-z^2} sum 2^n z^{2n+1} / (2n+1)!!. */
function erfSeries(z) {
  let term = z;
  let sum = z;
  const z2 = z * z;
  for (let n = 1; n < 500; n++) {
    term *= (2 * z2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / SQRT_PI) * Math.exp(-z2) * sum;
}

/** erfc(z) for z >= 2 by the continued fraction e^{-z^2}/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))). */
function erfcContinuedFraction(z) {
  let f = z;
  for (let n = 300; n >= 1; n--) f = z + n / 2 / f;
  return Math.exp(-z * z) / (SQRT_PI * f);
}

export function erfc(x) {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) return 1 - erfSeries(x);
  return erfcContinuedFraction(x);
}

export function erf(x) {
  if (x < 0) return -erf(-x);
  if (x < 2) return erfSeries(x);
  return 1 - erfcContinuedFraction(x);
}

// ---------------------------------------------------------------------------------------------------
// Activations (float64).

/** GELU, exact erf form: 0.5 x (1 + erf(x / sqrt 2)) = x * erfc(-x / sqrt 2) / 2 (no cancellation for x < 0). */
export function gelu(x) {
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

/** ELU with alpha 1. */
export function elu(x) {
  return x > 0 ? x : Math.expm1(x);
}

export function sigmoid(x) {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Snake: x + sin(alpha x)^2 / (alpha + 1e-9). */
export function snake(x, alpha) {
  const s = Math.sin(alpha * x);
  return x + (s * s) / (alpha + 1e-9);
}

// ---------------------------------------------------------------------------------------------------
// GEMM with a row-offset table: out[m, n] = init + sum_kk a[m*lda + kk] * Bf32[rowOff[kk]/4 + n].

/**
 * float64 reference. rowElems[kk] is the row offset of B in elements. Returns { val, abs } per element
 * ([M, N] packed, no ldo), abs = |init terms| + sum |products|.
 */
export function gemmRef({ a, lda, b, rowElems, bias, accumulate, outInit, ldo, M, N, K }) {
  const val = new Float64Array(M * N);
  const abs = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let t = 0;
      if (bias) {
        s += bias[m];
        t += Math.abs(bias[m]);
      }
      if (accumulate) {
        s += outInit[m * ldo + n];
        t += Math.abs(outInit[m * ldo + n]);
      }
      for (let kk = 0; kk < K; kk++) {
        const p = a[m * lda + kk] * b[rowElems[kk] + n];
        s += p;
        t += Math.abs(p);
      }
      val[m * N + n] = s;
      abs[m * N + n] = t;
    }
  }
  return { val, abs };
}

/**
 * The GEMM's documented f32 operation order emulated with Math.fround (non-fused build): first the
 * init (bias, then out + bias when accumulating), then c = fl(c + fl(a * b)) in kk order.
 */
export function gemmF32(opts) {
  const { a, lda, b, rowElems, bias, accumulate, outInit, ldo, M, N, K } = opts;
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let c = bias ? bias[m] : 0;
      if (accumulate) c = fr(outInit[m * ldo + n] + c);
      for (let kk = 0; kk < K; kk++) c = fr(c + fr(a[m * lda + kk] * b[rowElems[kk] + n]));
      out[m * N + n] = c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Convolutions (PyTorch semantics, one batch item).

/**
 * Conv1d: x [cin, T], w [cout, cin/groups, kernel] -> { val, abs, dims: [cout, Tout], terms }.
 * out[co, t] = bias[co] + residual[co, t] + sum_{ci, k} w[co, ci, k] x[g*cinG + ci, t*s - p + k*d].
 */
export function conv1dRef(
  x,
  T,
  w,
  bias,
  { cin, cout, kernel, stride = 1, padding = 0, dilation = 1, groups = 1 },
  residual,
) {
  const Tout = Math.floor((T + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
  const cinG = cin / groups;
  const coutG = cout / groups;
  const val = new Float64Array(cout * Tout);
  const abs = new Float64Array(cout * Tout);
  for (let co = 0; co < cout; co++) {
    const g = Math.floor(co / coutG);
    for (let t = 0; t < Tout; t++) {
      let s = 0;
      let a = 0;
      if (bias) {
        s += bias[co];
        a += Math.abs(bias[co]);
      }
      if (residual) {
        s += residual[co * Tout + t];
        a += Math.abs(residual[co * Tout + t]);
      }
      for (let ci = 0; ci < cinG; ci++) {
        for (let k = 0; k < kernel; k++) {
          const i = t * stride - padding + k * dilation;
          if (i < 0 || i >= T) continue;
          const p = w[(co * cinG + ci) * kernel + k] * x[(g * cinG + ci) * T + i];
          s += p;
          a += Math.abs(p);
        }
      }
      val[co * Tout + t] = s;
      abs[co * Tout + t] = a;
    }
  }
  return { val, abs, dims: [cout, Tout] };
}

/**
 * The Winograd F(4, r) convolution of assembly/winograd.ts, stride 1, for x [cin, T], w [cout, cin, r]:
 * the tile of every output (block t / 4d, class t % d of t + shift, shift = origin mod 4d), with the
 * matrices { AT, G, BT } (f32 values, row-major). Returns
 *  - f32: the kernel's documented operation order emulated with Math.fround for the non-fused build
 *    (U = G w summed in f64 and rounded once; per tap parity acc = fl(fl(c x) + acc) over nonzero c in
 *    tap order; a pair's rows fl(E + O) and fl(E - O), row 0 E alone, the last row O alone; the GEMM c = fl(c + fl(u v)) in ci order from
 *    0; pair sums fl(M+ + M-), fl(M+ - M-); each output fl(acc + bias) after its nonzero terms in the
 *    order 0, the pairs, infinity);
 *  - abs: per output the float64 sum of |AT| |U| |V| over every product path with |BT| |x| and |G| |w|,
 *    so that gamma(cin + 2 alpha + 4) * abs (+ the bias's rounding) bounds the f32 error of either build.
 */
export function winogradConvF32(x, T, w, bias, { cin, cout, kernel: r, padding, dilation: d }, origin, { AT, G, BT }) {
  const alpha = r + 3;
  const pairs = (alpha - 2) >> 1;
  const inf = alpha - 1;
  const madd = (a, b, c) => fr(fr(a * b) + c);
  const Tout = T + 2 * padding - d * (r - 1);
  const U = new Float32Array(alpha * cout * cin);
  const Uabs = new Float64Array(alpha * cout * cin);
  for (let p = 0; p < alpha; p++) {
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        let s = 0;
        let a = 0;
        for (let j = 0; j < r; j++) {
          s += G[p * r + j] * w[(co * cin + ci) * r + j];
          a += Math.abs(G[p * r + j] * w[(co * cin + ci) * r + j]);
        }
        U[(p * cout + co) * cin + ci] = fr(s);
        Uabs[(p * cout + co) * cin + ci] = a;
      }
    }
  }
  const span = 4 * d;
  const shift = ((origin % span) + span) % span;
  const xq = (ci, u) => {
    const i = u - shift - padding;
    return i >= 0 && i < T ? x[ci * T + i] : 0;
  };
  const out = new Float32Array(cout * Tout);
  const abs = new Float64Array(cout * Tout);
  const V = new Float32Array(alpha * cin);
  const Vabs = new Float64Array(alpha * cin);
  const taps = (p, ci, s, first) => {
    let acc = 0;
    let a = 0;
    for (let k = first; k < alpha; k += 2) {
      const c = BT[p * alpha + k];
      if (c !== 0) {
        const v = xq(ci, s + k * d);
        acc = madd(c, v, acc);
        a += Math.abs(c * v);
      }
    }
    return [acc, a];
  };
  for (let s0 = 0; s0 < Tout + shift; s0 += span) {
    for (let cls = 0; cls < d; cls++) {
      const s = s0 + cls;
      for (let ci = 0; ci < cin; ci++) {
        // row 0 has only even taps and the last only odd ones (src/winograd.ts kernelRuns): no sum of both
        const [e0, ea0] = taps(0, ci, s, 0);
        V[ci] = e0;
        Vabs[ci] = ea0;
        const [oi, oai] = taps(inf, ci, s, 1);
        V[inf * cin + ci] = oi;
        Vabs[inf * cin + ci] = oai;
        for (let j = 0; j < pairs; j++) {
          const p = 2 * j + 1;
          const [e, ea] = taps(p, ci, s, 0);
          const [o, oa] = taps(p, ci, s, 1);
          V[p * cin + ci] = fr(e + o);
          V[(p + 1) * cin + ci] = fr(e - o);
          Vabs[p * cin + ci] = Vabs[(p + 1) * cin + ci] = ea + oa;
        }
      }
      for (let co = 0; co < cout; co++) {
        const M = new Float32Array(alpha);
        const Mabs = new Float64Array(alpha);
        for (let p = 0; p < alpha; p++) {
          let c = 0;
          let a = 0;
          for (let ci = 0; ci < cin; ci++) {
            c = fr(c + fr(U[(p * cout + co) * cin + ci] * V[p * cin + ci]));
            a += Uabs[(p * cout + co) * cin + ci] * Vabs[p * cin + ci];
          }
          M[p] = c;
          Mabs[p] = a;
        }
        const S = [];
        const D = [];
        for (let j = 0; j < pairs; j++) {
          S.push(fr(M[2 * j + 1] + M[2 * j + 2]));
          D.push(fr(M[2 * j + 1] - M[2 * j + 2]));
        }
        for (let i = 0; i < 4; i++) {
          const t = s + i * d - shift;
          if (t < 0 || t >= Tout) continue;
          let acc = 0;
          let a = 0;
          const row = i * alpha;
          if (AT[row] !== 0) acc = madd(AT[row], M[0], acc);
          a += Math.abs(AT[row]) * Mabs[0];
          for (let j = 0; j < pairs; j++) {
            const c = AT[row + 2 * j + 1];
            if (c !== 0) acc = madd(c, i & 1 ? D[j] : S[j], acc);
            a += Math.abs(c) * (Mabs[2 * j + 1] + Mabs[2 * j + 2]);
          }
          if (AT[row + inf] !== 0) acc = madd(AT[row + inf], M[inf], acc);
          a += Math.abs(AT[row + inf]) * Mabs[inf];
          const b = bias ? bias[co] : 0;
          out[co * Tout + t] = fr(acc + b);
          abs[co * Tout + t] = a + Math.abs(b);
        }
      }
    }
  }
  return { f32: out, abs, dims: [cout, Tout] };
}

/**
 * ConvTranspose1d by the scatter definition: out[co, i*s - p + k] += x[ci, i] * w[ci, co, k],
 * w [cin, cout, kernel], length (T - 1) * s - 2p + kernel + outputPadding, plus bias[co].
 */
export function convTranspose1dRef(x, T, w, bias, { cin, cout, kernel, stride, padding, outputPadding }) {
  const Tout = (T - 1) * stride - 2 * padding + kernel + outputPadding;
  const val = new Float64Array(cout * Tout);
  const abs = new Float64Array(cout * Tout);
  if (bias) {
    for (let co = 0; co < cout; co++) {
      for (let t = 0; t < Tout; t++) {
        val[co * Tout + t] = bias[co];
        abs[co * Tout + t] = Math.abs(bias[co]);
      }
    }
  }
  for (let ci = 0; ci < cin; ci++) {
    for (let i = 0; i < T; i++) {
      const xv = x[ci * T + i];
      for (let co = 0; co < cout; co++) {
        for (let k = 0; k < kernel; k++) {
          const t = i * stride - padding + k;
          if (t < 0 || t >= Tout) continue;
          const p = xv * w[(ci * cout + co) * kernel + k];
          val[co * Tout + t] += p;
          abs[co * Tout + t] += Math.abs(p);
        }
      }
    }
  }
  return { val, abs, dims: [cout, Tout] };
}

// ---------------------------------------------------------------------------------------------------
// Norms, softmax and data movement.

/**
 * Normalises the n elements x[base + i * step] (biased variance, eps inside the sqrt) into out, then
 * maps each normalised value v with affine(v, i) (the caller picks gamma/beta by index).
 */
function normalizeStrided(out, x, base, n, step, eps, affine) {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[base + i * step];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[base + i * step] - mean) ** 2;
  v /= n;
  const rstd = 1 / Math.sqrt(v + eps);
  for (let i = 0; i < n; i++) out[base + i * step] = affine((x[base + i * step] - mean) * rstd, i);
}

/** LayerNorm over the channel axis of x [C, T] (biased variance, eps inside the sqrt). */
export function layerNormColsRef(x, C, T, gamma, beta, eps) {
  const out = new Float64Array(C * T);
  for (let t = 0; t < T; t++) normalizeStrided(out, x, t, C, T, eps, (v, c) => v * gamma[c] + beta[c]);
  return out;
}

/** GroupNorm(C, C): each row of x [C, T] normalised over T (biased variance). */
export function groupNormRowsRef(x, C, T, gamma, beta, eps) {
  const out = new Float64Array(C * T);
  for (let c = 0; c < C; c++) normalizeStrided(out, x, c * T, T, 1, eps, (v) => v * gamma[c] + beta[c]);
  return out;
}

/** Softmax down each column of s [R, Cn]. */
export function softmaxColsRef(s, R, Cn) {
  const out = new Float64Array(R * Cn);
  for (let j = 0; j < Cn; j++) {
    let mx = -Infinity;
    for (let r = 0; r < R; r++) mx = Math.max(mx, s[r * Cn + j]);
    let sum = 0;
    for (let r = 0; r < R; r++) sum += Math.exp(s[r * Cn + j] - mx);
    for (let r = 0; r < R; r++) out[r * Cn + j] = Math.exp(s[r * Cn + j] - mx) / sum;
  }
  return out;
}

/**
 * torch.nn.utils.weight_norm: w = g * v / ||v|| with the norm over every axis except `dim`.
 * v: flat, shape: dims of v; g: flat of length shape[dim].
 */
export function weightNormRef(v, shape, g, dim) {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, x) => p * x, 1));
  const n = v.length;
  const norms = new Float64Array(shape[dim]);
  for (let i = 0; i < n; i++) norms[Math.floor(i / strides[dim]) % shape[dim]] += v[i] * v[i];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = Math.floor(i / strides[dim]) % shape[dim];
    out[i] = (g[d] * v[i]) / Math.sqrt(norms[d]);
  }
  return out;
}

export function transposeRef(x, R, Cn) {
  const out = new Float32Array(R * Cn);
  for (let i = 0; i < R; i++) for (let j = 0; j < Cn; j++) out[j * R + i] = x[i * Cn + j];
  return out;
}

export function padRowsRef(x, C, T, left, right) {
  const To = left + T + right;
  const out = new Float32Array(C * To);
  for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) out[c * To + left + t] = x[c * T + t];
  return out;
}

/** First index of the minimum of each column of s [K, T] (torch.argmin / argmax(-d) tie rule). */
export function argminColsRef(s, K, T) {
  const out = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (s[k * T + t] < s[best * T + t]) best = k;
    out[t] = best;
  }
  return out;
}

/** WavLM gate from g [8, T] (gru_rel_pos_linear output): a*(b*c - 1) + 2, a/b = sigmoid of the sums of 4. */
export function wavlmGateRef(g, T, c) {
  const out = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    let sa = 0;
    let sb = 0;
    for (let j = 0; j < 4; j++) {
      sa += g[j * T + i];
      sb += g[(4 + j) * T + i];
    }
    const a = sigmoid(sa);
    const b = sigmoid(sb);
    out[i] = a * (b * c - 1) + 2;
  }
  return out;
}
