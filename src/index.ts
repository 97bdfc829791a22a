export { XcodecModel } from './xcodec.js';
export type { FloatTensor, CodesTensor, CodesInput, EncodeOptions, DecodeOptions, LoadOptions, CheckpointSource } from './xcodec.js';
export { parseXcodecConfig, quantizersForBandwidth } from './config.js';
export type { XcodecConfig, AcousticConfig, SemanticConfig } from './config.js';
export { XcodecError, XcodecInputError, XcodecConfigError, XcodecCheckpointError, XcodecRuntimeError } from './errors.js';
export { XcodecFeatureExtractor } from './feature_extractor.js';
export type { FeatureExtractorConfig, FeatureExtractorCall, Padding } from './feature_extractor.js';
export { snapshotDownload } from './hub.js';
export type { HubOptions } from './hub.js';
