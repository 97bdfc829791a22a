// What the three faces of the model share: XcodecModelSync (this thread), XcodecModel (Promises) and
// its worker (model_worker.ts). The methods and where each takes its options, the info a caller
// sees without asking the worker, the messages between caller and worker, and errors across them.

import type { Tuning } from '../backend/runtime.js';
import type { XcodecConfig } from '../checkpoint/config.js';
import {
  XcodecCheckpointError,
  XcodecConfigError,
  XcodecError,
  XcodecInputError,
  XcodecRuntimeError,
} from '../errors.js';
import type { Components, ConvAlgorithms } from '../model/network.js';
import type { LoadOptions } from './options.js';

/** The calls a model answers, and the argument that holds each one's options (null: none). */
export const METHODS = {
  encode: 1,
  decode: 1,
  forward: 1,
  dequantize: null,
  encodeTrace: 2,
  decodeTrace: null,
  encodeMemoryBytes: 1,
  streamStep: null,
} as const;
export type Method = keyof typeof METHODS;

/** What the caller sees of the model without asking the worker. */
export interface ModelInfo {
  config: XcodecConfig;
  numThreads: number;
  threadsFallbackReason: string | null;
  tuning: Tuning;
  simdFlavour: 'simd' | 'relaxed';
  components: Components;
  convAlgorithm: ConvAlgorithms;
  unusedTensors: string[];
  wasmMemoryBytes: number;
  /** null where the model cannot decode (components: 'encoder') */
  streamLookaheadFrames: number | null;
}

/** The info of a loaded model (what XcodecModel reads without asking its worker). */
export function modelInfo(m: ModelInfo): ModelInfo {
  return {
    config: m.config,
    numThreads: m.numThreads,
    threadsFallbackReason: m.threadsFallbackReason,
    tuning: { ...m.tuning },
    simdFlavour: m.simdFlavour,
    components: m.components,
    convAlgorithm: m.convAlgorithm,
    unusedTensors: m.unusedTensors,
    wasmMemoryBytes: m.wasmMemoryBytes,
    // null where the model cannot stream: encoder only, or X-Codec 2 (its getter says why)
    streamLookaheadFrames: m.components === 'encoder' || m.config.xcodec2 ? null : m.streamLookaheadFrames,
  };
}

export type LoadRequest = {
  type: 'load';
  options?: Omit<LoadOptions, 'onProgress'>;
  wantsProgress?: boolean;
  wantsHubProgress?: boolean;
} & (
  | { how: 'pretrained'; dir: string; nodeEntry?: string }
  | { how: 'buffers'; files: Record<string, Uint8Array>; config?: unknown }
);

export interface CallRequest {
  type: 'call';
  id: number;
  method: Method;
  args: unknown[];
  wantsProgress: boolean;
}

export type ErrorJson = { name: string; message: string };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'load-failed'; error: ErrorJson }
  | { type: 'load-progress'; loaded: number; total: number }
  | { type: 'hub-progress'; file: string; loaded: number; total: number }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'result'; id: number; value: unknown; wasmMemoryBytes: number }
  | { type: 'error'; id: number; error: ErrorJson };

/** An error as it crosses to the other side: its class name and message. */
export function errorJson(e: unknown): ErrorJson {
  return e instanceof XcodecError
    ? { name: e.name, message: e.message }
    : { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) };
}

const ERRORS: Record<string, new (message: string) => XcodecError> = {
  XcodecError,
  XcodecInputError,
  XcodecConfigError,
  XcodecCheckpointError,
  XcodecRuntimeError,
};

/** The same XcodecError class again on this side (anything else as a runtime failure of the worker). */
export function revive(e: { name: string; message: string }): XcodecError {
  const Cls = ERRORS[e.name];
  return Cls ? new Cls(e.message) : new XcodecRuntimeError(`the model's worker failed: ${e.name}: ${e.message}`);
}
