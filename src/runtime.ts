// The WASM instance, its linear memory and a bump allocator over it.
//
// Memory layout: [0, 64 KiB) is left to the module's own static data; then one 512 KiB GEMM panel per
// thread (see PANEL_BASE); weights are placed above them once at load; activations come from the same
// bump pointer afterwards and are released with mark/release, so one encode or decode call never leaves
// memory behind. A tensor is only { ptr, dims } in JS.
//
// Threads: Runtime.create({ numThreads }) builds the runtime on a shared memory with the threads build
// of the kernels and a pool of workers (src/threads/); its `k` has the same methods as the raw kernels
// but splits the range arguments of large calls across the pool (see PLANS below). Where shared
// memory or workers are missing it is the one-thread runtime, with the same API.

import { XcodecInputError, XcodecRuntimeError } from './errors.js';
import { wasmBase64 as simdBase64 } from './generated/wasm-simd.js';
import { wasmBase64 as relaxedBase64 } from './generated/wasm-relaxed.js';
import { wasmBase64 as simdThreadsBase64 } from './generated/wasm-simd-threads.js';
import { wasmBase64 as relaxedThreadsBase64 } from './generated/wasm-relaxed-threads.js';
import { KERNEL_NAMES, MAX_CHUNKS, MAX_WORKERS, PANEL_BASE, type SplitKernel } from './threads/protocol.js';
import { type Kernel, Pool, type PoolOptions, availableCores, sharedMemorySupported, workerEnv } from './threads/pool.js';

export interface Tensor {
  /** byte offset of the first f32 in linear memory */
  ptr: number;
  /** row-major dims */
  dims: number[];
}

export interface Kernels {
  /** init: 0, out (accumulate into it), or a residual laid out like out */
  gemm(out: number, ldo: number, a: number, lda: number, b: number, rows: number, bias: number, init: number,
    M: number, N: number, K: number, mBegin: number, mEnd: number, nBegin: number, nEnd: number): void;
  /** gemm reading B from gemm_pack_b's panels at `packed` (for the same nBegin, nEnd) */
  gemm_prepacked(out: number, ldo: number, a: number, lda: number, b: number, rows: number, bias: number, init: number,
    M: number, N: number, K: number, mBegin: number, mEnd: number, nBegin: number, nEnd: number, packed: number): void;
  /** panels [panelBegin, panelEnd) of B's columns [nBegin, nEnd), every K block, at `packed` (K * ceil((nEnd - nBegin) / 8) * 32 bytes) */
  gemm_pack_b(packed: number, b: number, rows: number, K: number, nBegin: number, nEnd: number, panelBegin: number, panelEnd: number): void;
  /** 1 where gemm packs B for slices of enough rows (a row table that is not a k-tap convolution's), else 0 */
  gemm_packs_b(rows: number, K: number): number;
  /** gives the calling instance its B-panel scratch of gemm_panel_bytes() at p (0: the GEMM never packs) */
  gemm_panel(p: number): void;
  gemm_panel_bytes(): number;
  gemm_rows(rows: number, K: number, kw: number, ldb: number, dil: number): void;
  gemm_rows_phases(rows: number, C: number, s: number, kw: number, ldb: number): void;
  gelu(out: number, x: number, begin: number, end: number): void;
  elu(out: number, x: number, begin: number, end: number): void;
  sigmoid(out: number, x: number, begin: number, end: number): void;
  add(out: number, a: number, b: number, begin: number, end: number): void;
  scale(out: number, x: number, s: number, begin: number, end: number): void;
  snake(out: number, x: number, alpha: number, T: number, padLeft: number, padRight: number, rowBegin: number, rowEnd: number): void;
  group_norm_rows(out: number, x: number, gamma: number, beta: number, T: number, eps: number, rowBegin: number, rowEnd: number): void;
  group_norm_stats(stats: number, x: number, T: number, eps: number, rowBegin: number, rowEnd: number): void;
  group_norm_apply(out: number, x: number, gamma: number, beta: number, stats: number, T: number, rowBegin: number, rowEnd: number): void;
  layer_norm_cols(out: number, x: number, gamma: number, beta: number, C: number, T: number, eps: number, colBegin: number, colEnd: number): void;
  softmax_cols(s: number, R: number, Cn: number, scratch: number, colBegin: number, colEnd: number): void;
  pad_rows(out: number, x: number, T: number, padLeft: number, padRight: number, rowBegin: number, rowEnd: number): void;
  deinterleave(out: number, x: number, T: number, s: number, Tp: number, rowBegin: number, rowEnd: number): void;
  interleave(out: number, y: number, s: number, Tn: number, shift: number, Tout: number, rowBegin: number, rowEnd: number): void;
  transpose(out: number, x: number, R: number, Cn: number, rowBegin: number, rowEnd: number): void;
  weight_norm(out: number, v: number, g: number, outer: number, D: number, inner: number): void;
  pack_conv_strided(out: number, w: number, cout: number, cin: number, K: number, s: number): void;
  pack_conv_transpose(out: number, w: number, cin: number, cout: number, K: number, s: number, taps: number): void;
  argmin_cols(codes: number, scores: number, K: number, T: number, colBegin: number, colEnd: number): void;
  subtract_codewords(residual: number, embed: number, codes: number, D: number, T: number, colBegin: number, colEnd: number): void;
  /** all heads of softmax(S^T (+ WavLM's gated bias when gates != 0)) for query columns [colBegin, colEnd) (assembly/attention.ts) */
  self_attention(ctx: number, q: number, kT: number, v: number, scores: number, rows: number, scratch: number,
    gates: number, embed: number, buckets: number, H: number, heads: number, T: number, colBegin: number, colEnd: number,
    ldS: number, rowsS: number): void;
  wavlm_gate(gate: number, g: number, c: number, T: number, colBegin: number, colEnd: number): void;
  add_codewords(out: number, embed: number, codes: number, D: number, T: number, colBegin: number, colEnd: number): void;
  codebook_prepare(sq: number, neg2: number, embed: number, K: number, D: number): void;
}

const PAGE = 65536;
const RESERVED = PANEL_BASE; // the module's static area (one page) ends here
const ALIGN = 64; // cache-line alignment for every tensor
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE; // wasm32 limit

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const g = globalThis as { Buffer?: { from(s: string, e: string): Uint8Array } };
  if (g.Buffer) return new Uint8Array(g.Buffer.from(b64, 'base64'));
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let cachedModules: { simd?: WebAssembly.Module; relaxed?: WebAssembly.Module } = {};

/** The relaxed-SIMD build where the runtime validates it, else plain SIMD. */
export function kernelModule(flavour: 'auto' | 'simd' | 'relaxed' = 'auto'): { module: WebAssembly.Module; flavour: 'simd' | 'relaxed' } {
  const { bytes, flavour: f } = kernelBytes(flavour, false);
  cachedModules[f] ??= new WebAssembly.Module(bytes);
  return { module: cachedModules[f]!, flavour: f };
}

type Flavour = 'simd' | 'relaxed';
const BASE64: Record<`${Flavour}${'' | '-threads'}`, string> = {
  simd: simdBase64, relaxed: relaxedBase64, 'simd-threads': simdThreadsBase64, 'relaxed-threads': relaxedThreadsBase64,
};

/** The bytes of the build to use: relaxed SIMD where it validates (for 'auto'), shared memory or not. */
function kernelBytes(flavour: 'auto' | Flavour, shared: boolean): { bytes: Uint8Array<ArrayBuffer>; flavour: Flavour } {
  if (flavour !== 'auto' && flavour !== 'simd' && flavour !== 'relaxed') {
    throw new XcodecInputError(`simd option ${JSON.stringify(flavour)} is not supported; accepted: "auto", "simd", "relaxed"`);
  }
  const suffix = shared ? '-threads' : '';
  if (flavour !== 'simd') {
    const bytes = decodeBase64(BASE64[`relaxed${suffix}`]);
    if (WebAssembly.validate(bytes)) return { bytes, flavour: 'relaxed' };
    if (flavour === 'relaxed') throw new XcodecRuntimeError('this runtime does not support WebAssembly relaxed SIMD; use flavour "simd" or "auto"');
  }
  const bytes = decodeBase64(BASE64[`simd${suffix}`]);
  if (!WebAssembly.validate(bytes)) {
    throw new XcodecRuntimeError(`this runtime does not support WebAssembly SIMD (128-bit)${shared ? ' with threads' : ''}, which xcodec-wasm requires`);
  }
  return { bytes, flavour: 'simd' };
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** Compiles asynchronously (browsers refuse synchronous compilation of modules over 4 KB on the main thread). */
async function compileKernels(flavour: 'auto' | Flavour, shared: boolean): Promise<{ module: WebAssembly.Module; bytes: Uint8Array; flavour: Flavour }> {
  const { bytes, flavour: f } = kernelBytes(flavour, shared);
  const key = `${f}${shared ? '-threads' : ''}`;
  let p = compiled.get(key);
  if (!p) {
    p = WebAssembly.compile(bytes);
    compiled.set(key, p);
  }
  return { module: await p, bytes, flavour: f };
}

/** A shared memory with the largest maximum this runtime reserves (4 GiB on 64-bit hosts). */
function sharedMemory(): { memory: WebAssembly.Memory; maximum: number } | null {
  for (const maximum of [65536, 32768, 16384]) {
    try {
      return { memory: new WebAssembly.Memory({ initial: 2, maximum, shared: true } as WebAssembly.MemoryDescriptor), maximum };
    } catch { /* try a smaller reservation */ }
  }
  return null;
}

export interface RuntimeOptions {
  /** 'auto' picks relaxed SIMD where the runtime validates it */
  simd?: 'auto' | 'simd' | 'relaxed';
  /** threads running the kernels, this one included (default: available cores; 1 = no workers) */
  numThreads?: number;
  /** pool tuning (tests and benchmarks) */
  pool?: PoolOptions;
}

interface RuntimeParts {
  memory: WebAssembly.Memory;
  exports: WebAssembly.Exports;
  flavour: Flavour;
  pool: Pool | null;
  maxPages: number;
}

export class Runtime {
  readonly memory: WebAssembly.Memory;
  readonly k: Kernels;
  readonly flavour: 'simd' | 'relaxed';
  /** the worker pool, or null on one thread */
  readonly pool: Pool | null;
  /** the raw kernels, never split (what `k` is on one thread) */
  readonly raw: Kernels;
  /** why more than one thread was asked for but the runtime runs on one (null otherwise) */
  fallbackReason: string | null = null;
  private readonly maxBytes: number;
  private readonly maxPages: number;
  private top = RESERVED;
  private peak = RESERVED;
  private viewF32: Float32Array;
  private viewI32: Int32Array;

  /** A one-thread runtime, built synchronously (Node, Deno, Bun; browsers need Runtime.create). */
  constructor(flavour: 'auto' | 'simd' | 'relaxed' = 'auto', parts?: RuntimeParts) {
    if (!parts) {
      const m = kernelModule(flavour);
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
      const inst = new WebAssembly.Instance(m.module, { env: { memory } });
      parts = { memory, exports: inst.exports, flavour: m.flavour, pool: null, maxPages: 65536 };
    }
    this.flavour = parts.flavour;
    this.memory = parts.memory;
    this.pool = parts.pool;
    this.maxPages = parts.maxPages;
    this.maxBytes = Math.min(MAX_BYTES, parts.maxPages * PAGE);
    this.raw = parts.exports as unknown as Kernels;
    this.k = parts.pool ? threadedKernels(this.raw, parts.pool, this) : this.raw;
    this.viewF32 = new Float32Array(this.memory.buffer);
    this.viewI32 = new Int32Array(this.memory.buffer);
    // The GEMM's per-thread panels (see PANEL_BASE): this thread's, then one per worker slot, which
    // each worker claims when it starts. Allocated first, never released.
    const panelBytes = this.raw.gemm_panel_bytes();
    this.allocBytes(panelBytes * (1 + (this.pool?.workers ?? 0)));
    this.raw.gemm_panel(PANEL_BASE);
  }

  /**
   * The runtime for `numThreads` threads (default: available cores): a shared memory and a worker pool
   * where SharedArrayBuffer, Atomics and workers exist, else one thread with the same API. Async because
   * workers start asynchronously.
   */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const simd = options.simd ?? 'auto';
    let threads = options.numThreads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
      throw new XcodecInputError(`numThreads ${JSON.stringify(threads)} is not supported; accepted: an integer >= 1 (1 = no worker threads)`);
    }
    threads ??= await availableCores();
    threads = Math.min(threads, MAX_WORKERS + 1);
    let reason: string | null = null;
    if (threads > 1) {
      if (workerEnv() === null) reason = 'this runtime offers no workers (Web Workers or node:worker_threads)';
      else if (!sharedMemorySupported()) {
        reason = 'SharedArrayBuffer is unavailable (in a browser the page must be cross-origin isolated: ' +
          'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
      } else {
        const shared = sharedMemory();
        if (!shared) reason = 'no shared WebAssembly memory could be reserved';
        else {
          const { memory, maximum } = shared;
          const { module, bytes, flavour } = await compileKernels(simd, true);
          const inst = await WebAssembly.instantiate(module, { env: { memory } });
          const pool = await Pool.create(module, bytes, memory, threads - 1, options.pool);
          const rt = new Runtime(flavour, { memory, exports: inst.exports, flavour, pool, maxPages: maximum });
          if (!pool) rt.fallbackReason = `the worker pool did not start: ${Pool.startError}`;
          return rt;
        }
      }
    }
    const { module, flavour } = await compileKernels(simd, false);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const inst = await WebAssembly.instantiate(module, { env: { memory } });
    const rt = new Runtime(flavour, { memory, exports: inst.exports, flavour, pool: null, maxPages: 65536 });
    rt.fallbackReason = reason;
    return rt;
  }

  /** Threads that run kernels: this one plus the pool's workers. */
  get numThreads(): number {
    return this.pool && !this.pool.broken ? 1 + this.pool.workers : 1;
  }

  /** Terminates the workers (if any); the runtime is unusable for split kernels afterwards. */
  dispose(): void {
    this.pool?.dispose();
  }

  /** f32 view of all of linear memory (re-made after growth). */
  get f32(): Float32Array {
    if (this.viewF32.buffer !== this.memory.buffer) this.viewF32 = new Float32Array(this.memory.buffer);
    return this.viewF32;
  }

  get i32(): Int32Array {
    if (this.viewI32.buffer !== this.memory.buffer) this.viewI32 = new Int32Array(this.memory.buffer);
    return this.viewI32;
  }

  /** Reserves `count` 4-byte elements; returns the byte offset. */
  allocBytes(bytes: number): number {
    const ptr = this.top;
    const end = ptr + Math.ceil(bytes / ALIGN) * ALIGN;
    if (end > this.maxBytes) {
      throw new XcodecRuntimeError(`out of WebAssembly memory: needed ${(end / 2 ** 20).toFixed(0)} MiB, ` +
        `this runtime's memory allows ${(this.maxBytes / 2 ** 20).toFixed(0)} MiB; encode or decode shorter audio, or pass a smaller windowFrames (encode and decode options)`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow geometrically (at least 1/8) so a long run does not grow page by page.
      const need = Math.ceil((end - have) / PAGE);
      const want = Math.max(need, Math.ceil(have / PAGE / 8));
      const pages = Math.min(want, this.maxPages - have / PAGE);
      try {
        this.memory.grow(Math.max(pages, need));
      } catch (e) {
        throw new XcodecRuntimeError(`could not grow WebAssembly memory to ${(end / 2 ** 20).toFixed(0)} MiB: ${(e as Error).message}`);
      }
    }
    this.top = end;
    if (end > this.peak) this.peak = end;
    return ptr;
  }

  tensor(dims: number[]): Tensor {
    return { ptr: this.allocBytes(4 * numel(dims)), dims };
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /**
   * Releases everything above `mark` except `t`, which moves down to `mark` (an in-memory move).
   * Lets a block free its temporaries while keeping its output: `const m = rt.mark(); ...; return rt.keep(m, y)`.
   */
  keep(mark: number, t: Tensor): Tensor {
    return { ptr: this.keepRegion(mark, t.ptr, 4 * numel(t.dims)), dims: t.dims };
  }

  /** keep() for a raw region of `bytes` at `ptr`; returns its new offset (= mark). */
  keepRegion(mark: number, ptr: number, bytes: number): number {
    if (ptr !== mark) new Uint8Array(this.memory.buffer).copyWithin(mark, ptr, ptr + bytes);
    this.top = mark;
    return this.allocBytes(bytes);
  }

  /** Highest byte offset ever allocated: the WASM memory really in use. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Copies a JS array into a new tensor (inputs only). */
  upload(data: Float32Array, dims: number[]): Tensor {
    const t = this.tensor(dims);
    this.f32.set(data, t.ptr >>> 2);
    return t;
  }

  /** Copies a tensor out of linear memory (outputs only). */
  download(t: Tensor): Float32Array {
    const n = numel(t.dims);
    return this.f32.slice(t.ptr >>> 2, (t.ptr >>> 2) + n);
  }

  view(t: Tensor): Float32Array {
    return this.f32.subarray(t.ptr >>> 2, (t.ptr >>> 2) + numel(t.dims));
  }
}

export function numel(dims: number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}


// ---- splitting kernels across the pool ----
//
// Each plan reads a call's arguments and returns the index of its range-begin argument and the chunk
// bounds, or null to run the call on this thread (too little work to pay for waking the workers).
// Chunks are claimed dynamically, several per thread, so a thread that starts late (a worker waking
// from Atomics.wait) or runs slowly (a core shared with other work) leaves its share to the others.
// Results do not depend on the split: every kernel computes each output element with the same
// instruction sequence whatever range a call covers.

/**
 * Split tuning, shared by every threaded runtime of this module instance:
 *  - minChunkNs: smallest chunk worth a dispatch, in estimated ns of work (0: split every call that
 *    has at least two aligned units; tests use it to drive every kernel through the pool);
 *  - chunksPerThread: chunks per thread for large calls, balancing late or slow threads against
 *    per-chunk overhead (re-reading shared inputs);
 *  - align: 0 to round chunk sizes to each kernel's preferred multiple (SIMD width, GEMM tile, cache
 *    line), or a fixed multiple for every kernel (tests use 1 to put boundaries mid-tile).
 */
export const splitTuning = { minChunkNs: 25000, chunksPerThread: 4, align: 0 };
/**
 * Estimated ns per flop of the GEMM on one thread: 20 GFLOP/s, on the slow side of the 40-48 it runs at
 * now (it was measured before the tile fixes and kept: it only sets how many chunks a call is split
 * into, never a result).
 */
const GEMM_NS_PER_FLOP = 1 / 20;
/** Rows from which the GEMM packs B (PACK_MIN_ROWS in assembly/gemm.ts). */
const GEMM_PACK_MIN_ROWS = 32;
/** GEMM tile sizes (assembly/gemm.ts): split rows in whole 4-row tiles, columns in multiples of the 8-column tile. */
const GEMM_ROW_ALIGN = 4;
const GEMM_COL_ALIGN = 48;

interface Split {
  rpos: number;
  bounds: number[];
}

/** Chunk bounds for [begin, end) in about `chunks` pieces whose sizes are multiples of `align`. */
function chunkBounds(begin: number, end: number, align: number, chunks: number): number[] | null {
  if (splitTuning.align > 0) align = splitTuning.align;
  const units = end - begin;
  if (chunks < 2 || units < 2 * align) return null;
  const size = Math.ceil(units / chunks / align) * align;
  const bounds = [begin];
  for (let b = begin + size; b < end; b += size) bounds.push(b);
  bounds.push(end);
  return bounds.length > 2 ? bounds : null;
}

/** Chunks for a call of `ns` estimated work on `threads` threads (< 2: do not split). */
function chunkCount(ns: number, threads: number): number {
  const max = Math.min(MAX_CHUNKS, threads * splitTuning.chunksPerThread);
  return splitTuning.minChunkNs > 0 ? Math.min(max, Math.floor(ns / splitTuning.minChunkNs)) : max;
}

type Plan = (a: number[], threads: number) => Split | null;

/** A plan splitting the range at `rpos` with `nsPerUnit(args)` of work per unit (row, column, element). */
function rangePlan(rpos: number, align: number, nsPerUnit: (a: number[]) => number): Plan {
  return (a, threads) => {
    const units = a[rpos + 1] - a[rpos];
    if (units <= 0) return null;
    const bounds = chunkBounds(a[rpos], a[rpos + 1], align, chunkCount(units * nsPerUnit(a), threads));
    return bounds ? { rpos, bounds } : null;
  };
}

const gemmPlan: Plan = (a, threads) => {
  const K = a[10];
  const rows = a[12] - a[11];
  const cols = a[14] - a[13];
  if (rows <= 0 || cols <= 0) return null;
  const chunks = chunkCount(rows * cols * (2 * Math.max(K, 1) * GEMM_NS_PER_FLOP + 0.5), threads);
  if (chunks < 2) return null;
  // Columns (time, for convolutions) when each chunk keeps a few tiles' width: every thread then reads
  // only its own slice of the large B operand. Else rows, in whole 4-row tiles.
  if (cols >= chunks * 2 * GEMM_COL_ALIGN) {
    const bounds = chunkBounds(a[13], a[14], GEMM_COL_ALIGN, chunks);
    if (bounds) return { rpos: 13, bounds };
  }
  const byRows = chunkBounds(a[11], a[12], GEMM_ROW_ALIGN, Math.min(chunks, Math.floor(rows / GEMM_ROW_ALIGN)));
  if (byRows && byRows.length - 1 >= Math.min(chunks, threads)) return { rpos: 11, bounds: byRows };
  const byCols = chunkBounds(a[13], a[14], 8, Math.min(chunks, Math.floor(cols / 8)));
  if (byCols && (!byRows || byCols.length > byRows.length)) return { rpos: 13, bounds: byCols };
  return byRows ? { rpos: 11, bounds: byRows } : null;
};

/**
 * Split plans by kernel; argument positions follow the Kernels interface. Costs per unit (element, or
 * row/column times its length) were measured on one thread of the full-size model (Node 20, x86-64);
 * they only decide whether a call is worth splitting and into how many chunks.
 */
const PLANS: Record<SplitKernel, Plan> = {
  gemm: gemmPlan,
  // rows only: the shared panels were packed for the call's own columns [nBegin, nEnd)
  gemm_prepacked: rangePlan(11, GEMM_ROW_ALIGN, (a) => (a[14] - a[13]) * (2 * Math.max(a[10], 1) * GEMM_NS_PER_FLOP + 0.5)),
  gemm_pack_b: rangePlan(6, 1, (a) => 2.5 * a[3]),
  gelu: rangePlan(2, 16, () => 7.5),
  elu: rangePlan(2, 16, () => 4.5),
  sigmoid: rangePlan(2, 16, () => 4.5),
  add: rangePlan(3, 16, () => 0.7),
  scale: rangePlan(3, 16, () => 0.3),
  snake: rangePlan(6, 1, (a) => 1.1 * a[3] + 0.3 * (a[4] + a[5])),
  group_norm_rows: rangePlan(6, 1, (a) => 0.7 * a[4]),
  group_norm_stats: rangePlan(4, 1, (a) => 0.4 * a[2]),
  group_norm_apply: rangePlan(6, 1, (a) => 0.3 * a[5]),
  layer_norm_cols: rangePlan(7, 16, (a) => 0.9 * a[4]),
  pad_rows: rangePlan(5, 1, (a) => 0.3 * (a[2] + a[3] + a[4])),
  deinterleave: rangePlan(5, 1, (a) => 1.3 * a[3] * a[4]),
  interleave: rangePlan(6, 1, (a) => 2.5 * a[5]),
  transpose: rangePlan(4, 1, (a) => 6 * a[3]),
  argmin_cols: rangePlan(4, 16, (a) => 1.7 * a[2]),
  subtract_codewords: rangePlan(5, 16, (a) => 1.6 * a[3]),
  // per query column: both products of every head (4 T H flops) and the softmax of each head's column
  self_attention: rangePlan(13, 16, (a) => 4 * a[12] * a[10] * GEMM_NS_PER_FLOP + 1.5 * a[11] * a[12]),
  wavlm_gate: rangePlan(4, 16, () => 20),
  add_codewords: rangePlan(5, 16, (a) => 1.2 * a[3]),
};

/** The bump allocator a threaded gemm takes its shared B panels from. */
interface Arena {
  mark(): number;
  allocBytes(bytes: number): number;
  release(mark: number): void;
}

/** The raw kernels with every splittable one wrapped to run across `pool`. */
function threadedKernels(raw: Kernels, pool: Pool, arena: Arena): Kernels {
  const k: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(raw as unknown as Record<string, unknown>)) if (typeof f === 'function') k[name] = f;
  const threads = pool.workers + 1;
  KERNEL_NAMES.forEach((name, id) => {
    const f = (raw as unknown as Record<string, Kernel>)[name];
    const plan = PLANS[name];
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
  const gemmId = KERNEL_NAMES.indexOf('gemm');
  const prepackedId = KERNEL_NAMES.indexOf('gemm_prepacked');
  const packId = KERNEL_NAMES.indexOf('gemm_pack_b');
  k.gemm = (...args: number[]): void => {
    const split = gemmPlan(args, threads);
    if (split === null || pool.broken) {
      raw.gemm(...(args as Parameters<Kernels['gemm']>));
      return;
    }
    const [, , , , b, rows, , , , , K, mBegin, mEnd, nBegin, nEnd] = args;
    if (split.rpos !== 11 || mEnd - mBegin < GEMM_PACK_MIN_ROWS || raw.gemm_packs_b(rows, K) === 0) {
      pool.run(gemmId, 'gemm', raw.gemm as Kernel, args, split.rpos, split.bounds);
      return;
    }
    const mark = arena.mark();
    try {
      const panels = Math.ceil((nEnd - nBegin) / 8);
      const packed = arena.allocBytes(32 * K * panels);
      const packArgs = [packed, b, rows, K, nBegin, nEnd, 0, panels];
      const packBounds = chunkBounds(0, panels, 1, threads);
      if (packBounds) pool.run(packId, 'gemm_pack_b', raw.gemm_pack_b as Kernel, packArgs, 6, packBounds);
      else raw.gemm_pack_b(packed, b, rows, K, nBegin, nEnd, 0, panels);
      pool.run(prepackedId, 'gemm_prepacked', raw.gemm_prepacked as Kernel, [...args, packed], 11, split.bounds);
    } finally {
      arena.release(mark);
    }
  };
  return k as unknown as Kernels;
}
