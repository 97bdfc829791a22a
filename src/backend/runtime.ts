// The WASM instance, its linear memory and a bump allocator over it.
//
// Memory layout: [0, 64 KiB) is left to the module's own static data; then one scratch region per
// thread (the GEMM's 512 KiB of panels and the attention's 66 KiB block, the Winograd conv's 1 MiB chunk; see SCRATCH_BASE); weights are placed above them once at load; activations come from the same
// bump pointer afterwards and are released with mark/release, so one encode or decode call never leaves
// memory behind. A tensor is only { ptr, dims } in JS.
//
// Threads: Runtime.create({ numThreads }) builds the runtime on a shared memory with the threads build
// of the kernels and a pool of workers (src/threads/); its `k` has the same methods as the raw kernels
// but splits the range arguments of large calls across the pool (threads/split.ts). Where shared
// memory or workers are missing it is the one-thread runtime, with the same API.

import { XcodecInputError, XcodecRuntimeError, describe } from '../errors.js';
import { KERNELS, type KernelName, type Kernels } from './kernels.js';
import {
  type Flavour,
  WASM_MODULE_NAMES,
  type WasmModules,
  checkWasmModules,
  compileKernels,
  givenModule,
  kernelModule,
  sharedMemory,
} from './wasm_modules.js';

export { kernelModule, type WasmModules } from './wasm_modules.js';
import { MAX_WORKERS, SCRATCH_BASE } from './threads/protocol.js';
import { Pool, type PoolOptions, availableCores, sharedMemorySupported, workerEnv } from './threads/pool.js';
import { DEFAULT_SPLIT_TUNING, type SplitTuning, threadedKernels } from './threads/split.js';

export interface Tensor {
  /** byte offset of the first f32 in linear memory */
  ptr: number;
  /** row-major dims */
  dims: number[];
}

const PAGE = 65536;
const RESERVED = SCRATCH_BASE; // the module's static area (one page) ends here
const ALIGN = 64; // cache-line alignment for every tensor
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE; // wasm32 limit

/**
 * Per-instance knobs for memory blocking and thread splits. Results are bit-identical whatever their
 * values (tests lower them to run every block and split path on tiny inputs).
 */
export interface Tuning {
  /** how kernel calls split across threads (threads/split.ts) */
  split: SplitTuning;
  /** floats of the feature encoder's first-layer output held at once while GroupNorm's whole-row statistics are taken (32 MiB) */
  groupNormStatsFloats: number;
}

export type TuningOptions = Partial<Omit<Tuning, 'split'>> & { split?: Partial<SplitTuning> };

export function makeTuning(options: TuningOptions = {}): Tuning {
  const { split, ...rest } = options;
  return {
    groupNormStatsFloats: 1 << 23,
    ...rest,
    split: { ...DEFAULT_SPLIT_TUNING, ...split },
  };
}

export interface RuntimeOptions {
  /** 'auto' picks relaxed SIMD where the runtime validates it */
  simd?: 'auto' | 'simd' | 'relaxed';
  /** threads running the kernels, this one included (default: available cores; 1 = no workers) */
  numThreads?: number;
  /** pool tuning (tests and benchmarks) */
  pool?: PoolOptions;
  /** memory blocking and thread splits (see Tuning) */
  tuning?: TuningOptions;
  /** precompiled kernel builds (hosts that forbid compiling from bytes) */
  wasmModules?: WasmModules;
}

interface RuntimeParts {
  memory: WebAssembly.Memory;
  exports: WebAssembly.Exports;
  flavour: Flavour;
  pool: Pool | null;
  maxPages: number;
}

/** Bytes as the memory errors write them: whole MiB. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** The bytes an allocation of `bytes` takes (every tensor starts on a cache line). */
export function alignedBytes(bytes: number): number {
  return Math.ceil(bytes / ALIGN) * ALIGN;
}

export class Runtime {
  readonly memory: WebAssembly.Memory;
  /** the kernels, split across the pool's threads where there is one (no-ops during a measuring pass) */
  get k(): Kernels {
    return this.kernels;
  }
  private kernels: Kernels;
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
  /** this instance's memory blocking and split knobs (mutable; see Tuning) */
  readonly tuning: Tuning;

  constructor(flavour: 'auto' | 'simd' | 'relaxed' = 'auto', parts?: RuntimeParts, tuning: TuningOptions = {}) {
    this.tuning = makeTuning(tuning);
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
    this.kernels = parts.pool ? threadedKernels(this.raw, parts.pool, this, this.tuning.split) : this.raw;
    this.viewF32 = new Float32Array(this.memory.buffer);
    this.viewI32 = new Int32Array(this.memory.buffer);
    // The per-thread scratch (GEMM panels, attention block; see SCRATCH_BASE): this thread's, then one
    // per worker slot, which each worker claims when it starts. Allocated first, never released.
    const scratchBytes = this.raw.thread_scratch_bytes();
    this.allocBytes(scratchBytes * (1 + (this.pool?.workers ?? 0)));
    this.raw.thread_scratch(SCRATCH_BASE);
  }

  /**
   * The runtime for `numThreads` threads (default: available cores): a shared memory and a worker pool
   * where SharedArrayBuffer, Atomics and workers exist, else one thread with the same API. Async because
   * workers start asynchronously.
   */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const simd = options.simd ?? 'auto';
    if (simd !== 'auto' && simd !== 'simd' && simd !== 'relaxed') {
      throw new XcodecInputError(`simd option ${describe(simd)} is not supported; accepted: "auto", "simd", "relaxed"`);
    }
    const modules = options.wasmModules === undefined ? null : checkWasmModules(options.wasmModules);
    const kernels = async (shared: boolean) => {
      if (!modules) return compileKernels(simd, shared);
      const m = givenModule(modules, simd, shared);
      if (!m && !shared) {
        throw new XcodecInputError(
          `wasmModules has no ${simd === 'auto' ? '"relaxed" or "simd"' : `"${simd}"`} module; accepted keys: ${WASM_MODULE_NAMES.map((n) => `"${n}"`).join(', ')}`,
        );
      }
      return m;
    };
    let threads = options.numThreads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
      throw new XcodecInputError(
        `numThreads ${describe(threads)} is not supported; accepted: an integer >= 1 (1 = no worker threads)`,
      );
    }
    threads ??= await availableCores();
    threads = Math.min(threads, MAX_WORKERS + 1);
    let reason: string | null = null;
    if (threads > 1) {
      if (workerEnv() === null) reason = 'this runtime offers no workers (Web Workers or node:worker_threads)';
      else if (!sharedMemorySupported()) {
        reason =
          'SharedArrayBuffer is unavailable (in a browser the page must be cross-origin isolated: ' +
          'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
      } else {
        const shared = sharedMemory();
        const threaded = shared ? await kernels(true) : null;
        if (!shared) reason = 'no shared WebAssembly memory could be reserved';
        else if (!threaded)
          reason = `wasmModules has no "${simd === 'auto' ? 'relaxed-threads" or "simd-threads' : `${simd}-threads`}" module`;
        else {
          const { memory, maximum } = shared;
          const { module, bytes, flavour } = threaded;
          const inst = await WebAssembly.instantiate(module, { env: { memory } });
          let pool: Pool | null = null;
          try {
            pool = await Pool.create(module, bytes, memory, threads - 1, options.pool);
          } catch (e) {
            // a host that looks like one with workers but cannot start them (workerd with nodejs_compat): one thread
            reason = `the worker pool did not start: ${(e as Error).message}`;
          }
          if (pool || reason === null) {
            const rt = new Runtime(
              flavour,
              { memory, exports: inst.exports, flavour, pool, maxPages: maximum },
              options.tuning,
            );
            if (!pool) rt.fallbackReason = `the worker pool did not start: ${Pool.startError}`;
            return rt;
          }
        }
      }
    }
    const { module, flavour } = (await kernels(false))!;
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const inst = await WebAssembly.instantiate(module, { env: { memory } });
    const rt = new Runtime(
      flavour,
      { memory, exports: inst.exports, flavour, pool: null, maxPages: 65536 },
      options.tuning,
    );
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
    const end = ptr + alignedBytes(bytes);
    if (this.measuring) {
      // counted only: nothing is grown or written, and no limit applies
      this.top = end;
      if (end > this.measuring.high) this.measuring.high = end;
      return ptr;
    }
    if (end > this.maxBytes) {
      throw new XcodecRuntimeError(
        `out of WebAssembly memory: needed ${mebibytes(end)}, ` +
          `this runtime's memory allows ${mebibytes(this.maxBytes)}; encode or decode shorter audio, or pass a smaller windowFrames (encode and decode options)`,
      );
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
        throw new XcodecRuntimeError(`could not grow WebAssembly memory to ${mebibytes(end)}: ${(e as Error).message}`);
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
   * A measuring pass: runs `fn` with every kernel skipped (pure queries still answer) and allocations
   * only counted, nothing grown or written, and returns the most bytes `fn` held above the arena's top
   * at once. Memory bounds come from this instead of formulas that must mirror a forward: what a
   * forward allocates depends on shapes, never on values. JavaScript-side compute (resampling, column
   * picks and copies, uploads) checks `measuring` and skips its work too.
   */
  measure(fn: () => void): number {
    const end = this.startMeasuring();
    try {
      fn();
      return this.measuring!.high - this.measuring!.start;
    } finally {
      end();
    }
  }

  /** measure() for an async `fn` (a model's load); nothing else may use this runtime meanwhile. */
  async measureAsync(fn: () => Promise<unknown>): Promise<number> {
    const end = this.startMeasuring();
    try {
      await fn();
      return this.measuring!.high - this.measuring!.start;
    } finally {
      end();
    }
  }

  /** Enters a measuring pass; the function it returns leaves it, the arena as it was. */
  private startMeasuring(): () => void {
    if (this.measuring) throw new Error('measure: already measuring');
    const start = this.top;
    const kernels = this.kernels;
    this.measuring = { start, high: start };
    this.measuringTable ??= measuringKernels(this.raw);
    this.kernels = this.measuringTable;
    return () => {
      this.kernels = kernels;
      this.measuring = null;
      this.top = start;
    };
  }

  /** Whether a measuring pass is running (see measure). */
  get isMeasuring(): boolean {
    return this.measuring !== null;
  }

  private measuring: { start: number; high: number } | null = null;
  /** measuringKernels(raw), made on the first measuring pass (every encode plans with one) */
  private measuringTable: Kernels | null = null;

  /**
   * Runs `fn` in a memory scope: everything it allocates is released when it returns, except the
   * tensor it returns, which moves down to where the scope began (a result allocated before the scope,
   * such as an `into` buffer or the input itself, is returned as it is). On a throw everything is released.
   *   const y = rt.scope(() => conv2(conv1(x)));   // conv1's output is freed, y kept
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a scope returns a tensor or nothing at all
  scope<T extends Tensor | void>(fn: () => T): T {
    const m = this.top;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.top = m;
      throw e;
    }
    if (result && (result as Tensor).ptr >= m) return this.keep(m, result as Tensor) as T;
    this.top = m;
    return result;
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

  /** The most bytes this runtime's memory can hold (4 GiB on most hosts; less where the shared memory reserves less). */
  get memoryLimitBytes(): number {
    return this.maxBytes;
  }

  /** Highest byte offset ever allocated: the WASM memory really in use. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Copies a JS array into a new tensor (inputs only). */
  upload(data: Float32Array, dims: number[]): Tensor {
    const t = this.tensor(dims);
    if (!this.measuring) this.f32.set(data, t.ptr >>> 2);
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

/** Whether two tensors share any byte of memory. */
export function overlaps(a: Tensor, b: Tensor): boolean {
  return a.ptr < b.ptr + 4 * numel(b.dims) && b.ptr < a.ptr + 4 * numel(a.dims);
}

/** The kernel table of a measuring pass: queries answer from the module, everything else does nothing. */
function measuringKernels(raw: Kernels): Kernels {
  const table: Record<string, unknown> = {};
  for (const name of Object.keys(KERNELS) as KernelName[]) {
    table[name] = KERNELS[name].query ? raw[name] : () => {};
  }
  return table as Kernels;
}
