// config.json of model_type "xcodec2" (transformers' Xcodec2Config, HKUSTAudio/xcodec2-hf): missing
// keys take transformers' defaults, and a missing semantic_model_config the default Wav2Vec2-BERT cut
// to the 16 layers X-Codec 2 uses. Present keys must have the right type and range.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/configuration_xcodec2.py

import { XcodecConfigError } from '../errors.js';
import { CONFIG_LIMITS, type Json, Reader } from './config_reader.js';

/** `semantic_model_config`: the Wav2Vec2-BERT conformer whose last hidden state X-Codec 2 hears. */
export interface Wav2Vec2BertConfig {
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  featureProjectionInputDim: number;
  layerNormEps: number;
  /** Shaw's relative keys, clamped to [-left, right] */
  leftMaxPositionEmbeddings: number;
  rightMaxPositionEmbeddings: number;
  convDepthwiseKernelSize: number;
}

export interface Xcodec2Config {
  /** the decoder's width (and the acoustic encoder's output channels) */
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  attentionBias: boolean;
  encoderHiddenSize: number;
  downsamplingRatios: number[];
  sampleRate: number;
  /** hidden_size + the semantic hidden size: what fc_encoder and project_out produce */
  quantizationDim: number;
  quantizationLevels: number[];
  semantic: Wav2Vec2BertConfig;
  // derived as transformers derives them
  hopLength: number;
  nFft: number;
  codebookSize: number;
}

function parseWav2Vec2Bert(r: Reader, present: boolean): Wav2Vec2BertConfig {
  r.oneOf('model_type', 'wav2vec2-bert', ['wav2vec2-bert'] as const);
  r.oneOf('hidden_act', 'swish', ['swish', 'silu'] as const);
  r.oneOf('position_embeddings_type', 'relative_key', ['relative_key'] as const);
  for (const key of ['add_adapter', 'use_intermediate_ffn_before_adapter']) {
    if (r.bool(key, false)) r.fail(key, true, 'false (X-Codec 2 reads the last hidden state, with no adapter)');
  }
  const s: Wav2Vec2BertConfig = {
    hiddenSize: r.int('hidden_size', 1024),
    numHiddenLayers: r.int('num_hidden_layers', present ? 24 : 16, 1, CONFIG_LIMITS.count),
    numAttentionHeads: r.int('num_attention_heads', 16, 1, CONFIG_LIMITS.count),
    intermediateSize: r.int('intermediate_size', 4096),
    featureProjectionInputDim: r.int('feature_projection_input_dim', 160),
    layerNormEps: r.num('layer_norm_eps', 1e-5),
    leftMaxPositionEmbeddings: r.int('left_max_position_embeddings', 64, 0, CONFIG_LIMITS.kernel),
    rightMaxPositionEmbeddings: r.int('right_max_position_embeddings', 8, 0, CONFIG_LIMITS.kernel),
    convDepthwiseKernelSize: r.int('conv_depthwise_kernel_size', 31, 1, CONFIG_LIMITS.kernel),
  };
  if (s.hiddenSize % s.numAttentionHeads !== 0) {
    r.fail('hidden_size', s.hiddenSize, `a multiple of num_attention_heads (${s.numAttentionHeads})`);
  }
  return s;
}

/** Validates a parsed config.json object of model_type "xcodec2". `where` names the file in messages. */
export function parseXcodec2Config(json: Json, where: string): Xcodec2Config {
  const r = new Reader(json, where);
  r.oneOf('hidden_act', 'silu', ['silu'] as const);
  const semanticPresent = json.semantic_model_config != null;
  const semantic = parseWav2Vec2Bert(r.sub('semantic_model_config'), semanticPresent);
  const hiddenSize = r.int('hidden_size', 1024);
  const numAttentionHeads = r.int('num_attention_heads', 16, 1, CONFIG_LIMITS.count);
  const headDim = json.head_dim == null ? Math.floor(hiddenSize / numAttentionHeads) : r.int('head_dim', 64);
  const numKeyValueHeads =
    json.num_key_value_heads == null ? numAttentionHeads : r.int('num_key_value_heads', 16, 1, CONFIG_LIMITS.count);
  if (numKeyValueHeads !== numAttentionHeads) {
    // The port's rotary tables are [num_heads, head_dim] and broadcast against the key heads: only equal counts run.
    r.fail(
      'num_key_value_heads',
      numKeyValueHeads,
      `${numAttentionHeads} (num_attention_heads; X-Codec 2 has no grouped-query attention)`,
    );
  }
  if (headDim % 2 !== 0) r.fail('head_dim', headDim, 'an even integer (the rotary embedding pairs halves)');
  if (hiddenSize % 32 !== 0)
    r.fail('hidden_size', hiddenSize, 'a multiple of 32 (the ResNet blocks GroupNorm in 32 groups)');
  const rope = r.sub('rope_parameters');
  rope.oneOf('rope_type', 'default', ['default'] as const);
  const ropeTheta = rope.num('rope_theta', typeof json.rope_theta === 'number' ? json.rope_theta : 10000);
  const downsamplingRatios = r.ints('downsampling_ratios', [2, 2, 4, 4, 5], 1, CONFIG_LIMITS.stride);
  const quantizationLevels = r.ints('quantization_levels', [4, 4, 4, 4, 4, 4, 4, 4], 2, 256);
  const codebookSize = quantizationLevels.reduce((p, x) => p * x, 1);
  if (codebookSize > 2 ** 31 - 1)
    r.fail('quantization_levels', quantizationLevels, 'levels whose product fits an int32');
  const hopLength = downsamplingRatios.reduce((p, x) => p * x, 1);
  if (hopLength !== 320) {
    r.fail(
      'downsampling_ratios',
      downsamplingRatios,
      'ratios whose product is 320: the semantic path gives one frame per two 10 ms fbank frames at 16 kHz',
    );
  }
  const quantizationDim = r.int('quantization_dim', 2048);
  if (quantizationDim !== hiddenSize + semantic.hiddenSize) {
    r.fail(
      'quantization_dim',
      quantizationDim,
      `${hiddenSize + semantic.hiddenSize} (hidden_size + semantic_model_config.hidden_size: fc_encoder maps the concatenation to it)`,
    );
  }
  if (semantic.featureProjectionInputDim !== 160) {
    throw new XcodecConfigError(
      `${where} semantic_model_config: "feature_projection_input_dim" is ${semantic.featureProjectionInputDim}; accepted: 160 (80 mel bins x 2 stacked frames, what the feature extractor writes)`,
    );
  }
  return {
    hiddenSize,
    intermediateSize: r.int('intermediate_size', 4096),
    numHiddenLayers: r.int('num_hidden_layers', 12, 1, CONFIG_LIMITS.count),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: r.num('rms_norm_eps', 1e-6),
    ropeTheta,
    attentionBias: r.bool('attention_bias', false),
    encoderHiddenSize: r.int('encoder_hidden_size', 48),
    downsamplingRatios,
    sampleRate: r.int('sampling_rate', 16000, 16000, 16000),
    quantizationDim,
    quantizationLevels,
    semantic,
    hopLength,
    nFft: 4 * hopLength,
    codebookSize,
  };
}
