// The checks every face of the model applies to what a caller passes: audio, codes, options and
// where a checkpoint comes from, each failing with a typed error that says what is accepted.

import type { XcodecConfig } from '../checkpoint/config.js';
import { XcodecCheckpointError, XcodecInputError, describe } from '../errors.js';
import type { ConvAlgorithm } from '../model/dac.js';
import type { ConvAlgorithms } from '../model/network.js';
import {
  CONV_ALGORITHMS,
  type CodesArgument,
  type CodesInput,
  type CodesTensor,
  DEFAULT_CONV_ALGORITHMS,
  type FloatTensor,
} from './options.js';

export function isTensorLike(x: unknown): x is { data: ArrayLike<unknown>; dims: number[] } {
  return typeof x === 'object' && x !== null && 'data' in x && 'dims' in x;
}

/** LoadOptions.convAlgorithm, checked, as one algorithm per half. */
export function checkConvAlgorithm(a: unknown): ConvAlgorithms {
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

/** input_values as a [B, 1, N] tensor of finite samples; `minimumSamples` for the message about empty audio. */
export function checkAudio(input: FloatTensor | Float32Array, minimumSamples: () => number): FloatTensor {
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
    throw new XcodecInputError(`input_values is empty (0 samples); at least ${minimumSamples()} samples are needed`);
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) {
      throw new XcodecInputError(
        `input_values contains ${x.data[i]} at batch ${Math.floor(i / d[2])}, sample ${i % d[2]}; all samples must be finite`,
      );
    }
  }
  return x;
}

/** audio_codes (or encode's output) checked against the model's codebooks, as i32. */
export function checkCodes(
  argument: CodesArgument,
  model: { hopLength: number; codebookSize: number; numQuantizers: number },
): CheckedCodes {
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
  if (B * T * model.hopLength > MAX_AUDIO_SAMPLES) {
    throw new XcodecInputError(
      `audio_codes of ${B} x ${T} frames would decode to ${B * T * model.hopLength} samples; ` +
        `accepted: at most ${MAX_AUDIO_SAMPLES} samples per call (${Math.floor(MAX_AUDIO_SAMPLES / model.hopLength)} frames: decode in pieces)`,
    );
  }
  if (nq > model.numQuantizers) {
    throw new XcodecInputError(
      `audio_codes has ${nq} quantizers; this model has ${model.numQuantizers} (accepted: 1..${model.numQuantizers})`,
    );
  }
  if (input.data.length !== B * nq * T) {
    throw new XcodecInputError(
      `audio_codes data has ${input.data.length} values but dims ${describe(d)} need ${B * nq * T}`,
    );
  }
  const K = model.codebookSize;
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

/**
 * The most audio samples one call takes or returns (2^31, 8 GiB of float32; about 37 hours at
 * 16 kHz): beyond it typed arrays and linear memory cannot hold the signal.
 */
export const MAX_AUDIO_SAMPLES = 2 ** 31;

/** Codes validated against the model: [B, nq, T] as i32. */
export interface CheckedCodes {
  B: number;
  nq: number;
  T: number;
  codes: Int32Array;
}

/** The int64 tensor transformers returns as audio_codes. */
export function int64Codes({ B, nq, T, codes }: CheckedCodes): CodesTensor {
  const data = new BigInt64Array(codes.length);
  for (let i = 0; i < codes.length; i++) data[i] = BigInt(codes[i]);
  return { data, dims: [B, nq, T] };
}

export function isParsedConfig(c: unknown): c is XcodecConfig {
  return typeof c === 'object' && c !== null && 'hopLength' in c && 'semantic' in c && 'acoustic' in c;
}

/** fromPretrained's first argument: a checkpoint directory or a Hub repository id. */
export function checkModelSource(dir: unknown): asserts dir is string {
  if (typeof dir !== 'string' || dir === '') {
    throw new XcodecInputError(
      `fromPretrained expects a checkpoint directory or a Hub repository id (a non-empty string); got ${typeof dir === 'string' ? '""' : typeof dir}`,
    );
  }
}

/** fromBuffers' first argument: file names mapped to their bytes. */
export function checkFiles(files: unknown): asserts files is Record<string, Uint8Array> {
  if (typeof files !== 'object' || files === null) {
    throw new XcodecInputError(
      'fromBuffers expects an object mapping file names (config.json, model.safetensors, ...) to Uint8Array bytes',
    );
  }
  for (const [name, bytes] of Object.entries(files)) {
    if (!(bytes instanceof Uint8Array)) {
      throw new XcodecInputError(
        `fromBuffers: "${name}" must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`,
      );
    }
  }
}

/** A call's options argument: an object (`accepted` lists its fields for the message). */
export function checkOptions(method: string, options: unknown, accepted: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new XcodecInputError(`${method} options must be an object: ${accepted}`);
  }
}

/** Strips what cannot be posted (onProgress) from an options argument, keeping its other fields as given. */
export function splitOptions(options: unknown): {
  options: unknown;
  onProgress?: (done: number, total: number) => void;
  transfer: boolean;
} {
  if (typeof options !== 'object' || options === null || !('onProgress' in options || 'transfer' in options))
    return { options, transfer: false };
  const { onProgress, transfer, ...rest } = options as { onProgress?: unknown; transfer?: unknown };
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new XcodecInputError(`onProgress is ${describe(onProgress)}; accepted: a function (done, total) => void`);
  }
  if (transfer !== undefined && typeof transfer !== 'boolean') {
    throw new XcodecInputError(
      `transfer is ${describe(transfer)}; accepted: true (the input's buffer moves to the model's worker and the ` +
        'array is detached) or false (the default: it is copied)',
    );
  }
  return {
    options: rest,
    onProgress: onProgress as ((done: number, total: number) => void) | undefined,
    transfer: transfer === true,
  };
}

/**
 * Tensors the config does not account for mean the config and the checkpoint disagree, which would
 * otherwise load and quietly change the codes: an XcodecCheckpointError naming the first few, or
 * with `strict: false` a warning (as transformers logs its unused weights).
 */
export function checkUnexpected(names: string[], strict: boolean | undefined): void {
  if (names.length === 0) return;
  const shown = names
    .slice(0, 5)
    .map((n) => `"${n}"`)
    .join(', ');
  const message =
    `model.safetensors has ${names.length} tensor(s) that config.json does not use (${shown}${names.length > 5 ? ', ...' : ''}): ` +
    'the config and the checkpoint disagree (layers, dilations, heads, quantizers?)';
  if (strict === false) console.warn(`xcodec-wasm: ${message}; loaded anyway (strict: false)`);
  else throw new XcodecCheckpointError(`${message}; load with { strict: false } to use the model anyway`);
}

/**
 * encode's paddingMask for input of B items of N samples, as each item's count of real samples (a
 * 0/1 mask whose ones come first), or null when none was given. X-Codec 2 only.
 */
export function checkPaddingMask(mask: unknown, B: number, N: number, modelType: string): number[] | null {
  if (mask === undefined) return null;
  if (modelType !== 'xcodec2') {
    throw new XcodecInputError(
      `paddingMask is not accepted by model_type "${modelType}" (X-Codec encodes each item as given); accepted: no paddingMask`,
    );
  }
  const m = mask as { data?: ArrayLike<number | bigint>; dims?: unknown };
  const ok =
    typeof m === 'object' &&
    m !== null &&
    Array.isArray(m.dims) &&
    m.dims.length === 2 &&
    m.dims[0] === B &&
    m.dims[1] === N &&
    m.data !== undefined &&
    typeof m.data.length === 'number' &&
    m.data.length === B * N;
  if (!ok) {
    throw new XcodecInputError(
      `paddingMask must be { data, dims: [${B}, ${N}] } (batch, samples of input_values) with ${B * N} values of 0 or 1, as Xcodec2FeatureExtractor returns it`,
    );
  }
  const counts: number[] = [];
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let i = 0; i < N; i++) {
      const v = Number(m.data![b * N + i]);
      if (v !== 0 && v !== 1) throw new XcodecInputError(`paddingMask[${b}, ${i}] is ${describe(v)}; accepted: 0 or 1`);
      if (v === 1 && n !== i)
        throw new XcodecInputError(
          `paddingMask[${b}] has a 1 at ${i} after a 0: accepted: each item's ones first, then zeros (right padding)`,
        );
      n += v;
    }
    if (n === 0) throw new XcodecInputError(`paddingMask[${b}] has no real sample; accepted: at least one 1 per item`);
    counts.push(n);
  }
  return counts;
}

/** A batch item index for the trace calls: an integer in [0, B). */
export function checkItem(what: string, item: unknown, B: number): number {
  if (!Number.isInteger(item) || (item as number) < 0 || (item as number) >= B) {
    throw new XcodecInputError(
      `${what} item ${describe(item)} is not accepted; accepted: an integer from 0 to ${B - 1} (the batch item)`,
    );
  }
  return item as number;
}
