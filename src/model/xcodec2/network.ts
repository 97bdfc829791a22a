// X-Codec 2 (transformers' Xcodec2Model, the Llasa codec), top to bottom:
//   encode: input features -> Wav2Vec2-BERT (last hidden state) -> semantic_adapter ─┐
//           audio -> acoustic encoder (DAC, anti-aliased SnakeBeta) ─────────────────┴-> concat -> fc_encoder -> FSQ -> codes
//   decode: codes -> FSQ codebook -> project_out -> Vocos decoder (ResNet, transformer, ISTFT) -> audio
// Files: w2v_bert.ts, acoustic_encoder.ts (with the semantic adapter), fsq.ts, vocos.ts, decoder_layer.ts.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

import type { XcodecConfig, Xcodec2Config } from '../../checkpoint/config.js';
import { numQuantizersForBandwidth } from '../../checkpoint/config.js';
import { XcodecInputError, XcodecRuntimeError } from '../../errors.js';
import { xcodec2Features } from '../../io/fbank.js';
import { type Runtime, type Tensor, mebibytes } from '../../backend/runtime.js';
import type { Weights } from '../../checkpoint/weights.js';
import { transpose } from '../../nn/layout.js';
import { type Linear, linear } from '../../nn/linear.js';
import { loadLinear } from '../layers.js';
import { type Components, type ConvAlgorithms, type EncodePlan, halfNotLoaded } from '../network.js';
import { type FrameWindow, largestFitting } from '../windows.js';
import { AcousticEncoder, SemanticAdapter } from './acoustic_encoder.js';
import { FiniteScalarQuantizer, type FsqTrace } from './fsq.js';
import { type DecoderTrace, VocosDecoder } from './vocos.js';
import { Wav2Vec2Bert } from './w2v_bert.js';

/** What embed() produces for one batch item (encodeTrace). */
export interface Xcodec2EncodeTrace {
  inputFeatures: Tensor; // [160, T]
  semanticHidden: Tensor; // [H, T]
  semanticAdapted: Tensor; // [H, T]
  acoustic: Tensor; // [hidden, T]
  embeddings: Tensor; // [quantization_dim, T]: fused, fc_encoder's output
}

interface EncoderParts {
  semantic: Wav2Vec2Bert;
  adapter: SemanticAdapter;
  acoustic: AcousticEncoder;
  fc: Linear;
}

export class Xcodec2Network {
  private constructor(
    readonly config: XcodecConfig,
    readonly components: Components,
    private encoderParts: EncoderParts | null,
    private quantizer: FiniteScalarQuantizer,
    private decoderPart: VocosDecoder | null,
  ) {}

  /** X-Codec 2's units are all direct convolutions: no Winograd path to choose. */
  readonly algorithms: ConvAlgorithms = { encoder: 'direct', decoder: 'direct' };

  private get x2(): Xcodec2Config {
    return this.config.xcodec2!;
  }

  static async load(vb: Weights, c: XcodecConfig, components: Components): Promise<Xcodec2Network> {
    const x = c.xcodec2!;
    let encoderParts: EncoderParts | null = null;
    if (components !== 'decoder') {
      const semantic = await Wav2Vec2Bert.load(vb.pp('semantic_encoder'), x.semantic);
      const adapter = await SemanticAdapter.load(vb.pp('semantic_adapter'), x.semantic.hiddenSize);
      const acoustic = await AcousticEncoder.load(vb.pp('acoustic_encoder'), x);
      const fc = await loadLinear(vb.pp('fc_encoder'), x.quantizationDim, x.quantizationDim);
      encoderParts = { semantic, adapter, acoustic, fc };
    }
    const quantizer = await FiniteScalarQuantizer.load(vb.pp('quantizer'), x, components !== 'decoder');
    let decoder: VocosDecoder | null = null;
    if (components !== 'encoder') {
      const prefix =
        vb.has('acoustic_decoder.fc.weight') || !vb.has('decoder.fc.weight') ? 'acoustic_decoder' : 'decoder';
      decoder = await VocosDecoder.load(vb.pp(prefix), x);
    }
    return new Xcodec2Network(c, components, encoderParts, quantizer, decoder);
  }

  private get encoder(): EncoderParts {
    return this.encoderParts ?? halfNotLoaded('encoder');
  }

  private get decoder(): VocosDecoder {
    return this.decoderPart ?? halfNotLoaded('decoder');
  }

  /** input_values as Xcodec2FeatureExtractor returns them: a multiple of hop (320) samples. */
  minimumSamples(): number {
    return this.x2.hopLength;
  }

  plan(rt: Runtime, n: number, window: number): EncodePlan {
    const hop = this.x2.hopLength;
    if (n < hop || n % hop !== 0) {
      throw new XcodecInputError(
        `X-Codec 2 encodes input_values of a multiple of ${hop} samples, as Xcodec2FeatureExtractor returns them ` +
          `(one zero sample appended, then padded); got ${n} samples: pass raw audio through Xcodec2FeatureExtractor first`,
      );
    }
    const { semantic } = this.encoder;
    const steps = semantic.numLayers + this.x2.downsamplingRatios.length + 1;
    return { samples: n, frames: n / hop, repad: false, window, steps, semanticBytes: this.semanticBytes(rt, n) };
  }

  /**
   * Bytes one item of n samples holds at its peak through embed() (the semantic model, which attends
   * over every frame, and the acoustic encoder, which runs whole), measured in a pass that computes nothing.
   */
  semanticBytes(rt: Runtime, n: number): number {
    const T = Math.floor(n / this.x2.hopLength);
    const plan = { samples: n, frames: T, repad: false, window: T, steps: 0, semanticBytes: 0 };
    return rt.measure(() => this.embed(rt, rt.tensor([1, n]), plan));
  }

  /** Refuses, before any work, audio whose encode cannot fit (X-Codec 2 encodes in one window). */
  checkSemanticRoom(rt: Runtime, plan: EncodePlan): void {
    const room = rt.memoryLimitBytes - rt.mark();
    if (plan.semanticBytes <= room) return;
    const hop = this.x2.hopLength;
    const fits = largestFitting(plan.samples / hop, (t) => this.semanticBytes(rt, t * hop) <= room) * hop;
    throw new XcodecRuntimeError(
      `audio of ${plan.samples} samples needs ${mebibytes(plan.semanticBytes)} of WebAssembly memory to encode ` +
        `(X-Codec 2's semantic model attends over all ${plan.frames} frames at once, and its encoders run whole), and this runtime has ${mebibytes(room)} free: ` +
        `encode at most ${fits} samples (${(fits / this.config.sampleRate).toFixed(1)} s) per call, splitting longer audio`,
    );
  }

  /**
   * One batch item: x [1, N] (its first `valid` samples real, the rest padding) -> fused embeddings
   * [quantization_dim, T] and the intermediates. The semantic model hears the fbank features of the
   * item's own hop-rounded length, as Xcodec2FeatureExtractor computes them per item.
   */
  embed(rt: Runtime, x: Tensor, plan: EncodePlan, tick: () => void = () => {}, valid = x.dims[1]): Xcodec2EncodeTrace {
    const c = this.x2;
    const T = plan.frames;
    const hop = c.hopLength;
    const validSamples = Math.min(Math.ceil(valid / hop) * hop, x.dims[1]);
    const validFrames = validSamples / hop;
    const { semantic, adapter, acoustic, fc } = this.encoder;
    const dim = 2 * 80;
    // [T, 160] with padded frames 1.0, as the feature extractor pads, then channel-major
    const rows = rt.tensor([T, dim]);
    if (!rt.isMeasuring) {
      const f = rt.f32;
      f.fill(1, rows.ptr >>> 2, (rows.ptr >>> 2) + T * dim);
      f.set(xcodec2Features(rt.view(x).subarray(0, validSamples), validSamples, hop), rows.ptr >>> 2);
    }
    const inputFeatures = transpose(rt, rows);
    const semanticHidden = semantic.forward(rt, inputFeatures, validFrames, tick);
    // both encoders write straight into their rows of the concatenation fc_encoder reads
    const H = c.semantic.hiddenSize;
    const concat = rt.tensor([c.quantizationDim, T]);
    const semanticAdapted = adapter.forward(rt, semanticHidden, { ptr: concat.ptr, dims: [H, T] });
    const acousticOut = acoustic.forward(rt, x, tick, { ptr: concat.ptr + 4 * H * T, dims: [c.hiddenSize, T] });
    const embeddings = linear(rt, concat, fc);
    return { inputFeatures, semanticHidden, semanticAdapted, acoustic: acousticOut, embeddings };
  }

  /**
   * embed()'s intermediates and the quantizer's (encodeTrace): fsqProjected and fsqPrerounding
   * [levels, T], and latents [quantization_dim, T] = project_out of the codes.
   */
  trace(rt: Runtime, x: Tensor, plan: EncodePlan, valid?: number): Record<string, Tensor> {
    const t = this.embed(rt, x, plan, () => {}, valid);
    const T = plan.frames;
    const n = this.x2.quantizationLevels.length;
    const fsq = { projected: new Float32Array(n * T), prerounding: new Float32Array(n * T) };
    const codes = rt.allocBytes(4 * T);
    this.quantize(rt, t.embeddings, 1, codes, fsq);
    const fsqProjected = rt.upload(fsq.projected, [n, T]);
    const fsqPrerounding = rt.upload(fsq.prerounding, [n, T]);
    return { ...t, fsqProjected, fsqPrerounding, latents: this.dequantize(rt, codes, 1, T) };
  }

  numQuantizersFor(bandwidth: number | undefined): number {
    return numQuantizersForBandwidth(this.config, bandwidth);
  }

  get numQuantizers(): number {
    return 1;
  }

  /** fused [D, T] -> indices (i32 [1, T] at `codes`). */
  quantize(rt: Runtime, embeddings: Tensor, _nq: number, codes: number, trace?: FsqTrace): void {
    this.quantizer.quantize(rt, embeddings, codes, trace);
  }

  /** indices (i32 [1, T] at `codes`) -> latents [quantization_dim, T]. */
  dequantize(rt: Runtime, codes: number, _nq: number, T: number): Tensor {
    return this.quantizer.dequantize(rt, codes, T);
  }

  /**
   * X-Codec 2 decodes every frame in one window: its transformer attends over the whole sequence, so
   * windows would not give decode()'s samples. Refuses, before any work, what cannot fit in memory.
   */
  decodeWindows(rt: Runtime, T: number, _window?: number): FrameWindow[] {
    const room = rt.memoryLimitBytes - rt.mark();
    const bytes = (t: number) => rt.measure(() => this.synthesize(rt, rt.tensor([this.x2.quantizationDim, t])));
    if (bytes(T) > room) {
      const fits = largestFitting(T, (t) => bytes(t) <= room);
      throw new XcodecRuntimeError(
        `decoding ${T} frames needs ${mebibytes(bytes(T))} of WebAssembly memory and this runtime has ${mebibytes(room)} free; ` +
          `X-Codec 2's decoder attends over the whole sequence, so it is not windowed: decode at most ${fits} frames ` +
          `(${(fits / this.config.frameRate).toFixed(1)} s) per call`,
      );
    }
    return [{ begin: 0, end: T, from: 0, to: T }];
  }

  /** latents [D, T] -> audio [1, T * hop]. */
  synthesize(rt: Runtime, latents: Tensor, _originFrame = 0, trace?: Partial<DecoderTrace>): Tensor {
    return this.decoder.forward(rt, latents, trace);
  }

  /** decode()'s intermediates: latents, the decoder's stages and the head's magnitude and phase. */
  decodeTrace(rt: Runtime, codes: number, _nq: number, T: number): Record<string, Tensor> {
    const latents = this.dequantize(rt, codes, 1, T);
    const t: Partial<DecoderTrace> = {};
    this.synthesize(rt, latents, 0, t);
    const half = this.x2.nFft / 2 + 1;
    const spectrum = t.spectrum!;
    const magnitude = rt.tensor([half, T]);
    if (!rt.isMeasuring) {
      const f = rt.f32;
      const m = magnitude.ptr >>> 2;
      for (let i = 0; i < half * T; i++) f[m + i] = Math.min(Math.fround(Math.exp(f[(spectrum.ptr >>> 2) + i])), 100);
    }
    const phase: Tensor = { ptr: spectrum.ptr + 4 * half * T, dims: [half, T] };
    const { prior, transformer, norm, audio } = t as DecoderTrace;
    return { latents, prior, transformer, norm, magnitude, phase, audio };
  }

  private notStreamable(): never {
    throw new XcodecInputError(
      "X-Codec 2's decoder attends over the whole sequence (its transformer is not causal), so no stream can give decode()'s samples; accepted: decode() of all the codes",
    );
  }

  get decoderContextFrames(): number {
    return Number.POSITIVE_INFINITY;
  }

  get streamLookaheadFrames(): number {
    return this.notStreamable();
  }

  decodeStream(): never {
    return this.notStreamable();
  }

  streamInput(): never {
    return this.notStreamable();
  }
}
