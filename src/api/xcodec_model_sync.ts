// The model on the calling thread, shaped like transformers' XcodecModel; every call returns when it
// is done, so it blocks its thread meanwhile (scripts, CLIs, workers). XcodecModel (xcodec_model.ts)
// is the same API with Promises, running this class in a worker.
//   const model = await XcodecModelSync.fromPretrained(dir);
//   const { audioCodes } = model.encode(inputValues, { bandwidth: 2 });   // [B, nq, T] int64
//   const { audioValues } = model.decode(audioCodes);                      // [B, 1, T * hop] float32
//   const { audioCodes, audioValues } = model.forward(inputValues);       // audio trimmed to the input

import { type XcodecConfig, parseXcodecConfig } from '../checkpoint/config.js';
import { XcodecConfigError, XcodecError, XcodecInputError, XcodecRuntimeError, describe } from '../errors.js';
import { parseStrictJson } from '../checkpoint/json.js';
import type { Components, ConvAlgorithms, EncodePlan } from '../model/network.js';
import type { CodecNetwork } from '../model/codec.js';
import { checkWindowFrames } from '../model/windows.js';
import {
  type CheckedCodes,
  checkAudio,
  checkCodes,
  checkItem,
  checkFiles,
  checkModelSource,
  checkOptions,
  checkPaddingMask,
  int64Codes,
} from './checks.js';
import { loadModel } from './load.js';
import type {
  CodeSource,
  CodesArgument,
  CodesTensor,
  DecodeOptions,
  EncodeOptions,
  FloatTensor,
  LoadOptions,
  StreamDecodeOptions,
} from './options.js';
import { DecodeStreams, type StreamOp, decodeTransform, stepsOf, streamDecode } from './decode_stream.js';
import { Progress } from './progress.js';
import { downloadTrace } from './trace.js';
import type { Runtime, Tensor, Tuning } from '../backend/runtime.js';
import { fileAccess } from '../checkpoint/file_access.js';
import '../checkpoint/web_files.js'; // fetch's file access where none is installed (browsers, edge runtimes)
import type { CheckpointSource } from '../checkpoint/weights.js';

export class XcodecModelSync {
  private constructor(
    readonly config: XcodecConfig,
    private rt: Runtime,
    private net: CodecNetwork,
    private arena: number,
    readonly unusedTensors: string[],
  ) {}

  /**
   * Loads a checkpoint directory written by save_pretrained: config.json and model.safetensors (or a
   * sharded model.safetensors.index.json), or a Hub repository id, downloaded once into a cache.
   * Needs file access: import from `xcodec-wasm/node` (Node, Deno, Bun); elsewhere use fromBuffers().
   */
  static async fromPretrained(dir: string, options: LoadOptions = {}): Promise<XcodecModelSync> {
    checkModelSource(dir);
    const files = fileAccess(`XcodecModel.fromPretrained(${describe(dir)})`);
    const where = await files.resolveModelDir(dir, options.hub);
    const config = parseXcodecConfig(await files.readJson(where, 'config.json'), `${where}/config.json`);
    const source = await files.openCheckpoint(where, options.onProgress, { ranged: options.components === 'decoder' });
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
    checkFiles(files);
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
    const m = await loadModel(config, source, options);
    return new XcodecModelSync(m.config, m.rt, m.net, m.rt.mark(), m.unused);
  }

  /** What checkCodes needs to know of this model. */
  private get codesShape(): { hopLength: number; codebookSize: number; numQuantizers: number } {
    return {
      hopLength: this.config.hopLength,
      codebookSize: this.config.codebookSize,
      numQuantizers: this.net.numQuantizers,
    };
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
  encode(
    inputValues: FloatTensor | Float32Array,
    options: EncodeOptions = {},
  ): { audioCodes: CodesTensor; audioCodesMask?: CodesTensor } {
    const x = checkAudio(inputValues, () => this.net.minimumSamples());
    checkOptions('encode', options, '{ bandwidth?, windowFrames?, paddingMask?, onProgress? }');
    const valid = checkPaddingMask(options.paddingMask, x.dims[0], x.dims[2], this.config.modelType);
    const nq = this.net.numQuantizersFor(options.bandwidth);
    const plan = this.plan(x.dims[2], checkWindowFrames(options.windowFrames));
    const progress = new Progress(options.onProgress, x.dims[0] * plan.steps);
    const audioCodes = int64Codes(this.encodePlanned(x, nq, plan, progress, valid));
    if (!valid) return { audioCodes };
    // transformers: arange(T) < padding_mask.sum(-1) // hop_length
    const T = plan.frames;
    const mask = new BigInt64Array(valid.length * T);
    valid.forEach((n, b) => mask.fill(1n, b * T, b * T + Math.min(T, Math.floor(n / this.config.hopLength))));
    return { audioCodes, audioCodesMask: { data: mask, dims: [valid.length, T] } };
  }

  /** The encode plan for n samples, refused before any work where the semantic model cannot fit in memory. */
  private plan(n: number, window: number): EncodePlan {
    const plan = this.net.plan(this.rt, n, window);
    this.net.checkSemanticRoom(this.rt, plan);
    return plan;
  }

  /** The codes of every batch item as i32 (what decode reads); int64Codes() makes the API's tensor. */
  private encodePlanned(
    x: FloatTensor,
    nq: number,
    plan: EncodePlan,
    progress: Progress,
    valid: number[] | null = null,
  ): CheckedCodes {
    const [B, , N] = x.dims;
    const frames = plan.frames;
    const codes = new Int32Array(B * nq * frames);
    progress.run(() =>
      this.guard(() => {
        for (let b = 0; b < B; b++) {
          this.rt.scope(() => {
            const input = this.rt.upload(x.data.subarray(b * N, (b + 1) * N), [1, N]);
            const ptr = this.codesOf(input, nq, plan, progress.tick, valid?.[b]);
            codes.set(this.rt.i32.subarray(ptr >>> 2, (ptr >>> 2) + nq * frames), b * nq * frames);
          });
          progress.tick();
        }
      }, 'encode'),
    );
    return { B, nq, T: frames, codes };
  }

  /** One item's codes (i32 [nq, frames] in linear memory, returned) from its input [1, N]: what encode and encodeMemoryBytes run. */
  private codesOf(input: Tensor, nq: number, plan: EncodePlan, tick?: () => void, valid?: number): number {
    const { embeddings } = this.net.embed(this.rt, input, plan, tick, valid);
    const ptr = this.rt.allocBytes(4 * nq * plan.frames);
    this.net.quantize(this.rt, embeddings, nq, ptr);
    return ptr;
  }

  /** Frames after a frame that streamDecode waits for before emitting that frame's audio, exactly. */
  get streamLookaheadFrames(): number {
    return this.net.streamLookaheadFrames;
  }

  /** Code chunks [1, nq, t] (any t) -> audio as each sample is final: together decode() of them all, bit for bit. */
  streamDecode(source: CodeSource, options: StreamDecodeOptions = {}): AsyncGenerator<Float32Array, void, undefined> {
    return streamDecode(stepsOf(this.streamStep.bind(this)), source, options, this.codesShape);
  }

  /** streamDecode as a TransformStream of code chunks to audio chunks (for pipeThrough). */
  decodeTransform(options: StreamDecodeOptions = {}): TransformStream<CodesArgument, Float32Array> {
    return decodeTransform(stepsOf(this.streamStep.bind(this)), options);
  }

  /** @internal streamDecode's steps on this model's streams (what XcodecModel's worker answers). */
  streamStep(op: StreamOp, id: number, arg?: unknown): unknown {
    this.streams ??= new DecodeStreams(this.rt, this.net, this.codesShape, (fn, what) => this.guard(fn, what));
    return this.streams.step(op, id, arg);
  }
  private streams: DecodeStreams | undefined;

  /** audio_codes [B, nq, T] -> audio_values [B, 1, T * hop_length] (untrimmed, like transformers); long ones in windows. */
  decode(audioCodes: CodesArgument, options: DecodeOptions = {}): { audioValues: FloatTensor } {
    const codes = checkCodes(audioCodes, this.codesShape);
    checkOptions('decode', options, '{ windowFrames?, onProgress? }');
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
          for (const w of this.net.decodeWindows(this.rt, T, window)) {
            const n = w.to - w.from;
            this.rt.scope(() => {
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
            });
            progress.tick(w.end - w.begin);
          }
        }
      }, 'decode'),
    );
    return { data: out, dims: [B, 1, keep] };
  }

  /** audio_codes [B, nq, T] -> the sum of their codewords [B, D, T] (the quantized embeddings). */
  dequantize(audioCodes: CodesArgument): FloatTensor {
    const { B, nq, T, codes } = checkCodes(audioCodes, this.codesShape);
    const D = this.config.hiddenSize;
    const out = new Float32Array(B * D * T);
    this.guard(() => {
      for (let b = 0; b < B; b++) {
        this.rt.scope(() => {
          const ptr = this.rt.allocBytes(4 * nq * T);
          this.rt.i32.set(codes.subarray(b * nq * T, (b + 1) * nq * T), ptr >>> 2);
          out.set(this.rt.view(this.net.dequantize(this.rt, ptr, nq, T)), b * D * T);
        });
      }
    }, 'dequantize');
    return { data: out, dims: [B, D, T] };
  }

  /** encode then decode, with the audio trimmed to the input length (transformers' forward). */
  forward(
    inputValues: FloatTensor | Float32Array,
    options: Omit<EncodeOptions, 'onProgress'> = {},
  ): { audioCodes: CodesTensor; audioValues: FloatTensor } {
    const x = checkAudio(inputValues, () => this.net.minimumSamples());
    checkOptions('forward', options, '{ bandwidth?, windowFrames? }');
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
   * Advanced: the WebAssembly memory one encode of `samples` samples (one batch item) holds at its peak
   * above the loaded model, measured in a pass that allocates by shape and computes nothing
   * (Runtime.measure): seconds for hours of audio. The model's wasmMemoryBytes after load plus this is
   * the peak such an encode reaches.
   */
  encodeMemoryBytes(samples: number, options: { windowFrames?: number } = {}): number {
    if (!Number.isInteger(samples) || samples < this.net.minimumSamples()) {
      throw new XcodecInputError(
        `encodeMemoryBytes: samples ${describe(samples)} is not accepted; accepted: an integer >= ${this.net.minimumSamples()}`,
      );
    }
    checkOptions('encodeMemoryBytes', options, '{ windowFrames? }');
    const plan = this.net.plan(this.rt, samples, checkWindowFrames(options.windowFrames));
    const nq = this.net.numQuantizers;
    let bytes = 0;
    this.guard(() => {
      bytes = this.rt.measure(() => {
        this.codesOf(this.rt.tensor([1, samples]), nq, plan); // the uploaded item, then as encode
      });
    }, 'encodeMemoryBytes');
    return bytes;
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
    options: { windowFrames?: number; paddingMask?: EncodeOptions['paddingMask'] } = {},
  ): Record<string, FloatTensor> {
    const x = checkAudio(inputValues, () => this.net.minimumSamples());
    const N = x.dims[2];
    checkItem('encodeTrace', item, x.dims[0]);
    checkOptions('encodeTrace', options, '{ windowFrames?, paddingMask? }');
    const valid = checkPaddingMask(options.paddingMask, x.dims[0], x.dims[2], this.config.modelType);
    const plan = this.plan(N, checkWindowFrames(options.windowFrames));
    let result: Record<string, FloatTensor> | null = null;
    this.guard(() => {
      this.rt.scope(() => {
        const input = this.rt.upload(x.data.subarray(item * N, (item + 1) * N), [1, N]);
        result = downloadTrace(this.rt, this.net.trace(this.rt, input, plan, valid?.[item]));
      });
    }, 'encodeTrace');
    return result!;
  }

  /**
   * Every intermediate of decode for one batch item (tests and debugging): X-Codec 2 gives latents,
   * the decoder after prior_net, the transformer and the norm [T, hidden], the head's magnitude and
   * phase [n_fft / 2 + 1, T] and the audio; X-Codec the codebook sum and the audio.
   */
  decodeTrace(audioCodes: CodesArgument, item = 0): Record<string, FloatTensor> {
    const { B, nq, T, codes } = checkCodes(audioCodes, this.codesShape);
    checkItem('decodeTrace', item, B);
    let result: Record<string, FloatTensor> | null = null;
    this.guard(() => {
      this.rt.scope(() => {
        const ptr = this.rt.allocBytes(4 * nq * T);
        this.rt.i32.set(codes.subarray(item * nq * T, (item + 1) * nq * T), ptr >>> 2);
        result = downloadTrace(this.rt, this.net.decodeTrace(this.rt, ptr, nq, T));
      });
    }, 'decodeTrace');
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
}
