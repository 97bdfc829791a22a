// The semantic model (`semantic_model.*`): HuBERT or WavLM, of which X-Codec uses the mean of all
// hidden states. Feature encoder -> feature projection -> positional convolution -> transformer layers.
// WavLM adds a gated relative position bias to every layer's attention (wavlm.ts).

import type { SemanticModelConfig } from '../checkpoint/config.js';
import { XcodecConfigError } from '../errors.js';
import { add, scale } from '../nn/activation.js';
import { copyInto } from '../nn/layout.js';
import { type Linear, linear } from '../nn/linear.js';
import { type Norm, layerNormChannels } from '../nn/norm.js';
import type { Runtime, Tensor } from '../backend/runtime.js';
import type { Weights } from '../checkpoint/weights.js';
import { FeatureEncoder } from './feature_encoder.js';
import { loadLinear, loadNorm } from './layers.js';
import { type AttentionBias, EncoderLayer, PositionalConvEmbedding, SelfAttention } from './transformer.js';
import { loadWavLMBiases } from './wavlm.js';

export class SemanticModel {
  private constructor(
    readonly features: FeatureEncoder,
    private projNorm: Norm | null,
    private projection: Linear,
    private posConv: PositionalConvEmbedding,
    private encoderNorm: Norm,
    private layers: EncoderLayer[],
    private stable: boolean,
    /** stable layer norm: the mean takes the last layer's output normed (tie_last_hidden_states) or as it is */
    private normLastState: boolean,
    private layerBias: (i: number) => AttentionBias | undefined,
  ) {}

  /** HuBERT or WavLM, as `semantic_model_config.model_type` says. */
  static async load(vb: Weights, c: SemanticModelConfig): Promise<SemanticModel> {
    if (c.modelType !== 'hubert' && c.modelType !== 'wavlm') {
      throw new XcodecConfigError(
        `semantic_model_config.model_type "${c.modelType as string}" is not supported; accepted: "hubert", "wavlm"`,
      );
    }
    const features = await FeatureEncoder.load(vb.pp('feature_extractor'), c);
    const fp = vb.pp('feature_projection');
    const convOut = c.convDim[c.convDim.length - 1];
    const projNorm = c.featProjLayerNorm ? await loadNorm(fp.pp('layer_norm'), convOut, c.layerNormEps) : null;
    const projection = await loadLinear(fp.pp('projection'), convOut, c.hiddenSize);
    const enc = vb.pp('encoder');
    const posConv = await PositionalConvEmbedding.load(enc.pp('pos_conv_embed').pp('conv'), c);
    const encoderNorm = await loadNorm(enc.pp('layer_norm'), c.hiddenSize, c.layerNormEps);
    const layers = [];
    const biases: AttentionBias[] = [];
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const lv = enc.pp('layers').pp(i);
      const attention = await SelfAttention.load(lv.pp('attention'), c.hiddenSize, c.numAttentionHeads);
      if (c.modelType === 'wavlm') biases.push(await loadWavLMBiases(lv.pp('attention'), c, i, biases));
      layers.push(await EncoderLayer.load(lv, c, attention));
    }
    return new SemanticModel(
      features,
      projNorm,
      projection,
      posConv,
      encoderNorm,
      layers,
      c.doStableLayerNorm,
      c.doStableLayerNorm && c.tieLastHiddenStates,
      (i) => biases[i],
    );
  }

  get numLayers(): number {
    return this.layers.length;
  }

  /**
   * Inside a measuring pass (rt.measure): allocates what the layers hold at once for `frames` frames,
   * the hidden state and the running sum, and runs the layers on them. They attend over every frame
   * at once (as transformers does), so no window bounds this.
   */
  measureLayers(rt: Runtime, frames: number): void {
    const H = this.projection.outFeatures;
    const h = rt.tensor([H, frames]);
    this.runLayers(rt, h, rt.tensor([H, frames]), () => {});
  }

  /**
   * x: [1, N] audio -> mean of all hidden states, [H, frames]; `window`: see FeatureEncoder.forward.
   * `tick` is called after each window of the feature encoder and after each layer.
   */
  meanHiddenStates(rt: Runtime, x: Tensor, window = Infinity, tick: () => void = () => {}): Tensor {
    return rt.scope(() => {
      // Only h and the running sum stay through the layers: the features and their projection go.
      let h = rt.scope(() => {
        const f = this.features.forward(rt, x, window, tick);
        if (this.projNorm) layerNormChannels(rt, f, this.projNorm.gamma, this.projNorm.beta, this.projNorm.eps, true);
        return this.posConv.forward(rt, linear(rt, f, this.projection));
      });
      if (!this.stable) h = this.encoderLayerNorm(rt, h);
      const sum = rt.tensor(h.dims);
      this.runLayers(rt, h, sum, tick);
      return scale(rt, sum, 1 / (this.layers.length + 1), true);
    });
  }

  /** sum = h0 + h1 + ... over the layers (h0 = h, which each layer's output overwrites in turn). */
  private runLayers(rt: Runtime, h: Tensor, sum: Tensor, tick: () => void): void {
    for (let i = 0; i < this.layers.length; i++) {
      rt.scope(() => {
        let next = this.layers[i].forward(rt, h, this.layerBias(i));
        // transformers 5: with the stable layer norm the last hidden state is the last layer's output
        // before encoder.layer_norm, unless tie_last_hidden_states (4.x's normed state)
        if (this.normLastState && i === this.layers.length - 1) next = this.encoderLayerNorm(rt, next);
        add(rt, i === 0 ? h : sum, next, sum); // in layer order, as torch sums the stack
        // The next layer's input overwrites this one's, so memory stays flat across layers.
        copyInto(rt, h, next);
      });
      tick();
    }
    if (this.layers.length === 0) copyInto(rt, sum, h);
  }

  /** `encoder.layer_norm`, in place. */
  private encoderLayerNorm(rt: Runtime, t: Tensor): Tensor {
    return layerNormChannels(rt, t, this.encoderNorm.gamma, this.encoderNorm.beta, this.encoderNorm.eps, true);
  }
}
