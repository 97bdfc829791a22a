// Every kernel of assembly/ and every op of src/ops.ts against the plain scalar references of
// reference_ops.mjs, on awkward sizes (odd lengths, SIMD tails, blocks crossed, strides and paddings of
// the real model), for the plain SIMD build and, where this runtime can run it, the relaxed-SIMD build
// (in-process when WebAssembly.validate accepts it, else re-run in a child process with
// --experimental-wasm-relaxed-simd).
//
// Tolerances (u = 2^-24, the f32 unit roundoff; all references are float64):
//  - GEMM / conv / transposed conv, per element: |got - ref| <= gamma(n) * (sum of |terms|),
//    gamma(n) = n u / (1 - n u), n = number of products + 2 (bias, residual). This is the rigorous
//    worst-case bound for recursive f32 summation (Higham, Accuracy and Stability, eq. 3.5), fused or not.
//    On the plain build GEMM is also checked bit for bit against a Math.fround emulation of its
//    documented operation order, and every split of [mBegin, mEnd) x [nBegin, nEnd) bit for bit against
//    the whole call (what keeps multi-threaded results deterministic).
//  - gelu: |d| <= (2e-6 + 2e-7 x^2) |ref| + 2^-126 (x^2: the relative condition number of x erfc(|x|/sqrt2)
//    in the negative tail; 2^-126: below it f32 results are subnormal); elu: |d| <= 2e-6 |ref| + 2^-126 (the
//    kernel uses an expm1 series near 0, so it keeps relative accuracy there); sigmoid:
//    |d| <= 1e-5 |ref| + 2^-126; snake: |d| <= 2e-6 (|ref| + |x|) (|x|: sin(a x)^2 / a with a x rounded to f32
//    moves by up to |x| u); softmax: |d| <= 1e-5 |ref| + 2.4e-38 (e^(s - max) under 2^-125 is flushed to 0).
//  - layer norm / group norm over n elements: |d| <= 1e-6 sqrt(n) (1 + |ref|).
//  - weight norm: |d| <= 2.5 u |ref| (one f64 division rounded to f32, one f32 product).
//  - data movement, argmin, codeword add/subtract, scalar accumulations: exact (bit-identical).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Runtime, kernelModule } from '../../dist/backend/runtime.js';
import * as ops from '../../dist/nn/index.js';
import * as R from '../support/reference_ops.mjs';
import { KERNEL7_TILE, exactMatrices, tile, winogradMatrices } from '../../dist/nn/index.js';

const fr = Math.fround;
const U = 2 ** -24;
const gamma = (n) => (n * U) / (1 - n * U);
const MIN_NORMAL = 2 ** -126;
const SENTINEL = -12345.5;

function relaxedInProcess() {
  try {
    return kernelModule('relaxed').flavour === 'relaxed';
  } catch {
    return false;
  }
}

const FLAVOURS = process.env.XCODEC_KERNEL_FLAVOURS
  ? process.env.XCODEC_KERNEL_FLAVOURS.split(',')
  : ['simd', ...(relaxedInProcess() ? ['relaxed'] : [])];

// ---------------------------------------------------------------------------------------------------
// Helpers

function upI32(rt, arr) {
  const p = rt.allocBytes(4 * Math.max(1, arr.length));
  rt.i32.set(arr, p >>> 2);
  return p;
}

function readF32(rt, ptr, n) {
  return rt.f32.slice(ptr >>> 2, (ptr >>> 2) + n);
}

function readI32(rt, ptr, n) {
  return rt.i32.slice(ptr >>> 2, (ptr >>> 2) + n);
}

/** Per element |got - ref| <= tol(i, ref); throws naming the first element over it. Returns the worst |d| / tol. */
function assertTol(got, ref, tol, what) {
  assert.is(got.length, ref.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const t = tol(i, ref[i]);
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= t)) {
      throw new assert.Assertion({
        message: `${what}: element ${i}: got ${got[i]}, expected ${ref[i]} (|diff| ${d} > tolerance ${t})`,
        generated: false,
        operator: 'tolerance',
        actual: got[i],
        expects: ref[i],
      });
    }
    if (t > 0) worst = Math.max(worst, d / t);
  }
  return worst;
}

/** Rigorous f32 summation bound: |got - ref.val| <= gamma(nTerms) * ref.abs per element. */
function assertSumBound(got, ref, nTerms, what) {
  const g = gamma(nTerms);
  return assertTol(got, ref.val, (i) => g * ref.abs[i] * (1 + 1e-12) + 1e-40, what);
}

/** Bit-identical (Object.is per element, so -0 != +0 and NaN == NaN on the same payload). */
function assertBits(got, expected, what) {
  assert.is(got.length, expected.length, `${what}: length`);
  const gb = new Uint32Array(Float32Array.from(got).buffer);
  const eb = new Uint32Array(Float32Array.from(expected).buffer);
  for (let i = 0; i < gb.length; i++) {
    if (gb[i] !== eb[i] || !Object.is(got[i], expected[i])) {
      throw new assert.Assertion({
        message: `${what}: element ${i}: got ${got[i]} (0x${gb[i].toString(16)}), expected ${expected[i]} (0x${eb[i].toString(16)})`,
        generated: false,
        operator: 'bits',
        actual: got[i],
        expects: expected[i],
      });
    }
  }
}

/** Exactly equal values (=== per element; -0 equals +0). */
function assertExact(got, expected, what) {
  assert.is(got.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!(got[i] === expected[i] || (Number.isNaN(got[i]) && Number.isNaN(expected[i])))) {
      throw new assert.Assertion({
        message: `${what}: element ${i}: got ${got[i]}, expected ${expected[i]}`,
        generated: false,
        operator: 'exact',
        actual: got[i],
        expects: expected[i],
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// GEMM fixture: builds A (lda >= K, NaN past K), B (x[C, ldb] read through gemm_rows, or an arbitrary
// row table), bias, and out (ldo >= N; NaN when not accumulating so a read of it would show; a sentinel
// in the columns past N and in a guard zone after the last row).

function gemmSetup(rt, spec, seed) {
  const { M, N, K } = spec;
  const lda = spec.lda ?? K;
  const ldo = spec.ldo ?? N;
  const r = R.rng(seed);
  const a = R.uniform(r, M * lda, -1, 1);
  for (let m = 0; m < M; m++) for (let kk = K; kk < lda; kk++) a[m * lda + kk] = NaN;

  let b;
  let rowElems;
  let rowsPtr;
  let bLen;
  if (spec.table) {
    // Arbitrary row table: rows of a [nRows, ldb] matrix in a shuffled order, some repeated.
    const ldb = spec.ldb ?? N + 3;
    const nRows = spec.table;
    b = R.uniform(r, nRows * ldb, -1, 1);
    for (let q = 0; q < nRows; q++) for (let n = N; n < ldb; n++) b[q * ldb + n] = NaN;
    rowElems = new Int32Array(K);
    for (let kk = 0; kk < K; kk++) rowElems[kk] = Math.floor(r() * nRows) * ldb;
    rowsPtr = upI32(
      rt,
      rowElems.map((e) => 4 * e),
    );
    bLen = b.length;
  } else {
    const kw = spec.kw ?? 1;
    const dil = spec.dil ?? 1;
    assert.is(K % kw, 0, 'K is channels * kw');
    const C = K / kw;
    const need = N + (kw - 1) * dil;
    const ldb = spec.ldb ?? need;
    assert.ok(ldb >= need);
    b = R.uniform(r, C * ldb, -1, 1);
    for (let c = 0; c < C; c++) for (let t = need; t < ldb; t++) b[c * ldb + t] = NaN;
    rowElems = new Int32Array(K);
    for (let kk = 0; kk < K; kk++) rowElems[kk] = Math.floor(kk / kw) * ldb + (kk % kw) * dil;
    rowsPtr = rt.allocBytes(4 * Math.max(1, K));
    rt.k.gemm_rows(rowsPtr, K, kw, ldb, dil);
    assertExact(
      readI32(rt, rowsPtr, K),
      Int32Array.from(rowElems, (e) => 4 * e),
      `gemm_rows(K=${K}, kw=${kw}, ldb=${ldb}, dil=${dil})`,
    );
    bLen = b.length;
  }
  const bias = spec.bias ? R.uniform(r, M, -2, 2) : null;
  const outInit = new Float32Array(M * ldo + 16).fill(SENTINEL);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) outInit[m * ldo + n] = spec.accumulate ? fr(4 * r() - 2) : NaN;
  }
  // residual: init values in a buffer of their own (out stays NaN, so reading out instead would show)
  let resid = null;
  if (spec.residual) {
    resid = new Float32Array(M * ldo).fill(NaN);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) resid[m * ldo + n] = fr(4 * r() - 2);
  }
  const aPtr = rt.upload(a, [a.length]).ptr;
  const bPtr = rt.upload(b, [bLen]).ptr;
  const biasPtr = bias ? rt.upload(bias, [M]).ptr : 0;
  const outPtr = rt.upload(outInit, [outInit.length]).ptr;
  const residPtr = resid ? rt.upload(resid, [resid.length]).ptr : 0;
  const initPtr = resid ? residPtr : spec.accumulate ? outPtr : 0;
  const ptrs = { a: aPtr, lda, b: bPtr, rows: rowsPtr, bias: biasPtr, init: initPtr, out: outPtr };
  const call = (mBegin, mEnd, nBegin, nEnd) => {
    rt.k.gemm(outPtr, ldo, aPtr, lda, bPtr, rowsPtr, biasPtr, initPtr, M, N, K, mBegin, mEnd, nBegin, nEnd);
    if (resid) assertBits(readF32(rt, residPtr, resid.length), resid, 'gemm left its residual input unchanged');
  };
  const reset = () => rt.f32.set(outInit, outPtr >>> 2);
  const read = () => readF32(rt, outPtr, outInit.length);
  const refOpts = {
    a,
    lda,
    b,
    rowElems,
    bias,
    accumulate: !!(spec.accumulate || resid),
    outInit: resid ?? outInit,
    ldo,
    M,
    N,
    K,
  };
  return { call, reset, read, refOpts, ldo, outInit, ...ptrs };
}

/** [M, N] block out of an [M, ldo] buffer. */
function block(buf, M, N, ldo) {
  const o = new Float32Array(M * N);
  for (let m = 0; m < M; m++) o.set(buf.subarray(m * ldo, m * ldo + N), m * N);
  return o;
}

function checkGemmGuards(buf, spec, ldo, what) {
  const { M, N } = spec;
  for (let m = 0; m < M; m++) {
    for (let n = N; n < ldo; n++) assert.is(buf[m * ldo + n], SENTINEL, `${what}: out[${m}, ${n}] past N was written`);
  }
  for (let i = M * ldo; i < buf.length; i++)
    assert.is(buf[i], SENTINEL, `${what}: guard after out (element ${i}) was written`);
}

const GEMM_CASES = [
  { M: 7, N: 13, K: 5 },
  { M: 7, N: 13, K: 5, bias: true },
  { M: 1, N: 1, K: 1 },
  { M: 1, N: 1, K: 1, bias: true, accumulate: true },
  { M: 4, N: 12, K: 3 },
  { M: 5, N: 9, K: 2, bias: true },
  { M: 3, N: 5, K: 0, bias: true, accumulate: true },
  { M: 2, N: 3, K: 0 },
  { M: 33, N: 257, K: 300 },
  { M: 33, N: 257, K: 300, bias: true, accumulate: true },
  { M: 6, N: 1030, K: 260, bias: true },
  { M: 9, N: 1030, K: 513, accumulate: true },
  { M: 13, N: 29, K: 11, lda: 17, ldo: 35, bias: true },
  { M: 10, N: 21, K: 15, lda: 16, ldo: 24, accumulate: true, bias: true },
  { M: 11, N: 37, K: 21, kw: 7, dil: 3, bias: true },
  { M: 5, N: 100, K: 12, kw: 4, dil: 9, ldb: 140, accumulate: true },
  { M: 17, N: 23, K: 270, kw: 3, dil: 2, lda: 273, ldo: 25, bias: true, accumulate: true },
  { M: 6, N: 19, K: 40, table: 9, bias: true },
  { M: 7, N: 13, K: 5, bias: true, residual: true },
  { M: 33, N: 1030, K: 300, residual: true },
  { M: 11, N: 37, K: 21, kw: 7, dil: 3, ldo: 40, bias: true, residual: true },
  // 32 rows or more: B goes through packed 8-column panels (12-row strips, a column tail of 1-4 as two
  // 6-row tiles or of 5-7 as partial 4x8 tiles, then 4-row strips and single rows).
  { M: 35, N: 50, K: 40, bias: true },
  { M: 143, N: 50, K: 300, bias: true },
  { M: 136, N: 61, K: 513, accumulate: true, bias: true },
  { M: 140, N: 1030, K: 70, lda: 75, ldo: 1033, residual: true },
  { M: 129, N: 3, K: 21, ldb: 40, bias: true },
  { M: 129, N: 21, K: 21, kw: 7, dil: 3, bias: true }, // a convolution: taps 12 bytes apart are not packed
  { M: 128, N: 24, K: 40, table: 9, accumulate: true },
  // at most 128 columns: K blocks of 1024 instead of 256 (two blocks and a partial one here)
  { M: 37, N: 50, K: 2100, bias: true, accumulate: true },
  { M: 9, N: 61, K: 1100, lda: 1103, residual: true },
];

const caseName = (c) =>
  Object.entries(c)
    .map(([k, v]) => (v === true ? k : `${k}=${v}`))
    .join(' ');

// ---------------------------------------------------------------------------------------------------

function suite(flavour) {
  const P = `[${flavour}]`;
  const mk = () => {
    const rt = new Runtime(flavour);
    assert.is(rt.flavour, flavour);
    return rt;
  };

  test(`${P} reference erf/erfc against known values`, () => {
    // Values from high-precision tables (mpmath); the references below rely on them.
    const cases = [
      [0.5, 0.5204998778130465, 0.4795001221869535],
      [1, 0.8427007929497149, 0.15729920705028513],
      [2, 0.9953222650189527, 0.004677734981047266],
      [3, 0.9999779095030014, 2.209049699858544e-5],
      [5, 0.9999999999984626, 1.5374597944280349e-12],
      [10, 1, 2.088487583762545e-45],
    ];
    for (const [x, e, c] of cases) {
      assert.ok(Math.abs(R.erf(x) - e) <= 1e-15, `erf(${x}) = ${R.erf(x)}, expected ${e}`);
      assert.ok(Math.abs(R.erfc(x) / c - 1) <= 1e-12, `erfc(${x}) = ${R.erfc(x)}, expected ${c}`);
      assert.ok(Math.abs(R.erf(-x) + e) <= 1e-15);
    }
  });

  // ---- GEMM ---------------------------------------------------------------------------------------

  for (const [ci, spec] of GEMM_CASES.entries()) {
    test(`${P} gemm ${caseName(spec)} equals the f64 reference`, () => {
      const rt = mk();
      const g = gemmSetup(rt, spec, 1000 + ci);
      g.call(0, spec.M, 0, spec.N);
      const buf = g.read();
      checkGemmGuards(buf, spec, g.ldo, 'gemm');
      const got = block(buf, spec.M, spec.N, g.ldo);
      const ref = R.gemmRef(g.refOpts);
      assertSumBound(got, ref, spec.K + 2, `gemm ${caseName(spec)}`);
      if (flavour === 'simd')
        assertBits(got, R.gemmF32(g.refOpts), `gemm ${caseName(spec)} vs f32 emulation (mul, then add, in kk order)`);
    });
  }

  const SPLIT_CASES = [
    { spec: { M: 33, N: 257, K: 300, bias: true }, ms: [0, 1, 5, 6, 13, 33], ns: [0, 3, 4, 11, 130, 257] },
    {
      spec: { M: 33, N: 1030, K: 300, accumulate: true, bias: true },
      ms: [0, 7, 33],
      ns: [0, 1, 513, 514, 1029, 1030],
    },
    {
      spec: { M: 13, N: 29, K: 11, lda: 17, ldo: 35, kw: 1, accumulate: true },
      ms: [0, 2, 3, 4, 11, 13],
      ns: [0, 5, 6, 7, 8, 20, 29],
    },
    { spec: { M: 13, N: 29, K: 270, ldo: 35, bias: true, residual: true }, ms: [0, 2, 4, 13], ns: [0, 3, 8, 21, 29] },
    { spec: { M: 11, N: 37, K: 21, kw: 7, dil: 3, bias: true }, ms: [0, 4, 11], ns: [0, 9, 21, 37] },
    // The full call and the 130-row slice pack B, the other slices do not: the same bits either way.
    { spec: { M: 150, N: 61, K: 300, bias: true, accumulate: true }, ms: [0, 4, 134, 150], ns: [0, 5, 8, 50, 61] },
  ];
  for (const [si, { spec, ms, ns }] of SPLIT_CASES.entries()) {
    test(`${P} gemm ${caseName(spec)}: sub-ranges are bit-identical to the full call`, () => {
      const rt = mk();
      const g = gemmSetup(rt, spec, 2000 + si);
      g.call(0, spec.M, 0, spec.N);
      const full = g.read();
      // Sanity: the full call is right, so identical splits are right too.
      assertSumBound(block(full, spec.M, spec.N, g.ldo), R.gemmRef(g.refOpts), spec.K + 2, 'full call');
      // Grid split, blocks computed in reverse order.
      g.reset();
      const blocks = [];
      for (let i = 0; i + 1 < ms.length; i++)
        for (let j = 0; j + 1 < ns.length; j++) blocks.push([ms[i], ms[i + 1], ns[j], ns[j + 1]]);
      for (const b of blocks.reverse()) g.call(...b);
      assertBits(g.read(), full, `gemm grid split m ${ms} x n ${ns}`);
      // Row-only and column-only splits, and single rows / single columns.
      g.reset();
      for (let i = 0; i + 1 < ms.length; i++) g.call(ms[i], ms[i + 1], 0, spec.N);
      assertBits(g.read(), full, `gemm row split ${ms}`);
      g.reset();
      for (let j = 0; j + 1 < ns.length; j++) g.call(0, spec.M, ns[j], ns[j + 1]);
      assertBits(g.read(), full, `gemm column split ${ns}`);
      g.reset();
      for (let m = 0; m < spec.M; m++) g.call(m, m + 1, 0, spec.N);
      assertBits(g.read(), full, 'gemm one row per call');
      if (spec.N <= 300) {
        g.reset();
        for (let n = 0; n < spec.N; n++) g.call(0, spec.M, n, n + 1);
        assertBits(g.read(), full, 'gemm one column per call');
      }
      // A sub-range writes only its own elements.
      g.reset();
      const [m0, m1, n0, n1] = [ms[1], ms[ms.length - 2], ns[1], ns[ns.length - 2]];
      g.call(m0, m1, n0, n1);
      const part = g.read();
      for (let m = 0; m < spec.M; m++) {
        for (let n = 0; n < spec.N; n++) {
          const inside = m >= m0 && m < m1 && n >= n0 && n < n1;
          const want = inside ? full[m * g.ldo + n] : g.outInit[m * g.ldo + n];
          assert.ok(
            Object.is(part[m * g.ldo + n], want),
            `sub-range [${m0},${m1})x[${n0},${n1}): out[${m}, ${n}] = ${part[m * g.ldo + n]}, expected ${want}`,
          );
        }
      }
    });
  }

  // gemm_pack_b + gemm_prepacked: B packed once (in pieces, as threads split the panels) and read by
  // row slices gives the same bits as gemm itself, for K and N blocks, column tails, a column range
  // that starts mid-panel, row tails and slices under 32 rows, bias, accumulate and residual.
  const PREPACKED_CASES = [
    { spec: { M: 143, N: 50, K: 300, bias: true }, ms: [0, 12, 13, 100, 143], n: [0, 50], cuts: [3] },
    {
      spec: { M: 70, N: 1030, K: 70, lda: 75, ldo: 1033, residual: true },
      ms: [0, 35, 70],
      n: [0, 1030],
      cuts: [1, 64],
    },
    { spec: { M: 40, N: 61, K: 513, accumulate: true, bias: true }, ms: [0, 4, 40], n: [5, 58], cuts: [2] },
    { spec: { M: 37, N: 3, K: 21, ldb: 40, bias: true }, ms: [0, 37], n: [0, 3], cuts: [] },
    { spec: { M: 36, N: 24, K: 40, table: 9, accumulate: true }, ms: [0, 10, 36], n: [0, 24], cuts: [1] },
    { spec: { M: 40, N: 61, K: 1100, bias: true }, ms: [0, 36, 40], n: [3, 61], cuts: [2] },
  ];
  for (const [
    pi,
    {
      spec,
      ms,
      n: [nb, ne],
      cuts,
    },
  ] of PREPACKED_CASES.entries()) {
    test(`${P} gemm_prepacked ${caseName(spec)} columns [${nb}, ${ne}) equals gemm bit for bit`, () => {
      const rt = mk();
      const g = gemmSetup(rt, spec, 3000 + pi);
      g.call(0, spec.M, nb, ne);
      const want = g.read();
      const panels = Math.ceil((ne - nb) / 8);
      const packed = rt.allocBytes(32 * spec.K * panels);
      const bounds = [0, ...cuts, panels];
      for (let i = 0; i + 1 < bounds.length; i++)
        rt.k.gemm_pack_b(packed, g.b, g.rows, spec.K, nb, ne, bounds[i], bounds[i + 1]);
      g.reset();
      for (let i = 0; i + 1 < ms.length; i++) {
        rt.k.gemm_prepacked(
          g.out,
          g.ldo,
          g.a,
          g.lda,
          g.b,
          g.rows,
          g.bias,
          g.init,
          spec.M,
          spec.N,
          spec.K,
          ms[i],
          ms[i + 1],
          nb,
          ne,
          packed,
        );
      }
      assertBits(g.read(), want, `gemm_prepacked row slices ${ms}`);
      assert.is(rt.k.gemm_packs_b(g.rows, spec.K), 1, 'gemm_packs_b: a linear layer or a table of whole rows packs');
    });
  }
  test(`${P} gemm_packs_b is 0 for a k7 convolution's row table`, () => {
    const rt = mk();
    const rows = rt.allocBytes(4 * 21);
    rt.k.gemm_rows(rows, 21, 7, 100, 3);
    assert.is(rt.k.gemm_packs_b(rows, 21), 0);
  });

  // ---- conv1d ---------------------------------------------------------------------------------------

  const CONV_CASES = [
    { what: 'kernel 7 padding 3 (DAC input conv)', cin: 3, cout: 5, kernel: 7, padding: 3, Ts: [1, 37, 1001] },
    {
      what: 'dilation 9 kernel 7 padding 27 (residual unit)',
      cin: 4,
      cout: 6,
      kernel: 7,
      dilation: 9,
      padding: 27,
      Ts: [37, 1001],
    },
    { what: 'dilation 3 kernel 7 padding 9', cin: 5, cout: 3, kernel: 7, dilation: 3, padding: 9, Ts: [37] },
    {
      what: 'groups 16 kernel 16 padding 8 (HuBERT positional conv)',
      cin: 32,
      cout: 32,
      kernel: 16,
      padding: 8,
      groups: 16,
      Ts: [37, 1001],
    },
    { what: 'groups 2 kernel 3 padding 1 cin 6 cout 4', cin: 6, cout: 4, kernel: 3, padding: 1, groups: 2, Ts: [37] },
    {
      what: 'stride 5 kernel 10 no padding (HuBERT first layer)',
      cin: 1,
      cout: 8,
      kernel: 10,
      stride: 5,
      Ts: [10, 37, 1001],
    },
    { what: 'stride 2 kernel 3', cin: 5, cout: 7, kernel: 3, stride: 2, Ts: [37, 1001] },
    { what: 'stride 2 kernel 3 padding 1', cin: 5, cout: 7, kernel: 3, stride: 2, padding: 1, Ts: [37] },
    {
      what: 'stride 8 kernel 16 padding 4 (DAC encoder block)',
      cin: 4,
      cout: 8,
      kernel: 16,
      stride: 8,
      padding: 4,
      Ts: [37, 1001],
    },
    {
      what: 'stride 5 kernel 10 padding 3 (DAC encoder block)',
      cin: 3,
      cout: 6,
      kernel: 10,
      stride: 5,
      padding: 3,
      Ts: [37, 1001],
    },
    { what: 'stride 3 kernel 7 padding 2', cin: 3, cout: 5, kernel: 7, stride: 3, padding: 2, Ts: [37] },
    { what: 'kernel 1', cin: 9, cout: 5, kernel: 1, Ts: [1, 37, 1001] },
    { what: 'kernel 3 cin 300 (K blocks of 256)', cin: 300, cout: 6, kernel: 3, padding: 1, Ts: [37] },
  ];
  for (const [ci, c] of CONV_CASES.entries()) {
    for (const T of c.Ts) {
      test(`${P} conv1d ${c.what}, T=${T}: with/without bias and residual`, () => {
        const rt = mk();
        const r = R.rng(3000 + 17 * ci + T);
        const groups = c.groups ?? 1;
        const stride = c.stride ?? 1;
        const x = R.uniform(r, c.cin * T, -1, 1);
        const w = R.uniform(r, c.cout * (c.cin / groups) * c.kernel, -0.5, 0.5);
        const bias = R.uniform(r, c.cout, -1, 1);
        const xt = rt.upload(x, [c.cin, T]);
        const wPtr = rt.upload(w, [w.length]).ptr;
        const bPtr = rt.upload(bias, [c.cout]).ptr;
        const spec = {
          cin: c.cin,
          cout: c.cout,
          kernel: c.kernel,
          stride,
          padding: c.padding ?? 0,
          dilation: c.dilation ?? 1,
          groups,
        };
        const nTerms = (c.cin / groups) * c.kernel + 2;
        if (stride > 1) {
          // The phase-split weight holds each row's own taps once, reordered, and nothing else: no zero
          // columns for phases with fewer taps (K % stride != 0).
          const packed = rt.download({ ptr: ops.packConv1d(rt, wPtr, 0, spec, 'test').w, dims: [w.length] });
          const rowLen = c.cin * c.kernel;
          for (let co = 0; co < c.cout; co++) {
            const sorted = (a) => Array.from(a).sort((p, q) => p - q);
            assert.equal(
              sorted(packed.subarray(co * rowLen, (co + 1) * rowLen)),
              sorted(w.subarray(co * rowLen, (co + 1) * rowLen)),
              `${c.what}: packed row ${co} is a permutation of the weight row`,
            );
          }
        }
        for (const withBias of [false, true]) {
          for (const withResidual of [false, true]) {
            const conv = ops.packConv1d(rt, wPtr, withBias ? bPtr : 0, spec, 'test');
            const ref0 = R.conv1dRef(x, T, w, null, spec, null);
            const Tout = ref0.dims[1];
            const residual = withResidual ? R.uniform(r, c.cout * Tout, -3, 3) : null;
            const res = residual ? rt.upload(residual, [c.cout, Tout]) : undefined;
            const y = ops.conv1d(rt, xt, conv, res);
            const what = `conv1d ${c.what} T=${T} bias=${withBias} residual=${withResidual}`;
            assert.equal(y.dims, [c.cout, Tout], `${what}: dims`);
            const ref = R.conv1dRef(x, T, w, withBias ? bias : null, spec, residual);
            assertSumBound(rt.download(y), ref, nTerms, what);
            // The input and the residual are left alone.
            assertExact(rt.download(xt), x, `${what}: input unchanged`);
            if (res) assertExact(rt.download(res), residual, `${what}: residual unchanged`);
          }
        }
      });
    }
  }

  // Winograd F(4, 7) (assembly/winograd.ts): odd lengths and input channels, chunks of 128 tile columns
  // crossed (T 1001 at d 1), K blocks of 1024 (cin 1100), every dilation of the residual units, window
  // origins that shift the tile grid.
  const WINOGRAD_CASES = [
    { cin: 5, cout: 4, d: 1, T: 37 },
    { cin: 13, cout: 8, d: 3, T: 101 },
    { cin: 4, cout: 12, d: 9, T: 257 },
    { cin: 6, cout: 4, d: 1, T: 1001 },
    { cin: 1100, cout: 4, d: 1, T: 23 },
    { cin: 3, cout: 4, d: 9, T: 7 },
  ];
  const winogradConv = (rt, wPtr, bPtr, spec) => {
    const c = ops.packConv1d(rt, wPtr, bPtr, spec, 'test');
    assert.ok(ops.winogradApplies(rt, c, KERNEL7_TILE), `Winograd applies to ${JSON.stringify(spec)}`);
    c.winograd = ops.packConvWinograd(rt, c, KERNEL7_TILE).winograd;
    c.w = 0;
    return c;
  };
  for (const [i, c] of WINOGRAD_CASES.entries()) {
    test(`${P} conv1d Winograd F(4, 7) cin=${c.cin} cout=${c.cout} d=${c.d} T=${c.T}: float64 within the transform bound${flavour === 'simd' ? ', the scalar emulation bit for bit' : ''}`, () => {
      const rt = mk();
      const r = R.rng(7100 + i);
      const spec = { cin: c.cin, cout: c.cout, kernel: 7, padding: 3 * c.d, dilation: c.d };
      const x = R.uniform(r, c.cin * c.T, -1, 1);
      const w = R.uniform(r, c.cout * c.cin * 7, -0.5, 0.5);
      const bias = R.uniform(r, c.cout, -1, 1);
      const xt = rt.upload(x, [c.cin, c.T]);
      const wPtr = rt.upload(w, [w.length]).ptr;
      const bPtr = rt.upload(bias, [c.cout]).ptr;
      const mats = winogradMatrices(KERNEL7_TILE);
      const g = gamma(c.cin + 2 * KERNEL7_TILE.alpha + 4);
      for (const withBias of [false, true]) {
        const conv = winogradConv(rt, wPtr, withBias ? bPtr : 0, spec);
        for (const origin of [0, 1, 4 * c.d - 1, 4 * c.d + 2]) {
          const what = `Winograd cin=${c.cin} cout=${c.cout} d=${c.d} T=${c.T} bias=${withBias} origin=${origin}`;
          const y = ops.conv1d(rt, xt, conv, undefined, { origin });
          const got = rt.download(y);
          const em = R.winogradConvF32(x, c.T, w, withBias ? bias : null, spec, origin, mats);
          assert.equal(y.dims, em.dims, `${what}: dims`);
          const ref = R.conv1dRef(x, c.T, w, withBias ? bias : null, spec, null);
          assertTol(got, ref.val, (j) => g * em.abs[j] * (1 + 1e-12) + 1e-30, `${what}: against float64`);
          if (flavour === 'simd') assertBits(got, em.f32, `${what}: against the emulation`);
          assertExact(rt.download(xt), x, `${what}: input unchanged`);
        }
      }
    });
  }

  test(`${P} conv_winograd: every split of the tile columns (threads, chunks; panel-aligned or not) gives the same bits`, () => {
    const rt = mk();
    const r = R.rng(7200);
    for (const { cin, cout, d, T } of [
      { cin: 7, cout: 8, d: 1, T: 1201 },
      { cin: 9, cout: 4, d: 3, T: 333 },
    ]) {
      const spec = { cin, cout, kernel: 7, padding: 3 * d, dilation: d };
      const conv = winogradConv(
        rt,
        rt.upload(R.uniform(r, cout * cin * 7, -0.5, 0.5), [cout * cin * 7]).ptr,
        rt.upload(R.uniform(r, cout), [cout]).ptr,
        spec,
      );
      const wg = conv.winograd;
      const shift = 3;
      const tiles = 8 * Math.ceil((Math.ceil(Math.ceil((T + shift) / (4 * d)) / 4) * 4 * d) / 8);
      const length = ops.winogradTileStart(tiles - 4, d) + 23 * d + 1;
      const xq = ops.padTime(rt, rt.upload(R.uniform(r, cin * T), [cin, T]), 3 * d + shift, length - 3 * d - shift - T);
      const whole = rt.tensor([cout, T]);
      rt.k.conv_winograd(
        whole.ptr,
        xq.ptr,
        length,
        wg.u,
        conv.bias,
        wg.bt,
        wg.at,
        wg.alpha,
        wg.m,
        cin,
        cout,
        T,
        d,
        shift,
        0,
        tiles,
      );
      const ref = rt.download(whole);
      for (const cuts of [[8], [8, 16], [tiles - 8], [24, 136, 144], [1], [3, 5, 6, 13], [tiles - 1]].map((cs) =>
        cs.filter((v) => v < tiles),
      )) {
        const part = rt.tensor([cout, T]);
        rt.f32.fill(SENTINEL, part.ptr >>> 2, (part.ptr >>> 2) + cout * T);
        const bounds = [0, ...cuts, tiles];
        for (let k = 0; k + 1 < bounds.length; k++) {
          rt.k.conv_winograd(
            part.ptr,
            xq.ptr,
            length,
            wg.u,
            conv.bias,
            wg.bt,
            wg.at,
            wg.alpha,
            wg.m,
            cin,
            cout,
            T,
            d,
            shift,
            bounds[k],
            bounds[k + 1],
          );
        }
        assertBits(rt.download(part), ref, `cin=${cin} d=${d}: tile columns cut at ${cuts}`);
      }
    }
  });

  test(`${P} Winograd windows: with its origin a window's outputs are the whole signal's bits; with another they differ`, () => {
    const rt = mk();
    const r = R.rng(7300);
    for (const d of [1, 3, 9]) {
      const cin = 6;
      const cout = 8;
      const T = 400;
      const spec = { cin, cout, kernel: 7, padding: 3 * d, dilation: d };
      const conv = winogradConv(rt, rt.upload(R.uniform(r, cout * cin * 7, -0.5, 0.5), [cout * cin * 7]).ptr, 0, spec);
      const x = R.uniform(r, cin * T);
      const whole = rt.download(ops.conv1d(rt, rt.upload(x, [cin, T]), conv));
      for (const [a, b] of [
        [37, 301],
        [100, 399],
        [5, 200],
      ]) {
        const win = new Float32Array(cin * (b - a));
        for (let ci = 0; ci < cin; ci++) win.set(x.subarray(ci * T + a, ci * T + b), ci * (b - a));
        const reach = 6 * d; // padding plus the tile's reach: outputs further in see only window data
        const compare = (origin) => {
          const y = rt.download(ops.conv1d(rt, rt.upload(win, [cin, b - a]), conv, undefined, { origin }));
          let differ = 0;
          let compared = 0;
          for (let co = 0; co < cout; co++) {
            for (let t = reach; t < b - a - reach; t++) {
              compared++;
              if (!Object.is(y[co * (b - a) + t], whole[co * T + a + t])) differ++;
            }
          }
          assert.ok(compared > 0, 'outputs compared');
          return differ;
        };
        assert.is(compare(a), 0, `d=${d} window [${a}, ${b}) with origin ${a}`);
        assert.ok(
          compare(a + 1) > 0,
          `d=${d} window [${a}, ${b}) with origin ${a + 1}: a misaligned tile grid changes the rounding`,
        );
      }
    }
  });

  test(`${P} linear (1x1 conv) with bias and residual, in/out not multiples of 4`, () => {
    const rt = mk();
    const r = R.rng(3999);
    for (const [inF, outF, T] of [
      [7, 13, 5],
      [1, 1, 1],
      [257, 3, 33],
      [12, 9, 1027],
    ]) {
      const x = R.uniform(r, inF * T);
      const w = R.uniform(r, outF * inF);
      const b = R.uniform(r, outF);
      const res = R.uniform(r, outF * T);
      const l = {
        w: rt.upload(w, [outF, inF]).ptr,
        bias: rt.upload(b, [outF]).ptr,
        inFeatures: inF,
        outFeatures: outF,
      };
      const y = ops.linear(rt, rt.upload(x, [inF, T]), l, rt.upload(res, [outF, T]));
      assert.equal(y.dims, [outF, T]);
      const ref = R.conv1dRef(x, T, w, b, { cin: inF, cout: outF, kernel: 1 }, res);
      assertSumBound(rt.download(y), ref, inF + 2, `linear ${inF}->${outF} T=${T}`);
      // onto the residual in place: the same bits as into a new tensor
      const onto = rt.upload(res, [outF, T]);
      assert.is(ops.linear(rt, rt.upload(x, [inF, T]), l, onto, onto), onto);
      assertBits(rt.download(onto), rt.download(y), `linear ${inF}->${outF} T=${T} onto its residual`);
    }
    const x = rt.upload(R.uniform(r, 4 * 6), [4, 6]);
    const l = { w: rt.upload(R.uniform(r, 12), [3, 4]).ptr, bias: 0, inFeatures: 4, outFeatures: 3 };
    assert.throws(() => ops.linear(rt, rt.tensor([5, 6]), l), /input has 5 features, weight expects 4/);
    assert.throws(() => ops.linear(rt, x, l, rt.tensor([3, 5])), /residual is \[3,5\], the output is \[3, 6\]/);
    assert.throws(() => ops.linear(rt, x, l, undefined, { ptr: x.ptr, dims: [3, 6] }), /apart from the input/);
    assert.throws(() => ops.linear(rt, x, l, undefined, rt.tensor([3, 7])), /must be \[3, 6\]/);
  });

  test(`${P} linearColumns: a linear run block by block over time (any widths, residual in place) gives one call's bits`, () => {
    const rt = mk();
    const r = R.rng(4001);
    // 300 inputs: more than one K block for wide slices, one for slices of <= 128 columns
    for (const [inF, outF, T, widths] of [
      [300, 13, 1100, [1024, 76]],
      [300, 8, 700, [129, 7, 128, 1, 300, 135]],
      [5, 3, 9, [4, 5]],
    ]) {
      const x = rt.upload(R.uniform(r, inF * T), [inF, T]);
      const l = {
        w: rt.upload(R.uniform(r, outF * inF), [outF, inF]).ptr,
        bias: rt.upload(R.uniform(r, outF), [outF]).ptr,
        inFeatures: inF,
        outFeatures: outF,
      };
      const res = R.uniform(r, outF * T);
      const whole = rt.download(ops.linear(rt, x, l, rt.upload(res, [outF, T])));
      const blocked = rt.upload(res, [outF, T]);
      const scratch = rt.tensor([inF, Math.max(...widths)]);
      let t0 = 0;
      for (const [i, w] of widths.entries()) {
        // every other block reads x from a copy of its columns alone, as the feed-forward reads its block buffer
        if (i % 2 === 0) {
          ops.linearColumns(rt, x, t0, l, blocked, t0, w, blocked);
        } else {
          const view = { ptr: scratch.ptr, dims: [inF, w] };
          const xs = rt.download(x);
          for (let c = 0; c < inF; c++)
            rt.f32.set(xs.subarray(c * T + t0, c * T + t0 + w), (scratch.ptr >>> 2) + c * w);
          ops.linearColumns(rt, view, 0, l, blocked, t0, w, blocked);
        }
        t0 += w;
      }
      assert.is(t0, T);
      assertBits(rt.download(blocked), whole, `linear ${inF}->${outF} T=${T} in blocks ${widths}`);
      assert.throws(
        () => ops.linearColumns(rt, x, T - 2, l, blocked, 0, 3),
        /do not fit/,
        'a block past the input is refused',
      );
    }
  });

  test(`${P} conv1d options: snake or elu fused into the padding, output into a buffer or onto the residual`, () => {
    const rt = mk();
    const r = R.rng(3900);
    for (const spec of [
      { cin: 6, cout: 6, kernel: 7, padding: 9, dilation: 3 },
      { cin: 5, cout: 7, kernel: 10, stride: 5, padding: 3 },
      { cin: 4, cout: 4, kernel: 1 },
    ]) {
      const T = 53;
      const x = R.uniform(r, spec.cin * T, -2, 2);
      const w = R.uniform(r, spec.cout * spec.cin * spec.kernel, -0.5, 0.5);
      const alpha = R.uniform(r, spec.cin, 0.1, 3);
      const bias = R.uniform(r, spec.cout);
      const xt = rt.upload(x, [spec.cin, T]);
      const alphaPtr = rt.upload(alpha, [spec.cin]).ptr;
      const conv = ops.packConv1d(rt, rt.upload(w, [w.length]).ptr, rt.upload(bias, [spec.cout]).ptr, spec, 'test');
      const what = `conv1d k${spec.kernel} s${spec.stride ?? 1}`;
      const plain = rt.download(ops.conv1d(rt, ops.snake(rt, xt, alphaPtr), conv));
      const fused = ops.conv1d(rt, xt, conv, undefined, { snake: alphaPtr });
      assertBits(rt.download(fused), plain, `${what}: snake option = conv(snake(x))`);
      assertExact(rt.download(xt), x, `${what}: input unchanged by the snake option`);
      const eluPlain = rt.download(ops.conv1d(rt, ops.elu(rt, xt), conv));
      assertBits(
        rt.download(ops.conv1d(rt, xt, conv, undefined, { elu: true })),
        eluPlain,
        `${what}: elu option = conv(elu(x))`,
      );
      assertExact(rt.download(xt), x, `${what}: input unchanged by the elu option`);
      const Tout = fused.dims[1];
      const residual = R.uniform(r, spec.cout * Tout, -3, 3);
      const withRes = rt.download(ops.conv1d(rt, xt, conv, rt.upload(residual, [spec.cout, Tout])));
      const into = rt.tensor([spec.cout, Tout]);
      const res = rt.upload(residual, [spec.cout, Tout]);
      assert.is(ops.conv1d(rt, xt, conv, res, { into }).ptr, into.ptr, `${what}: returns the buffer`);
      assertBits(rt.download(into), withRes, `${what}: into a buffer`);
      assertExact(rt.download(res), residual, `${what}: residual unchanged when writing elsewhere`);
      ops.conv1d(rt, xt, conv, res, { into: res });
      assertBits(rt.download(res), withRes, `${what}: onto the residual in place`);
      assert.throws(
        () => ops.conv1d(rt, xt, conv, undefined, { into: rt.tensor([spec.cout, Tout + 1]) }),
        /must be \[/,
      );
      if (spec.cin === spec.cout && Tout === T) {
        assert.throws(() => ops.conv1d(rt, xt, conv, undefined, { into: xt }), /apart from the input/);
      }
    }
  });

  // ---- convTranspose1d ----------------------------------------------------------------------------

  const CONVT_CASES = [
    {
      what: 'stride 5 kernel 10 padding 3 output_padding 1 (X-Codec decoder)',
      cin: 6,
      cout: 4,
      kernel: 10,
      stride: 5,
      padding: 3,
      outputPadding: 1,
      Ts: [1, 7, 37, 101],
    },
    {
      what: 'stride 8 kernel 16 padding 4',
      cin: 5,
      cout: 3,
      kernel: 16,
      stride: 8,
      padding: 4,
      outputPadding: 0,
      Ts: [1, 13, 101],
    },
    {
      what: 'stride 2 kernel 4 padding 1',
      cin: 7,
      cout: 5,
      kernel: 4,
      stride: 2,
      padding: 1,
      outputPadding: 0,
      Ts: [1, 37, 101],
    },
    {
      what: 'stride 4 kernel 8 padding 2',
      cin: 3,
      cout: 6,
      kernel: 8,
      stride: 4,
      padding: 2,
      outputPadding: 0,
      Ts: [1, 37],
    },
    {
      what: 'stride 3 kernel 7 padding 1 output_padding 2',
      cin: 4,
      cout: 5,
      kernel: 7,
      stride: 3,
      padding: 1,
      outputPadding: 2,
      Ts: [1, 37],
    },
    {
      what: 'stride 5 kernel 10 padding 3 output_padding 1, cin 130',
      cin: 130,
      cout: 3,
      kernel: 10,
      stride: 5,
      padding: 3,
      outputPadding: 1,
      Ts: [19],
    },
  ];
  for (const [ci, c] of CONVT_CASES.entries()) {
    for (const T of c.Ts) {
      test(`${P} convTranspose1d ${c.what}, T=${T}: with/without bias`, () => {
        const rt = mk();
        const r = R.rng(4000 + 31 * ci + T);
        const x = R.uniform(r, c.cin * T);
        const w = R.uniform(r, c.cin * c.cout * c.kernel, -0.5, 0.5);
        const b = R.uniform(r, c.cout);
        const xt = rt.upload(x, [c.cin, T]);
        const wPtr = rt.upload(w, [c.cin, c.cout, c.kernel]).ptr;
        const bPtr = rt.upload(b, [c.cout]).ptr;
        for (const withBias of [false, true]) {
          const spec = {
            cin: c.cin,
            cout: c.cout,
            kernel: c.kernel,
            stride: c.stride,
            padding: c.padding,
            outputPadding: c.outputPadding,
          };
          const ct = ops.packConvTranspose1d(rt, wPtr, withBias ? bPtr : 0, spec);
          const y = ops.convTranspose1d(rt, xt, ct);
          const ref = R.convTranspose1dRef(x, T, w, withBias ? b : null, spec);
          const what = `convTranspose1d ${c.what} T=${T} bias=${withBias}`;
          assert.equal(y.dims, ref.dims, `${what}: dims`);
          assert.is(ref.dims[1], (T - 1) * c.stride - 2 * c.padding + c.kernel + c.outputPadding);
          assertSumBound(rt.download(y), ref, c.cin * Math.ceil(c.kernel / c.stride) + 2, what);
          // Snake fused into the padding pass: the same bits as convolving snake(x).
          const alpha = rt.upload(R.uniform(r, c.cin, 0.1, 3), [c.cin]).ptr;
          assertBits(
            rt.download(ops.convTranspose1d(rt, xt, ct, alpha)),
            rt.download(ops.convTranspose1d(rt, ops.snake(rt, xt, alpha), ct)),
            `${what}: snake option`,
          );
        }
      });
    }
  }

  // ---- activations ----------------------------------------------------------------------------------

  const LENGTHS = [1, 3, 5, 1027, 1035]; // 1027 = 32 * 32 + 3, 1035 = 32 * 32 + 2 * 4 + 3: every vector path (32, 4) and the lane tail
  const geluTol = (x) => (_i, ref) => (2e-6 + 2e-7 * x[_i] * x[_i]) * Math.abs(ref) + MIN_NORMAL;
  const ACTS = [
    {
      name: 'gelu',
      lo: -10,
      hi: 10,
      ref: R.gelu,
      tol: geluTol,
      op: ops.gelu,
      special: [
        0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 3, -3, 5.5, -5.5, 9.99, -9.99, 10, -10, -14, -20, 20, 100, -100,
      ],
    },
    {
      name: 'elu',
      lo: -20,
      hi: 20,
      ref: R.elu,
      tol: () => (_i, ref) => 2e-6 * Math.abs(ref) + 2 ** -126,
      op: ops.elu,
      special: [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, -1e-4, 1e-4, -1, 1, -20, 20, -88, -104, -200, 1e30],
    },
    {
      name: 'sigmoid',
      lo: -20,
      hi: 20,
      ref: R.sigmoid,
      tol: () => (_i, ref) => 1e-5 * Math.abs(ref) + MIN_NORMAL,
      op: (rt, t) => {
        const o = rt.tensor(t.dims);
        rt.k.sigmoid(o.ptr, t.ptr, 0, t.dims[0] * t.dims[1]);
        return o;
      },
      special: [0, -0, 1e-30, -1, 1, -20, 20, -87, -89, 88, 89, -100, 100, -1e4, 1e4],
    },
  ];
  for (const act of ACTS) {
    for (const n of LENGTHS) {
      test(`${P} ${act.name} length ${n} equals the float64 reference`, () => {
        const rt = mk();
        const r = R.rng(5000 + n);
        const x = R.uniform(r, n, act.lo, act.hi);
        if (n >= act.special.length) x.set(act.special, n - act.special.length);
        else x[0] = act.special[n]; // one special value in the short cases too
        const t = rt.upload(x, [1, n]);
        const y = act.op(rt, t);
        const got = rt.download(y);
        const ref = Array.from(x, act.ref);
        assertTol(got, ref, act.tol(x), `${act.name} n=${n}`);
        assertExact(rt.download(t), x, `${act.name}: input unchanged`);
        // Every element is computed the same way whether it falls in a SIMD group or the tail.
        const one = rt.tensor([1]);
        for (let i = 0; i < n; i++) {
          rt.k[act.name](one.ptr - 4 * i, t.ptr, i, i + 1);
          assertBits(rt.download(one), got.subarray(i, i + 1), `${act.name} element ${i} alone`);
        }
        if (act.name !== 'sigmoid') {
          // In place.
          act.op(rt, t, true);
          assertBits(rt.download(t), got, `${act.name} in place`);
        }
      });
    }
    test(`${P} ${act.name} on [begin, end) writes only that range`, () => {
      const rt = mk();
      const r = R.rng(5100);
      const n = 23;
      const x = R.uniform(r, n, act.lo, act.hi);
      const xt = rt.upload(x, [n]);
      const whole = rt.upload(new Float32Array(n), [n]);
      rt.k[act.name](whole.ptr, xt.ptr, 0, n);
      const full = rt.download(whole);
      for (const [b, e] of [
        [0, 0],
        [3, 4],
        [3, 10],
        [5, 23],
        [1, 22],
      ]) {
        const o = rt.upload(new Float32Array(n + 8).fill(SENTINEL), [n + 8]);
        rt.k[act.name](o.ptr, xt.ptr, b, e);
        const got = rt.download(o);
        for (let i = 0; i < n + 8; i++) {
          if (i >= b && i < e) {
            const ref = act.ref(x[i]);
            assert.ok(
              Math.abs(got[i] - ref) <= act.tol(x)(i, ref),
              `${act.name}[${b},${e}) element ${i}: ${got[i]} vs ${ref}`,
            );
            // the same bits as the whole call, whichever vector width or lane computed it there
            assert.ok(
              Object.is(got[i], full[i]),
              `${act.name}[${b},${e}) element ${i}: ${got[i]} vs ${full[i]} in the whole call`,
            );
          } else {
            assert.is(got[i], SENTINEL, `${act.name}[${b},${e}) wrote element ${i}`);
          }
        }
      }
    });
  }

  for (const T of LENGTHS) {
    test(`${P} snake T=${T}, per-channel alpha incl. 0.05, |alpha x| up to 1e3`, () => {
      const rt = mk();
      const r = R.rng(6000 + T);
      const alphas = Float32Array.from([0.05, 0.1, 0.5, 1, 2.5, 7, 13.3]);
      const C = alphas.length;
      const x = new Float32Array(C * T);
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < T; t++) {
          // Alternate moderate inputs and large ones with |alpha x| up to 1e3.
          x[c * T + t] = (c + t) % 2 ? ((2 * r() - 1) * 1e3) / alphas[c] : (2 * r() - 1) * 3;
        }
        if (T >= 4) {
          x[c * T] = 1e3 / alphas[c];
          x[c * T + 1] = -1e3 / alphas[c];
          x[c * T + 2] = 0;
          x[c * T + 3] = -0;
        }
      }
      const xt = rt.upload(x, [C, T]);
      const y = ops.snake(rt, xt, rt.upload(alphas, [C]).ptr);
      assert.equal(y.dims, [C, T]);
      const ref = Array.from(x, (v, i) => R.snake(v, alphas[Math.floor(i / T)]));
      assertTol(rt.download(y), ref, (i, rv) => 2e-6 * (Math.abs(rv) + Math.abs(x[i])), `snake T=${T}`);
      // Rows computed one call each give the same bits.
      const full = rt.download(y);
      const o2 = rt.tensor([C, T]);
      const alphaPtr = rt.upload(alphas, [C]).ptr;
      for (let c = C - 1; c >= 0; c--) rt.k.snake(o2.ptr, xt.ptr, alphaPtr, T, 0, 0, c, c + 1);
      assertBits(rt.download(o2), full, `snake T=${T} row by row`);
      // With margins (a convolution's padding): the same bits between zeros, every margin cell written.
      for (const [pl, pr] of [
        [3, 3],
        [0, 5],
        [27, 1],
      ]) {
        const To = pl + T + pr;
        const padded = rt.upload(new Float32Array(C * To).fill(SENTINEL), [C, To]);
        for (let c = 0; c < C; c++) rt.k.snake(padded.ptr, xt.ptr, alphaPtr, T, pl, pr, c, c + 1);
        const expected = new Float32Array(C * To);
        for (let c = 0; c < C; c++) expected.set(full.subarray(c * T, (c + 1) * T), c * To + pl);
        assertBits(rt.download(padded), expected, `snake T=${T} padded ${pl}/${pr}`);
      }
      // In place.
      const inPlace = ops.snake(rt, rt.upload(x, [C, T]), alphaPtr, true);
      assertBits(rt.download(inPlace), full, `snake T=${T} in place`);
    });
  }

  test(`${P} add and scale, odd lengths: exact f32`, () => {
    const rt = mk();
    const r = R.rng(6500);
    for (const n of LENGTHS) {
      const a = R.uniform(r, n, -5, 5);
      const b = R.uniform(r, n, -5, 5);
      const at = rt.upload(a, [1, n]);
      const bt = rt.upload(b, [1, n]);
      const y = ops.add(rt, at, bt);
      assertExact(
        rt.download(y),
        Float32Array.from(a, (v, i) => fr(v + b[i])),
        `add n=${n}`,
      );
      ops.add(rt, at, bt, at);
      assertExact(
        rt.download(at),
        Float32Array.from(a, (v, i) => fr(v + b[i])),
        `add into n=${n}`,
      );
      const s = rt.tensor([n]);
      rt.k.scale(s.ptr, bt.ptr, fr(-0.37), 0, n);
      assertExact(
        rt.download(s),
        Float32Array.from(b, (v) => fr(v * fr(-0.37))),
        `scale n=${n}`,
      );
    }
  });

  // ---- norms and softmax --------------------------------------------------------------------------

  for (const [C, T] of [
    [7, 13],
    [768, 5],
    [5, 1],
    [1, 7],
  ]) {
    test(`${P} layer_norm_cols C=${C} T=${T} (incl. a low-variance column where eps matters)`, () => {
      const rt = mk();
      const r = R.rng(7000 + C * 31 + T);
      const x = R.uniform(r, C * T, -2, 2);
      for (let i = 0; i < x.length; i++) x[i] = fr(x[i] + 0.3);
      if (T > 2) for (let c = 0; c < C; c++) x[c * T + 2] = fr(1e-3 * (2 * r() - 1)); // variance ~3e-7 << eps
      const g = R.uniform(r, C, 0.5, 1.5);
      const b = R.uniform(r, C, -0.5, 0.5);
      const eps = 1e-5;
      const xt = rt.upload(x, [C, T]);
      const gp = rt.upload(g, [C]).ptr;
      const bp = rt.upload(b, [C]).ptr;
      const y = ops.layerNormChannels(rt, xt, gp, bp, eps);
      const ref = R.layerNormColsRef(x, C, T, g, b, eps);
      const tol = 1e-6 * Math.sqrt(C);
      assertTol(rt.download(y), ref, (_i, rv) => tol * (1 + Math.abs(rv)), `layer_norm_cols C=${C} T=${T}`);
      // Column splits (vector groups of 4 and the scalar tail) give the same bits.
      const full = rt.download(y);
      const o2 = rt.tensor([C, T]);
      const cuts = [...new Set([0, Math.min(1, T), Math.min(5, T), Math.min(6, T), T])].sort((p, q) => p - q);
      for (let i = cuts.length - 2; i >= 0; i--)
        rt.k.layer_norm_cols(o2.ptr, xt.ptr, gp, bp, C, T, eps, cuts[i], cuts[i + 1]);
      assertBits(rt.download(o2), full, `layer_norm_cols column split ${cuts}`);
      // In place.
      ops.layerNormChannels(rt, xt, gp, bp, eps, true);
      assertBits(rt.download(xt), full, 'layer_norm_cols in place');
    });
  }

  for (const [C, T] of [
    [5, 1003],
    [3, 1],
    [4, 6],
  ]) {
    test(`${P} group_norm_rows C=${C} T=${T}`, () => {
      const rt = mk();
      const r = R.rng(7500 + T);
      const x = R.uniform(r, C * T, -2, 2);
      for (let i = 0; i < x.length; i++) x[i] = fr(x[i] + 3);
      if (C >= 3 && T > 1) for (let t = 0; t < T; t++) x[2 * T + t] = fr(2e-3 * (2 * r() - 1)); // eps dominates
      const g = R.uniform(r, C, 0.5, 1.5);
      const b = R.uniform(r, C, -0.5, 0.5);
      const xt = rt.upload(x, [C, T]);
      const gp = rt.upload(g, [C]).ptr;
      const bp = rt.upload(b, [C]).ptr;
      const y = ops.groupNormRows(rt, xt, gp, bp, 1e-5);
      const ref = R.groupNormRowsRef(x, C, T, g, b, 1e-5);
      assertTol(
        rt.download(y),
        ref,
        (_i, rv) => 1e-6 * Math.sqrt(T) * (1 + Math.abs(rv)),
        `group_norm_rows C=${C} T=${T}`,
      );
      const full = rt.download(y);
      const o2 = rt.tensor([C, T]);
      for (let c = 0; c < C; c++) rt.k.group_norm_rows(o2.ptr, xt.ptr, gp, bp, T, 1e-5, c, c + 1);
      assertBits(rt.download(o2), full, 'group_norm_rows row by row');
      // the two-step form for long audio: whole-row statistics, then any stretch normalised with them
      const stats = rt.upload(new Float32Array(2 * C).fill(NaN), [C, 2]);
      for (let c = 0; c < C; c++) rt.k.group_norm_stats(stats.ptr, xt.ptr, T, 1e-5, c, c + 1);
      const o3 = rt.tensor([C, T]);
      rt.k.group_norm_apply(o3.ptr, xt.ptr, gp, bp, stats.ptr, T, 0, C);
      assertBits(rt.download(o3), full, 'group_norm_stats + group_norm_apply');
      for (const [t0, t1] of [
        [0, Math.min(T, 5)],
        [Math.floor(T / 3), T],
      ]) {
        const n = t1 - t0;
        const part = new Float32Array(C * n);
        for (let c = 0; c < C; c++) part.set(x.subarray(c * T + t0, c * T + t1), c * n);
        const pt = rt.upload(part, [C, n]);
        rt.k.group_norm_apply(pt.ptr, pt.ptr, gp, bp, stats.ptr, n, 0, C);
        const want = new Float32Array(C * n);
        for (let c = 0; c < C; c++) want.set(full.subarray(c * T + t0, c * T + t1), c * n);
        assertBits(rt.download(pt), want, `group_norm_apply in place on columns [${t0}, ${t1})`);
      }
    });
  }

  // The online softmax of the attention, one key block (a block of rows) per call: after every block the
  // state holds the running max (exact) and sum, and the block's rescale factor. Checked against float64
  // (the weights each row ends with, exp(s - m_b) times the later blocks' factors over the final sum),
  // and bit for bit across column sub-ranges that start mid-vector.
  for (const [Rn, Cn, blocks] of [
    [9, 11, [9]],
    [1, 5, [1]],
    [13, 4, [5, 8]],
    [300, 7, [256, 44]],
    [9, 37, [2, 3, 4]],
    [300, 23, [100, 100, 100]],
    [2, 16, [1, 1]],
    [40, 29, [7, 33]],
  ]) {
    test(`${P} softmax_online_cols R=${Rn} Cn=${Cn} in row blocks ${blocks.join('+')} (large, equal and spread columns)`, () => {
      const rt = mk();
      const r = R.rng(8000 + Rn * Cn + blocks.length);
      const s = R.uniform(r, Rn * Cn, -8, 8);
      if (Cn > 2) {
        for (let q = 0; q < Rn; q++) s[q * Cn + 1] = fr(80 + 20 * r()); // e^s overflows f32 unless the max is subtracted
        for (let q = 0; q < Rn; q++) s[q * Cn + 2] = 1.25; // uniform column
      }
      // a column whose small entries sit 86-110 below its maximum: e^(s - max) is flushed to 0 under
      // 2^-125 (about 2.4e-38), where a subnormal would have been
      if (Cn > 3) for (let q = 0; q < Rn; q++) s[q * Cn + 3] = q % 3 === 0 ? 4 : fr(-82 - 24 * r());
      // a column whose maximum arrives in the last block, so earlier blocks are rescaled by factors < 1
      if (Cn > 4) for (let q = 0; q < Rn; q++) s[q * Cn + 4] = q === Rn - 1 ? 30 : fr(-5 + r());
      const run = (c0, c1) => {
        const st = rt.upload(s, [Rn, Cn]);
        // state filled with NaN: the kernel must initialise what it reads on the first block
        const state = rt.upload(new Float32Array(4 * Cn).fill(NaN), [4, Cn]);
        const alphas = [];
        let r0 = 0;
        for (const [b, rows] of blocks.entries()) {
          rt.k.softmax_online_cols(st.ptr + 4 * r0 * Cn, rows, Cn, state.ptr, b === 0 ? 1 : 0, c0, c1);
          alphas.push(rt.download(state).slice(2 * Cn, 3 * Cn));
          r0 += rows;
        }
        return { p: rt.download(st), state: rt.download(state), alphas };
      };
      const got = run(0, Cn);
      const ref = R.softmaxColsRef(s, Rn, Cn);
      for (let j = 0; j < Cn; j++) {
        let mx = -Infinity;
        for (let q = 0; q < Rn; q++) mx = Math.max(mx, s[q * Cn + j]);
        assert.is(got.state[j], fr(mx), `column ${j}: running max`);
        let sum = 0;
        for (let q = 0; q < Rn; q++) sum += Math.exp(s[q * Cn + j] - mx);
        assert.ok(
          Math.abs(got.state[Cn + j] / sum - 1) <= 1e-5 * Math.sqrt(Rn),
          `column ${j}: running sum ${got.state[Cn + j]} vs ${sum}`,
        );
        let r0 = 0;
        for (const [b, rows] of blocks.entries()) {
          let later = 1;
          for (let b2 = b + 1; b2 < blocks.length; b2++) later *= got.alphas[b2][j];
          for (let q = r0; q < r0 + rows; q++) {
            const w = (got.p[q * Cn + j] * later) / got.state[Cn + j];
            const rv = ref[q * Cn + j];
            assert.ok(
              Math.abs(w - rv) <= 1e-5 * Math.abs(rv) * blocks.length + 2.4e-38,
              `softmax_online_cols element (${q}, ${j}): weight ${w}, expected ${rv}`,
            );
          }
          r0 += rows;
        }
      }
      // Column sub-ranges (starting mid-vector, so 24-, 4- and 1-column paths meet other columns):
      // only those columns change, and they match the full call bit for bit.
      for (const [c0, c1] of [
        [Math.min(1, Cn), Math.min(Cn, 6)],
        [Math.min(3, Cn), Math.max(Math.min(3, Cn), Cn - 1)],
      ]) {
        const part = run(c0, c1);
        for (let q = 0; q < Rn; q++) {
          for (let j = 0; j < Cn; j++) {
            const want = j >= c0 && j < c1 ? got.p[q * Cn + j] : s[q * Cn + j];
            assert.ok(
              Object.is(part.p[q * Cn + j], want),
              `softmax_online_cols [${c0},${c1}) element (${q}, ${j}): ${part.p[q * Cn + j]} vs ${want}`,
            );
          }
        }
        for (let row = 0; row < 2; row++) {
          for (let j = c0; j < c1; j++)
            assert.ok(
              Object.is(part.state[row * Cn + j], got.state[row * Cn + j]),
              `softmax_online_cols [${c0},${c1}) state (${row}, ${j})`,
            );
        }
      }
    });
  }

  test(`${P} scale_cols: x[r, t] * f[t] on a column range, nothing else written`, () => {
    const rt = mk();
    const r = R.rng(8123);
    for (const [Rn, ld, c0, c1] of [
      [3, 11, 0, 11],
      [5, 13, 2, 11],
      [1, 7, 3, 4],
      [4, 40, 5, 38],
    ]) {
      const x = R.uniform(r, Rn * ld, -3, 3);
      const f = R.uniform(r, ld, -2, 2);
      const xp = rt.upload(x, [Rn, ld]);
      rt.k.scale_cols(xp.ptr, ld, Rn, rt.upload(f, [ld]).ptr, c0, c1);
      const want = x.map((v, e) => (e % ld >= c0 && e % ld < c1 ? fr(v * f[e % ld]) : v));
      assertBits(rt.download(xp), want, `scale_cols R=${Rn} ld=${ld} [${c0}, ${c1})`);
    }
  });

  // ---- data movement --------------------------------------------------------------------------------

  test(`${P} transpose R=7 Cn=13 and others (op and row sub-ranges, 4 x 4 blocks and tails)`, () => {
    const rt = mk();
    const r = R.rng(9000);
    for (const [Rn, Cn, i0, i1] of [
      [7, 13, 1, 4],
      [1, 5, 1, 1],
      [5, 1, 1, 4],
      [16, 3, 1, 4],
      [37, 29, 3, 22],
      [8, 8, 0, 8],
    ]) {
      const x = R.uniform(r, Rn * Cn);
      const xt = rt.upload(x, [Rn, Cn]);
      const y = ops.transpose(rt, xt);
      assert.equal(y.dims, [Cn, Rn]);
      assertExact(rt.download(y), R.transposeRef(x, Rn, Cn), `transpose ${Rn}x${Cn}`);
      const o = rt.upload(new Float32Array(Rn * Cn).fill(SENTINEL), [Cn, Rn]);
      rt.k.transpose(o.ptr, xt.ptr, Rn, Cn, i0, i1);
      const got = rt.download(o);
      const full = R.transposeRef(x, Rn, Cn);
      for (let j = 0; j < Cn; j++) {
        for (let i = 0; i < Rn; i++)
          assert.is(
            got[j * Rn + i],
            i >= i0 && i < i1 ? full[j * Rn + i] : SENTINEL,
            `transpose rows [${i0},${i1}) (${j}, ${i})`,
          );
      }
    }
  });

  test(`${P} pad_rows / padTime`, () => {
    const rt = mk();
    const r = R.rng(9100);
    for (const [C, T, left, right] of [
      [3, 7, 3, 5],
      [1, 1, 0, 0],
      [4, 13, 0, 27],
      [2, 37, 27, 0],
      [5, 1001, 8, 8],
    ]) {
      const x = R.uniform(r, C * T);
      const y = ops.padTime(rt, rt.upload(x, [C, T]), left, right);
      assert.equal(y.dims, [C, left + T + right]);
      assertBits(rt.download(y), R.padRowsRef(x, C, T, left, right), `padTime C=${C} T=${T} ${left}+${right}`);
    }
    // Rows outside [rowBegin, rowEnd) are untouched, margins are zeroed over garbage.
    const [C, T, L, Rr] = [4, 5, 2, 3];
    const x = R.uniform(r, C * T);
    const xt = rt.upload(x, [C, T]);
    const o = rt.upload(new Float32Array(C * (T + L + Rr)).fill(NaN), [C, T + L + Rr]);
    rt.k.pad_rows(o.ptr, xt.ptr, T, L, Rr, 1, 3);
    const got = rt.download(o);
    const full = R.padRowsRef(x, C, T, L, Rr);
    for (let i = 0; i < got.length; i++) {
      const c = Math.floor(i / (T + L + Rr));
      if (c >= 1 && c < 3) assert.ok(Object.is(got[i], full[i]), `pad_rows element ${i}`);
      else assert.ok(Number.isNaN(got[i]), `pad_rows wrote row ${c}`);
    }
  });

  test(`${P} deinterleave / interleave: definition and round trip`, () => {
    const rt = mk();
    const r = R.rng(9200);
    for (const [C, T, s, extra] of [
      [3, 37, 5, 0],
      [2, 1001, 8, 1],
      [4, 10, 2, 2],
      [1, 1, 3, 0],
      [2, 13, 1, 0],
      [2, 203, 4, 1],
      [1, 70, 2, 0],
      [2, 67, 8, 0],
    ]) {
      const Tp = Math.ceil(T / s) + extra;
      const x = R.uniform(r, C * T);
      const xt = rt.upload(x, [C, T]);
      const split = rt.upload(new Float32Array(C * s * Tp).fill(NaN), [C * s, Tp]);
      rt.k.deinterleave(split.ptr, xt.ptr, T, s, Tp, 0, C);
      const got = rt.download(split);
      for (let c = 0; c < C; c++) {
        for (let q = 0; q < s; q++) {
          for (let m = 0; m < Tp; m++) {
            const i = m * s + q;
            const want = i < T ? x[c * T + i] : 0;
            assert.ok(
              Object.is(got[(c * s + q) * Tp + m], want),
              `deinterleave C=${C} T=${T} s=${s}: out[${c * s + q}, ${m}] = ${got[(c * s + q) * Tp + m]}, expected ${want}`,
            );
          }
        }
      }
      // Round trip: the split is y[C, s, Tp] with phase q at time m = t div s, so interleave(shift 0) restores x.
      const back = rt.upload(new Float32Array(C * T).fill(NaN), [C, T]);
      rt.k.interleave(back.ptr, split.ptr, s, Tp, 0, T, 0, C);
      assertBits(rt.download(back), x, `interleave(deinterleave(x)) C=${C} T=${T} s=${s}`);
      // interleave with a shift, against its definition out[c, t] = y[c, (t+shift) mod s, (t+shift) div s].
      for (const shift of [1, s - 1, s + 2]) {
        const Tout = Math.max(0, s * Tp - shift);
        if (Tout === 0) continue;
        const o = rt.upload(new Float32Array(C * Tout + 4).fill(SENTINEL), [C * Tout + 4]);
        rt.k.interleave(o.ptr, split.ptr, s, Tp, shift, Tout, 0, C);
        const g2 = rt.download(o);
        for (let c = 0; c < C; c++) {
          for (let t = 0; t < Tout; t++) {
            const u = t + shift;
            assert.ok(
              Object.is(g2[c * Tout + t], got[(c * s + (u % s)) * Tp + Math.floor(u / s)]),
              `interleave shift ${shift} (${c}, ${t})`,
            );
          }
        }
        for (let i = C * Tout; i < C * Tout + 4; i++)
          assert.is(g2[i], SENTINEL, `interleave wrote past its output (${i})`);
      }
    }
  });

  test(`${P} weight_norm folds g * v / ||v|| like torch weight_norm (dims 0, 1, 2)`, () => {
    const rt = mk();
    const r = R.rng(9300);
    for (const shape of [
      [5, 3, 7],
      [32, 2, 16],
      [1, 4, 3],
      [3, 1, 1],
    ]) {
      for (let dim = 0; dim < 3; dim++) {
        const n = shape.reduce((p, q) => p * q, 1);
        const v = R.uniform(r, n, -1, 1);
        const g = R.uniform(r, shape[dim], 0.1, 3);
        const outer = shape.slice(0, dim).reduce((p, q) => p * q, 1);
        const inner = shape.slice(dim + 1).reduce((p, q) => p * q, 1);
        const o = rt.tensor([n]);
        rt.k.weight_norm(o.ptr, rt.upload(v, [n]).ptr, rt.upload(g, [shape[dim]]).ptr, outer, shape[dim], inner);
        const ref = R.weightNormRef(v, shape, g, dim);
        assertTol(rt.download(o), ref, (_i, rv) => 2.5 * U * Math.abs(rv), `weight_norm shape ${shape} dim ${dim}`);
      }
    }
  });

  // ---- RVQ helpers -----------------------------------------------------------------------------------

  test(`${P} argmin_cols: first index on exact ties, K=1, sub-ranges`, () => {
    const rt = mk();
    const r = R.rng(9400);
    const K = 13;
    const T = 11;
    const s = R.uniform(r, K * T, -5, 5);
    const col = (t, vals) =>
      vals.forEach((v, k) => {
        s[k * T + t] = v;
      });
    col(0, new Array(K).fill(0.5)); // all equal: 0
    col(
      1,
      Array.from({ length: K }, (_, k) => (k === 3 || k === 8 ? -7 : k)),
    ); // tie at 3 and 8: 3
    col(
      2,
      Array.from({ length: K }, (_, k) => (k === K - 1 ? -100 : 0)),
    ); // last only
    col(
      3,
      Array.from({ length: K }, (_, k) => (k === 4 ? 0 : k === 6 ? -0 : 1)),
    ); // +0 then -0 compare equal: 4
    col(
      4,
      Array.from({ length: K }, (_, k) => (k === 0 ? -1 : -1)),
    ); // all -1: 0
    col(
      5,
      Array.from({ length: K }, (_, k) => (k < 5 ? 3 : 2.9999998)),
    ); // one ulp apart
    col(
      6,
      Array.from({ length: K }, (_, k) => (k === 2 || k === 12 ? -Infinity : 1)),
    ); // -inf ties: 2
    const st = rt.upload(s, [K, T]);
    const codes = upI32(rt, new Int32Array(T + 2).fill(-1));
    rt.k.argmin_cols(codes, st.ptr, K, T, 0, T);
    const got = readI32(rt, codes, T + 2);
    const ref = R.argminColsRef(s, K, T);
    assert.equal(Array.from(got.subarray(0, T)), Array.from(ref), 'argmin_cols codes');
    assert.equal(Array.from(got.subarray(0, 7)), [0, 3, K - 1, 4, 0, 5, 2], 'constructed ties');
    assert.equal(Array.from(got.subarray(T)), [-1, -1], 'argmin_cols wrote past T');
    // Sub-range.
    const c2 = upI32(rt, new Int32Array(T).fill(-1));
    rt.k.argmin_cols(c2, st.ptr, K, T, 3, 8);
    assert.equal(
      Array.from(readI32(rt, c2, T)),
      Array.from(ref, (v, t) => (t >= 3 && t < 8 ? v : -1)),
      'argmin_cols [3, 8)',
    );
    // K = 1 always gives 0.
    const c3 = upI32(rt, new Int32Array(5).fill(-1));
    rt.k.argmin_cols(c3, rt.upload(R.uniform(r, 5), [1, 5]).ptr, 1, 5, 0, 5);
    assert.equal(Array.from(readI32(rt, c3, 5)), [0, 0, 0, 0, 0], 'argmin_cols K=1');
  });

  test(`${P} subtract_codewords / add_codewords (exact f32, column sub-ranges)`, () => {
    const rt = mk();
    const r = R.rng(9500);
    for (const [K, D, T] of [
      [6, 5, 11],
      [1, 1, 1],
      [9, 13, 4],
    ]) {
      const embed = R.uniform(r, K * D, -2, 2);
      const codes = Int32Array.from({ length: T }, () => Math.floor(r() * K));
      const resid = R.uniform(r, D * T, -2, 2);
      const ep = rt.upload(embed, [K, D]).ptr;
      const cp = upI32(rt, codes);
      for (const [c0, c1] of [
        [0, T],
        [Math.min(2, T), Math.max(Math.min(2, T), T - 2)],
      ]) {
        const rs = rt.upload(resid, [D, T]);
        rt.k.subtract_codewords(rs.ptr, ep, cp, D, T, c0, c1);
        const want = Float32Array.from(resid, (v, i) => {
          const d = Math.floor(i / T);
          const t = i % T;
          return t >= c0 && t < c1 ? fr(v - embed[codes[t] * D + d]) : v;
        });
        assertExact(rt.download(rs), want, `subtract_codewords K=${K} D=${D} T=${T} [${c0},${c1})`);
        const os = rt.upload(resid, [D, T]);
        rt.k.add_codewords(os.ptr, ep, cp, D, T, c0, c1);
        const want2 = Float32Array.from(resid, (v, i) => {
          const d = Math.floor(i / T);
          const t = i % T;
          return t >= c0 && t < c1 ? fr(v + embed[codes[t] * D + d]) : v;
        });
        assertExact(rt.download(os), want2, `add_codewords K=${K} D=${D} T=${T} [${c0},${c1})`);
      }
    }
  });

  test(`${P} codebook_prepare: |e|^2 (f32, d order) and -2 e`, () => {
    const rt = mk();
    const r = R.rng(9600);
    for (const [K, D] of [
      [7, 13],
      [1, 1],
      [5, 300],
    ]) {
      const embed = R.uniform(r, K * D, -2, 2);
      const sq = rt.tensor([K]);
      const neg2 = rt.tensor([K, D]);
      rt.k.codebook_prepare(sq.ptr, neg2.ptr, rt.upload(embed, [K, D]).ptr, K, D);
      const gotSq = rt.download(sq);
      const emul = new Float32Array(K);
      const val = new Float64Array(K);
      const abs = new Float64Array(K);
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let d = 0; d < D; d++) {
          const e = embed[k * D + d];
          s = fr(s + fr(e * e));
          val[k] += e * e;
          abs[k] += e * e;
        }
        emul[k] = s;
      }
      assertSumBound(gotSq, { val, abs }, D + 1, `codebook_prepare sq K=${K} D=${D}`);
      assertBits(gotSq, emul, `codebook_prepare sq K=${K} D=${D} vs f32 emulation`);
      assertExact(
        rt.download(neg2),
        Float32Array.from(embed, (v) => -2 * v),
        `codebook_prepare neg2 K=${K} D=${D}`,
      );
    }
  });

  test(`${P} RVQ step end to end: gemm scores + argmin equals the nearest codeword`, () => {
    const rt = mk();
    const r = R.rng(9700);
    const [K, D, T] = [37, 9, 21];
    const embed = R.uniform(r, K * D, -1, 1);
    const x = new Float32Array(D * T);
    // Each frame is a codeword plus small noise, so the nearest codeword is unambiguous.
    const truth = Int32Array.from({ length: T }, () => Math.floor(r() * K));
    for (let t = 0; t < T; t++)
      for (let d = 0; d < D; d++) x[d * T + t] = fr(embed[truth[t] * D + d] + 1e-3 * (2 * r() - 1));
    const sq = rt.tensor([K]);
    const neg2 = rt.tensor([K, D]);
    const ep = rt.upload(embed, [K, D]).ptr;
    rt.k.codebook_prepare(sq.ptr, neg2.ptr, ep, K, D);
    const rows = rt.allocBytes(4 * D);
    rt.k.gemm_rows(rows, D, 1, T, 1);
    const xt = rt.upload(x, [D, T]);
    const scores = rt.tensor([K, T]);
    rt.k.gemm(scores.ptr, T, neg2.ptr, D, xt.ptr, rows, sq.ptr, 0, K, T, D, 0, K, 0, T);
    const codes = upI32(rt, new Int32Array(T));
    rt.k.argmin_cols(codes, scores.ptr, K, T, 0, T);
    assert.equal(Array.from(readI32(rt, codes, T)), Array.from(truth), 'nearest codewords');
  });

  // ---- WavLM gated relative position bias -----------------------------------------------------------

  test(`${P} wavlm_gate equals a*(b*c - 1) + 2 with a, b = sigmoid(sum of 4)`, () => {
    const rt = mk();
    const r = R.rng(9800);
    for (const T of [1, 13, 1027]) {
      const g = R.uniform(r, 8 * T, -3, 3);
      for (const c of [fr(0.8), fr(-1.7)]) {
        const gate = rt.upload(new Float32Array(T + 4).fill(SENTINEL), [T + 4]);
        rt.k.wavlm_gate(gate.ptr, rt.upload(g, [8, T]).ptr, c, T, 0, T);
        const got = rt.download(gate);
        const ref = R.wavlmGateRef(g, T, c);
        assertTol(got.subarray(0, T), ref, (_i, rv) => 1e-5 * (1 + Math.abs(rv)), `wavlm_gate T=${T} c=${c}`);
        assert.equal(Array.from(got.subarray(T)), [SENTINEL, SENTINEL, SENTINEL, SENTINEL], 'wavlm_gate wrote past T');
      }
    }
    // Sub-range.
    const T = 9;
    const g = R.uniform(r, 8 * T, -3, 3);
    const gate = rt.upload(new Float32Array(T).fill(SENTINEL), [T]);
    rt.k.wavlm_gate(gate.ptr, rt.upload(g, [8, T]).ptr, 0.5, T, 2, 7);
    const got = rt.download(gate);
    const ref = R.wavlmGateRef(g, T, 0.5);
    for (let i = 0; i < T; i++) {
      if (i >= 2 && i < 7)
        assert.ok(Math.abs(got[i] - ref[i]) <= 1e-5 * (1 + Math.abs(ref[i])), `wavlm_gate [2,7) element ${i}`);
      else assert.is(got[i], SENTINEL, `wavlm_gate [2,7) wrote ${i}`);
    }
  });

  // ---- attention ------------------------------------------------------------------------------------

  // self_attention runs, per query block and head, for each key block: gemm -> (WavLM bias) ->
  // softmax_online_cols -> scale the context by the block's factors -> gemm accumulating into the
  // context; then the context times 1 / the running sum. Checked (1) bit for bit against those kernels
  // called one by one, with the bias emulated in JS (fr(s + fr(gate * embed))) and the final scaling in
  // JS, (2) against a float64 reference within a bound, and (3) bit for bit across column splits that
  // cut SIMD vectors, GEMM tiles and query blocks, writing nothing outside their columns. T = 300 and
  // 530 take several key blocks (with a key tail) and several query blocks.
  for (const [T, heads, d, withBias] of [
    [37, 3, 5, false],
    [37, 3, 5, true],
    [70, 2, 40, true],
    [70, 2, 40, false],
    [1, 2, 3, true],
    [19, 1, 33, false],
    [300, 2, 5, true],
    [530, 1, 7, false],
    [513, 1, 64, false],
  ]) {
    test(`${P} self_attention T=${T} heads=${heads} d=${d}${withBias ? ' with gated relative bias' : ''}`, () => {
      const rt = mk();
      const BQ = rt.k.attention_block_queries();
      const BK = rt.k.attention_block_keys();
      const r = R.rng(9900 + T * 7 + heads * 3 + d + (withBias ? 1 : 0));
      const H = heads * d;
      const q = R.uniform(r, H * T, -1.5, 1.5);
      const kT = R.uniform(r, T * H, -1.5, 1.5);
      const v = R.uniform(r, H * T, -1, 1);
      const nb = 11;
      const gates = R.uniform(r, heads * T, 1, 3);
      const embed = R.uniform(r, nb * heads, -1, 1);
      const buckets = Int32Array.from({ length: 2 * T - 1 }, () => Math.floor(r() * nb));
      const qp = rt.upload(q, [H, T]).ptr;
      const kp = rt.upload(kT, [T, H]).ptr;
      const vp = rt.upload(v, [H, T]).ptr;
      const gp = withBias ? rt.upload(gates, [heads, T]).ptr : 0;
      const ep = withBias ? rt.upload(embed, [nb, heads]).ptr : 0;
      const bp = withBias ? upI32(rt, buckets) : 0;
      const rows = rt.allocBytes(4 * Math.max(T, d));
      rt.k.gemm_rows(rows, Math.max(T, d), 1, T, 1);
      const run = (ranges) => {
        const ctx = rt.upload(new Float32Array(H * T).fill(SENTINEL), [H, T]);
        for (const [c0, c1] of ranges) rt.k.self_attention(ctx.ptr, qp, kp, vp, rows, gp, ep, bp, H, heads, T, c0, c1);
        return rt.download(ctx);
      };
      const got = run([[0, T]]);

      // (1) the same kernels one by one, in the kernel's blocks
      const want = new Float32Array(H * T);
      const block = rt.tensor([BK, BQ]);
      const rowsP = rt.allocBytes(4 * BK);
      rt.k.gemm_rows(rowsP, BK, 1, BQ, 1);
      const state = rt.tensor([4, BQ]);
      const ctxOne = rt.tensor([d, T]);
      for (let q0 = 0; q0 < T; q0 += BQ) {
        const q1 = Math.min(T, q0 + BQ);
        const sb = block.ptr - 4 * q0;
        const st = state.ptr - 4 * q0;
        for (let h = 0; h < heads; h++) {
          for (let k0 = 0; k0 < T; k0 += BK) {
            const kn = Math.min(BK, T - k0);
            rt.k.gemm(sb, BQ, kp + 4 * (k0 * H + h * d), H, qp + 4 * h * d * T, rows, 0, 0, kn, T, d, 0, kn, q0, q1);
            if (withBias) {
              const sv = rt.f32;
              for (let j = k0; j < k0 + kn; j++) {
                for (let i = q0; i < q1; i++) {
                  const e = (block.ptr >>> 2) + (j - k0) * BQ + (i - q0);
                  sv[e] = fr(sv[e] + fr(gates[h * T + i] * embed[buckets[j - i + T - 1] * heads + h]));
                }
              }
            }
            rt.k.softmax_online_cols(sb, kn, BQ, st, k0 === 0 ? 1 : 0, q0, q1);
            if (k0 > 0) rt.k.scale_cols(ctxOne.ptr, T, d, st + 4 * 2 * BQ, q0, q1);
            rt.k.gemm(
              ctxOne.ptr,
              T,
              vp + 4 * (h * d * T + k0),
              T,
              sb,
              rowsP,
              0,
              k0 === 0 ? 0 : ctxOne.ptr,
              d,
              T,
              kn,
              0,
              d,
              q0,
              q1,
            );
          }
          const c = rt.download(ctxOne);
          const sum = rt.download(state).subarray(BQ, 2 * BQ);
          for (let ch = 0; ch < d; ch++) {
            for (let i = q0; i < q1; i++) want[(h * d + ch) * T + i] = fr(c[ch * T + i] * fr(1 / sum[i - q0]));
          }
        }
      }
      assertBits(got, want, 'self_attention against gemm, bias, softmax_online_cols, scale_cols, gemm');

      // (2) float64. A score's f32 error is at most e = gamma(d + 2) (sum of its |terms|) (products,
      // bias); shifting scores by up to e moves the softmax by at most 2e in sum |dp| (first order), the
      // kernel's softmax adds 1e-5 relative per element (its own tolerance), and ctx = sum_j v p_j
      // (|v| <= 1, sum p = 1) adds gamma(T) more. So |ctx - ref| <= 2e + 1e-5 + gamma(T), doubled for
      // the second-order terms.
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < T; i++) {
          const s = new Float64Array(T);
          let e = 0;
          for (let j = 0; j < T; j++) {
            let acc = 0;
            let abs = 0;
            for (let c = 0; c < d; c++) {
              acc += kT[j * H + h * d + c] * q[(h * d + c) * T + i];
              abs += Math.abs(kT[j * H + h * d + c] * q[(h * d + c) * T + i]);
            }
            const bias = withBias ? gates[h * T + i] * embed[buckets[j - i + T - 1] * heads + h] : 0;
            s[j] = acc + bias;
            e = Math.max(e, gamma(d + 2) * (abs + 2 * Math.abs(bias)));
          }
          const p = R.softmaxColsRef(s, T, 1);
          const tol = 2 * (2 * e + 1e-5 + gamma(T));
          for (let c = 0; c < d; c++) {
            let ref = 0;
            for (let j = 0; j < T; j++) ref += v[(h * d + c) * T + j] * p[j];
            const gv = got[(h * d + c) * T + i];
            assert.ok(
              Math.abs(gv - ref) <= tol,
              `self_attention head ${h} query ${i} channel ${c}: ${gv} vs float64 ${ref}`,
            );
          }
        }
      }

      // (3) column splits: each call writes only its columns, and together they give the same bits
      const cuts = [
        [
          [0, Math.min(T, 5)],
          [Math.min(T, 5), T],
        ],
        [
          [0, Math.min(T, 13)],
          [Math.min(T, 13), Math.min(T, 14)],
          [Math.min(T, 14), T],
        ],
        [
          [0, Math.min(T, 100)],
          [Math.min(T, 100), T],
        ],
      ];
      for (const ranges of cuts) assertBits(run(ranges), got, `self_attention split ${JSON.stringify(ranges)}`);

      const c0 = Math.min(T - 1, 3);
      const part = run([[c0, T]]);
      for (let row = 0; row < H; row++) {
        for (let i = 0; i < T; i++) {
          const e = row * T + i;
          assert.ok(
            Object.is(part[e], i >= c0 ? got[e] : SENTINEL),
            `self_attention [${c0}, ${T}) element (${row}, ${i})`,
          );
        }
      }
    });
  }
}

test('Winograd matrices: the exact rationals of F(4, 7) (and F(2, 3), F(6, 5)) compute the correlation', () => {
  for (const t of [
    KERNEL7_TILE,
    tile(2, 3, [
      [0, 1],
      [1, 1],
      [-1, 1],
    ]),
    tile(6, 5, [
      [0, 1],
      [1, 1],
      [-1, 1],
      [2, 1],
      [-2, 1],
      [1, 2],
      [-1, 2],
      [3, 1],
      [-3, 1],
    ]),
  ]) {
    const { AT, G, BT } = exactMatrices(t);
    const frac = ([n, dd]) => [n, dd];
    // sum_p AT[i, p] G[p, k] BT[p, l] == [l == i + k] exactly, in BigInt rationals
    for (let i = 0; i < t.m; i++) {
      for (let k = 0; k < t.r; k++) {
        for (let l = 0; l < t.alpha; l++) {
          let num = 0n;
          let den = 1n;
          for (let p = 0; p < t.alpha; p++) {
            const [an, ad] = frac(AT[i][p]);
            const [gn, gd] = frac(G[p][k]);
            const [bn, bd] = frac(BT[p][l]);
            const tn = an * gn * bn;
            const td = ad * gd * bd;
            num = num * td + tn * den;
            den *= td;
          }
          assert.ok(l === i + k ? num === den : num === 0n, `F(${t.m}, ${t.r}): output ${i}, tap ${k}, input ${l}`);
        }
      }
    }
  }
  assert.throws(
    () =>
      tile(4, 7, [
        [0, 1],
        [1, 1],
        [2, 1],
        [-1, 1],
        [-2, 1],
        [1, 2],
        [-1, 2],
        [3, 2],
        [-3, 2],
      ]),
    /pairs/,
  );
  assert.throws(
    () =>
      tile(4, 7, [
        [0, 1],
        [1, 1],
        [-1, 1],
      ]),
    /needs 9 finite points/,
  );
});

for (const f of FLAVOURS) suite(f);

// The relaxed build cannot be instantiated here (Node 20 without the flag): run this file again with it.
if (!process.env.XCODEC_KERNEL_FLAVOURS && !FLAVOURS.includes('relaxed')) {
  test('[relaxed] whole suite in a child process with --experimental-wasm-relaxed-simd', () => {
    const file = fileURLToPath(import.meta.url);
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', file], {
      encoding: 'utf8',
      env: { ...process.env, XCODEC_KERNEL_FLAVOURS: 'relaxed' },
      maxBuffer: 64 << 20,
    });
    const out = (r.stdout ?? '') + (r.stderr ?? '');
    if (/bad option/i.test(out)) {
      console.log('  (this node has no --experimental-wasm-relaxed-simd flag; relaxed build not tested)');
      return;
    }
    const total = /Total:\s+(\d+)/.exec(out);
    const passed = /Passed:\s+(\d+)/.exec(out);
    assert.ok(total && passed, `child did not report:\n${out.slice(-4000)}`);
    assert.ok(Number(total[1]) > 50, `child ran only ${total[1]} tests`);
    assert.is(
      Number(passed[1]),
      Number(total[1]),
      `relaxed build: ${passed[1]} of ${total[1]} passed:\n${out.slice(-8000)}`,
    );
    assert.is(r.status, 0, `child exit status ${r.status}`);
  });
}

test.run();
