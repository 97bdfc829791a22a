// Residual vector quantiser (Euclidean codebooks, no projections). Activations: [D, T].
// Encoding: for each quantiser, scores = |e|^2 - 2 e.r by GEMM, argmin per frame, residual -= e[code].
// Decoding: the sum of the chosen codewords, in quantiser order.

import type { Runtime, Tensor } from '../runtime.js';
import type { Weights } from '../weights.js';

interface Codebook {
  /** [K, D] codewords */
  embed: number;
  /** [K, D] codewords times -2 */
  neg2: number;
  /** [K] squared norms */
  sq: number;
}

export class ResidualVectorQuantizer {
  private constructor(private books: Codebook[], readonly codebookSize: number, readonly dim: number) {}

  static async load(vb: Weights, count: number, size: number, dim: number): Promise<ResidualVectorQuantizer> {
    const books: Codebook[] = [];
    for (let i = 0; i < count; i++) {
      const embed = await vb.pp('quantizers').pp(i).pp('codebook').tensor('embed', [size, dim]);
      const neg2 = vb.rt.allocBytes(4 * size * dim);
      const sq = vb.rt.allocBytes(4 * size);
      vb.rt.k.codebook_prepare(sq, neg2, embed, size, dim);
      books.push({ embed, neg2, sq });
    }
    return new ResidualVectorQuantizer(books, size, dim);
  }

  get numQuantizers(): number {
    return this.books.length;
  }

  /** x: [D, T] -> codes written to `codes` (i32, [nq, T] at byte offset `codes`). */
  encode(rt: Runtime, x: Tensor, nq: number, codes: number): void {
    const m = rt.mark();
    const [D, T] = x.dims;
    const K = this.codebookSize;
    const residual = rt.tensor([D, T]);
    rt.f32.copyWithin(residual.ptr >>> 2, x.ptr >>> 2, (x.ptr >>> 2) + D * T);
    const scores = rt.tensor([K, T]);
    const rows = rt.allocBytes(4 * D);
    rt.k.gemm_rows(rows, D, 1, T, 1);
    for (let q = 0; q < nq; q++) {
      const b = this.books[q];
      const out = codes + 4 * q * T;
      rt.k.gemm(scores.ptr, T, b.neg2, D, residual.ptr, rows, b.sq, 0, K, T, D, 0, K, 0, T);
      rt.k.argmin_cols(out, scores.ptr, K, T, 0, T);
      rt.k.subtract_codewords(residual.ptr, b.embed, out, D, T, 0, T);
    }
    rt.release(m);
  }

  /** codes: i32 [nq, T] at byte offset `codes` -> [D, T] sum of codewords. */
  decode(rt: Runtime, codes: number, nq: number, T: number): Tensor {
    const out = rt.tensor([this.dim, T]);
    rt.f32.fill(0, out.ptr >>> 2, (out.ptr >>> 2) + this.dim * T);
    for (let q = 0; q < nq; q++) rt.k.add_codewords(out.ptr, this.books[q].embed, codes + 4 * q * T, this.dim, T, 0, T);
    return out;
  }
}
