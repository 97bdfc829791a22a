// Splitting kernel calls across the pool, planned from the kernel table (src/kernels.ts).
//
// A plan reads a call's arguments and returns the position of its range-begin argument and the chunk
// bounds, or null to run the call on this thread (too little work to pay for waking the workers).
// Chunks are claimed dynamically, several per thread, so a thread that starts late (a worker waking
// from Atomics.wait) or runs slowly (a core shared with other work) leaves its share to the others.
// Results do not depend on the split: every kernel computes each output element with the same
// instruction sequence whatever range a call covers.

import {
  GEMM_ROW_ALIGN,
  KERNELS,
  type KernelName,
  type Kernels,
  type MatrixSplit,
  type RangeSplit,
  SPLIT_KERNELS,
  argIndex,
} from '../kernels.js';
import type { Kernel, Pool } from './pool.js';
import { MAX_CHUNKS } from './protocol.js';

/**
 * Split tuning, per runtime:
 *  - minChunkNs: smallest chunk worth a dispatch, in estimated ns of work (0: split every call that
 *    has at least two aligned units; tests use it to drive every kernel through the pool);
 *  - chunksPerThread: chunks per thread for large calls, balancing late or slow threads against
 *    per-chunk overhead (re-reading shared inputs);
 *  - align: 0 to round chunk sizes to each kernel's preferred multiple (SIMD width, GEMM tile, cache
 *    line), or a fixed multiple for every kernel (tests use 1 to put boundaries mid-tile).
 */
export interface SplitTuning {
  minChunkNs: number;
  chunksPerThread: number;
  align: number;
}

export const DEFAULT_SPLIT_TUNING: Readonly<SplitTuning> = { minChunkNs: 25000, chunksPerThread: 4, align: 0 };

/** Rows from which the GEMM packs B (PACK_MIN_ROWS in assembly/gemm.ts). */
const GEMM_PACK_MIN_ROWS = 32;
/** Column chunks of a GEMM are multiples of six 8-column tiles. */
const GEMM_COL_ALIGN = 48;

interface Split {
  rpos: number;
  bounds: number[];
}

type Plan = (a: number[], threads: number) => Split | null;

/** The bump allocator a threaded gemm takes its shared B panels from. */
export interface Arena {
  mark(): number;
  allocBytes(bytes: number): number;
  release(mark: number): void;
}

class Planner {
  constructor(private tuning: SplitTuning) {}

  /** Chunk bounds for [begin, end) in about `chunks` pieces whose sizes are multiples of `align`. */
  bounds(begin: number, end: number, align: number, chunks: number): number[] | null {
    if (this.tuning.align > 0) align = this.tuning.align;
    const units = end - begin;
    if (chunks < 2 || units < 2 * align) return null;
    const size = Math.ceil(units / chunks / align) * align;
    const bounds = [begin];
    for (let b = begin + size; b < end; b += size) bounds.push(b);
    bounds.push(end);
    return bounds.length > 2 ? bounds : null;
  }

  /** Chunks for a call of `ns` estimated work on `threads` threads (< 2: do not split). */
  count(ns: number, threads: number): number {
    const max = Math.min(MAX_CHUNKS, threads * this.tuning.chunksPerThread);
    return this.tuning.minChunkNs > 0 ? Math.min(max, Math.floor(ns / this.tuning.minChunkNs)) : max;
  }

  range(name: KernelName, s: RangeSplit<readonly string[]>): Plan {
    const ix = argIndex(name);
    const rpos = ix[s.range];
    const args = namedArgs(ix);
    return (a, threads) => {
      const units = a[rpos + 1] - a[rpos];
      if (units <= 0) return null;
      const bounds = this.bounds(a[rpos], a[rpos + 1], s.align, this.count(units * s.cost(args(a)), threads));
      return bounds ? { rpos, bounds } : null;
    };
  }

  /**
   * Columns (time, for convolutions) when each chunk keeps a few tiles' width and A is not the larger
   * operand: every thread then reads only its own slice of B, but all of A. Else rows, in whole 4-row
   * tiles, where every thread reads all of B (packed once, shared) and its own rows of A. A is M x K and
   * B K x N, so the smaller re-read is the side with fewer of M and N.
   */
  matrix(name: KernelName, s: MatrixSplit<readonly string[]>): Plan {
    const ix = argIndex(name);
    const r = ix[s.rows];
    const c = ix[s.cols];
    const args = namedArgs(ix);
    return (a, threads) => {
      const rows = a[r + 1] - a[r];
      const cols = a[c + 1] - a[c];
      if (rows <= 0 || cols <= 0) return null;
      const chunks = this.count(rows * cols * s.cost(args(a)), threads);
      if (chunks < 2) return null;
      if (cols >= chunks * 2 * GEMM_COL_ALIGN && cols >= rows) {
        const bounds = this.bounds(a[c], a[c + 1], GEMM_COL_ALIGN, chunks);
        if (bounds) return { rpos: c, bounds };
      }
      const byRows = this.bounds(a[r], a[r + 1], GEMM_ROW_ALIGN, Math.min(chunks, Math.floor(rows / GEMM_ROW_ALIGN)));
      if (byRows && byRows.length - 1 >= Math.min(chunks, threads)) return { rpos: r, bounds: byRows };
      const byCols = this.bounds(a[c], a[c + 1], 8, Math.min(chunks, Math.floor(cols / 8)));
      if (byCols && (!byRows || byCols.length > byRows.length)) return { rpos: c, bounds: byCols };
      return byRows ? { rpos: r, bounds: byRows } : null;
    };
  }

  plan(name: KernelName): Plan {
    const s = KERNELS[name].split as RangeSplit<readonly string[]> | MatrixSplit<readonly string[]>;
    return 'range' in s ? this.range(name, s) : this.matrix(name, s);
  }
}

/**
 * A call's arguments by name for a cost function, in one object per plan that each call refills:
 * plans run on the calling thread one call at a time, and this keeps an allocation off every call.
 */
function namedArgs(ix: Record<string, number>): (a: number[]) => Record<string, number> {
  const out: Record<string, number> = {};
  const names = Object.keys(ix);
  return (a) => {
    for (const k of names) out[k] = a[ix[k]];
    return out;
  };
}

/** The raw kernels with every splittable one wrapped to run across `pool`, as `tuning` says. */
export function threadedKernels(raw: Kernels, pool: Pool, arena: Arena, tuning: SplitTuning): Kernels {
  const planner = new Planner(tuning);
  const k: Record<string, unknown> = { ...raw };
  const threads = pool.workers + 1;
  const rawFn = (name: KernelName) => (raw as unknown as Record<string, Kernel>)[name];
  SPLIT_KERNELS.forEach((name, id) => {
    const f = rawFn(name);
    const plan = planner.plan(name);
    k[name] = (...args: number[]): void => {
      const split = plan(args, threads);
      if (split === null || pool.broken) {
        f(...args);
        return;
      }
      pool.run(id, name, f, args, split.rpos, split.bounds);
    };
  });
  // A gemm split by rows would have every slice pack all of B for itself (each slice reads all of it):
  // 8 slices of a 768-row linear layer copied B 8 times, 1-9% of the call. Pack it once instead, its
  // panels split across the threads, and let every row slice read the shared copy. Same bits: a
  // packed or a direct read of B gives each element the same operations.
  const ids = Object.fromEntries(SPLIT_KERNELS.map((n, i) => [n, i])) as Record<KernelName, number>;
  const gemmPlan = planner.plan('gemm');
  const g = argIndex('gemm');
  const packRange = argIndex('gemm_pack_b').panelBegin;
  const prepackedRange = argIndex('gemm_prepacked').mBegin;
  k.gemm = (...args: number[]): void => {
    const split = gemmPlan(args, threads);
    if (split === null || pool.broken) {
      rawFn('gemm')(...args);
      return;
    }
    const b = args[g.b];
    const rows = args[g.rows];
    const K = args[g.K];
    const nBegin = args[g.nBegin];
    const nEnd = args[g.nEnd];
    if (
      split.rpos !== g.mBegin ||
      args[g.mEnd] - args[g.mBegin] < GEMM_PACK_MIN_ROWS ||
      raw.gemm_packs_b(rows, K) === 0
    ) {
      pool.run(ids.gemm, 'gemm', rawFn('gemm'), args, split.rpos, split.bounds);
      return;
    }
    const mark = arena.mark();
    try {
      const panels = Math.ceil((nEnd - nBegin) / 8);
      const packed = arena.allocBytes(32 * K * panels);
      const packArgs = [packed, b, rows, K, nBegin, nEnd, 0, panels];
      const packBounds = planner.bounds(0, panels, 1, threads);
      if (packBounds) pool.run(ids.gemm_pack_b, 'gemm_pack_b', rawFn('gemm_pack_b'), packArgs, packRange, packBounds);
      else raw.gemm_pack_b(packed, b, rows, K, nBegin, nEnd, 0, panels);
      pool.run(
        ids.gemm_prepacked,
        'gemm_prepacked',
        rawFn('gemm_prepacked'),
        [...args, packed],
        prepackedRange,
        split.bounds,
      );
    } finally {
      arena.release(mark);
    }
  };
  return k as unknown as Kernels;
}
