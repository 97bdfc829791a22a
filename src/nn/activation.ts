// Elementwise ops: the activations (Snake, GELU, ELU, SiLU, GLU), addition and scaling.

import * as launch from '../backend/launch.js';
import { type Runtime, type Tensor, numel } from '../backend/runtime.js';

/** Snake with per-channel alpha [C] (byte offset): x + sin^2(alpha x) / alpha. x: [C, T]. */
export function snake(rt: Runtime, x: Tensor, alpha: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.snake(rt, { out: out.ptr, x: x.ptr, alpha, C: x.dims[0], T: x.dims[1] });
  return out;
}

export function gelu(rt: Runtime, x: Tensor, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.unary(rt, 'gelu', out.ptr, x.ptr, numel(x.dims));
  return out;
}

export function silu(rt: Runtime, x: Tensor, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.unary(rt, 'silu', out.ptr, x.ptr, numel(x.dims));
  return out;
}

export function relu(rt: Runtime, x: Tensor, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.unary(rt, 'relu', out.ptr, x.ptr, numel(x.dims));
  return out;
}

/** Anti-aliased SnakeBeta's per-channel constants and filter (byte offsets): a = e^alpha, inv = 1 / (e^beta + 1e-9). */
export interface SnakeBetaParams {
  a: number;
  inv: number;
  filter: number;
}

/** 2x up, SnakeBeta, 2x down of x [C, L] (BigVGAN's anti-aliased activation): [C, L]. */
export function snakeBetaAntiAliased(rt: Runtime, x: Tensor, p: SnakeBetaParams): Tensor {
  const [C, L] = x.dims;
  const out = rt.tensor([C, L]);
  launch.snakeBetaAntiAliased(rt, { out: out.ptr, x: x.ptr, a: p.a, inv: p.inv, filter: p.filter, C, L });
  return out;
}

/** GLU over channels: a [2C, T] -> a[:C] * sigmoid(a[C:]) [C, T] (torch's glu(dim=1)). */
export function glu(rt: Runtime, a: Tensor): Tensor {
  const C = a.dims[0] / 2;
  const out = rt.tensor([C, a.dims[1]]);
  launch.gluRows(rt, { out: out.ptr, a: a.ptr, C, T: a.dims[1] });
  return out;
}

export function elu(rt: Runtime, x: Tensor, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.unary(rt, 'elu', out.ptr, x.ptr, numel(x.dims));
  return out;
}

export function add(rt: Runtime, a: Tensor, b: Tensor, into?: Tensor): Tensor {
  const out = into ?? rt.tensor(a.dims);
  launch.add(rt, out.ptr, a.ptr, b.ptr, numel(a.dims));
  return out;
}

export function scale(rt: Runtime, x: Tensor, s: number, inPlace = false): Tensor {
  const out = inPlace ? x : rt.tensor(x.dims);
  launch.scale(rt, out.ptr, x.ptr, Math.fround(s), numel(x.dims));
  return out;
}

/** a -= b, elementwise and in place (b is negated on the way): exactly a - b, as a + (-b) rounds the same. */
export function subtractInPlace(rt: Runtime, a: Tensor, b: Tensor): void {
  scale(rt, b, -1, true);
  add(rt, a, b, a);
}
