// Higgs Audio's delay pattern (boson-ai/higgs-audio, boson_multimodal/model/higgs_audio/utils.py,
// revert_delay_pattern): the LM writes codebook k shifted k frames later, so a delayed sequence of S
// columns holds S - nq + 1 aligned frames, frame j being column j of codebook 0, j + 1 of codebook 1,
// ..., j + nq - 1 of codebook nq - 1 (the columns before and after, BOS and padding, are dropped).
// The streaming form yields each aligned frame as soon as its last codebook has arrived.

import { XcodecInputError, describe, describeError } from '../errors.js';

type CodesLike = { data: ArrayLike<number | bigint>; dims: number[] };
/** Aligned codes as revertDelayPattern returns them: BigInt64Array from BigInt64Array, else Int32Array. */
export type DelayedCodes = { data: Int32Array | BigInt64Array; dims: [number, number, number] };

/** [B, nq, S] (or [nq, S]) delayed codes -> [B, nq, S - nq + 1] aligned codes. */
export function revertDelayPattern(codes: CodesLike | { audioCodes: CodesLike }): DelayedCodes {
  const c = codesOf(codes, 'revertDelayPattern');
  const [B, nq, S] = c.dims.length === 2 ? [1, c.dims[0], c.dims[1]] : c.dims;
  if (c.dims.length !== 2 && c.dims.length !== 3) throw dimsError('revertDelayPattern', c.dims);
  if (S < nq) {
    throw new XcodecInputError(
      `revertDelayPattern: ${S} delayed columns for ${nq} codebooks hold no whole frame; accepted: at least ${nq} columns (frames + ${nq - 1})`,
    );
  }
  const T = S - nq + 1;
  const out = c.data instanceof BigInt64Array ? new BigInt64Array(B * nq * T) : new Int32Array(B * nq * T);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < nq; k++) {
      const from = (b * nq + k) * S + k; // row k's columns k .. k + T
      const to = (b * nq + k) * T;
      if (out instanceof BigInt64Array) out.set((c.data as BigInt64Array).subarray(from, from + T), to);
      else for (let t = 0; t < T; t++) out[to + t] = Number(c.data[from + t]);
    }
  }
  return { data: out, dims: [B, nq, T] };
}

/**
 * Delayed code chunks ([1, nq, t] each) -> aligned chunks [1, nq, n] (Int32Array) as soon as frames
 * are complete: feed it to streamDecode. A source that ends before its first whole frame, or chunks
 * with different nq, are typed errors naming the chunk.
 */
export async function* revertDelayPatternStream(
  source: Iterable<CodesLike> | AsyncIterable<CodesLike>,
): AsyncGenerator<{ data: Int32Array; dims: [1, number, number] }, void, undefined> {
  let nq = 0;
  let pending: Int32Array[] = []; // per codebook: its delayed columns not yet in an emitted frame
  let columns = 0; // delayed columns received
  let emitted = 0; // aligned frames emitted
  let index = 0;
  const s = source as Partial<AsyncIterable<CodesLike> & Iterable<CodesLike>> | null;
  if (typeof s?.[Symbol.asyncIterator] !== 'function' && typeof s?.[Symbol.iterator] !== 'function') {
    throw new XcodecInputError(
      `revertDelayPatternStream: source ${describe(source)} is not accepted; accepted: an Iterable or AsyncIterable of delayed code chunks`,
    );
  }
  const it = s[Symbol.asyncIterator] ? s[Symbol.asyncIterator]!() : s[Symbol.iterator]!();
  for (; ; index++) {
    let next: IteratorResult<CodesLike>;
    try {
      next = await it.next();
    } catch (e) {
      throw new XcodecInputError(`the delayed code source failed before chunk ${index}: ${describeError(e)}`);
    }
    if (next.done) break;
    const c = codesOf(next.value, `delayed code chunk ${index}`);
    if (c.dims.length !== 3 || c.dims[0] !== 1) throw dimsError(`delayed code chunk ${index}`, c.dims);
    const [, q, t] = c.dims;
    if (index === 0) {
      nq = q;
      pending = Array.from({ length: nq }, () => new Int32Array(0));
    } else if (q !== nq) {
      throw new XcodecInputError(
        `delayed code chunk ${index} has ${q} codebooks, the first chunk ${nq}; accepted: the same number in every chunk`,
      );
    }
    columns += t;
    // codebook k's column j + k belongs to frame j: frames before `emitted` are gone, so skip its first k columns once
    for (let k = 0; k < nq; k++) {
      const skip = Math.max(0, Math.min(t, k - (columns - t)));
      const row = new Int32Array(t - skip);
      for (let i = skip; i < t; i++) row[i - skip] = Number(c.data[k * t + i]);
      const joined = new Int32Array(pending[k].length + row.length);
      joined.set(pending[k]);
      joined.set(row, pending[k].length);
      pending[k] = joined;
    }
    const ready = Math.max(0, columns - nq + 1) - emitted;
    if (ready > 0) {
      const data = new Int32Array(nq * ready);
      for (let k = 0; k < nq; k++) {
        data.set(pending[k].subarray(0, ready), k * ready);
        pending[k] = pending[k].slice(ready);
      }
      emitted += ready;
      yield { data, dims: [1, nq, ready] };
    }
  }
  if (index > 0 && columns < nq) {
    throw new XcodecInputError(
      `the delayed code stream ended mid-frame: ${columns} columns for ${nq} codebooks; accepted: at least ${nq} (frames + ${nq - 1})`,
    );
  }
}

function codesOf(codes: unknown, what: string): CodesLike {
  const c = (
    typeof codes === 'object' && codes !== null && 'audioCodes' in codes
      ? (codes as { audioCodes: unknown }).audioCodes
      : codes
  ) as CodesLike;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.dims) || c.data?.length === undefined) {
    throw new XcodecInputError(`${what}: ${describe(codes)} is not codes { data, dims: [1, codebooks, columns] }`);
  }
  if (!c.dims.every((d) => Number.isInteger(d) && d >= 1)) throw dimsError(what, c.dims);
  const n = c.dims.reduce((p, d) => p * d, 1);
  if (c.data.length !== n) {
    throw new XcodecInputError(`${what}: data has ${c.data.length} values but dims ${describe(c.dims)} need ${n}`);
  }
  for (let i = 0; i < n; i++) {
    const v = c.data[i];
    if (typeof v === 'bigint' ? v < -(2n ** 31n) || v >= 2n ** 31n : !Number.isInteger(v) || Math.abs(v) >= 2 ** 31) {
      throw new XcodecInputError(`${what}: value ${describe(v)} at ${i} is not accepted; accepted: 32-bit integers`);
    }
  }
  return c;
}

function dimsError(what: string, dims: unknown): XcodecInputError {
  return new XcodecInputError(
    `${what}: dims ${describe(dims)} are not accepted; accepted: [1, codebooks, columns] (or [batch, codebooks, columns]; [codebooks, columns] for a whole sequence)`,
  );
}
