// Xcodec2FeatureExtractor: raw 16 kHz audio -> what Xcodec2Model.encode takes, equal to transformers':
// one zero sample appended to each signal, right-padded to a multiple of hop (input_values,
// padding_mask), and each item's Kaldi fbank features (80 bins, 2 frames stacked; input_features,
// padded with padding_value, and input_features_mask). encode computes the features itself from
// input_values and paddingMask; they are returned here for inspection and tests.
//   const fe = await Xcodec2FeatureExtractor.fromPretrained(dir);
//   const { inputValues, paddingMask } = fe.call(signals, { samplingRate: 16000 });
//   const { audioCodes } = model.encode(inputValues, { paddingMask });
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/feature_extraction_xcodec2.py

import { XcodecConfigError, XcodecInputError, describe } from '../errors.js';
import { type HubOptions, fileAccess } from '../checkpoint/file_access.js';
import { xcodec2Features } from '../io/fbank.js';
import { type Signal, toSignals } from './feature_extractor.js';

export interface Xcodec2FeatureExtractorConfig {
  samplingRate: number;
  hopLength: number;
  /** stacked fbank frames per feature row */
  stride: number;
  numMelBins: number;
  paddingValue: number;
}

type Ints = { data: BigInt64Array; dims: number[] };
type Floats = { data: Float32Array; dims: number[] };

export class Xcodec2FeatureExtractor {
  constructor(readonly config: Xcodec2FeatureExtractorConfig) {}

  /** Reads preprocessor_config.json from a checkpoint directory or Hub repository id (needs `xcodec-wasm/node`). */
  static async fromPretrained(dir: string, hub?: HubOptions): Promise<Xcodec2FeatureExtractor> {
    const files = fileAccess(`Xcodec2FeatureExtractor.fromPretrained(${describe(dir)})`);
    dir = await files.resolveModelDir(dir, hub);
    return Xcodec2FeatureExtractor.fromConfig(await files.readJson(dir, 'preprocessor_config.json'));
  }

  /** The fbank is Kaldi's at 16 kHz with 25 ms / 10 ms frames: only the values X-Codec 2 uses are accepted. */
  static fromConfig(json: unknown, where = 'preprocessor_config.json'): Xcodec2FeatureExtractor {
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new XcodecConfigError(`${where}: expected a JSON object`);
    const j = json as Record<string, unknown>;
    const fixed = (key: string, value: number | string) => {
      const v = j[key] ?? value;
      if (v !== value)
        throw new XcodecConfigError(`${where}: "${key}" is ${describe(v)}; accepted: ${describe(value)}`);
    };
    fixed('feature_extractor_type', 'Xcodec2FeatureExtractor');
    fixed('sampling_rate', 16000);
    fixed('hop_length', 320);
    fixed('stride', 2);
    fixed('num_mel_bins', 80);
    fixed('frame_length', 400);
    fixed('frame_shift', 160);
    fixed('padding_side', 'right');
    const paddingValue = j.padding_value ?? 1;
    if (typeof paddingValue !== 'number' || !Number.isFinite(paddingValue))
      throw new XcodecConfigError(`${where}: "padding_value" is ${describe(paddingValue)}; accepted: a finite number`);
    return new Xcodec2FeatureExtractor({
      samplingRate: 16000,
      hopLength: 320,
      stride: 2,
      numMelBins: 80,
      paddingValue,
    });
  }

  /** One signal or a batch -> input_values [B, 1, N], padding_mask [B, N], input_features [B, T, 160], input_features_mask [B, T]. */
  call(
    rawAudio: Signal | Signal[],
    options: { samplingRate?: number } = {},
  ): { inputValues: Floats; paddingMask: Ints; inputFeatures: Floats; inputFeaturesMask: Ints } {
    const c = this.config;
    if (options.samplingRate !== undefined && options.samplingRate !== c.samplingRate) {
      throw new XcodecInputError(
        `audio sampled at ${options.samplingRate} Hz was given to a feature extractor for ${c.samplingRate} Hz; ` +
          `resample to ${c.samplingRate} Hz first (loadAudio does)`,
      );
    }
    const signals = toSignals(rawAudio);
    const B = signals.length;
    const hop = c.hopLength;
    const N = Math.ceil((Math.max(...signals.map((s) => s.length)) + 1) / hop) * hop;
    const T = N / hop;
    const width = c.numMelBins * c.stride;
    const inputValues = new Float32Array(B * N);
    const paddingMask = new BigInt64Array(B * N);
    const inputFeatures = new Float32Array(B * T * width).fill(c.paddingValue);
    const inputFeaturesMask = new BigInt64Array(B * T);
    signals.forEach((s, b) => {
      inputValues.set(s, b * N);
      paddingMask.fill(1n, b * N, b * N + s.length + 1);
      const valid = Math.ceil((s.length + 1) / hop) * hop;
      inputFeatures.set(xcodec2Features(inputValues.subarray(b * N, b * N + valid), valid, hop), b * T * width);
      inputFeaturesMask.fill(1n, b * T, b * T + valid / hop);
    });
    return {
      inputValues: { data: inputValues, dims: [B, 1, N] },
      paddingMask: { data: paddingMask, dims: [B, N] },
      inputFeatures: { data: inputFeatures, dims: [B, T, width] },
      inputFeaturesMask: { data: inputFeaturesMask, dims: [B, T] },
    };
  }
}
