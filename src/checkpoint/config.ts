// config.json -> a validated, fully-defaulted configuration. Missing keys take the defaults of
// transformers' XcodecConfig / DacConfig / HubertConfig / WavLMConfig; present keys must have the
// right type and range, else XcodecConfigError names the key, the value and what is accepted.

import { XcodecConfigError, XcodecInputError, describe } from '../errors.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../io/resample.js';
import { CONFIG_LIMITS, type Json, Reader } from './config_reader.js';
import { type Xcodec2Config, parseXcodec2Config } from './config_xcodec2.js';

export { CONFIG_LIMITS } from './config_reader.js';
export type { Xcodec2Config, Wav2Vec2BertConfig } from './config_xcodec2.js';

export type SemanticModelType = 'hubert' | 'wavlm';
export const SUPPORTED_SEMANTIC_MODELS: SemanticModelType[] = ['hubert', 'wavlm'];

/**
 * `model_type` of config.json: transformers' XcodecModel, or its subclass
 * HiggsAudioV2TokenizerModel (bosonai's Higgs Audio v2 tokenizer: 24 kHz, the semantic model fed a
 * 16 kHz resampling, RVQ with project_in/project_out).
 */
export type ModelType = 'xcodec' | 'higgs_audio_v2_tokenizer' | 'xcodec2';
export const SUPPORTED_MODEL_TYPES: ModelType[] = ['xcodec', 'higgs_audio_v2_tokenizer', 'xcodec2'];

export interface AcousticConfig {
  encoderHiddenSize: number;
  downsamplingRatios: number[];
  decoderHiddenSize: number;
  upsamplingRatios: number[];
  hiddenSize: number;
}

/** `semantic_model_config`: the HuBERT or WavLM semantic model. */
export interface SemanticModelConfig {
  modelType: SemanticModelType;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  featExtractNorm: 'group' | 'layer';
  convDim: number[];
  convStride: number[];
  convKernel: number[];
  convBias: boolean;
  numConvPosEmbeddings: number;
  numConvPosEmbeddingGroups: number;
  doStableLayerNorm: boolean;
  /** with doStableLayerNorm: the last hidden state is the normed one (transformers 4.x) rather than the last layer's output */
  tieLastHiddenStates: boolean;
  featProjLayerNorm: boolean;
  numBuckets: number;
  maxBucketDistance: number;
}

export interface XcodecConfig {
  modelType: ModelType;
  targetBandwidths: number[];
  sampleRate: number;
  kernelSize: number;
  channelRatios: number[];
  strides: number[];
  blockDilations: number[];
  unitKernelSize: number;
  codebookSize: number;
  codebookDim: number;
  acoustic: AcousticConfig;
  semantic: SemanticModelConfig;
  /** The semantic model's input rate: sample_rate for X-Codec, semantic_sample_rate for Higgs. */
  semanticSampleRate: number;
  /** Zeros padded on each side of the semantic model's input (at semanticSampleRate): hop/2 for X-Codec, 160 for Higgs. */
  semanticPadding: number;
  /** Every n-th semantic frame is kept: 1 for X-Codec; Higgs' semantic_downsample_factor. */
  semanticDownsampleFactor: number;
  /** Each quantizer projects to codebook_dim and back (project_in / project_out): Higgs. */
  quantizerProjections: boolean;
  // derived exactly as XcodecConfig's properties
  hopLength: number;
  frameRate: number;
  codebookNbits: number;
  hiddenSize: number;
  numQuantizers: number;
  /**
   * model_type "xcodec2" (X-Codec 2): its own configuration, which the model reads. The fields above
   * then describe what every codec shares: one quantizer of prod(quantization_levels) codes, hop 320,
   * hiddenSize = quantization_dim (what dequantize returns), target bandwidth 0.8 kbps; `acoustic`
   * holds the DAC encoder's sizes and `semantic` only the Wav2Vec2-BERT width.
   */
  xcodec2?: Xcodec2Config;
}

function parseAcoustic(r: Reader): AcousticConfig {
  const a: AcousticConfig = {
    encoderHiddenSize: r.int('encoder_hidden_size', 64),
    downsamplingRatios: r.ints('downsampling_ratios', [8, 5, 4, 2], 1, CONFIG_LIMITS.stride),
    decoderHiddenSize: r.int('decoder_hidden_size', 1024),
    upsamplingRatios: r.ints('upsampling_ratios', [8, 5, 4, 2], 1, CONFIG_LIMITS.stride),
    hiddenSize: r.int('hidden_size', 256),
  };
  r.oneOf('model_type', 'dac', ['dac'] as const);
  const product = (xs: number[]) => xs.reduce((p, x) => p * x, 1);
  const hop = product(a.downsamplingRatios);
  if (product(a.upsamplingRatios) !== hop) {
    r.fail(
      'upsampling_ratios',
      a.upsamplingRatios,
      `ratios whose product equals that of downsampling_ratios (${hop}): decode must give hop samples per frame`,
    );
  }
  // DacConfig stores hop_length beside the ratios; one that disagrees would mean another model.
  if (r.has('hop_length') && r.int('hop_length', hop, 1, Number.MAX_SAFE_INTEGER) !== hop) {
    r.fail('hop_length', r.raw('hop_length'), `${hop}, the product of downsampling_ratios`);
  }
  if (a.decoderHiddenSize % 2 ** a.upsamplingRatios.length !== 0) {
    throw new XcodecConfigError(
      `config.json acoustic_model_config: decoder_hidden_size ${a.decoderHiddenSize} must be divisible by 2^${a.upsamplingRatios.length} (one halving per upsampling ratio)`,
    );
  }
  return a;
}

function parseSemantic(r: Reader): SemanticModelConfig {
  const modelType = r.oneOf('model_type', 'hubert', SUPPORTED_SEMANTIC_MODELS);
  const s: SemanticModelConfig = {
    modelType,
    hiddenSize: r.int('hidden_size', 768),
    numHiddenLayers: r.int('num_hidden_layers', 12, 0, CONFIG_LIMITS.count),
    numAttentionHeads: r.int('num_attention_heads', 12, 1, CONFIG_LIMITS.count),
    intermediateSize: r.int('intermediate_size', 3072),
    layerNormEps: r.num('layer_norm_eps', 1e-5),
    featExtractNorm: r.oneOf('feat_extract_norm', 'group', ['group', 'layer'] as const),
    convDim: r.ints('conv_dim', [512, 512, 512, 512, 512, 512, 512]),
    convStride: r.ints('conv_stride', [5, 2, 2, 2, 2, 2, 2], 1, CONFIG_LIMITS.stride),
    convKernel: r.ints('conv_kernel', [10, 3, 3, 3, 3, 2, 2], 1, CONFIG_LIMITS.kernel),
    convBias: r.bool('conv_bias', false),
    numConvPosEmbeddings: r.int('num_conv_pos_embeddings', 128, 1, CONFIG_LIMITS.kernel),
    numConvPosEmbeddingGroups: r.int('num_conv_pos_embedding_groups', 16, 1, CONFIG_LIMITS.count),
    doStableLayerNorm: r.bool('do_stable_layer_norm', false),
    tieLastHiddenStates: r.bool('tie_last_hidden_states', false),
    // WavLM always normalises before its feature projection; HuBERT has the switch.
    featProjLayerNorm: modelType === 'wavlm' ? true : r.bool('feat_proj_layer_norm', true),
    numBuckets: r.int('num_buckets', 320, 1, 1 << 12),
    maxBucketDistance: r.int('max_bucket_distance', 800, 1, 1 << 20),
  };
  r.oneOf('hidden_act', 'gelu', ['gelu'] as const);
  r.oneOf('feat_extract_activation', 'gelu', ['gelu'] as const);
  if (r.bool('conv_pos_batch_norm', false)) {
    throw new XcodecConfigError(
      'config.json semantic_model_config: "conv_pos_batch_norm" is true; accepted: false (the published checkpoints use weight norm)',
    );
  }
  if (s.convDim.length !== s.convStride.length || s.convDim.length !== s.convKernel.length) {
    throw new XcodecConfigError(
      `config.json semantic_model_config: conv_dim, conv_stride and conv_kernel must have the same length; got ${s.convDim.length}, ${s.convStride.length}, ${s.convKernel.length}`,
    );
  }
  if (s.hiddenSize % s.numAttentionHeads !== 0) {
    throw new XcodecConfigError(
      `config.json semantic_model_config: hidden_size ${s.hiddenSize} is not divisible by num_attention_heads ${s.numAttentionHeads}`,
    );
  }
  if (s.hiddenSize % s.numConvPosEmbeddingGroups !== 0) {
    throw new XcodecConfigError(
      `config.json semantic_model_config: hidden_size ${s.hiddenSize} is not divisible by num_conv_pos_embedding_groups ${s.numConvPosEmbeddingGroups}`,
    );
  }
  if (modelType === 'wavlm' && s.numBuckets < 4) {
    throw new XcodecConfigError(
      `config.json semantic_model_config: num_buckets ${s.numBuckets} is too small; accepted: >= 4`,
    );
  }
  return s;
}

/** Validates a parsed config.json object. `where` names the file in messages. */
export function parseXcodecConfig(json: unknown, where = 'config.json'): XcodecConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new XcodecConfigError(
      `${where}: expected a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}`,
    );
  }
  const r = new Reader(json as Json, where);
  const modelType = r.oneOf('model_type', 'xcodec', SUPPORTED_MODEL_TYPES);
  if (modelType === 'xcodec2') return xcodec2Shared(parseXcodec2Config(json as Json, where));
  const higgs = modelType === 'higgs_audio_v2_tokenizer';
  const acoustic = parseAcoustic(r.sub('acoustic_model_config'));
  const semantic = parseSemantic(r.sub('semantic_model_config'));
  const targetBandwidths = r.nums('target_bandwidths', [0.5, 1, 1.5, 2, 4]);
  const sampleRate = r.int('sample_rate', higgs ? 24000 : 16000, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE);
  const codebookSize = r.int('codebook_size', 1024, 2);
  const hiddenSize = acoustic.hiddenSize + semantic.hiddenSize;
  const codebookDim =
    (json as Json).codebook_dim == null ? (higgs ? 64 : hiddenSize) : r.int('codebook_dim', hiddenSize);
  if (!higgs && codebookDim !== hiddenSize) {
    throw new XcodecConfigError(
      `${where}: "codebook_dim" is ${codebookDim}; accepted: ${hiddenSize} (acoustic hidden_size + semantic hidden_size; X-Codec quantises without projections)`,
    );
  }
  const strides = r.ints('strides', [1, 1], 1, CONFIG_LIMITS.stride);
  const channelRatios = r.nums('channel_ratios', [1, 1], 64);
  if (channelRatios.length !== strides.length) {
    throw new XcodecConfigError(
      `${where}: "channel_ratios" has ${channelRatios.length} entries and "strides" ${strides.length}; they must match`,
    );
  }
  const hopLength = acoustic.downsamplingRatios.reduce((p, x) => p * x, 1);
  let semanticSampleRate = sampleRate;
  let semanticPadding = hopLength >> 1;
  let semanticDownsampleFactor = 1;
  if (higgs) {
    semanticSampleRate = r.int('semantic_sample_rate', 16000);
    for (const [key, rate] of [
      ['sample_rate', sampleRate],
      ['semantic_sample_rate', semanticSampleRate],
    ] as const) {
      if (rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
        throw new XcodecConfigError(
          `${where}: "${key}" is ${rate}; accepted: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz (the semantic path resamples between the two)`,
        );
      }
    }
    const downsampleFactor = r.int('downsample_factor', 320);
    // transformers: int(hop_length / (sample_rate / semantic_sample_rate) / downsample_factor)
    semanticDownsampleFactor = Math.trunc(hopLength / (sampleRate / semanticSampleRate) / downsampleFactor);
    semanticPadding = 160;
    if (semanticDownsampleFactor < 1) {
      throw new XcodecConfigError(
        `${where}: hop_length ${hopLength} / (sample_rate ${sampleRate} / semantic_sample_rate ${semanticSampleRate}) / downsample_factor ${downsampleFactor} ` +
          `gives a semantic_downsample_factor of ${semanticDownsampleFactor}; accepted: values that make it at least 1`,
      );
    }
  } else {
    for (const key of ['semantic_sample_rate', 'downsample_factor']) {
      if ((json as Json)[key] !== undefined)
        throw new XcodecConfigError(
          `${where}: "${key}" belongs to model_type "higgs_audio_v2_tokenizer"; this config's model_type is "xcodec"`,
        );
    }
  }
  const frameRate = Math.ceil(sampleRate / hopLength);
  const codebookNbits = Math.ceil(Math.log2(codebookSize));
  // transformers takes the count from the last entry, which is the largest in every published config;
  // the largest is what a listed bandwidth can ask for, so a config listed out of order still works.
  const highest = Math.max(...targetBandwidths);
  const numQuantizers = Math.floor((1000 * highest) / (frameRate * codebookNbits));
  if (numQuantizers < 1) {
    throw new XcodecConfigError(
      `${where}: the highest target bandwidth ${highest} kbps gives no quantizer at ${frameRate} frames/s x ${codebookNbits} bits`,
    );
  }
  if (numQuantizers > CONFIG_LIMITS.count) {
    throw new XcodecConfigError(
      `${where}: the highest target bandwidth ${highest} kbps gives ${numQuantizers} quantizers; accepted: at most ${CONFIG_LIMITS.count}`,
    );
  }
  // The semantic and acoustic paths must give the same frames per second, or no input length encodes.
  const semanticHop =
    (semantic.convStride.reduce((p, x) => p * x, 1) *
      strides.reduce((p, x) => p * x, 1) *
      semanticDownsampleFactor *
      sampleRate) /
    semanticSampleRate;
  if (Math.abs(semanticHop - hopLength) > 1e-9 * hopLength) {
    throw new XcodecConfigError(
      `${where}: the semantic path advances ${semanticHop} input samples per frame (semantic_model_config.conv_stride x strides` +
        `${higgs ? ' x semantic_downsample_factor x sample_rate / semantic_sample_rate' : ''}) but the acoustic path ${hopLength} (the product of downsampling_ratios); accepted: configs where they agree`,
    );
  }
  return {
    modelType,
    targetBandwidths,
    sampleRate,
    kernelSize: r.int('kernel_size', 3, 1, CONFIG_LIMITS.kernel),
    channelRatios,
    strides,
    blockDilations: r.ints('block_dilations', [1, 1], 1, CONFIG_LIMITS.dilation),
    unitKernelSize: r.int('unit_kernel_size', 3, 1, CONFIG_LIMITS.kernel),
    codebookSize,
    codebookDim,
    acoustic,
    semantic,
    semanticSampleRate,
    semanticPadding,
    semanticDownsampleFactor,
    quantizerProjections: higgs,
    hopLength,
    frameRate,
    codebookNbits,
    hiddenSize,
    numQuantizers,
  };
}

/** transformers' rule: floor(bandwidth / (log2(codebook_size) * frame_rate / 1000)), at least 1. */
export function quantizersForBandwidth(cfg: XcodecConfig, bandwidth: number): number {
  const perQuantizer = (Math.log2(cfg.codebookSize) * cfg.frameRate) / 1000;
  return Math.max(1, Math.floor(bandwidth / perQuantizer));
}

/** Quantizers used at `bandwidth` (one of target_bandwidths; default the highest), or a typed error. */
export function numQuantizersForBandwidth(cfg: XcodecConfig, bandwidth: number | undefined): number {
  if (bandwidth === undefined) return quantizersForBandwidth(cfg, Math.max(...cfg.targetBandwidths));
  if (typeof bandwidth !== 'number' || !cfg.targetBandwidths.includes(bandwidth)) {
    throw new XcodecInputError(
      `bandwidth ${describe(bandwidth)} is not supported by this model; accepted (kbps): ${cfg.targetBandwidths.join(', ')}`,
    );
  }
  return quantizersForBandwidth(cfg, bandwidth);
}

/** @deprecated the former name of SemanticModelConfig */
export type SemanticConfig = SemanticModelConfig;

/** The shared fields of an X-Codec 2 config (see XcodecConfig.xcodec2). */
function xcodec2Shared(x: Xcodec2Config): XcodecConfig {
  const frameRate = x.sampleRate / x.hopLength;
  const codebookNbits = Math.ceil(Math.log2(x.codebookSize));
  const semantic = parseSemantic(
    new Reader(
      { hidden_size: x.semantic.hiddenSize, num_attention_heads: x.semantic.numAttentionHeads },
      'semantic_model_config',
    ),
  );
  return {
    modelType: 'xcodec2',
    targetBandwidths: [(frameRate * codebookNbits) / 1000],
    sampleRate: x.sampleRate,
    kernelSize: 3,
    channelRatios: [1],
    strides: [1],
    blockDilations: [1],
    unitKernelSize: 7,
    codebookSize: x.codebookSize,
    codebookDim: x.quantizationLevels.length,
    acoustic: {
      encoderHiddenSize: x.encoderHiddenSize,
      downsamplingRatios: x.downsamplingRatios,
      decoderHiddenSize: x.hiddenSize,
      upsamplingRatios: [...x.downsamplingRatios].reverse(),
      hiddenSize: x.hiddenSize,
    },
    semantic,
    semanticSampleRate: x.sampleRate,
    semanticPadding: x.hopLength >> 1,
    semanticDownsampleFactor: 2,
    quantizerProjections: true,
    hopLength: x.hopLength,
    frameRate,
    codebookNbits,
    hiddenSize: x.quantizationDim,
    numQuantizers: 1,
    xcodec2: x,
  };
}
