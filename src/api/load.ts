// What every loader of the models shares: options checked, the runtime started and warmed up, the
// network of config.json's model_type built from the checkpoint, unread tensors checked; a failed
// load leaves no worker threads or memory behind.

import { type XcodecConfig, parseXcodecConfig } from '../checkpoint/config.js';
import { XcodecInputError, describe } from '../errors.js';
import { type CodecNetwork, loadNetwork } from '../model/codec.js';
import { COMPONENTS } from '../model/network.js';
import { unexpectedTensors } from '../model/tensors.js';
import { Runtime } from '../backend/runtime.js';
import { warmUpKernels } from '../backend/warmup.js';
import { type CheckpointSource, WeightLoader } from '../checkpoint/weights.js';
import { checkConvAlgorithm, checkUnexpected, isParsedConfig } from './checks.js';
import type { LoadOptions } from './options.js';

export interface LoadedModel {
  config: XcodecConfig;
  rt: Runtime;
  net: CodecNetwork;
  unused: string[];
}

export async function loadModel(
  config: XcodecConfig | unknown,
  source: CheckpointSource,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const cfg = isParsedConfig(config) ? config : parseXcodecConfig(config);
  const components = options.components ?? 'all';
  if (!COMPONENTS.includes(components)) {
    throw new XcodecInputError(
      `components ${describe(options.components)} is not accepted; accepted: ${COMPONENTS.map((c) => `"${c}"`).join(', ')}`,
    );
  }
  const convAlgorithms = checkConvAlgorithm(options.convAlgorithm);
  if (options.strict !== undefined && typeof options.strict !== 'boolean') {
    throw new XcodecInputError(
      `strict ${describe(options.strict)} is not accepted; accepted: true (the default) or false`,
    );
  }
  const rt = await Runtime.create({
    simd: options.simd ?? 'auto',
    numThreads: options.numThreads,
    tuning: options.tuning,
    wasmModules: options.wasmModules,
  });
  try {
    warmUpKernels(rt);
    const loader = new WeightLoader(rt, source);
    const net = await loadNetwork(loader.root(), cfg, components, convAlgorithms);
    const unused = source.names().filter((n) => !loader.used.has(n));
    checkUnexpected(unexpectedTensors(unused, components, cfg.modelType), options.strict);
    return { config: cfg, rt, net, unused };
  } catch (e) {
    rt.dispose();
    throw e;
  }
}
