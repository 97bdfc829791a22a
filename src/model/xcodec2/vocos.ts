// X-Codec 2's decoder (`acoustic_decoder`), a Vocos backbone with an ISTFT head:
//   latents -> fc -> embed (conv k7) -> prior_net (2 ResNet blocks) -> transformer layers
//           -> post_net (2 ResNet blocks) -> LayerNorm -> head: linear -> ISTFT -> audio
// Activations are channel-major [C, T] like everything else.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

import type { Xcodec2Config } from '../../checkpoint/config.js';
import { XcodecInputError } from '../../errors.js';
import type { Runtime, Tensor } from '../../backend/runtime.js';
import type { Weights } from '../../checkpoint/weights.js';
import { conv1d } from '../../nn/conv.js';
import { type IstftTables, istft, istftTables } from '../../nn/istft.js';
import { copyInto } from '../../nn/layout.js';
import { linear } from '../../nn/linear.js';
import { groupNorm, layerNormChannels } from '../../nn/norm.js';
import { type Conv1d, type Linear, type Norm, loadConv, loadLinear, loadNorm } from '../layers.js';
import { DecoderLayer, RotaryTables } from './decoder_layer.js';

/** Groups of the ResNet blocks' GroupNorm (Vocos). */
const RESNET_GROUPS = 32;

/** `prior_net.N` / `post_net.N`: x + conv2(silu(gn2(conv1(silu(gn1(x)))))). */
export class ResNetBlock {
  private constructor(
    private norm1: Norm,
    private conv1: Conv1d,
    private norm2: Norm,
    private conv2: Conv1d,
  ) {}

  static async load(vb: Weights, h: number): Promise<ResNetBlock> {
    const conv = (name: string) =>
      loadConv(vb.pp(name), { cin: h, cout: h, kernel: 3, padding: 1 }, { weightNorm: false });
    return new ResNetBlock(
      await loadNorm(vb.pp('norm1'), h, 1e-6),
      await conv('conv1'),
      await loadNorm(vb.pp('norm2'), h, 1e-6),
      await conv('conv2'),
    );
  }

  forward(rt: Runtime, x: Tensor): Tensor {
    return rt.scope(() => {
      const y = conv1d(rt, groupNorm(rt, x, this.norm1, RESNET_GROUPS, true), this.conv1);
      return conv1d(rt, groupNorm(rt, y, this.norm2, RESNET_GROUPS, true, true), this.conv2, x);
    });
  }
}

/** The first checkpoint prefix of `names` that `vb` holds (transformers renamed the decoder's blocks). */
function prefixOf(vb: Weights, names: string[], probe: string): Weights {
  for (const n of names) if (vb.has(`${n}.${probe}`)) return vb.pp(n);
  return vb.pp(names[0]);
}

/** What decode() traces for tests: the decoder after prior_net, the transformer, post_net + norm, and the head's spectrum. */
export interface DecoderTrace {
  prior: Tensor;
  transformer: Tensor;
  norm: Tensor;
  spectrum: Tensor;
  audio: Tensor;
}

export class VocosDecoder {
  private constructor(
    private fc: Linear,
    private embed: Conv1d,
    private priorNet: ResNetBlock[],
    private layers: DecoderLayer[],
    private postNet: ResNetBlock[],
    private norm: Norm,
    private head: Linear,
    private tables: IstftTables,
  ) {}

  /** `acoustic_decoder.*` (or the older `decoder.*` naming: prior_resnet_block1, final_layer_norm). */
  static async load(vb: Weights, c: Xcodec2Config): Promise<VocosDecoder> {
    const h = c.hiddenSize;
    const fc = await loadLinear(vb.pp('fc'), c.quantizationDim, h);
    const embed = await loadConv(vb.pp('embed'), { cin: h, cout: h, kernel: 7, padding: 3 }, { weightNorm: false });
    // one at a time: a load allocates, and memory must not grow under another block's read
    const blocks = async (names: string[][]) => {
      const out: ResNetBlock[] = [];
      for (const n of names) out.push(await ResNetBlock.load(prefixOf(vb, n, 'norm1.weight'), h));
      return out;
    };
    const priorNet = await blocks([
      ['prior_net.0', 'prior_resnet_block1'],
      ['prior_net.1', 'prior_resnet_block2'],
    ]);
    const rotary = RotaryTables.create(vb.rt, c);
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < c.numHiddenLayers; i++) layers.push(await DecoderLayer.load(vb.pp('layers').pp(i), c, rotary));
    const postNet = await blocks([
      ['post_net.0', 'post_resnet_block1'],
      ['post_net.1', 'post_resnet_block2'],
    ]);
    const norm = await loadNorm(prefixOf(vb, ['norm', 'final_layer_norm'], 'weight'), h, 1e-6);
    const head = await loadLinear(vb.pp('head').pp('linear'), h, c.nFft + 2);
    return new VocosDecoder(fc, embed, priorNet, layers, postNet, norm, head, istftTables(vb.rt, c.nFft, c.hopLength));
  }

  /** latents [quantization_dim, T] -> audio [1, T * hop]; `trace` keeps the intermediates (tests). */
  forward(rt: Runtime, latents: Tensor, trace?: Partial<DecoderTrace>): Tensor {
    if (latents.dims[1] < 1) throw new XcodecInputError('decode needs at least one frame');
    const keep = (name: keyof DecoderTrace, t: Tensor) => {
      if (trace) trace[name] = t;
    };
    const run = () => {
      let x = conv1d(rt, linear(rt, latents, this.fc), this.embed);
      for (const b of this.priorNet) x = b.forward(rt, x);
      keep('prior', x);
      if (trace) x = copyOf(rt, x); // the layers write over their input
      for (const l of this.layers) x = l.forward(rt, x);
      keep('transformer', x);
      for (const b of this.postNet) x = b.forward(rt, x);
      x = layerNormChannels(rt, x, this.norm.gamma, this.norm.beta, this.norm.eps, !trace);
      keep('norm', x);
      const spectrum = linear(rt, x, this.head);
      keep('spectrum', spectrum);
      const audio = istft(rt, spectrum, this.tables);
      keep('audio', audio);
      return audio;
    };
    return trace ? run() : rt.scope(run);
  }
}

function copyOf(rt: Runtime, x: Tensor): Tensor {
  const y = rt.tensor(x.dims);
  copyInto(rt, y, x);
  return y;
}
