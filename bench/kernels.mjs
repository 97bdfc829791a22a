// Kernel microbenchmarks (tinybench): GFLOP/s of the heavy kernels and % of the SIMD peak measured
// here, in the same process, by assembly/peak.ts right before and after each kernel.
// `node bench/kernels.mjs [--flavour simd|relaxed] [--conv] [--xcodec2] [--json]` (relaxed needs
// --experimental-wasm-relaxed-simd on Node 20; --conv: only the kernel-7 convolutions, direct and
// Winograd side by side, where gflops counts the direct conv's FLOPs and multiplyGflops the Winograd
// GEMMs' real ones; --xcodec2: only X-Codec 2's kernels, at its full-size shapes for 10 s, flops
// counting their multiply-adds (the FFT: 5 n log2 n per frame; SnakeBeta: its 12-tap filters)). The
// default set ends with the kernels that stream memory (activations, norms, layout): ns per element
// and GB/s read plus written, beside a copy of as many bytes.
import { Bench } from 'tinybench';
import { Runtime } from '../dist/backend/runtime.js';
import {
  conv1d,
  convTranspose1d,
  packConv1d,
  packConvTranspose1d,
  packConvWinograd,
  winogradApplies,
} from '../dist/nn/index.js';
import { warmUpKernels } from '../dist/backend/warmup.js';
import { KERNEL7_TILE } from '../dist/nn/index.js';

const argv = process.argv.slice(2);
const flavour = argv.includes('--flavour') ? argv[argv.indexOf('--flavour') + 1] : 'simd';
const json = argv.includes('--json');
const rt = new Runtime(flavour);
// As the model does at load: run every kernel once so V8 compiles them with TurboFan before timing.
warmUpKernels(rt);

function random(ptr, n, seed = 1) {
  const f = rt.f32;
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[(ptr >>> 2) + i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
}

/** n random floats in a new allocation. */
function buf(n, seed) {
  const p = rt.allocBytes(4 * n);
  random(p, n, seed);
  return p;
}

export function measurePeak(k, seconds = 0.5) {
  k.peak_madd(100000, 1); // tier-up
  const per = k.peak_madd_flops_per_iteration();
  let iters = 1e6;
  for (;;) {
    const t = performance.now();
    k.peak_madd(iters, 1);
    const dt = (performance.now() - t) / 1000;
    if (dt > seconds) return (iters * per) / dt / 1e9;
    iters *= 2;
  }
}

const cases = [];
// Ops that allocate their outputs release back to this mark, taken after every case is set up.
let scratch = 0;
function gemmCase(name, M, N, K) {
  const a = rt.allocBytes(4 * M * K);
  const b = rt.allocBytes(4 * K * N);
  const o = rt.allocBytes(4 * M * N);
  const rows = rt.allocBytes(4 * K);
  random(a, M * K);
  random(b, K * N, 2);
  rt.k.gemm_rows(rows, K, 1, N, 1);
  cases.push({ name, flops: 2 * M * N * K, fn: () => rt.k.gemm(o, N, a, K, b, rows, 0, 0, M, N, K, 0, M, 0, N) });
}
// A residual unit's kernel-7 conv, direct or Winograd. flops: the direct conv's count (so GFLOP/s is
// the effective rate); multiplyFlops: what the Winograd GEMMs really do (2 alpha C^2 per m outputs).
function convCase(name, C, T, dilation, algorithm = 'direct') {
  const w = rt.allocBytes(4 * C * C * 7);
  random(w, C * C * 7);
  const x = rt.tensor([C, T]);
  random(x.ptr, C * T, 3);
  const c = packConv1d(rt, w, 0, { cin: C, cout: C, kernel: 7, dilation, padding: 3 * dilation }, name);
  const flops = 2 * C * C * 7 * T;
  let multiplyFlops = flops;
  if (algorithm === 'winograd') {
    if (!winogradApplies(rt, c, KERNEL7_TILE)) throw new Error(`${name}: Winograd does not apply`);
    c.winograd = packConvWinograd(rt, c, KERNEL7_TILE).winograd;
    multiplyFlops = (flops * KERNEL7_TILE.alpha) / (7 * KERNEL7_TILE.m);
  }
  cases.push({
    name: `${name} ${algorithm}`,
    flops,
    multiplyFlops,
    fn: () => {
      conv1d(rt, x, c);
      rt.release(scratch);
    },
  });
}
function convTCase(name, cin, cout, k, s, T) {
  const w = rt.allocBytes(4 * cin * cout * k);
  random(w, cin * cout * k);
  const x = rt.tensor([cin, T]);
  random(x.ptr, cin * T, 4);
  const c = packConvTranspose1d(rt, w, 0, {
    cin,
    cout,
    kernel: k,
    stride: s,
    padding: Math.ceil(s / 2),
    outputPadding: s % 2,
  });
  cases.push({
    name,
    flops: 2 * cin * cout * k * T,
    fn: () => {
      convTranspose1d(rt, x, c);
      rt.release(scratch);
    },
  });
}
function attentionCase(name, T, H, heads) {
  const d = H / heads;
  const q = rt.allocBytes(4 * H * T);
  const kT = rt.allocBytes(4 * T * H);
  const v = rt.allocBytes(4 * H * T);
  const ctx = rt.allocBytes(4 * H * T);
  const rows = rt.allocBytes(4 * d);
  random(q, H * T);
  random(kT, H * T, 5);
  random(v, H * T, 6);
  rt.k.gemm_rows(rows, d, 1, T, 1);
  cases.push({
    name,
    flops: heads * (2 * T * T * d * 2),
    fn: () => rt.k.self_attention(ctx, q, kT, v, rows, 0, 0, 0, H, heads, T, 0, T),
  });
}
function rvqCase(name, K, D, T) {
  const e = rt.allocBytes(4 * K * D);
  const sq = rt.allocBytes(4 * K);
  const neg2 = rt.allocBytes(4 * K * D);
  const r = rt.allocBytes(4 * D * T);
  const scores = rt.allocBytes(4 * K * T);
  const codes = rt.allocBytes(4 * T);
  const rows = rt.allocBytes(4 * D);
  random(e, K * D);
  random(r, D * T, 7);
  rt.k.codebook_prepare(sq, neg2, e, K, D);
  rt.k.gemm_rows(rows, D, 1, T, 1);
  cases.push({
    name,
    flops: 2 * K * D * T,
    fn: () => {
      rt.k.gemm(scores, T, neg2, D, r, rows, sq, 0, K, T, D, 0, K, 0, T);
      rt.k.argmin_cols(codes, scores, K, T, 0, T);
    },
  });
}

/** X-Codec 2's kernels at full-size shapes, 10 s (501 frames; SnakeBeta on the first block's 48 x 16000 x 10). */
function xcodec2Cases() {
  const T = 501;
  // relative-key attention: Wav2Vec2-BERT's 16 heads of 64, 73 distances
  const H = 1024;
  const heads = 16;
  const d = H / heads;
  const [q, kT, v, ctx, rel] = [buf(H * T, 1), buf(H * T, 2), buf(H * T, 3), buf(H * T, 4), buf(heads * 73 * T, 5)];
  const rows = rt.allocBytes(4 * d);
  rt.k.gemm_rows(rows, d, 1, T, 1);
  cases.push({
    name: `X2 attention, relative keys ${T} x ${H} (16 heads)`,
    flops: heads * (2 * T * T * d * 2),
    fn: () => rt.k.self_attention_rel(ctx, q, kT, v, rows, rel, 64, 8, T, H, heads, T, 0, T),
  });
  const x = buf(H * (T + 30), 6);
  const w = buf(H * 31, 7);
  const o = rt.allocBytes(4 * H * T);
  cases.push({
    name: `X2 depthwise conv k31 ${H} x ${T}`,
    flops: 2 * 31 * H * T,
    fn: () => rt.k.depthwise_conv_rows(o, x, w, T + 30, 31, T, 0, H),
  });
  const L = 160000;
  const sx = buf(48 * L, 8);
  const so = rt.allocBytes(4 * 48 * L);
  const a = buf(48, 9);
  const inv = buf(48, 10);
  const filter = buf(12, 11);
  cases.push({
    name: `X2 anti-aliased SnakeBeta 48 x ${L}`,
    flops: 48 * (2 * 2 * 12 * L + 2 * 12 * L),
    fn: () => rt.k.snake_beta_aa(so, sx, a, inv, filter, L, 0, 48),
  });
  const n = 1280;
  const spec = buf((n + 2) * T, 12);
  const frames = rt.allocBytes(4 * n * T);
  const window = buf(n, 13);
  const tw = rt.allocBytes(16 * n);
  cases.push({
    name: `X2 istft_frames n=${n} x ${T}`,
    flops: 5 * n * Math.log2(n) * T,
    fn: () => rt.k.istft_frames(frames, spec, window, tw, n, T, 0, T),
  });
  const gx = buf(H * T, 14);
  const g = buf(H, 15);
  const b = buf(H, 16);
  cases.push({
    name: `X2 group_norm_groups + SiLU ${H} x ${T} (32 groups)`,
    flops: 8 * H * T,
    fn: () => rt.k.group_norm_groups(o, gx, g, b, H, T, 32, 1e-6, 1, 0, 32),
  });
  cases.push({
    name: `X2 rms_norm_cols ${H} x ${T}`,
    flops: 4 * H * T,
    fn: () => rt.k.rms_norm_cols(o, gx, g, H, T, 1e-6, 0, T),
  });
}

/**
 * The kernels that stream memory rather than multiply (activations, norms, layout) at the full-size
 * shapes of 10 s: they have no FLOP count worth a % of the probe, so their rows give ns per element
 * and GB/s of what they read and write, beside a copy of the same bytes (memory.copy: what the memory
 * system moves when nothing is computed).
 */
function streamingCases() {
  const C = 64;
  const L = 160000;
  const x = buf(C * L, 21);
  const o = rt.allocBytes(4 * C * (L + 6));
  const alpha = buf(C, 22);
  cases.push({
    name: `copy ${C} x ${L} (memory.copy)`,
    elements: C * L,
    bytes: 8 * C * L,
    fn: () => rt.f32.copyWithin(o >>> 2, x >>> 2, (x >>> 2) + C * L),
  });
  cases.push({
    name: `snake ${C} x ${L}, padded by 3`,
    elements: C * L,
    bytes: 8 * C * L,
    fn: () => rt.k.snake(o, x, alpha, L, 3, 3, 0, C),
  });
  cases.push({
    name: `pad_rows ${C} x ${L} by 3`,
    elements: C * L,
    bytes: 8 * C * L,
    fn: () => rt.k.pad_rows(o, x, L, 3, 3, 0, C),
  });
  const F = 3072 * 500;
  cases.push({ name: 'GELU 3072 x 500', elements: F, bytes: 8 * F, fn: () => rt.k.gelu(o, x, 0, F) });
  const H = 768;
  const T = 500;
  const g = buf(H, 23);
  const b = buf(H, 24);
  cases.push({
    name: `layer_norm_cols ${H} x ${T}`,
    elements: H * T,
    bytes: 8 * H * T,
    fn: () => rt.k.layer_norm_cols(o, x, g, b, H, T, 1e-5, 0, T),
  });
  cases.push({ name: `add ${H} x ${T}`, elements: H * T, bytes: 12 * H * T, fn: () => rt.k.add(o, x, o, 0, H * T) });
  cases.push({
    name: `transpose ${H} x ${T}`,
    elements: H * T,
    bytes: 8 * H * T,
    fn: () => rt.k.transpose(o, x, H, T, 0, H),
  });
}

if (argv.includes('--xcodec2')) xcodec2Cases();
else {
  gemmCase('GEMM 768x3072x500', 3072, 500, 768);
  gemmCase('GEMM 1024x1024x50', 1024, 50, 1024);
  // The decoder's residual units over 1 s of 16 kHz audio: 64 channels at 16000 steps/s, 128 at 8000,
  // 256 at 2000, 512 at 400 (the encoder's are the same shapes at 16000, 2000, 400 and 100).
  for (const [C, T] of [
    [64, 16000],
    [128, 8000],
    [256, 2000],
    [512, 400],
  ]) {
    for (const d of [1, 3, 9]) {
      for (const algorithm of ['direct', 'winograd']) convCase(`conv1d ${C}ch k7 d${d} x${T}`, C, T, d, algorithm);
    }
  }
  convTCase('conv_transpose1d 1024->512 k16 s8 x500', 1024, 512, 16, 8, 500);
  attentionCase('attention 500 frames x 768 (12 heads)', 500, 768, 12);
  attentionCase('attention 3000 frames x 768 (12 heads)', 3000, 768, 12);
  rvqCase('RVQ 1024 codes x 1024 dim x 500 frames', 1024, 1024, 500);
  streamingCases();
}

if (argv.includes('--conv')) cases.splice(0, cases.length, ...cases.filter((c) => c.name.startsWith('conv1d')));
scratch = rt.mark();
// Each kernel's % peak is of the mean of a probe right before and right after it: on a shared host the
// capacity drifts within a run, and one probe at the start misstated later kernels' share.
const rows = [];
const probes = [];
for (const c of cases) {
  const before = measurePeak(rt.k, 0.3);
  const bench = new Bench({ time: 800, warmupTime: 200 });
  bench.add(c.name, c.fn);
  await bench.run();
  const after = measurePeak(rt.k, 0.3);
  const t = bench.tasks[0];
  if (!t.result.latency) throw new Error(`${t.name}: ${t.result.state} ${t.result.error?.stack ?? ''}`);
  const ms = t.result.latency.p50; // median
  const peak = (before + after) / 2;
  probes.push(before, after);
  const row = { kernel: c.name, ms: +ms.toFixed(3), probe: +peak.toFixed(1) };
  if (c.flops !== undefined) {
    const gflops = c.flops / (ms / 1000) / 1e9;
    row.gflops = +gflops.toFixed(1);
    row.pctPeak = +((100 * gflops) / peak).toFixed(0);
  } else {
    // a streaming kernel: time per element and the bytes it moves
    row.nsPerElement = +((ms * 1e6) / c.elements).toFixed(3);
    row.gbPerS = +(c.bytes / (ms / 1000) / 1e9).toFixed(1);
  }
  // Winograd rows: the multiplies really done (GFLOP/s of the GEMMs alone would be this rate)
  if (c.multiplyFlops !== undefined && c.multiplyFlops !== c.flops)
    row.multiplyGflops = +(c.multiplyFlops / (ms / 1000) / 1e9).toFixed(1);
  rows.push(row);
}
console.log(
  `kernels, ${rt.flavour} SIMD, 1 thread; probes ${Math.min(...probes).toFixed(1)}-${Math.max(...probes).toFixed(1)} GFLOP/s (probe: mean of the probes before and after each kernel)`,
);
console.table(rows);
if (json) console.log(JSON.stringify({ flavour: rt.flavour, probes, kernels: rows }));
