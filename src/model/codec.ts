// The codec networks one API drives: X-Codec and Higgs (network.ts) or X-Codec 2 (xcodec2/), picked by
// config.json's model_type; both answer the same calls (plan, embed, quantize, dequantize, synthesize).

import type { XcodecConfig } from '../checkpoint/config.js';
import type { Weights } from '../checkpoint/weights.js';
import { type Components, type ConvAlgorithms, XcodecNetwork } from './network.js';
import { Xcodec2Network } from './xcodec2/network.js';

export type CodecNetwork = XcodecNetwork | Xcodec2Network;

export async function loadNetwork(
  vb: Weights,
  c: XcodecConfig,
  components: Components,
  algorithms: ConvAlgorithms,
): Promise<CodecNetwork> {
  return c.xcodec2 ? Xcodec2Network.load(vb, c, components) : XcodecNetwork.load(vb, c, components, algorithms);
}
