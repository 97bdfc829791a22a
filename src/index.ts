// The package entry: browser-safe (no node: import is reachable from here; a test bundles it for the
// browser to prove it). Loading from a directory or the Hub is in `xcodec-wasm/node`; WAV, FLAC, .npy
// and resampling helpers are in `xcodec-wasm/audio`.
export { XcodecModel } from './api/xcodec_model.js';
export { XcodecModelSync } from './api/xcodec_model_sync.js';
export type {
  FloatTensor,
  CodesTensor,
  CodesInput,
  CodesArgument,
  EncodeOptions,
  DecodeOptions,
  StreamDecodeOptions,
  CodeSource,
  LoadOptions,
  ModelLoadOptions,
  TransferOption,
} from './api/options.js';
export type { HubOptions } from './checkpoint/file_access.js';
export type { CheckpointSource } from './checkpoint/weights.js';
export type { Tuning, TuningOptions } from './backend/runtime.js';
export { parseXcodecConfig, quantizersForBandwidth } from './checkpoint/config.js';
export type {
  XcodecConfig,
  AcousticConfig,
  SemanticModelConfig,
  SemanticConfig,
  Xcodec2Config,
  Wav2Vec2BertConfig,
} from './checkpoint/config.js';
export {
  XcodecError,
  XcodecInputError,
  XcodecConfigError,
  XcodecCheckpointError,
  XcodecRuntimeError,
} from './errors.js';
export { XcodecFeatureExtractor } from './api/feature_extractor.js';
export { Xcodec2FeatureExtractor, type Xcodec2FeatureExtractorConfig } from './api/xcodec2_feature_extractor.js';
export {
  toYueTokens,
  fromYueTokens,
  YUE_XCODEC_OFFSET,
  YUE_CODEBOOK_SIZE,
  YUE_NUM_CODEBOOKS,
  YUE_SPECIAL_TOKENS,
} from './tokens/yue.js';
export type { YueOptions } from './tokens/yue.js';
export { revertDelayPattern, revertDelayPatternStream } from './tokens/delay.js';
export { toLlasaTokens, fromLlasaTokens, LLASA_CODEBOOK_SIZE } from './tokens/llasa.js';
export type { DelayedCodes } from './tokens/delay.js';
export type { FeatureExtractorConfig, FeatureExtractorCall, Padding } from './api/feature_extractor.js';
export type { Components, ConvAlgorithms } from './model/network.js';
export type { ConvAlgorithm } from './model/dac.js';
