// X-Codec, top to bottom as the paper's diagram:
//   encode: audio -> semantic model (mean hidden states) -> semantic encoder ─┐
//           audio -> DAC acoustic encoder ────────────────────────────────────┴-> concat -> fc -> RVQ -> codes
//   decode: codes -> codebook sum -> fc2 -> DAC acoustic decoder -> audio

import { type XcodecConfig, quantizersForBandwidth } from '../config.js';
import { XcodecConfigError, XcodecInputError } from '../errors.js';
import { type Linear, linear, padTime } from '../ops.js';
import { type Runtime, type Tensor } from '../runtime.js';
import type { Weights } from '../weights.js';
import { DacDecoder, DacEncoder } from './dac.js';
import { SemanticTrunk, loadHubert, loadLinear } from './hubert.js';
import { ResidualVectorQuantizer } from './quantizer.js';
import { SemanticEncoder } from './semantic.js';
import { loadWavLM } from './wavlm.js';

/** What encode() produces for one batch item, before it leaves linear memory. */
export interface EncodeTrace {
  semanticFeatures: Tensor; // [H, T]
  eSemantic: Tensor; // [H', T]
  eAcoustic: Tensor; // [A, T]
  embeddings: Tensor; // [A + H', T]
}

export class XcodecCore {
  private constructor(
    readonly config: XcodecConfig,
    private semanticModel: SemanticTrunk,
    private semanticEncoder: SemanticEncoder,
    private acousticEncoder: DacEncoder,
    private fc: Linear,
    private quantizer: ResidualVectorQuantizer,
    private fc2: Linear,
    private acousticDecoder: DacDecoder,
  ) {}

  static async load(vb: Weights, c: XcodecConfig): Promise<XcodecCore> {
    const s = c.semantic;
    let semanticModel: SemanticTrunk;
    if (s.modelType === 'hubert') semanticModel = await loadHubert(vb.pp('semantic_model'), s);
    else if (s.modelType === 'wavlm') semanticModel = await loadWavLM(vb.pp('semantic_model'), s);
    else throw new XcodecConfigError(`semantic_model_config.model_type "${s.modelType as string}" is not supported; accepted: "hubert", "wavlm"`);
    const semanticEncoder = await SemanticEncoder.load(vb.pp('encoder_semantic'), c);
    const acousticEncoder = await DacEncoder.load(vb.pp('acoustic_encoder'), c.acoustic);
    const semOut = c.strides.length ? Math.trunc(s.hiddenSize * c.channelRatios[c.channelRatios.length - 1]) : s.hiddenSize;
    if (semOut + c.acoustic.hiddenSize !== c.hiddenSize) {
      throw new XcodecConfigError(`config.json: the semantic encoder ends with ${semOut} channels, but fc expects ${s.hiddenSize} (channel_ratios must end at 1)`);
    }
    const fc = await loadLinear(vb.pp('fc'), c.hiddenSize, c.hiddenSize);
    const quantizer = await ResidualVectorQuantizer.load(vb.pp('quantizer'), c.numQuantizers, c.codebookSize, c.codebookDim);
    const fc2 = await loadLinear(vb.pp('fc2'), c.hiddenSize, c.acoustic.hiddenSize);
    const acousticDecoder = await DacDecoder.load(vb.pp('acoustic_decoder'), c.acoustic);
    return new XcodecCore(c, semanticModel, semanticEncoder, acousticEncoder, fc, quantizer, fc2, acousticDecoder);
  }

  /** Frames for N input samples, or an error naming why this length cannot be encoded. */
  framesFor(n: number): { frames: number; repad: boolean } {
    const c = this.config;
    const pad = c.hopLength >> 1;
    const minimum = this.minimumSamples();
    const semantic = semanticFrames(c, n + 2 * pad);
    const acoustic = DacEncoder.frames(c.acoustic, n);
    if (semantic >= 1 && acoustic === semantic) return { frames: semantic, repad: false };
    if (semantic >= 1 && DacEncoder.frames(c.acoustic, n + 2 * pad) === semantic) return { frames: semantic, repad: true };
    throw new XcodecInputError(`audio of ${n} samples is too short to encode: at least ${minimum} samples are needed ` +
      `(${(minimum / c.sampleRate * 1000).toFixed(1)} ms at ${c.sampleRate} Hz)`);
  }

  minimumSamples(): number {
    for (let n = 1; n <= 4 * this.config.hopLength; n++) {
      const pad = this.config.hopLength >> 1;
      const s = semanticFrames(this.config, n + 2 * pad);
      if (s >= 1 && (DacEncoder.frames(this.config.acoustic, n) === s || DacEncoder.frames(this.config.acoustic, n + 2 * pad) === s)) return n;
    }
    return this.config.hopLength;
  }

  /**
   * One batch item: x [1, N] -> embeddings [D, T] (and the intermediates, for tests). Audio of more
   * than `window` frames runs its local stages (the semantic model's feature encoder and the acoustic
   * encoder) in windows, with the same result and memory that follows the window.
   */
  embed(rt: Runtime, x: Tensor, window = Infinity, tick: () => void = () => {}): EncodeTrace {
    const c = this.config;
    const pad = c.hopLength >> 1;
    const { repad } = this.framesFor(x.dims[1]);
    const padded = padTime(rt, x, pad, pad);
    const semanticFeatures = this.semanticModel.meanHiddenStates(rt, padded, window, tick);
    const eSemantic = this.semanticEncoder.forward(rt, semanticFeatures);
    // When the acoustic and semantic frame counts differ, X-Codec re-runs the acoustic encoder on the
    // input padded by hop/2 on each side.
    const eAcoustic = this.acousticEncoder.forward(rt, repad ? padded : x, window, DacEncoder.contextFrames(c.acoustic), tick);
    const T = eSemantic.dims[1];
    const A = eAcoustic.dims[0];
    const concat = rt.tensor([A + eSemantic.dims[0], T]);
    const f = rt.f32;
    f.copyWithin(concat.ptr >>> 2, eAcoustic.ptr >>> 2, (eAcoustic.ptr >>> 2) + A * T);
    f.copyWithin((concat.ptr >>> 2) + A * T, eSemantic.ptr >>> 2, (eSemantic.ptr >>> 2) + eSemantic.dims[0] * T);
    const embeddings = linear(rt, concat, this.fc);
    return { semanticFeatures, eSemantic, eAcoustic, embeddings };
  }

  /**
   * The steps embed() reports through `tick` for N samples, plus one for the quantizer: each window of
   * the feature encoder, each transformer layer, each window of the acoustic encoder.
   */
  encodeSteps(n: number, window: number): number {
    const c = this.config;
    const pad = c.hopLength >> 1;
    const { repad } = this.framesFor(n);
    const windows = (frames: number) => (frames <= window ? 1 : Math.ceil(frames / window));
    return windows(SemanticTrunk.frames(c.semantic, n + 2 * pad)) + c.semantic.numHiddenLayers +
      windows(DacEncoder.frames(c.acoustic, repad ? n + 2 * pad : n)) + 1;
  }

  numQuantizersFor(bandwidth: number | undefined): number {
    const c = this.config;
    if (bandwidth === undefined) return quantizersForBandwidth(c, c.targetBandwidths[c.targetBandwidths.length - 1]);
    if (typeof bandwidth !== 'number' || !c.targetBandwidths.includes(bandwidth)) {
      throw new XcodecInputError(`bandwidth ${JSON.stringify(bandwidth)} is not supported by this model; accepted (kbps): ${c.targetBandwidths.join(', ')}`);
    }
    return quantizersForBandwidth(c, bandwidth);
  }

  /** embeddings [D, T] -> codes (i32 [nq, T] at byte offset `codes`). */
  quantize(rt: Runtime, embeddings: Tensor, nq: number, codes: number): void {
    this.quantizer.encode(rt, embeddings, nq, codes);
  }

  get numQuantizers(): number {
    return this.quantizer.numQuantizers;
  }

  /** codes (i32 [nq, T] at `codes`) -> codebook sum [D, T]. */
  dequantize(rt: Runtime, codes: number, nq: number, T: number): Tensor {
    return this.quantizer.decode(rt, codes, nq, T);
  }

  /** Frames of context each side that a window of codes needs to decode exactly as in the whole sequence. */
  get decoderContextFrames(): number {
    return DacDecoder.contextFrames(this.config.acoustic);
  }

  /** codebook sum [D, T] -> audio [1, T * hop]. */
  synthesize(rt: Runtime, quantized: Tensor): Tensor {
    const m = rt.mark();
    return rt.keep(m, this.acousticDecoder.forward(rt, linear(rt, quantized, this.fc2)));
  }
}

function semanticFrames(c: XcodecConfig, n: number): number {
  let t = n;
  const s = c.semantic;
  for (let i = 0; i < s.convKernel.length; i++) t = Math.floor((t - s.convKernel[i]) / s.convStride[i]) + 1;
  // strided semantic-encoder blocks reduce further: conv(k = 2s, stride s, padding (k-1)/2)
  for (const st of c.strides) {
    const k = st === 1 ? 3 : 2 * st;
    t = Math.floor((t + 2 * ((k - 1) >> 1) - k) / st) + 1;
  }
  return t;
}
