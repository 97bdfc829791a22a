// The WASM instance, its linear memory and a bump allocator over it.
//
// Memory layout: [0, 64 KiB) is left to the module's own static data; weights are placed above it once
// at load; activations come from the same bump pointer afterwards and are released with mark/release,
// so one encode or decode call never leaves memory behind. A tensor is only { ptr, dims } in JS.

import { XcodecRuntimeError } from './errors.js';
import { wasmBase64 as simdBase64 } from './generated/wasm-simd.js';
import { wasmBase64 as relaxedBase64 } from './generated/wasm-relaxed.js';

export interface Tensor {
  /** byte offset of the first f32 in linear memory */
  ptr: number;
  /** row-major dims */
  dims: number[];
}

export interface Kernels {
  gemm(out: number, ldo: number, a: number, lda: number, b: number, rows: number, bias: number, accumulate: number,
    M: number, N: number, K: number, mBegin: number, mEnd: number, nBegin: number, nEnd: number): void;
  gemm_rows(rows: number, K: number, kw: number, ldb: number, dil: number): void;
  gelu(out: number, x: number, begin: number, end: number): void;
  elu(out: number, x: number, begin: number, end: number): void;
  sigmoid(out: number, x: number, begin: number, end: number): void;
  add(out: number, a: number, b: number, begin: number, end: number): void;
  scale(out: number, x: number, s: number, begin: number, end: number): void;
  snake(out: number, x: number, alpha: number, T: number, rowBegin: number, rowEnd: number): void;
  group_norm_rows(out: number, x: number, gamma: number, beta: number, T: number, eps: number, rowBegin: number, rowEnd: number): void;
  layer_norm_cols(out: number, x: number, gamma: number, beta: number, C: number, T: number, eps: number, colBegin: number, colEnd: number): void;
  softmax_cols(s: number, R: number, Cn: number, colBegin: number, colEnd: number): void;
  pad_rows(out: number, x: number, T: number, padLeft: number, padRight: number, rowBegin: number, rowEnd: number): void;
  deinterleave(out: number, x: number, T: number, s: number, Tp: number, rowBegin: number, rowEnd: number): void;
  interleave(out: number, y: number, s: number, Tn: number, shift: number, Tout: number, rowBegin: number, rowEnd: number): void;
  transpose(out: number, x: number, R: number, Cn: number, rowBegin: number, rowEnd: number): void;
  weight_norm(out: number, v: number, g: number, outer: number, D: number, inner: number): void;
  pack_conv_strided(out: number, w: number, cout: number, cin: number, K: number, s: number, taps: number): void;
  pack_conv_transpose(out: number, w: number, cin: number, cout: number, K: number, s: number, taps: number): void;
  argmin_cols(codes: number, scores: number, K: number, T: number, colBegin: number, colEnd: number): void;
  subtract_codewords(residual: number, embed: number, codes: number, D: number, T: number, colBegin: number, colEnd: number): void;
  add_gated_rel_bias(scoresT: number, gate: number, embed: number, buckets: number, heads: number, head: number, T: number, rowBegin: number, rowEnd: number): void;
  wavlm_gate(gate: number, g: number, c: number, T: number, colBegin: number, colEnd: number): void;
  add_codewords(out: number, embed: number, codes: number, D: number, T: number, colBegin: number, colEnd: number): void;
  codebook_prepare(sq: number, neg2: number, embed: number, K: number, D: number): void;
}

const PAGE = 65536;
const RESERVED = PAGE; // the module's static area
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
  if (flavour !== 'simd') {
    const bytes = decodeBase64(relaxedBase64);
    if (WebAssembly.validate(bytes)) {
      cachedModules.relaxed ??= new WebAssembly.Module(bytes);
      return { module: cachedModules.relaxed, flavour: 'relaxed' };
    }
    if (flavour === 'relaxed') throw new XcodecRuntimeError('this runtime does not support WebAssembly relaxed SIMD; use flavour "simd" or "auto"');
  }
  const bytes = decodeBase64(simdBase64);
  if (!WebAssembly.validate(bytes)) throw new XcodecRuntimeError('this runtime does not support WebAssembly SIMD (128-bit), which xcodec-wasm requires');
  cachedModules.simd ??= new WebAssembly.Module(bytes);
  return { module: cachedModules.simd, flavour: 'simd' };
}

export class Runtime {
  readonly memory: WebAssembly.Memory;
  readonly k: Kernels;
  readonly flavour: 'simd' | 'relaxed';
  private top = RESERVED;
  private peak = RESERVED;
  private viewF32: Float32Array;
  private viewI32: Int32Array;

  constructor(flavour: 'auto' | 'simd' | 'relaxed' = 'auto') {
    const m = kernelModule(flavour);
    this.flavour = m.flavour;
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const inst = new WebAssembly.Instance(m.module, { env: { memory: this.memory } });
    this.k = inst.exports as unknown as Kernels;
    this.viewF32 = new Float32Array(this.memory.buffer);
    this.viewI32 = new Int32Array(this.memory.buffer);
  }

  /** Nothing to release on one thread; the threaded runtime terminates its workers here. */
  dispose(): void {}

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
    if (end > MAX_BYTES) {
      throw new XcodecRuntimeError(`out of WebAssembly memory: needed ${(end / 2 ** 20).toFixed(0)} MiB, ` +
        `the 32-bit address space allows ${(MAX_BYTES / 2 ** 20).toFixed(0)} MiB; encode or decode shorter audio`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow geometrically (at least 1/8) so a long run does not grow page by page.
      const need = Math.ceil((end - have) / PAGE);
      const want = Math.max(need, Math.ceil(have / PAGE / 8));
      const pages = Math.min(want, 65536 - have / PAGE);
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
