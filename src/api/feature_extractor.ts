// Equivalent of transformers' DacFeatureExtractor: mono float32 signals -> input_values [B, 1, N],
// padded on the right with padding_value to the longest signal (or max_length), then up to a multiple
// of hop_length; or truncated to max_length (rounded up to a multiple of hop_length).

import { XcodecConfigError, XcodecInputError, describe } from '../errors.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../io/resample.js';
import { type HubOptions, fileAccess } from '../checkpoint/file_access.js';

export interface FeatureExtractorConfig {
  featureSize: number;
  samplingRate: number;
  paddingValue: number;
  hopLength: number;
  paddingSide: 'right' | 'left';
}

export type Padding = boolean | 'longest' | 'max_length' | 'do_not_pad';

export interface FeatureExtractorCall {
  /** must equal the extractor's sampling rate when given (strongly recommended) */
  samplingRate?: number;
  /** default true ('longest') */
  padding?: Padding;
  truncation?: boolean;
  maxLength?: number;
}

export type Signal = Float32Array | Float64Array | number[];

export class XcodecFeatureExtractor {
  constructor(readonly config: FeatureExtractorConfig) {}

  /** Reads preprocessor_config.json from a checkpoint directory or Hub repository id (needs `xcodec-wasm/node`). */
  static async fromPretrained(dir: string, hub?: HubOptions): Promise<XcodecFeatureExtractor> {
    const files = fileAccess(`XcodecFeatureExtractor.fromPretrained(${describe(dir)})`);
    dir = await files.resolveModelDir(dir, hub);
    return XcodecFeatureExtractor.fromConfig(
      await files.readJson(dir, 'preprocessor_config.json'),
      `${dir.endsWith('/') ? dir : `${dir}/`}preprocessor_config.json`,
    );
  }

  static fromConfig(json: unknown, where = 'preprocessor_config.json'): XcodecFeatureExtractor {
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new XcodecConfigError(`${where}: expected a JSON object`);
    const j = json as Record<string, unknown>;
    // Bounded: padding to a hop of 1e308 samples would allocate without end.
    const int = (key: string, def: number, min = 1, max = 1 << 20) => {
      const v = j[key] ?? def;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
        throw new XcodecConfigError(`${where}: "${key}" is ${describe(v)}; accepted: an integer from ${min} to ${max}`);
      return v;
    };
    const featureSize = int('feature_size', 1);
    if (featureSize !== 1)
      throw new XcodecConfigError(
        `${where}: "feature_size" is ${featureSize}; accepted: 1 (mono; stereo is not supported by DacFeatureExtractor either)`,
      );
    const paddingValue = j.padding_value ?? 0;
    if (typeof paddingValue !== 'number' || !Number.isFinite(paddingValue))
      throw new XcodecConfigError(`${where}: "padding_value" is ${describe(paddingValue)}; accepted: a finite number`);
    const paddingSide = j.padding_side ?? 'right';
    if (paddingSide !== 'right' && paddingSide !== 'left')
      throw new XcodecConfigError(`${where}: "padding_side" is ${describe(paddingSide)}; accepted: "right", "left"`);
    return new XcodecFeatureExtractor({
      featureSize,
      samplingRate: int('sampling_rate', 16000, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
      paddingValue,
      hopLength: int('hop_length', 512, 1, 1 << 16),
      paddingSide,
    });
  }

  /** One signal or a batch of signals -> { inputValues: [B, 1, N] }. */
  call(
    rawAudio: Signal | Signal[],
    options: FeatureExtractorCall = {},
  ): { inputValues: { data: Float32Array; dims: number[] } } {
    const c = this.config;
    if (options.samplingRate !== undefined && options.samplingRate !== c.samplingRate) {
      throw new XcodecInputError(
        `audio sampled at ${options.samplingRate} Hz was given to a feature extractor for ${c.samplingRate} Hz; ` +
          `resample to ${c.samplingRate} Hz first (the CLI does this for WAV/FLAC files)`,
      );
    }
    let padding: Padding = options.padding ?? true;
    if (padding === 'longest') padding = true;
    if (padding === 'do_not_pad') padding = false;
    if (padding !== true && padding !== false && padding !== 'max_length') {
      throw new XcodecInputError(
        `padding ${describe(options.padding)} is not accepted; accepted: true, false, "longest", "max_length", "do_not_pad"`,
      );
    }
    const truncation = options.truncation ?? false;
    if (options.padding && truncation) {
      throw new XcodecInputError(
        'both padding and truncation were set; set only one (as DacFeatureExtractor requires)',
      );
    }
    const signals = toSignals(rawAudio);
    const maxLength = options.maxLength;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
      throw new XcodecInputError(`maxLength ${maxLength} is not accepted; accepted: an integer >= 1`);
    }
    if ((padding === 'max_length' || truncation) && maxLength === undefined) {
      throw new XcodecInputError(`${truncation ? 'truncation' : 'padding "max_length"'} needs maxLength`);
    }
    const hop = c.hopLength;
    const roundUp = (n: number) => Math.ceil(n / hop) * hop;
    if (truncation) {
      // transformers rounds max_length up to a multiple of hop_length before truncating
      const limit = roundUp(maxLength!);
      signals.forEach((s, i) => {
        if (s.length > limit) signals[i] = s.subarray(0, limit);
      });
    }
    const longest = Math.max(...signals.map((s) => s.length));
    let target: number;
    if (padding === 'max_length') {
      target = roundUp(maxLength!);
      if (longest > target) {
        throw new XcodecInputError(
          `a signal of ${longest} samples is longer than maxLength ${maxLength} (${target} after rounding to hop ${hop}); add truncation: true or raise maxLength`,
        );
      }
    } else if (padding === true || truncation) target = roundUp(longest);
    else target = longest;
    if (target === longest && !padding && !truncation && signals.some((s) => s.length !== target)) {
      throw new XcodecInputError(
        `signals of different lengths (${signals.map((s) => s.length).join(', ')}) cannot form one batch without padding; use padding: true`,
      );
    }
    const B = signals.length;
    const data = new Float32Array(B * target).fill(c.paddingValue);
    signals.forEach((s, b) => {
      const offset = c.paddingSide === 'right' ? 0 : target - s.length;
      data.set(s, b * target + offset);
    });
    return { inputValues: { data, dims: [B, 1, target] } };
  }
}

export function toSignals(raw: Signal | Signal[]): Float32Array[] {
  const isNumberArray = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === 'number');
  const one = (x: unknown, i: number): Float32Array => {
    if (x instanceof Float32Array) return x;
    if (x instanceof Float64Array || isNumberArray(x)) return Float32Array.from(x);
    throw new XcodecInputError(
      `raw audio item ${i} is not a mono signal (Float32Array, Float64Array or number[]); stereo is not accepted: downmix first`,
    );
  };
  let list: Float32Array[];
  if (raw instanceof Float32Array || raw instanceof Float64Array || isNumberArray(raw)) list = [one(raw, 0)];
  else if (Array.isArray(raw)) list = raw.map(one);
  else
    throw new XcodecInputError(
      'raw audio must be a signal or a list of signals (Float32Array, Float64Array or number[])',
    );
  if (list.length === 0) throw new XcodecInputError('raw audio is an empty batch; give at least one signal');
  list.forEach((s, i) => {
    if (s.length === 0) throw new XcodecInputError(`raw audio item ${i} is empty`);
    for (let k = 0; k < s.length; k++) {
      if (!Number.isFinite(s[k]))
        throw new XcodecInputError(`raw audio item ${i} has ${s[k]} at sample ${k}; all samples must be finite`);
    }
  });
  return list;
}
