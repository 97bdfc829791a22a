// `quantizer`: X-Codec 2's finite scalar quantizer, one codebook of prod(levels) codes.
//   encode: project_in -> bound -> bound again (inside FSQ) -> round half to even -> index
//   decode: index -> per-level code in [-1, 1) -> project_out
// The bound is float32 arithmetic on a few values per frame, done here as PyTorch rounds it.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

import type { Xcodec2Config } from '../../checkpoint/config.js';
import type { Runtime, Tensor } from '../../backend/runtime.js';
import type { Weights } from '../../checkpoint/weights.js';
import { type Linear, linear } from '../../nn/linear.js';
import { loadLinear } from '../layers.js';

const fr = Math.fround;

/** Round half to even (torch.round). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** What quantize() traces for tests: project_in's output and the value that is rounded, [levels, T] each. */
export interface FsqTrace {
  projected: Float32Array;
  prerounding: Float32Array;
}

export class FiniteScalarQuantizer {
  private readonly basis: number[];
  private readonly halfRange: number[];
  private readonly offset: number[];
  private readonly shift: number[];

  private constructor(
    private projectIn: Linear | null,
    private projectOut: Linear,
    readonly levels: number[],
  ) {
    this.basis = levels.map((_, i) => levels.slice(0, i).reduce((p, x) => p * x, 1));
    // (levels - 1) * (1 + 1e-3) / 2, offset 0.5 for even levels, atanh(offset / half_range): float32 as in torch
    this.halfRange = levels.map((l) => fr(fr((l - 1) * fr(1 + 1e-3)) / 2));
    this.offset = levels.map((l) => (l % 2 === 0 ? 0.5 : 0));
    this.shift = levels.map((_, i) => fr(Math.atanh(fr(this.offset[i] / this.halfRange[i]))));
  }

  /** project_out always; project_in only where the model encodes. */
  static async load(vb: Weights, c: Xcodec2Config, encodes: boolean): Promise<FiniteScalarQuantizer> {
    const n = c.quantizationLevels.length;
    return new FiniteScalarQuantizer(
      encodes ? await loadLinear(vb.pp('project_in'), c.quantizationDim, n) : null,
      await loadLinear(vb.pp('project_out'), n, c.quantizationDim),
      c.quantizationLevels,
    );
  }

  private bound(x: number, d: number): number {
    return fr(fr(fr(Math.tanh(fr(x + this.shift[d]))) * this.halfRange[d]) - this.offset[d]);
  }

  /** fused [quantization_dim, T] -> indices (i32 [T] at byte offset `codes`). */
  quantize(rt: Runtime, fused: Tensor, codes: number, trace?: FsqTrace): void {
    const T = fused.dims[1];
    const n = this.levels.length;
    rt.scope(() => {
      const z = linear(rt, fused, this.projectIn!);
      if (rt.isMeasuring) return;
      const zf = rt.view(z);
      const out = rt.i32;
      for (let t = 0; t < T; t++) {
        let index = 0;
        for (let d = 0; d < n; d++) {
          const b = this.bound(this.bound(zf[d * T + t], d), d);
          const half = this.levels[d] >> 1;
          const code = fr(roundHalfEven(b) / half);
          index += (fr(code * half) + half) * this.basis[d];
          if (trace) {
            trace.projected[d * T + t] = zf[d * T + t];
            trace.prerounding[d * T + t] = b;
          }
        }
        out[(codes >>> 2) + t] = index;
      }
    });
  }

  /** indices (i32 [T] at `codes`) -> latents [quantization_dim, T] = project_out(codebook[index]). */
  dequantize(rt: Runtime, codes: number, T: number): Tensor {
    const n = this.levels.length;
    return rt.scope(() => {
      const values = rt.tensor([n, T]);
      if (!rt.isMeasuring) {
        const f = rt.f32;
        const idx = rt.i32;
        for (let t = 0; t < T; t++) {
          const i = idx[(codes >>> 2) + t];
          for (let d = 0; d < n; d++) {
            const half = this.levels[d] >> 1;
            f[(values.ptr >>> 2) + d * T + t] = fr(((Math.floor(i / this.basis[d]) % this.levels[d]) - half) / half);
          }
        }
      }
      return linear(rt, values, this.projectOut);
    });
  }
}
