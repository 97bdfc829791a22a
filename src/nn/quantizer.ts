// Residual-VQ math: a codebook's distance terms, the nearest codeword of every frame (one GEMM and an
// argmin over columns), and adding or subtracting chosen codewords.

import * as launch from '../backend/launch.js';
import type { Runtime, Tensor } from '../backend/runtime.js';

/** An RVQ codebook as the distance GEMM reads it. */
export interface Codebook {
  /** [K, D] codewords */
  embed: number;
  /** [K, D] codewords times -2 */
  neg2: number;
  /** [K] squared norms */
  sq: number;
  size: number;
  dim: number;
}

/** The distance terms of codewords [K, D] at `embed`, computed once at load. */
export function prepareCodebook(rt: Runtime, embed: number, size: number, dim: number): Codebook {
  const neg2 = rt.allocBytes(4 * size * dim);
  const sq = rt.allocBytes(4 * size);
  launch.codebookPrepare(rt, { sq, neg2, embed, K: size, D: dim });
  return { embed, neg2, sq, size, dim };
}

/** The scores [K, T] and row table a nearest-codeword search over T frames of dimension D needs. */
export function rvqScratch(rt: Runtime, K: number, D: number, T: number): { scores: number; rows: number } {
  return { scores: rt.allocBytes(4 * K * T), rows: launch.rowTable(rt, D, T) };
}

/**
 * The nearest codeword of each frame of x [D, T]: codes (i32 [T] at `codes`) = argmin over the
 * codebook of |e|^2 - 2 e.x. `scratch` holds the scores [K, T] and a row table (rvqScratch).
 */
export function nearestCodewords(
  rt: Runtime,
  x: Tensor,
  book: Codebook,
  codes: number,
  scratch: { scores: number; rows: number },
): void {
  const [D, T] = x.dims;
  const K = book.size;
  launch.gemm(rt, {
    out: scratch.scores,
    ldo: T,
    a: book.neg2,
    lda: D,
    b: x.ptr,
    rows: scratch.rows,
    bias: book.sq,
    M: K,
    N: T,
    K: D,
  });
  launch.argminColumns(rt, { codes, scores: scratch.scores, K, T });
}

/** One residual-VQ step over residual [D, T], in place: codes = nearestCodewords, then residual -= e[code]. */
export function quantizeStep(
  rt: Runtime,
  residual: Tensor,
  book: Codebook,
  codes: number,
  scratch: { scores: number; rows: number },
): void {
  const [D, T] = residual.dims;
  nearestCodewords(rt, residual, book, codes, scratch);
  launch.addCodewords(rt, { x: residual.ptr, embed: book.embed, codes, D, T, sign: -1 });
}

/** out [dim, T] += the codewords of codes (i32 [T] at `codes`). */
export function addCodewords(rt: Runtime, out: Tensor, book: Codebook, codes: number): void {
  launch.addCodewords(rt, { x: out.ptr, embed: book.embed, codes, D: out.dims[0], T: out.dims[1], sign: 1 });
}
