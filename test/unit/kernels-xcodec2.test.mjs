// X-Codec 2's kernels against plain float64 scalar references written from the PyTorch definitions
// (not from the kernels), on odd sizes and SIMD tails, for every SIMD flavour this runtime runs; and
// every split of each kernel's range against the whole call, bit for bit (what keeps threads exact).
// Tolerances: norms |d| <= 1e-6 sqrt(n) (1 + |ref|) over n elements; SiLU, GLU, SnakeBeta relative
// 2e-6 (+ the sin^2 term's |x| u); sums (conv, FFT, rotary, attention) by the f32 summation bound
// gamma(n) x sum |terms| with n the terms per output (ISTFT: 8 log2(n) for the FFT's passes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Runtime, kernelModule } from '../../dist/backend/runtime.js';
import { kaiserSincFilter } from '../../dist/model/xcodec2/acoustic_encoder.js';
import { istftTables } from '../../dist/nn/istft.js';
import * as R from '../support/reference_ops.mjs';

const U = 2 ** -24;
const gamma = (n) => (n * U) / (1 - n * U);
const sigmoid = (x) => 1 / (1 + Math.exp(-x));

const relaxed = (() => {
  try {
    return kernelModule('relaxed').flavour === 'relaxed';
  } catch {
    return false;
  }
})();
const FLAVOURS = process.env.XCODEC_KERNEL_FLAVOURS
  ? process.env.XCODEC_KERNEL_FLAVOURS.split(',')
  : ['simd', ...(relaxed ? ['relaxed'] : [])];

function up(rt, arr) {
  const p = rt.allocBytes(4 * Math.max(1, arr.length));
  rt.f32.set(arr, p >>> 2);
  return p;
}
const read = (rt, p, n) => rt.f32.slice(p >>> 2, (p >>> 2) + n);

function close(got, ref, tol, what) {
  assert.is(got.length, ref.length, `${what}: length`);
  for (let i = 0; i < ref.length; i++) {
    const t = tol(i, ref[i]);
    if (!(Math.abs(got[i] - ref[i]) <= t))
      assert.unreachable(`${what}: element ${i}: got ${got[i]}, expected ${ref[i]} (tolerance ${t})`);
  }
}

function bits(got, want, what) {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) assert.unreachable(`${what}: element ${i}: ${got[i]} vs ${want[i]}`);
}

/** Runs `call(begin, end)` over cuts of [0, n) and returns the output each time (every cut must give the same bits). */
function splits(n, call, out, size) {
  const cuts = [
    [[0, n]],
    [
      [0, 1],
      [1, n],
    ],
    [
      [0, Math.floor(n / 2)],
      [Math.floor(n / 2), n],
    ],
    [
      [0, n - 1],
      [n - 1, n],
    ],
  ];
  return cuts
    .filter((c) => c.every(([a, b]) => a < b))
    .map((c) => {
      for (const [a, b] of c) call(a, b);
      return read(out.rt, out.ptr, size);
    });
}

for (const flavour of FLAVOURS) {
  const P = `[${flavour}]`;
  const mk = () => new Runtime(flavour);

  test(`${P} group_norm_groups (and SiLU after it) against float64, C=64 in 32 groups and 8 in 1, odd T`, () => {
    for (const [C, G, T] of [
      [64, 32, 37],
      [8, 1, 5],
      [6, 3, 1],
    ]) {
      for (const silu of [0, 1]) {
        const rt = mk();
        const r = R.rng(C + T + silu);
        const x = R.uniform(r, C * T, -3, 3);
        const g = R.uniform(r, C, 0.5, 1.5);
        const be = R.uniform(r, C, -0.5, 0.5);
        const [xp, gp, bp, op] = [up(rt, x), up(rt, g), up(rt, be), rt.allocBytes(4 * C * T)];
        const n = (C / G) * T;
        const ref = new Float64Array(C * T);
        for (let q = 0; q < G; q++) {
          let m = 0;
          for (let i = 0; i < n; i++) m += x[q * n + i];
          m /= n;
          let v = 0;
          for (let i = 0; i < n; i++) v += (x[q * n + i] - m) ** 2;
          const rs = 1 / Math.sqrt(v / n + 1e-6);
          for (let i = 0; i < n; i++) {
            const c = Math.floor((q * n + i) / T);
            const y = (x[q * n + i] - m) * rs * g[c] + be[c];
            ref[q * n + i] = silu ? y * sigmoid(y) : y;
          }
        }
        const outs = splits(
          G,
          (a, b) => rt.k.group_norm_groups(op, xp, gp, bp, C, T, G, 1e-6, silu, a, b),
          { rt, ptr: op },
          C * T,
        );
        close(
          outs[0],
          ref,
          (_, v) => 1e-6 * Math.sqrt(n) * (1 + Math.abs(v)) * 3,
          `group_norm_groups C=${C} G=${G} T=${T} silu=${silu}`,
        );
        for (const o of outs) bits(o, outs[0], 'group_norm_groups split');
      }
    }
  });

  test(`${P} rms_norm_cols against float64 (columns in fours and a tail), C=13, T=11`, () => {
    const rt = mk();
    const [C, T] = [13, 11];
    const r = R.rng(7);
    const x = R.uniform(r, C * T, -2, 2);
    const g = R.uniform(r, C, 0.5, 1.5);
    const [xp, gp, op] = [up(rt, x), up(rt, g), rt.allocBytes(4 * C * T)];
    const ref = new Float64Array(C * T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += x[c * T + t] ** 2;
      const rs = 1 / Math.sqrt(s / C + 1e-6);
      for (let c = 0; c < C; c++) ref[c * T + t] = g[c] * x[c * T + t] * rs;
    }
    const outs = splits(T, (a, b) => rt.k.rms_norm_cols(op, xp, gp, C, T, 1e-6, a, b), { rt, ptr: op }, C * T);
    close(outs[0], ref, (_, v) => 1e-6 * Math.sqrt(C) * (1 + Math.abs(v)), 'rms_norm_cols');
    for (const o of outs) bits(o, outs[0], 'rms_norm_cols split');
  });

  test(`${P} silu, relu and glu_rows against float64 on odd lengths`, () => {
    const rt = mk();
    const n = 75;
    const x = R.uniform(R.rng(3), n, -12, 12);
    const [xp, op] = [up(rt, x), rt.allocBytes(4 * n)];
    rt.k.silu(op, xp, 0, n);
    close(
      read(rt, op, n),
      Array.from(x, (v) => v * sigmoid(v)),
      (_, v) => 2e-6 * Math.abs(v) + 1e-30,
      'silu',
    );
    rt.k.relu(op, xp, 0, n);
    bits(
      read(rt, op, n),
      Array.from(x, (v) => Math.max(v, 0)),
      'relu',
    );
    const [C, T] = [5, 13];
    const a = R.uniform(R.rng(4), 2 * C * T, -6, 6);
    const ap = up(rt, a);
    const gp = rt.allocBytes(4 * C * T);
    rt.k.glu_rows(gp, ap, C, T, 0, C);
    const ref = Array.from({ length: C * T }, (_, i) => a[i] * sigmoid(a[C * T + i]));
    close(read(rt, gp, C * T), ref, (_, v) => 2e-6 * Math.abs(v) + 1e-30, 'glu_rows');
  });

  test(`${P} istft_frames + overlap_add against a float64 inverse DFT, Hann window and envelope (n 1280 = 4^4 5 and 60 = 4 3 5)`, () => {
    for (const [n, hop, T] of [
      [1280, 320, 7],
      [60, 20, 5],
    ]) {
      const rt = mk();
      const tables = istftTables(rt, n, hop);
      const half = n / 2 + 1;
      const r = R.rng(n);
      const spec = new Float32Array((n + 2) * T);
      for (let i = 0; i < half * T; i++) spec[i] = -3 + 8 * r(); // a few past the clamp at e^4.6
      for (let i = half * T; i < 2 * half * T; i++) spec[i] = -6 + 12 * r();
      const sp = up(rt, spec);
      const frames = rt.allocBytes(4 * T * n);
      const outs = splits(
        T,
        (a, b) => rt.k.istft_frames(frames, sp, tables.window, tables.twiddles, n, T, a, b),
        { rt, ptr: frames },
        T * n,
      );
      for (const o of outs) bits(o, outs[0], 'istft_frames split');
      const win = Array.from({ length: n }, (_, k) => 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / n));
      const ref = new Float64Array(T * n);
      const absTerms = new Float64Array(T * n);
      for (let t = 0; t < T; t++) {
        for (let m = 0; m < n; m++) {
          let s = 0;
          let sa = 0;
          for (let k = 0; k < half; k++) {
            const mag = Math.min(Math.exp(spec[k * T + t]), 100);
            const ph = spec[(half + k) * T + t];
            const w = k === 0 || k === n / 2 ? 1 : 2;
            const re = mag * Math.cos(ph);
            const im = k === 0 || k === n / 2 ? 0 : mag * Math.sin(ph);
            const ang = (2 * Math.PI * k * m) / n;
            s += w * (re * Math.cos(ang) - im * Math.sin(ang));
            sa += w * mag;
          }
          ref[t * n + m] = (s / n) * win[m];
          absTerms[t * n + m] = (sa / n) * win[m];
        }
      }
      const passes = 8 * Math.ceil(Math.log2(n));
      close(outs[0], ref, (i) => gamma(passes) * absTerms[i] + 1e-7 * Math.abs(ref[i]) + 1e-30, `istft_frames n=${n}`);
      const pad = (n - hop) / 2;
      const L = T * hop;
      const op = rt.allocBytes(4 * L);
      const adds = splits(
        L,
        (a, b) => rt.k.overlap_add(op, frames, tables.window, n, hop, T, pad, a, b),
        { rt, ptr: op },
        L,
      );
      for (const o of adds) bits(o, adds[0], 'overlap_add split');
      const fr = outs[0];
      const want = new Float64Array(L);
      for (let s = 0; s < L; s++) {
        let sum = 0;
        let env = 0;
        for (let t = 0; t < T; t++) {
          const m = s + pad - t * hop;
          if (m >= 0 && m < n) {
            sum += fr[t * n + m];
            env += win[m] ** 2;
          }
        }
        want[s] = sum / Math.max(env, 1e-11);
      }
      close(adds[0], want, (_, v) => 1e-6 * Math.abs(v) + 1e-7, `overlap_add n=${n}`);
    }
  });

  test(`${P} rotate_half_rows: x cos + rotate_half(x) sin per row, heads of d=6, T=9`, () => {
    const rt = mk();
    const [heads, d, T] = [3, 6, 9];
    const Rn = heads * d;
    const r = R.rng(11);
    const x = R.uniform(r, Rn * T);
    const cos = R.uniform(r, Rn);
    const sin = R.uniform(r, Rn);
    const [xp, cp, sp, op] = [up(rt, x), up(rt, cos), up(rt, sin), rt.allocBytes(4 * Rn * T)];
    const outs = splits(Rn, (a, b) => rt.k.rotate_half_rows(op, xp, cp, sp, d, T, a, b), { rt, ptr: op }, Rn * T);
    const ref = new Float64Array(Rn * T);
    const abs = new Float64Array(Rn * T);
    for (let row = 0; row < Rn; row++) {
      const i = row % d;
      const partner = i < d / 2 ? row + d / 2 : row - d / 2;
      const sign = i < d / 2 ? -1 : 1;
      for (let t = 0; t < T; t++) {
        const a = x[row * T + t] * cos[row];
        const b = sign * x[partner * T + t] * sin[row];
        ref[row * T + t] = a + b;
        abs[row * T + t] = Math.abs(a) + Math.abs(b);
      }
    }
    close(outs[0], ref, (i) => gamma(3) * abs[i], 'rotate_half_rows');
    for (const o of outs) bits(o, outs[0], 'rotate_half_rows split');
  });

  test(`${P} depthwise_conv_rows against float64, K=31 (causal pad) and K=3, T past 8 and tails`, () => {
    for (const [C, K, T] of [
      [5, 31, 19],
      [3, 3, 8],
      [2, 5, 1],
    ]) {
      const rt = mk();
      const ldx = T + K - 1 + 2;
      const r = R.rng(C * K + T);
      const x = R.uniform(r, C * ldx);
      const w = R.uniform(r, C * K);
      const [xp, wp, op] = [up(rt, x), up(rt, w), rt.allocBytes(4 * C * T)];
      const outs = splits(C, (a, b) => rt.k.depthwise_conv_rows(op, xp, wp, ldx, K, T, a, b), { rt, ptr: op }, C * T);
      const ref = new Float64Array(C * T);
      const abs = new Float64Array(C * T);
      for (let c = 0; c < C; c++)
        for (let t = 0; t < T; t++)
          for (let k = 0; k < K; k++) {
            ref[c * T + t] += w[c * K + k] * x[c * ldx + t + k];
            abs[c * T + t] += Math.abs(w[c * K + k] * x[c * ldx + t + k]);
          }
      close(outs[0], ref, (i) => gamma(K + 1) * abs[i], `depthwise C=${C} K=${K} T=${T}`);
      for (const o of outs) bits(o, outs[0], 'depthwise split');
    }
  });

  test(`${P} snake_beta_aa against PyTorch's steps in float64 (replicate pads, transposed conv, crop, SnakeBeta, strided conv), L across chunks`, () => {
    const taps = kaiserSincFilter();
    for (const [C, L] of [
      [3, 7],
      [2, 2600],
      [1, 1],
    ]) {
      const rt = mk();
      const r = R.rng(C * L);
      const x = R.uniform(r, C * L, -2, 2);
      const a = Array.from({ length: C }, () => Math.fround(Math.exp(-0.5 + r())));
      const inv = Array.from({ length: C }, () => Math.fround(1 / (Math.exp(-0.5 + r()) + 1e-9)));
      const [xp, ap, ip, fp, op] = [up(rt, x), up(rt, a), up(rt, inv), up(rt, taps), rt.allocBytes(4 * C * L)];
      const outs = splits(C, (b0, b1) => rt.k.snake_beta_aa(op, xp, ap, ip, fp, L, b0, b1), { rt, ptr: op }, C * L);
      for (const o of outs) bits(o, outs[0], 'snake_beta_aa split');
      const ref = new Float64Array(C * L);
      const abs = new Float64Array(C * L);
      for (let c = 0; c < C; c++) {
        const row = x.subarray(c * L, (c + 1) * L);
        const xpad = Array.from({ length: L + 10 }, (_, i) => row[Math.min(Math.max(i - 5, 0), L - 1)]);
        const y = new Float64Array(2 * (L + 10) + 10);
        for (let i = 0; i < L + 10; i++) for (let k = 0; k < 12; k++) y[2 * i + k] += xpad[i] * taps[k];
        const u = Array.from({ length: 2 * L }, (_, m) => 2 * y[m + 15]);
        const s = u.map((v) => v + inv[c] * Math.sin(v * a[c]) ** 2);
        const dp = Array.from({ length: 2 * L + 11 }, (_, i) => s[Math.min(Math.max(i - 5, 0), 2 * L - 1)]);
        for (let j = 0; j < L; j++)
          for (let k = 0; k < 12; k++) {
            ref[c * L + j] += dp[2 * j + k] * taps[k];
            abs[c * L + j] += Math.abs(dp[2 * j + k] * taps[k]) * (1 + Math.abs(a[c] * inv[c]) * 4);
          }
      }
      close(outs[0], ref, (i) => 2e-6 * abs[i] + gamma(20) * abs[i], `snake_beta_aa C=${C} L=${L}`);
    }
  });

  test(`${P} self_attention_rel against float64: Shaw's relative keys clamped to [-left, right], keys past the mask unread`, () => {
    for (const [heads, d, T, keys, left, right] of [
      [2, 4, 9, 6, 3, 2],
      [1, 8, 300, 300, 64, 8],
      [3, 5, 17, 1, 4, 4],
    ]) {
      const rt = mk();
      const H = heads * d;
      const r = R.rng(T * 7 + keys);
      const q = R.uniform(r, H * T);
      const kT = R.uniform(r, T * H);
      for (let j = keys; j < T; j++) for (let c = 0; c < H; c++) kT[j * H + c] = NaN; // masked keys are never read
      const v = R.uniform(r, H * T);
      for (let c = 0; c < H; c++) for (let j = keys; j < T; j++) v[c * T + j] = NaN;
      const nd = left + right + 1;
      const rel = R.uniform(r, heads * nd * T);
      const [qp, kp, vp, relp, cp] = [up(rt, q), up(rt, kT), up(rt, v), up(rt, rel), rt.allocBytes(4 * H * T)];
      const rows = rt.allocBytes(4 * d);
      rt.k.gemm_rows(rows, d, 1, T, 1);
      const outs = splits(
        T,
        (a, b) => rt.k.self_attention_rel(cp, qp, kp, vp, rows, relp, left, right, keys, H, heads, T, a, b),
        { rt, ptr: cp },
        H * T,
      );
      for (const o of outs) bits(o, outs[0], 'self_attention_rel split');
      const ref = new Float64Array(H * T);
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < T; i++) {
          const s = [];
          for (let j = 0; j < keys; j++) {
            let dot = 0;
            for (let c = 0; c < d; c++) dot += q[(h * d + c) * T + i] * kT[j * H + h * d + c];
            const dist = Math.min(Math.max(j - i, -left), right) + left;
            s.push(dot + rel[(h * nd + dist) * T + i]);
          }
          const mx = Math.max(...s);
          const p = s.map((z) => Math.exp(z - mx));
          const sum = p.reduce((a2, b2) => a2 + b2, 0);
          for (let c = 0; c < d; c++) {
            let o = 0;
            for (let j = 0; j < keys; j++) o += (p[j] / sum) * v[(h * d + c) * T + j];
            ref[(h * d + c) * T + i] = o;
          }
        }
      close(outs[0], ref, () => 2e-5, `self_attention_rel heads=${heads} d=${d} T=${T} keys=${keys}`);
    }
  });
}

// The relaxed build cannot be instantiated here (Node 20 without the flag): run this file again with it.
if (!process.env.XCODEC_KERNEL_FLAVOURS && !FLAVOURS.includes('relaxed')) {
  test('[relaxed] the same tests in a child process with --experimental-wasm-relaxed-simd', () => {
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url)], {
      encoding: 'utf8',
      env: { ...process.env, XCODEC_KERNEL_FLAVOURS: 'relaxed' },
    });
    const out = (r.stdout ?? '') + (r.stderr ?? '');
    if (/bad option/i.test(out)) {
      console.log('  (this node has no --experimental-wasm-relaxed-simd flag; relaxed build not tested)');
      return;
    }
    const total = /Total:\s+(\d+)/.exec(out);
    const passed = /Passed:\s+(\d+)/.exec(out);
    assert.ok(total && passed, `child did not report:\n${out.slice(-4000)}`);
    assert.is(Number(total[1]), 8, `the child ran ${total[1]} tests`);
    assert.is(
      Number(passed[1]),
      Number(total[1]),
      `relaxed build: ${passed[1]} of ${total[1]} passed:\n${out.slice(-6000)}`,
    );
  });
}

test.run();
