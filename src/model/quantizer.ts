// The residual vector quantiser (`quantizer.quantizers.N.codebook.embed`: Euclidean codebooks, no
// projections). Activations: [D, T].
// Encoding: for each quantiser, the nearest codeword of every frame's residual, then residual -= it.
// Decoding: the sum of the chosen codewords, in quantiser order.

import { type Codebook, addCodewords, prepareCodebook, quantizeStep, rvqScratch } from '../ops.js';
import type { Runtime, Tensor } from '../runtime.js';
import type { Weights } from '../weights.js';

export class ResidualVectorQuantizer {
  private constructor(private books: Codebook[], readonly codebookSize: number, readonly dim: number) {}

  static async load(vb: Weights, count: number, size: number, dim: number): Promise<ResidualVectorQuantizer> {
    const books: Codebook[] = [];
    for (let i = 0; i < count; i++) {
      const embed = await vb.pp('quantizers').pp(i).pp('codebook').tensor('embed', [size, dim]);
      books.push(prepareCodebook(vb.rt, embed, size, dim));
    }
    return new ResidualVectorQuantizer(books, size, dim);
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
    const m = rt.mark();
    const T = x.dims[1];
    const scratch = rvqScratch(rt, this.codebookSize, this.dim, T);
    for (let q = 0; q < nq; q++) quantizeStep(rt, x, this.books[q], codes + 4 * q * T, scratch);
    rt.release(m);
  }

  /** codes: i32 [nq, T] at byte offset `codes` -> [D, T] sum of codewords. */
  decode(rt: Runtime, codes: number, nq: number, T: number): Tensor {
    const out = rt.tensor([this.dim, T]);
    rt.f32.fill(0, out.ptr >>> 2, (out.ptr >>> 2) + this.dim * T);
    for (let q = 0; q < nq; q++) addCodewords(rt, out, this.books[q], codes + 4 * q * T);
    return out;
  }
}
