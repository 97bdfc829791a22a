// Activations and elementwise arithmetic. Activation tensors are channel-major [C, T] row-major f32
// (PyTorch's NCT for one batch item); the transformer uses the same layout ([H, T]).
// Kernels that take [begin, end) or [rowBegin, rowEnd) are split across threads by that range.

import { sin2v, geluv, eluv, sigmoidv } from './simd';

// Applies a vector function to x[i..n) -> out. Eight independent vectors per iteration: the functions
// are long dependent chains (polynomials, exp), and a loop of one vector runs at their latency, not at
// the core's throughput (gelu 5.7 ns per element with one vector, 3.1 with four, 2.0-2.2 with eight,
// even though eight chains spill some of their registers). The rest goes four lanes, then one lane at
// a time through the same vector code, so every element is computed identically wherever it falls.
@inline function mapVec(out: usize, x: usize, n: i32, i: i32, kind: i32): void {
  for (; i + 32 <= n; i += 32) {
    const o = (<usize>i) << 2;
    const a = apply(v128.load(x + o), kind);
    const b = apply(v128.load(x + o, 16), kind);
    const c = apply(v128.load(x + o, 32), kind);
    const d = apply(v128.load(x + o, 48), kind);
    const e = apply(v128.load(x + o, 64), kind);
    const f = apply(v128.load(x + o, 80), kind);
    const g = apply(v128.load(x + o, 96), kind);
    const h = apply(v128.load(x + o, 112), kind);
    v128.store(out + o, a);
    v128.store(out + o, b, 16);
    v128.store(out + o, c, 32);
    v128.store(out + o, d, 48);
    v128.store(out + o, e, 64);
    v128.store(out + o, f, 80);
    v128.store(out + o, g, 96);
    v128.store(out + o, h, 112);
  }
  for (; i + 4 <= n; i += 4) v128.store(out + ((<usize>i) << 2), apply(v128.load(x + ((<usize>i) << 2)), kind));
  for (; i < n; i++) {
    const v = f32x4.splat(load<f32>(x + ((<usize>i) << 2)));
    store<f32>(out + ((<usize>i) << 2), f32x4.extract_lane(apply(v, kind), 0));
  }
}

const GELU: i32 = 0;
const ELU: i32 = 1;
const SIGMOID: i32 = 2;
const SILU: i32 = 3;
const RELU: i32 = 4;

@inline function apply(v: v128, kind: i32): v128 {
  if (kind == GELU) return geluv(v);
  if (kind == ELU) return eluv(v);
  if (kind == SILU) return f32x4.mul(v, sigmoidv(v));
  if (kind == RELU) return f32x4.pmax(v, f32x4.splat(0));
  return sigmoidv(v);
}

// out[i] = gelu(x[i]) (exact erf form), i in [begin, end). out may equal x.
export function gelu(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, GELU);
}

// out[i] = elu(x[i]) with alpha 1, i in [begin, end). out may equal x.
export function elu(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, ELU);
}

// out[i] = 1 / (1 + e^-x[i]), i in [begin, end).
export function sigmoid(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, SIGMOID);
}

// out[i] = x[i] / (1 + e^-x[i]) (SiLU, swish), i in [begin, end). out may equal x.
export function silu(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, SILU);
}

// out[i] = max(x[i], 0), i in [begin, end). out may equal x.
export function relu(out: usize, x: usize, begin: i32, end: i32): void {
  mapVec(out, x, end, begin, RELU);
}

// GLU over rows: out[c, t] = a[c, t] * sigmoid(a[C + c, t]) for a [2C, T] (torch's glu(dim=1) on one
// item), rows c in [rowBegin, rowEnd). out [C, T] may be the first half of a itself.
export function glu_rows(out: usize, a: usize, C: i32, T: i32, rowBegin: i32, rowEnd: i32): void {
  const half = (<usize>C * T) << 2;
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = (<usize>c * T) << 2;
    let t = 0;
    for (; t + 4 <= T; t += 4) {
      const p = (<usize>t) << 2;
      v128.store(out + o + p, f32x4.mul(v128.load(a + o + p), sigmoidv(v128.load(a + half + o + p))));
    }
    for (; t < T; t++) {
      const p = (<usize>t) << 2;
      const g = sigmoidv(f32x4.splat(load<f32>(a + half + o + p)));
      store<f32>(out + o + p, load<f32>(a + o + p) * f32x4.extract_lane(g, 0));
    }
  }
}

// out[i] = a[i] + b[i], i in [begin, end).
export function add(out: usize, a: usize, b: usize, begin: i32, end: i32): void {
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < end; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

// out[i] = x[i] * s, i in [begin, end).
export function scale(out: usize, x: usize, s: f32, begin: i32, end: i32): void {
  const sv = f32x4.splat(s);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; i < end; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(x + o) * s);
  }
}

// Snake: out[c, padLeft + t] = x[c, t] + sin(alpha[c] x[c, t])^2 / (alpha[c] + 1e-9), with zero
// margins. x: [C, T]; out: [C, padLeft + T + padRight], so a convolution's zero padding is written in the
// same pass (no separate pad copy). out may be x itself when there is no padding.
export function snake(
  out: usize,
  x: usize,
  alpha: usize,
  T: i32,
  padLeft: i32,
  padRight: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const To = padLeft + T + padRight;
  for (let c = rowBegin; c < rowEnd; c++) {
    const a = load<f32>(alpha + ((<usize>c) << 2));
    const inv: f32 = <f32>1.0 / (a + <f32>1e-9);
    const av = f32x4.splat(a);
    const iv = f32x4.splat(inv);
    const xr = x + ((<usize>c * T) << 2);
    const row = out + ((<usize>c * To) << 2);
    memory.fill(row, 0, (<usize>padLeft) << 2);
    memory.fill(row + ((<usize>(padLeft + T)) << 2), 0, (<usize>padRight) << 2);
    const or = row + ((<usize>padLeft) << 2);
    let t = 0;
    // six independent vectors per iteration, as in mapVec (0.91 ns per element with one, 0.67-0.83 with three)
    for (; t + 24 <= T; t += 24) {
      const o = (<usize>t) << 2;
      const v0 = v128.load(xr + o);
      const v1 = v128.load(xr + o, 16);
      const v2 = v128.load(xr + o, 32);
      const v3 = v128.load(xr + o, 48);
      const v4 = v128.load(xr + o, 64);
      const v5 = v128.load(xr + o, 80);
      const r0 = f32x4.add(v0, f32x4.mul(iv, sin2v(f32x4.mul(av, v0))));
      const r1 = f32x4.add(v1, f32x4.mul(iv, sin2v(f32x4.mul(av, v1))));
      const r2 = f32x4.add(v2, f32x4.mul(iv, sin2v(f32x4.mul(av, v2))));
      const r3 = f32x4.add(v3, f32x4.mul(iv, sin2v(f32x4.mul(av, v3))));
      const r4 = f32x4.add(v4, f32x4.mul(iv, sin2v(f32x4.mul(av, v4))));
      const r5 = f32x4.add(v5, f32x4.mul(iv, sin2v(f32x4.mul(av, v5))));
      v128.store(or + o, r0);
      v128.store(or + o, r1, 16);
      v128.store(or + o, r2, 32);
      v128.store(or + o, r3, 48);
      v128.store(or + o, r4, 64);
      v128.store(or + o, r5, 80);
    }
    for (; t + 4 <= T; t += 4) {
      const v = v128.load(xr + ((<usize>t) << 2));
      v128.store(or + ((<usize>t) << 2), f32x4.add(v, f32x4.mul(iv, sin2v(f32x4.mul(av, v)))));
    }
    for (; t < T; t++) {
      const v = f32x4.splat(load<f32>(xr + ((<usize>t) << 2)));
      const r = f32x4.add(v, f32x4.mul(iv, sin2v(f32x4.mul(av, v))));
      store<f32>(or + ((<usize>t) << 2), f32x4.extract_lane(r, 0));
    }
  }
}
