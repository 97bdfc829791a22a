// X-Codec, top to bottom as the paper's diagram:
//   encode: audio -> semantic model (mean hidden states) -> semantic encoder ─┐
//           audio -> DAC acoustic encoder ────────────────────────────────────┴-> concat -> fc -> RVQ -> codes
//   decode: codes -> codebook sum -> fc2 -> DAC acoustic decoder -> audio
// Higgs Audio v2 (the same network): the semantic model hears the audio resampled to 16 kHz and
// padded by 160 zeros, keeps every semantic_downsample_factor-th frame of its mean hidden states, and
// the RVQ projects in and out of each codebook (quantizer.ts).

import { type XcodecConfig, numQuantizersForBandwidth } from '../checkpoint/config.js';
import { XcodecConfigError, XcodecInputError, XcodecRuntimeError } from '../errors.js';
import { everyNthColumn, padTime, resampleTime } from '../nn/layout.js';
import { type Linear, linear } from '../nn/linear.js';
import { resampledLength } from '../io/resample.js';
import { type Runtime, type Tensor, mebibytes } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { type ConvAlgorithm, DacDecoder, DacEncoder } from './dac.js';
import { DecoderStream } from './dac_stream.js';
import { loadLinear } from './layers.js';
import { ResidualVectorQuantizer } from './quantizer.js';
import { SemanticEncoder } from './semantic_encoder.js';
import { SemanticModel } from './semantic_model.js';
import { type FrameWindow, frameWindows, largestFitting, windowCount } from './windows.js';

/** What encode() produces for one batch item, before it leaves linear memory. */
export interface EncodeTrace {
  semanticInput: Tensor; // [1, N'] the semantic model's input before its padding (Higgs: resampled)
  semanticFeatures: Tensor; // [H, T]
  eSemantic: Tensor; // [H', T]
  eAcoustic: Tensor; // [A, T]
  embeddings: Tensor; // [A + H', T]
}

/** How one batch item of N samples is encoded, worked out once per call (before any WebAssembly runs). */
export interface EncodePlan {
  samples: number;
  /** code frames */
  frames: number;
  /** the acoustic encoder runs on the input padded by hop/2 on each side (frame counts differ otherwise) */
  repad: boolean;
  /** frames per window of the convolutional stages */
  window: number;
  /** progress steps: each window of either encoder, each transformer layer, the quantizer */
  steps: number;
  /** bytes one batch item holds at least while the semantic model's layers run (see semanticBytes) */
  semanticBytes: number;
}

/** Which halves of the network a model loads: a TTS front end that only decodes skips the semantic model and both encoders. */
export type Components = 'all' | 'encoder' | 'decoder';

/** The convolution algorithm of each acoustic half's residual units. */
export interface ConvAlgorithms {
  encoder: ConvAlgorithm;
  decoder: ConvAlgorithm;
}
export const COMPONENTS: readonly Components[] = ['all', 'encoder', 'decoder'];

interface EncoderParts {
  semanticModel: SemanticModel;
  semanticEncoder: SemanticEncoder;
  acousticEncoder: DacEncoder;
  fc: Linear;
}

interface DecoderParts {
  fc2: Linear;
  acousticDecoder: DacDecoder;
}

/** The typed error of a call that needs the half of the network `components` left out. */
export function halfNotLoaded(half: 'encoder' | 'decoder'): never {
  const [loaded, verb, other] = half === 'encoder' ? ['decoder', 'encode', 'decode'] : ['encoder', 'decode', 'encode'];
  throw new XcodecInputError(
    `this model was loaded with components: '${loaded}', so it cannot ${verb}; accepted: ${other} and dequantize (load with components 'all' or '${half}' to ${verb})`,
  );
}

export class XcodecNetwork {
  private constructor(
    readonly config: XcodecConfig,
    readonly components: Components,
    private encoderParts: EncoderParts | null,
    private quantizer: ResidualVectorQuantizer,
    private decoderParts: DecoderParts | null,
    /** what each acoustic half's residual units were loaded as */
    readonly algorithms: ConvAlgorithms,
  ) {}

  /** The checkpoint's tensors for `components` (the quantizer always: encode and decode both need it). */
  static async load(
    vb: Weights,
    c: XcodecConfig,
    components: Components,
    algorithms: ConvAlgorithms,
  ): Promise<XcodecNetwork> {
    let encoderParts: EncoderParts | null = null;
    if (components !== 'decoder') {
      const semanticModel = await SemanticModel.load(vb.pp('semantic_model'), c.semantic);
      const semanticEncoder = await SemanticEncoder.load(vb.pp('encoder_semantic'), c);
      const acousticEncoder = await DacEncoder.load(vb.pp('acoustic_encoder'), c.acoustic, algorithms.encoder);
      if (semanticEncoder.channels + c.acoustic.hiddenSize !== c.hiddenSize) {
        throw new XcodecConfigError(
          `config.json: the semantic encoder ends with ${semanticEncoder.channels} channels, but fc expects ${c.semantic.hiddenSize} (channel_ratios must end at 1)`,
        );
      }
      const fc = await loadLinear(vb.pp('fc'), c.hiddenSize, c.hiddenSize);
      encoderParts = { semanticModel, semanticEncoder, acousticEncoder, fc };
    }
    const quantizer = await ResidualVectorQuantizer.load(
      vb.pp('quantizer'),
      c.numQuantizers,
      c.codebookSize,
      c.hiddenSize,
      c.codebookDim,
      c.quantizerProjections,
    );
    let decoderParts: DecoderParts | null = null;
    if (components !== 'encoder') {
      const fc2 = await loadLinear(vb.pp('fc2'), c.hiddenSize, c.acoustic.hiddenSize);
      decoderParts = {
        fc2,
        acousticDecoder: await DacDecoder.load(vb.pp('acoustic_decoder'), c.acoustic, algorithms.decoder),
      };
    }
    return new XcodecNetwork(c, components, encoderParts, quantizer, decoderParts, algorithms);
  }

  private get encoder(): EncoderParts {
    return this.encoderParts ?? halfNotLoaded('encoder');
  }

  private get decoder(): DecoderParts {
    return this.decoderParts ?? halfNotLoaded('decoder');
  }

  /** The semantic model (for tests that need its frame arithmetic). */
  get semanticModel(): SemanticModel {
    return this.encoder.semanticModel;
  }

  /** Samples of the semantic model's input (padded) for n input samples. */
  private semanticInputLength(n: number): number {
    const c = this.config;
    return resampledLength(n, c.sampleRate, c.semanticSampleRate) + 2 * c.semanticPadding;
  }

  /** Frames of the semantic model's feature encoder (what its layers attend over) for n input samples. */
  private semanticModelFrames(n: number): number {
    return this.encoder.semanticModel.features.frames(this.semanticInputLength(n));
  }

  /** Frames of the semantic path for n input samples: the feature encoder, the downsampling, the semantic encoder. */
  private semanticFrames(n: number): number {
    const features = this.semanticModelFrames(n);
    return this.encoder.semanticEncoder.frames(Math.ceil(features / this.config.semanticDownsampleFactor));
  }

  /** Whether the acoustic encoder runs on the input padded by hop/2 (null: neither length gives the semantic frame count). */
  private acousticRepad(n: number, frames: number): boolean | null {
    if (frames < 1) return null;
    const pad = this.config.hopLength >> 1;
    if (this.encoder.acousticEncoder.frames(n) === frames) return false;
    if (this.encoder.acousticEncoder.frames(n + 2 * pad) === frames) return true;
    return null;
  }

  /** The encode plan for N samples, or an XcodecInputError naming why this length cannot be encoded. */
  plan(rt: Runtime, n: number, window: number): EncodePlan {
    const pad = this.config.hopLength >> 1;
    const frames = this.semanticFrames(n);
    const repad = this.acousticRepad(n, frames);
    if (repad === null) {
      const minimum = this.minimumSamples();
      throw new XcodecInputError(
        `audio of ${n} samples is too short to encode: at least ${minimum} samples are needed ` +
          `(${((minimum / this.config.sampleRate) * 1000).toFixed(1)} ms at ${this.config.sampleRate} Hz)`,
      );
    }
    const { semanticModel, acousticEncoder } = this.encoder;
    const steps =
      windowCount(this.semanticModelFrames(n), window) +
      semanticModel.numLayers +
      windowCount(acousticEncoder.frames(repad ? n + 2 * pad : n), window) +
      1;
    return { samples: n, frames, repad, window, steps, semanticBytes: this.semanticBytes(rt, n) };
  }

  /**
   * Bytes above a call's start that one item of n samples holds at least while the semantic model's
   * layers run, measured (rt.measure): the uploaded input, the semantic model's padded input, then
   * the layers on their hidden state and running sum.
   */
  semanticBytes(rt: Runtime, n: number): number {
    return rt.measure(() => {
      const input = rt.tensor([1, n]); // the uploaded item (XcodecModelSync)
      this.semanticPadded(rt, input);
      this.encoder.semanticModel.measureLayers(rt, this.semanticModelFrames(n));
    });
  }

  /**
   * Refuses, before any work, audio whose semantic model cannot fit in the runtime's memory: its layers
   * attend over the whole input, so windowFrames does not help, and the call would otherwise fail only
   * after the feature encoder's windows (minutes at full size).
   */
  checkSemanticRoom(rt: Runtime, plan: EncodePlan): void {
    const room = rt.memoryLimitBytes - rt.mark();
    if (plan.semanticBytes <= room) return;
    const fits = largestFitting(plan.samples, (n) => this.semanticBytes(rt, n) <= room);
    const rate = this.config.sampleRate;
    const duration = (samples: number) =>
      samples >= 60 * rate ? `${(samples / rate / 60).toFixed(1)} min` : `${(samples / rate).toFixed(1)} s`;
    throw new XcodecRuntimeError(
      `audio of ${duration(plan.samples)} (${plan.samples} samples) needs at least ${mebibytes(plan.semanticBytes)} ` +
        `of WebAssembly memory for the semantic model, whose layers attend over all ${this.semanticModelFrames(plan.samples)} frames at once (as in transformers; ` +
        `windowFrames does not split them), and this runtime has ${mebibytes(room)} free of ${mebibytes(rt.memoryLimitBytes)}: ` +
        `encode at most ${duration(fits)} (${fits} samples) per call, splitting longer audio`,
    );
  }

  minimumSamples(): number {
    for (let n = 1; n <= 4 * this.config.hopLength; n++)
      if (this.acousticRepad(n, this.semanticFrames(n)) !== null) return n;
    return this.config.hopLength;
  }

  /**
   * One batch item: x [1, N] -> embeddings [D, T] (and the intermediates, for tests). Audio of more
   * than plan.window frames runs its local stages (the semantic model's feature encoder and the
   * acoustic encoder) in windows, with the same result and memory that follows the window. Both
   * encoders write straight into their rows of the concatenation that fc reads.
   */
  embed(rt: Runtime, x: Tensor, plan: EncodePlan, tick: () => void = () => {}, _valid?: number): EncodeTrace {
    const c = this.config;
    const pad = c.hopLength >> 1;
    const sp = c.semanticPadding;
    const semanticPadded = this.semanticPadded(rt, x);
    const semanticInput: Tensor = { ptr: semanticPadded.ptr + 4 * sp, dims: [1, semanticPadded.dims[1] - 2 * sp] };
    const T = plan.frames;
    const A = c.acoustic.hiddenSize;
    const { semanticModel, semanticEncoder, acousticEncoder, fc } = this.encoder;
    let semanticFeatures = semanticModel.meanHiddenStates(rt, semanticPadded, plan.window, tick);
    if (c.semanticDownsampleFactor > 1)
      semanticFeatures = everyNthColumn(rt, semanticFeatures, c.semanticDownsampleFactor);
    // The concatenation comes after the semantic model: its peak (the attention) is then not on top of it.
    const concat = rt.tensor([A + semanticEncoder.channels, T]);
    const eAcoustic: Tensor = { ptr: concat.ptr, dims: [A, T] };
    const eSemantic: Tensor = { ptr: concat.ptr + 4 * A * T, dims: [semanticEncoder.channels, T] };
    semanticEncoder.forward(rt, semanticFeatures, eSemantic);
    // When the acoustic and semantic frame counts differ, X-Codec re-runs the acoustic encoder on the
    // input padded by hop/2 on each side.
    const acousticInput = !plan.repad
      ? x
      : c.semanticSampleRate === c.sampleRate && sp === pad
        ? semanticPadded
        : padTime(rt, x, pad, pad);
    acousticEncoder.forward(
      rt,
      acousticInput,
      plan.window,
      DacEncoder.contextFrames(c.acoustic, acousticEncoder.algorithm),
      tick,
      eAcoustic,
    );
    const embeddings = linear(rt, concat, fc);
    return { semanticInput, semanticFeatures, eSemantic, eAcoustic, embeddings };
  }

  /** embed()'s intermediates (encodeTrace). */
  trace(rt: Runtime, x: Tensor, plan: EncodePlan, _valid?: number): EncodeTrace {
    return this.embed(rt, x, plan);
  }

  /** The semantic model's input: x padded (Higgs: resampled to the semantic rate first). */
  private semanticPadded(rt: Runtime, x: Tensor): Tensor {
    const c = this.config;
    const sp = c.semanticPadding;
    return c.semanticSampleRate === c.sampleRate
      ? padTime(rt, x, sp, sp)
      : resampleTime(rt, x, c.sampleRate, c.semanticSampleRate, sp, sp);
  }

  numQuantizersFor(bandwidth: number | undefined): number {
    return numQuantizersForBandwidth(this.config, bandwidth);
  }

  /** embeddings [D, T] -> codes (i32 [nq, T] at byte offset `codes`); embeddings become the final residual. */
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
    return DacDecoder.contextFrames(this.config.acoustic, this.decoder.acousticDecoder.algorithm);
  }

  /** The windows decode() walks for T frames of codes (each with the decoder's context). */
  decodeWindows(_rt: Runtime, T: number, window: number): FrameWindow[] {
    return frameWindows(T, window, this.decoderContextFrames);
  }

  /** A stream through the decoder, a chunk of frames at a time (streamInput() makes each chunk's input). */
  decodeStream(): DecoderStream {
    return DecoderStream.open(this.decoder.acousticDecoder.layers);
  }

  /** codebook sum [D, n] -> a decoder stream's input for those frames. */
  streamInput(rt: Runtime, quantized: Tensor): Tensor {
    return linear(rt, quantized, this.decoder.fc2);
  }

  /** Frames after a frame that a stream needs before that frame's samples are final. */
  get streamLookaheadFrames(): number {
    this.lookahead ??= DecoderStream.lookaheadFrames(this.decoder.acousticDecoder.layers, this.config.hopLength);
    return this.lookahead;
  }
  private lookahead: number | undefined;

  /** decode()'s intermediates for codes (i32 [nq, T] at `codes`): the codebook sum and the audio. */
  decodeTrace(rt: Runtime, codes: number, nq: number, T: number): Record<string, Tensor> {
    const quantized = this.dequantize(rt, codes, nq, T);
    return { quantized, audio: this.synthesize(rt, quantized) };
  }

  /** codebook sum [D, T] -> audio [1, T * hop]; originFrame: the first frame's index in the whole sequence. */
  synthesize(rt: Runtime, quantized: Tensor, originFrame = 0): Tensor {
    const { acousticDecoder, fc2 } = this.decoder;
    return rt.scope(() => acousticDecoder.forward(rt, linear(rt, quantized, fc2), originFrame));
  }
}
