// The model on the calling thread, shaped like transformers' XcodecModel; every call returns when it
// is done, so it blocks its thread meanwhile (scripts, CLIs, workers). XcodecModel (model_async.ts)
// is the same API with Promises, running this class in a worker.
//   const model = await XcodecModelSync.fromPretrained(dir);
//   const { audioCodes } = model.encode(inputValues, { bandwidth: 2 });   // [B, nq, T] int64
//   const { audioValues } = model.decode(audioCodes);                      // [B, 1, T * hop] float32
//   const { audioCodes, audioValues } = model.forward(inputValues);       // audio trimmed to the input

import { type XcodecConfig, parseXcodecConfig } from '../checkpoint/config.js';
import {
  XcodecCheckpointError,
  XcodecConfigError,
  XcodecError,
  XcodecInputError,
  XcodecRuntimeError,
  describe,
} from '../errors.js';
import { parseStrictJson } from '../checkpoint/json.js';
import {
  COMPONENTS,
  type Components,
  type ConvAlgorithms,
  type EncodePlan,
  type EncodeTrace,
  XcodecNetwork,
} from '../model/network.js';
import type { ConvAlgorithm } from '../model/dac.js';
import { checkWindowFrames, frameWindows } from '../model/windows.js';
import { Runtime, type Tensor, type Tuning, type TuningOptions, type WasmModules } from '../backend/runtime.js';
import { type HubOptions, fileAccess } from '../checkpoint/file_access.js';
import { warmUpKernels } from '../backend/warmup.js';
import { type CheckpointSource, WeightLoader } from '../checkpoint/weights.js';

export type { CheckpointSource } from '../checkpoint/weights.js';
export type { HubOptions } from '../checkpoint/file_access.js';
export type { Tuning, TuningOptions, WasmModules } from '../backend/runtime.js';

export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

export interface CodesTensor {
  data: BigInt64Array;
  dims: number[];
}

/** Codes as accepted by decode(): int64 like transformers, or any integer array. */
export interface CodesInput {
  data: BigInt64Array | Int32Array | Uint16Array | Int16Array | Uint32Array | Float64Array | number[];
  dims: number[];
}

/** What decode() and dequantize() take: the codes, or encode()'s output that holds them. */
export type CodesArgument = CodesInput | { audioCodes: CodesInput };

export interface LoadOptions {
  /** 'auto' picks relaxed SIMD where the runtime validates it */
  simd?: 'auto' | 'simd' | 'relaxed';
  /** where a Hub repository id (e.g. "hf-audio/xcodec-hubert-librispeech") is downloaded from and cached */
  hub?: HubOptions;
  /** worker threads for the kernels (default: available cores; 1 = no workers) */
  numThreads?: number;
  /** called as tensors stream into memory: (loaded bytes, total bytes) */
  onProgress?: (loaded: number, total: number) => void;
  /** advanced: memory blocking and thread-split knobs (results are bit-identical whatever they are) */
  tuning?: TuningOptions;
  /**
   * The kernels precompiled by the host, for runtimes that forbid compiling WebAssembly from bytes
   * (Cloudflare Workers, workerd): `{ simd, relaxed }` (and `'simd-threads'`, `'relaxed-threads'`
   * for threads), each a WebAssembly.Module of `xcodec-wasm/wasm/<name>.wasm`.
   */
  wasmModules?: WasmModules;
  /**
   * Which halves to load (default 'all'): 'decoder' (codes to audio: a TTS front end) skips the
   * semantic model and both encoders, about half the weights; 'encoder' (audio to codes: dataset
   * tokenization) skips the acoustic decoder. The quantizer is always loaded. Calling the half that
   * was not loaded is an XcodecInputError.
   */
  components?: Components;
  /**
   * How the DAC residual units' kernel-7 convolutions run (three quarters of decode's multiplies):
   * 'winograd' (F(4, 7): 10 multiplies for every 4 outputs instead of 28, with a different fp32
   * rounding) or 'direct' (the 7-tap GEMM), for both halves or per half as { encoder, decoder }.
   * Default { encoder: 'direct', decoder: 'winograd' }: the encoder's codes stay those of the direct
   * conv's rounding (see docs/design.md for what Winograd does to the embeddings).
   */
  convAlgorithm?: ConvAlgorithm | Partial<ConvAlgorithms>;
}

export const CONV_ALGORITHMS: readonly ConvAlgorithm[] = ['winograd', 'direct'];
export const DEFAULT_CONV_ALGORITHMS: Readonly<ConvAlgorithms> = { encoder: 'direct', decoder: 'winograd' };

/** LoadOptions.convAlgorithm, checked, as one algorithm per half. */
function checkConvAlgorithm(a: unknown): ConvAlgorithms {
  const accepted = `accepted: ${CONV_ALGORITHMS.map((c) => `"${c}"`).join(' or ')}, or { encoder?, decoder? } of those`;
  if (a === undefined) return { ...DEFAULT_CONV_ALGORITHMS };
  if (typeof a === 'string' && (CONV_ALGORITHMS as readonly string[]).includes(a))
    return { encoder: a as ConvAlgorithm, decoder: a as ConvAlgorithm };
  if (typeof a === 'object' && a !== null && !Array.isArray(a)) {
    const o = a as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== 'encoder' && k !== 'decoder');
    if (extra.length > 0) throw new XcodecInputError(`convAlgorithm has unknown keys ${describe(extra)}; ${accepted}`);
    const half = (k: 'encoder' | 'decoder'): ConvAlgorithm => {
      const v = o[k];
      if (v === undefined) return DEFAULT_CONV_ALGORITHMS[k];
      if (typeof v === 'string' && (CONV_ALGORITHMS as readonly string[]).includes(v)) return v as ConvAlgorithm;
      throw new XcodecInputError(`convAlgorithm.${k} ${describe(v)} is not accepted; ${accepted}`);
    };
    return { encoder: half('encoder'), decoder: half('decoder') };
  }
  throw new XcodecInputError(`convAlgorithm ${describe(a)} is not accepted; ${accepted}`);
}

export interface EncodeOptions {
  /** kbps, one of the config's target_bandwidths (default: the highest) */
  bandwidth?: number;
  /**
   * Audio of more than this many frames (default 1500: 30 s at 50 frames/s) runs the convolutional
   * stages (the semantic model's feature encoder, the acoustic encoder) in windows of this many
   * frames: the codes are identical to a one-window encode, and their memory follows the window
   * instead of the audio. The transformer still attends over the whole input.
   */
  windowFrames?: number;
  /**
   * called after each step, over all batch items: each window of the feature encoder, each
   * transformer layer, each window of the acoustic encoder, the quantizer (steps, not time)
   */
  onProgress?: (done: number, total: number) => void;
}

export interface DecodeOptions {
  /**
   * Codes longer than this many frames are decoded in windows of this many (default 1500: 30 s at
   * 50 frames/s), each with the decoder's receptive field of context on both sides, so the audio is
   * bit-identical to a one-call decode and memory is that of one window whatever the length.
   */
  windowFrames?: number;
  /** called after each window: (frames decoded, total frames), over all batch items */
  onProgress?: (done: number, total: number) => void;
}

function isTensorLike(x: unknown): x is { data: ArrayLike<unknown>; dims: number[] } {
  return typeof x === 'object' && x !== null && 'data' in x && 'dims' in x;
}

export class XcodecModelSync {
  private constructor(
    readonly config: XcodecConfig,
    private rt: Runtime,
    private net: XcodecNetwork,
    private arena: number,
    readonly unusedTensors: string[],
  ) {}

  /**
   * Loads a checkpoint directory written by save_pretrained: config.json and model.safetensors (or a
   * sharded model.safetensors.index.json), or a Hub repository id, downloaded once into a cache.
   * Needs file access: import from `xcodec-wasm/node` (Node, Deno, Bun); elsewhere use fromBuffers().
   */
  static async fromPretrained(dir: string, options: LoadOptions = {}): Promise<XcodecModelSync> {
    if (typeof dir !== 'string' || dir === '') {
      throw new XcodecInputError(
        `fromPretrained expects a checkpoint directory or a Hub repository id (a non-empty string); got ${typeof dir === 'string' ? '""' : typeof dir}`,
      );
    }
    const files = fileAccess(`XcodecModel.fromPretrained(${describe(dir)})`);
    const where = await files.resolveModelDir(dir, options.hub);
    const config = parseXcodecConfig(await files.readJson(where, 'config.json'), `${where}/config.json`);
    const source = await files.openCheckpoint(where, options.onProgress);
    try {
      const model = await XcodecModelSync.fromCheckpoint(config, source, options);
      options.onProgress?.(1, 1); // tensors inference does not use are never read: report completion
      return model;
    } finally {
      source.close?.();
    }
  }

  /**
   * Loads a checkpoint held in memory, for browsers and edge runtimes without file access: `files` maps
   * file names to bytes as save_pretrained writes them: `config.json` and `model.safetensors`, or
   * `model.safetensors.index.json` with its shards. `config.json` may also be passed already parsed.
   */
  static async fromBuffers(
    files: Record<string, Uint8Array>,
    options: LoadOptions & { config?: unknown } = {},
  ): Promise<XcodecModelSync> {
    if (typeof files !== 'object' || files === null) {
      throw new XcodecInputError(
        'fromBuffers expects an object mapping file names (config.json, model.safetensors, ...) to Uint8Array bytes',
      );
    }
    for (const [name, bytes] of Object.entries(files)) {
      if (!(bytes instanceof Uint8Array))
        throw new XcodecInputError(
          `fromBuffers: "${name}" must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`,
        );
    }
    let config = options.config;
    if (config === undefined) {
      if (!Object.hasOwn(files, 'config.json')) {
        throw new XcodecConfigError(
          'fromBuffers: no "config.json" among the given files and no options.config; one of them is required',
        );
      }
      config = parseStrictJson(files['config.json'], 'config.json', XcodecConfigError);
    }
    const cfg = parseXcodecConfig(config, 'config.json');
    const { SafetensorsCheckpoint } = await import('../checkpoint/safetensors.js');
    const source = (await SafetensorsCheckpoint.fromBuffers(files)).source();
    try {
      return await XcodecModelSync.fromCheckpoint(cfg, source, options);
    } finally {
      source.close?.();
    }
  }

  /** Builds the model from a parsed config and a tensor source (in-memory safetensors in browsers). */
  static async fromCheckpoint(
    config: XcodecConfig | unknown,
    source: CheckpointSource,
    options: LoadOptions = {},
  ): Promise<XcodecModelSync> {
    const cfg = isParsedConfig(config) ? config : parseXcodecConfig(config);
    const components = options.components ?? 'all';
    if (!COMPONENTS.includes(components)) {
      throw new XcodecInputError(
        `components ${describe(options.components)} is not accepted; accepted: ${COMPONENTS.map((c) => `"${c}"`).join(', ')}`,
      );
    }
    const convAlgorithms = checkConvAlgorithm(options.convAlgorithm);
    const rt = await Runtime.create({
      simd: options.simd ?? 'auto',
      numThreads: options.numThreads,
      tuning: options.tuning,
      wasmModules: options.wasmModules,
    });
    try {
      warmUpKernels(rt);
      const loader = new WeightLoader(rt, source);
      const net = await XcodecNetwork.load(loader.root(), cfg, components, convAlgorithms);
      const unused = source.names().filter((n) => !loader.used.has(n));
      return new XcodecModelSync(cfg, rt, net, rt.mark(), unused);
    } catch (e) {
      // A failed load must not leave its worker threads and memory behind.
      rt.dispose();
      throw e;
    }
  }

  /** Releases the workers and the WebAssembly memory; the model is unusable afterwards. */
  dispose(): void {
    this.rt.dispose?.();
  }

  /** Threads running the kernels (this one included): 1 where shared memory or workers are missing. */
  get numThreads(): number {
    return this.rt.numThreads;
  }

  /** Why more threads were asked for (numThreads or the default) but the model runs on one; else null. */
  get threadsFallbackReason(): string | null {
    return this.rt.fallbackReason;
  }

  /**
   * Advanced: this model's memory blocking and thread-split knobs (see LoadOptions.tuning); changing
   * them between calls changes memory use and speed, never a result.
   */
  get tuning(): Tuning {
    return this.rt.tuning;
  }

  /** Which SIMD build runs: 'relaxed' (fused multiply-add) or 'simd'. */
  get simdFlavour(): 'simd' | 'relaxed' {
    return this.rt.flavour;
  }

  /** The halves this model loaded: 'all', 'encoder' or 'decoder' (LoadOptions.components). */
  get components(): Components {
    return this.net.components;
  }

  /** How each half's residual-unit convolutions run (LoadOptions.convAlgorithm). */
  get convAlgorithm(): ConvAlgorithms {
    return { ...this.net.algorithms };
  }

  /** Bytes of WebAssembly memory in use at the high-water mark (weights + largest call). */
  get wasmMemoryBytes(): number {
    return this.rt.peakBytes;
  }

  /** Number of quantizers for a bandwidth in kbps (default: the highest target bandwidth). */
  numQuantizersFor(bandwidth?: number): number {
    return this.net.numQuantizersFor(bandwidth);
  }

  /**
   * input_values [B, 1, N] (or a mono Float32Array) -> audio_codes [B, nq, T] (int64). Audio of more
   * than `windowFrames` frames (default 1500: 30 s) runs its convolutional stages in windows, with the
   * same codes (see EncodeOptions).
   */
  encode(inputValues: FloatTensor | Float32Array, options: EncodeOptions = {}): { audioCodes: CodesTensor } {
    const x = this.checkAudio(inputValues);
    if (typeof options !== 'object' || options === null)
      throw new XcodecInputError('encode options must be an object: { bandwidth?, windowFrames?, onProgress? }');
    const nq = this.net.numQuantizersFor(options.bandwidth);
    const plan = this.plan(x.dims[2], checkWindowFrames(options.windowFrames));
    const progress = new Progress(options.onProgress, x.dims[0] * plan.steps);
    return { audioCodes: int64Codes(this.encodePlanned(x, nq, plan, progress)) };
  }

  /** The encode plan for n samples, refused before any work where the semantic model cannot fit in memory. */
  private plan(n: number, window: number): EncodePlan {
    const plan = this.net.plan(n, window);
    this.net.checkSemanticRoom(this.rt, plan);
    return plan;
  }

  /** The codes of every batch item as i32 (what decode reads); int64Codes() makes the API's tensor. */
  private encodePlanned(x: FloatTensor, nq: number, plan: EncodePlan, progress: Progress): CheckedCodes {
    const [B, , N] = x.dims;
    const frames = plan.frames;
    const codes = new Int32Array(B * nq * frames);
    progress.run(() =>
      this.guard(() => {
        for (let b = 0; b < B; b++) {
          const m = this.rt.mark();
          const input = this.rt.upload(x.data.subarray(b * N, (b + 1) * N), [1, N]);
          const { embeddings } = this.net.embed(this.rt, input, plan, progress.tick);
          const ptr = this.rt.allocBytes(4 * nq * frames);
          this.net.quantize(this.rt, embeddings, nq, ptr);
          codes.set(this.rt.i32.subarray(ptr >>> 2, (ptr >>> 2) + nq * frames), b * nq * frames);
          this.rt.release(m);
          progress.tick();
        }
      }, 'encode'),
    );
    return { B, nq, T: frames, codes };
  }

  /**
   * audio_codes [B, nq, T] -> audio_values [B, 1, T * hop_length] (untrimmed, like transformers).
   * Long code sequences are decoded window by window (see DecodeOptions), with the same result.
   */
  decode(audioCodes: CodesArgument, options: DecodeOptions = {}): { audioValues: FloatTensor } {
    const codes = this.checkCodes(audioCodes);
    if (typeof options !== 'object' || options === null)
      throw new XcodecInputError('decode options must be an object: { windowFrames?, onProgress? }');
    const window = checkWindowFrames(options.windowFrames);
    const progress = new Progress(options.onProgress, codes.B * codes.T);
    return { audioValues: this.decodeChecked(codes, window, progress, codes.T * this.config.hopLength) };
  }

  /**
   * Decodes window by window, each through the decoder with its context; only the first `keep` samples
   * of each batch item are written out (forward's trim happens here, with no copy of the whole audio).
   */
  private decodeChecked(
    { B, nq, T, codes }: CheckedCodes,
    window: number,
    progress: Progress,
    keep: number,
  ): FloatTensor {
    const hop = this.config.hopLength;
    const out = new Float32Array(B * keep);
    progress.run(() =>
      this.guard(() => {
        for (let b = 0; b < B; b++) {
          for (const w of frameWindows(T, window, this.net.decoderContextFrames)) {
            const n = w.to - w.from;
            const m = this.rt.mark();
            const ptr = this.rt.allocBytes(4 * nq * n);
            const i32 = this.rt.i32;
            for (let q = 0; q < nq; q++) {
              const row = (b * nq + q) * T;
              i32.set(codes.subarray(row + w.from, row + w.to), (ptr >>> 2) + q * n);
            }
            const audio = this.net.synthesize(this.rt, this.net.dequantize(this.rt, ptr, nq, n), w.from);
            if (audio.dims[1] !== n * hop) {
              throw new XcodecRuntimeError(
                `decoder produced ${audio.dims[1]} samples for ${n} frames; expected ${n * hop}`,
              );
            }
            const begin = w.begin * hop;
            const end = Math.min(w.end * hop, keep);
            if (end > begin)
              out.set(this.rt.view(audio).subarray(begin - w.from * hop, end - w.from * hop), b * keep + begin);
            this.rt.release(m);
            progress.tick(w.end - w.begin);
          }
        }
      }, 'decode'),
    );
    return { data: out, dims: [B, 1, keep] };
  }

  /** audio_codes [B, nq, T] -> the sum of their codewords [B, D, T] (the quantized embeddings). */
  dequantize(audioCodes: CodesArgument): FloatTensor {
    const { B, nq, T, codes } = this.checkCodes(audioCodes);
    const D = this.config.hiddenSize;
    const out = new Float32Array(B * D * T);
    this.guard(() => {
      for (let b = 0; b < B; b++) {
        const m = this.rt.mark();
        const ptr = this.rt.allocBytes(4 * nq * T);
        this.rt.i32.set(codes.subarray(b * nq * T, (b + 1) * nq * T), ptr >>> 2);
        out.set(this.rt.view(this.net.dequantize(this.rt, ptr, nq, T)), b * D * T);
        this.rt.release(m);
      }
    }, 'dequantize');
    return { data: out, dims: [B, D, T] };
  }

  /** encode then decode, with the audio trimmed to the input length (transformers' forward). */
  forward(
    inputValues: FloatTensor | Float32Array,
    options: Omit<EncodeOptions, 'onProgress'> = {},
  ): { audioCodes: CodesTensor; audioValues: FloatTensor } {
    const x = this.checkAudio(inputValues);
    if (typeof options !== 'object' || options === null)
      throw new XcodecInputError('forward options must be an object: { bandwidth?, windowFrames? }');
    if ('onProgress' in options) {
      throw new XcodecInputError(
        'forward does not report progress; accepted options: { bandwidth?, windowFrames? } (for progress, call encode and decode, each with onProgress)',
      );
    }
    const nq = this.net.numQuantizersFor(options.bandwidth);
    const window = checkWindowFrames(options.windowFrames);
    const plan = this.plan(x.dims[2], window);
    const codes = this.encodePlanned(x, nq, plan, new Progress(undefined, 0));
    const keep = Math.min(x.dims[2], codes.T * this.config.hopLength);
    return {
      audioCodes: int64Codes(codes),
      audioValues: this.decodeChecked(codes, window, new Progress(undefined, 0), keep),
    };
  }

  /**
   * Every intermediate of encode for one batch item (tests and debugging): the semantic model's
   * input before its padding [1, N'] (Higgs: resampled to 16 kHz), semantic features
   * [T, H] (as transformers lays them out), e_semantic [H', T], e_acoustic [A, T], embeddings [D, T].
   * windowFrames as in encode (the same values whatever the window).
   */
  encodeTrace(
    inputValues: FloatTensor | Float32Array,
    item = 0,
    options: { windowFrames?: number } = {},
  ): Record<keyof EncodeTrace, FloatTensor> {
    const x = this.checkAudio(inputValues);
    const N = x.dims[2];
    if (!Number.isInteger(item) || item < 0 || item >= x.dims[0]) {
      throw new XcodecInputError(
        `encodeTrace item ${describe(item)} is not accepted; accepted: an integer from 0 to ${x.dims[0] - 1} (the batch item)`,
      );
    }
    if (typeof options !== 'object' || options === null)
      throw new XcodecInputError('encodeTrace options must be an object: { windowFrames? }');
    const plan = this.plan(N, checkWindowFrames(options.windowFrames));
    let result: Record<keyof EncodeTrace, FloatTensor> | null = null;
    this.guard(() => {
      const m = this.rt.mark();
      const input = this.rt.upload(x.data.subarray(item * N, (item + 1) * N), [1, N]);
      const t = this.net.embed(this.rt, input, plan);
      const get = (v: Tensor): FloatTensor => ({ data: this.rt.download(v), dims: [...v.dims] });
      const sf = get(t.semanticFeatures);
      const [H, T] = sf.dims;
      const sfT = new Float32Array(H * T);
      for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) sfT[i * H + h] = sf.data[h * T + i];
      result = {
        semanticInput: get(t.semanticInput),
        semanticFeatures: { data: sfT, dims: [T, H] },
        eSemantic: get(t.eSemantic),
        eAcoustic: get(t.eAcoustic),
        embeddings: get(t.embeddings),
      };
      this.rt.release(m);
    }, 'encodeTrace');
    return result!;
  }

  /** What is running on this model's arena now, if anything (a call made from inside onProgress finds it set). */
  private running: string | null = null;

  /**
   * Runs `fn` on the arena; whatever happens, the arena is reset so the model stays usable. One call
   * at a time: a second one while the first runs (from inside its onProgress) would reset the arena
   * under it, so it is refused with a typed error instead.
   */
  private guard(fn: () => void, what = 'a call'): void {
    if (this.running !== null) {
      throw new XcodecRuntimeError(
        `${what} was made while ${this.running} is running on the same model (from inside its onProgress?); ` +
          'accepted: one call at a time per model: call it after that one returns, or use a second model',
      );
    }
    this.running = what;
    try {
      fn();
    } catch (e) {
      if (e instanceof XcodecError) throw e;
      throw new XcodecRuntimeError(`kernel failure: ${(e as Error).message}`);
    } finally {
      this.running = null;
      this.rt.release(this.arena);
    }
  }

  private checkAudio(input: FloatTensor | Float32Array): FloatTensor {
    let x: FloatTensor;
    if (input instanceof Float32Array) x = { data: input, dims: [1, 1, input.length] };
    else if (isTensorLike(input) && input.data instanceof Float32Array) x = input as FloatTensor;
    else {
      throw new XcodecInputError(
        'input_values must be a Float32Array (mono samples) or { data: Float32Array, dims: [batch, 1, samples] }',
      );
    }
    const d = x.dims;
    if (!Array.isArray(d) || d.length !== 3 || !d.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new XcodecInputError(
        `input_values dims ${describe(d)} are not [batch, channels, samples]; accepted: [B, 1, N]`,
      );
    }
    if (d[1] !== 1)
      throw new XcodecInputError(
        `input_values has ${d[1]} channels; X-Codec accepts mono audio only (dims [B, 1, N]); downmix first`,
      );
    if (d[0] < 1) throw new XcodecInputError('input_values has an empty batch (B = 0); accepted: B >= 1');
    if (x.data.length !== d[0] * d[2]) {
      throw new XcodecInputError(
        `input_values data has ${x.data.length} samples but dims ${describe(d)} need ${d[0] * d[2]}`,
      );
    }
    if (d[2] === 0)
      throw new XcodecInputError(
        `input_values is empty (0 samples); at least ${this.net.minimumSamples()} samples are needed`,
      );
    for (let i = 0; i < x.data.length; i++) {
      if (!Number.isFinite(x.data[i])) {
        throw new XcodecInputError(
          `input_values contains ${x.data[i]} at batch ${Math.floor(i / d[2])}, sample ${i % d[2]}; all samples must be finite`,
        );
      }
    }
    return x;
  }

  private checkCodes(argument: CodesArgument): CheckedCodes {
    const input = (
      typeof argument === 'object' && argument !== null && !isTensorLike(argument) && 'audioCodes' in argument
        ? argument.audioCodes
        : argument
    ) as CodesInput;
    if (!isTensorLike(input)) {
      throw new XcodecInputError(
        "audio_codes must be { data: BigInt64Array | Int32Array | number[], dims: [batch, quantizers, frames] } or encode's output { audioCodes }",
      );
    }
    const d = input.dims;
    if (!Array.isArray(d) || d.length !== 3 || !d.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new XcodecInputError(
        `audio_codes dims ${describe(d)} are not [batch, quantizers, frames] with every size >= 1`,
      );
    }
    const [B, nq, T] = d;
    if (B * T * this.config.hopLength > MAX_AUDIO_SAMPLES) {
      throw new XcodecInputError(
        `audio_codes of ${B} x ${T} frames would decode to ${B * T * this.config.hopLength} samples; ` +
          `accepted: at most ${MAX_AUDIO_SAMPLES} samples per call (${Math.floor(MAX_AUDIO_SAMPLES / this.config.hopLength)} frames: decode in pieces)`,
      );
    }
    if (nq > this.net.numQuantizers) {
      throw new XcodecInputError(
        `audio_codes has ${nq} quantizers; this model has ${this.net.numQuantizers} (accepted: 1..${this.net.numQuantizers})`,
      );
    }
    if (input.data.length !== B * nq * T) {
      throw new XcodecInputError(
        `audio_codes data has ${input.data.length} values but dims ${describe(d)} need ${B * nq * T}`,
      );
    }
    const K = this.config.codebookSize;
    const codes = new Int32Array(B * nq * T);
    for (let i = 0; i < codes.length; i++) {
      const raw: unknown = input.data[i];
      const v = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : NaN;
      if (!Number.isInteger(v) || v < 0 || v >= K) {
        const b = Math.floor(i / (nq * T));
        const q = Math.floor((i % (nq * T)) / T);
        const shown = typeof raw === 'number' || typeof raw === 'bigint' ? String(raw) : describe(raw); // codes read as numbers: 1024, not 1024n
        throw new XcodecInputError(
          `audio_codes[${b}, ${q}, ${i % T}] = ${shown} is outside the codebook; accepted: integers 0..${K - 1}`,
        );
      }
      codes[i] = v;
    }
    return { B, nq, T, codes };
  }
}

/**
 * The most audio samples one call takes or returns (2^31, 8 GiB of float32; about 37 hours at
 * 16 kHz): beyond it typed arrays and linear memory cannot hold the signal.
 */
export const MAX_AUDIO_SAMPLES = 2 ** 31;

/**
 * The caller's onProgress(done, total), checked up front. run() lets an exception thrown from it (to
 * cancel) reach the caller unchanged, where guard() would report any other as a runtime failure.
 */
class Progress {
  private done = 0;
  private failure: { error: unknown } | null = null;

  constructor(
    private callback: unknown,
    private total: number,
  ) {
    if (callback !== undefined && typeof callback !== 'function') {
      throw new XcodecInputError(`onProgress must be a function (done, total) => void; got ${typeof callback}`);
    }
  }

  readonly tick = (steps = 1): void => {
    this.done += steps;
    if (!this.callback) return;
    try {
      (this.callback as (done: number, total: number) => void)(this.done, this.total);
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  };

  run(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.failure) throw this.failure.error;
      throw e;
    }
  }
}

/** Codes validated against the model: [B, nq, T] as i32. */
interface CheckedCodes {
  B: number;
  nq: number;
  T: number;
  codes: Int32Array;
}

/** The int64 tensor transformers returns as audio_codes. */
function int64Codes({ B, nq, T, codes }: CheckedCodes): CodesTensor {
  const data = new BigInt64Array(codes.length);
  for (let i = 0; i < codes.length; i++) data[i] = BigInt(codes[i]);
  return { data, dims: [B, nq, T] };
}

function isParsedConfig(c: unknown): c is XcodecConfig {
  return typeof c === 'object' && c !== null && 'hopLength' in c && 'semantic' in c && 'acoustic' in c;
}

export { XcodecCheckpointError, XcodecConfigError };
