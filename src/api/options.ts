// The public types of a model's calls: tensors in and out, and the options of loading, encoding and
// decoding, shared by XcodecModelSync and XcodecModel.

import type { WasmModules, TuningOptions } from '../backend/runtime.js';
import type { HubOptions } from '../checkpoint/file_access.js';
import type { ConvAlgorithm } from '../model/dac.js';
import type { Components, ConvAlgorithms } from '../model/network.js';

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
   * false: checkpoint tensors that the config does not account for (a config that disagrees with its
   * checkpoint) are a console warning instead of an XcodecCheckpointError (default true)
   */
  strict?: boolean;
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
   * X-Codec 2 only: padding_mask [B, N] as Xcodec2FeatureExtractor returns it (1 for each item's
   * samples, 0 for padding). Each item's semantic features are then those of its own length, and
   * encode also returns audioCodesMask [B, T]. Without it every item is taken as unpadded.
   */
  paddingMask?: { data: BigInt64Array | Int32Array | Uint8Array | number[]; dims: number[] };
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

/** What streamDecode reads: code chunks { data, dims: [1, nq, t] } (or { audioCodes }), as they come. */
export type CodeSource = Iterable<CodesArgument> | AsyncIterable<CodesArgument>;

export interface StreamDecodeOptions {
  /**
   * Frames after a frame that must arrive before its audio is emitted. The default, the model's
   * streamLookaheadFrames, is exact: the chunks concatenate to decode() of all the codes, bit for bit
   * (and larger values are the same). Below it audio comes sooner, computed as if the stream ended
   * there: an approximation (docs/streaming.md gives its error for each value).
   */
  lookaheadFrames?: number;
}

export interface ModelLoadOptions extends LoadOptions {
  /**
   * Where the model runs: 'auto' (default) in a dedicated worker when one can start, else on this
   * thread; true: a worker or an XcodecRuntimeError; false: this thread (every call then blocks it
   * while it computes, as XcodecModelSync does).
   */
  worker?: 'auto' | boolean;
  /** the worker's script, for bundles that move files (default: model_worker.js beside this module) */
  workerUrl?: string | URL;
}

/** Options of XcodecModel's calls on top of XcodecModelSync's. */
export interface TransferOption {
  /**
   * true: the input's ArrayBuffer moves to the model's worker instead of being copied (a structured
   * clone copies on the caller's thread, which long audio blocks for a while). The caller's array is
   * then detached (length 0). A SharedArrayBuffer is shared, never moved; a model that runs on the caller's thread
   * moves nothing. Default false.
   */
  transfer?: boolean;
}
