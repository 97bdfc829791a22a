// The residual vector quantiser (`quantizer.quantizers.N`): Euclidean codebooks (`codebook.embed`).
// Activations: [D, T].
// X-Codec: for each quantiser, the nearest codeword of every frame's residual, then residual -= it;
// decoding sums the chosen codewords, in quantiser order.
// Higgs Audio v2: each quantiser also has `project_in` (D -> codebook_dim) and `project_out`
// (codebook_dim -> D): the nearest codeword is searched for project_in(residual), the residual loses
// project_out(codeword), and decoding sums project_out(codeword).

import { add, subtractInPlace } from '../nn/activation.js';
import { type Linear, linear } from '../nn/linear.js';
import {
  type Codebook,
  addCodewords,
  nearestCodewords,
  prepareCodebook,
  quantizeStep,
  rvqScratch,
} from '../nn/quantizer.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { loadLinear } from './layers.js';

interface Projections {
  projectIn: Linear;
  projectOut: Linear;
}

export class ResidualVectorQuantizer {
  private constructor(
    private books: Codebook[],
    private projections: Projections[] | null,
    readonly codebookSize: number,
    readonly hiddenSize: number,
    readonly codebookDim: number,
  ) {}

  /** `count` quantisers of `size` codewords of `codebookDim`; with `projected`, each maps from and to `hiddenSize`. */
  static async load(
    vb: Weights,
    count: number,
    size: number,
    hiddenSize: number,
    codebookDim: number,
    projected: boolean,
  ): Promise<ResidualVectorQuantizer> {
    const books: Codebook[] = [];
    const projections: Projections[] = [];
    for (let i = 0; i < count; i++) {
      const q = vb.pp('quantizers').pp(i);
      const embed = await q.pp('codebook').tensor('embed', [size, codebookDim]);
      books.push(prepareCodebook(vb.rt, embed, size, codebookDim));
      if (projected) {
        projections.push({
          projectIn: await loadLinear(q.pp('project_in'), hiddenSize, codebookDim),
          projectOut: await loadLinear(q.pp('project_out'), codebookDim, hiddenSize),
        });
      }
    }
    return new ResidualVectorQuantizer(books, projected ? projections : null, size, hiddenSize, codebookDim);
  }

  get numQuantizers(): number {
    return this.books.length;
  }

  /**
   * x: [D, T] -> codes written to `codes` (i32, [nq, T] at byte offset `codes`). x is the residual and
   * is updated in place (it holds the final residual afterwards): the caller's embeddings are not
   * needed again, so no copy of them is made.
   */
  encode(rt: Runtime, x: Tensor, nq: number, codes: number): void {
    const T = x.dims[1];
    rt.scope(() => {
      const scratch = rvqScratch(rt, this.codebookSize, this.codebookDim, T);
      for (let q = 0; q < nq; q++) {
        const at = codes + 4 * q * T;
        const p = this.projections?.[q];
        if (!p) quantizeStep(rt, x, this.books[q], at, scratch);
        else
          rt.scope(() => {
            nearestCodewords(rt, linear(rt, x, p.projectIn), this.books[q], at, scratch);
            subtractInPlace(rt, x, this.projectedCodewords(rt, q, at, T));
          });
      }
    });
  }

  /** codes: i32 [nq, T] at byte offset `codes` -> [D, T], the sum over quantisers of their (projected) codewords. */
  decode(rt: Runtime, codes: number, nq: number, T: number): Tensor {
    const out = rt.tensor([this.hiddenSize, T]);
    rt.f32.fill(0, out.ptr >>> 2, (out.ptr >>> 2) + this.hiddenSize * T);
    for (let q = 0; q < nq; q++) {
      const at = codes + 4 * q * T;
      if (!this.projections) {
        addCodewords(rt, out, this.books[q], at);
        continue;
      }
      rt.scope(() => add(rt, out, this.projectedCodewords(rt, q, at, T), out));
    }
    return out;
  }

  /** project_out(embed[codes]) of quantiser q: [D, T]. */
  private projectedCodewords(rt: Runtime, q: number, codes: number, T: number): Tensor {
    const picked = rt.tensor([this.codebookDim, T]);
    rt.f32.fill(0, picked.ptr >>> 2, (picked.ptr >>> 2) + this.codebookDim * T);
    addCodewords(rt, picked, this.books[q], codes);
    return linear(rt, picked, this.projections![q].projectOut);
  }
}
