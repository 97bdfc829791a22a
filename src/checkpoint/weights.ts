// A weight view keyed by the checkpoint's own names, like Candle's VarBuilder:
// `vb.pp('acoustic_encoder').pp('block').pp(0).tensor('conv1.bias', [cout])`.
// Every tensor is checked for presence and shape, then streamed from the file straight into linear
// memory; weight-normed convolutions (weight_g/weight_v or parametrizations.weight.original0/1) are
// folded to plain weights by a WASM kernel.

import { XcodecCheckpointError } from '../errors.js';
import { weightNorm } from '../backend/launch.js';
import type { Runtime } from '../backend/runtime.js';

export interface TensorSource {
  info(name: string): { dtype: string; shape: number[] } | undefined;
  readF32(name: string, dest: Float32Array): Promise<void>;
}

/** Checkpoint tensors by name, as a model loads them (SafetensorsCheckpoint.source() makes one). */
export interface CheckpointSource extends TensorSource {
  names(): string[];
  close?(): void;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * A tensor as the loaders ask for it: `tensor` exactly this shape; `vector` any shape of `shape[0]`
 * elements along one axis; `conv` a convolution weight of this shape, plain or weight-normed.
 */
export interface TensorRequest {
  name: string;
  shape: number[];
  kind: 'tensor' | 'vector' | 'conv';
}

export class WeightLoader {
  /** names actually loaded, so callers can tell which checkpoint tensors the inference uses */
  readonly used = new Set<string>();

  /**
   * @param record when given, a recording view: every request is appended there and answered with
   * uninitialised memory, the source is never read (inside Runtime.measure: the weight generator's
   * tensor list comes from the loaders this way)
   */
  constructor(
    readonly rt: Runtime,
    readonly src: TensorSource,
    readonly fileName = 'model.safetensors',
    readonly record?: TensorRequest[],
  ) {}

  root(): Weights {
    return new Weights(this, '');
  }
}

export class Weights {
  constructor(
    private loader: WeightLoader,
    readonly prefix: string,
  ) {}

  get rt(): Runtime {
    return this.loader.rt;
  }

  pp(name: string | number): Weights {
    return new Weights(this.loader, this.key(String(name)));
  }

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  has(name: string): boolean {
    return this.loader.src.info(this.key(name)) !== undefined;
  }

  /** Loads `name` (checked against `shape`) into new memory; returns its byte offset. */
  async tensor(name: string, shape: readonly number[]): Promise<number> {
    const key = this.key(name);
    if (this.loader.record) return this.recorded(key, shape, 'tensor');
    this.checkShape(key, shape);
    const rt = this.loader.rt;
    const n = shape.reduce((p, x) => p * x, 1);
    const ptr = rt.allocBytes(4 * n);
    await this.loader.src.readF32(key, rt.f32.subarray(ptr >>> 2, (ptr >>> 2) + n));
    this.loader.used.add(key);
    return ptr;
  }

  /** Like tensor() but accepts any shape with the same elements, e.g. snake alpha [1, C, 1] vs [C]. */
  async vector(name: string, length: number): Promise<number> {
    const key = this.key(name);
    if (this.loader.record) return this.recorded(key, [length], 'vector');
    const info = this.require(key, `${length} elements`);
    const n = info.shape.reduce((p, x) => p * x, 1);
    if (n !== length || info.shape.filter((d) => d !== 1).length > 1) {
      throw new XcodecCheckpointError(
        `${this.loader.fileName}: tensor "${key}" has shape ${fmt(info.shape)}; expected ${length} elements along one axis`,
      );
    }
    return this.tensor(name, info.shape);
  }

  /**
   * A convolution weight `${name}` of the given shape, plain or weight-normed. The weight-norm axis is
   * the one where g keeps its size (torch's `dim`); the norm runs over every other axis.
   */
  async convWeight(shape: readonly number[], name = 'weight'): Promise<number> {
    const plain = this.key(name);
    if (this.loader.record) return this.recorded(plain, shape, 'conv');
    if (this.loader.src.info(plain)) return this.tensor(name, shape);
    const pairs: [string, string][] = [
      [`${name}_g`, `${name}_v`],
      [`parametrizations.${name}.original0`, `parametrizations.${name}.original1`],
    ];
    for (const [gName, vName] of pairs) {
      if (!this.has(gName) && !this.has(vName)) continue;
      return this.foldWeightNorm(gName, vName, shape);
    }
    throw new XcodecCheckpointError(
      `${this.loader.fileName}: missing tensor "${plain}" (also looked for "${this.key(`${name}_g`)}"/"_v" and ` +
        `"${this.key(`parametrizations.${name}.original0`)}"/"original1"); expected shape ${fmt(shape)}`,
    );
  }

  private async foldWeightNorm(gName: string, vName: string, shape: readonly number[]): Promise<number> {
    const gKey = this.key(gName);
    const gInfo = this.require(gKey, 'the weight-norm magnitude');
    this.checkShape(this.key(vName), shape);
    const dim = weightNormAxis(gInfo.shape, shape);
    if (dim < 0) {
      throw new XcodecCheckpointError(
        `${this.loader.fileName}: tensor "${gKey}" has shape ${fmt(gInfo.shape)}, which is not a weight-norm magnitude for ` +
          `a weight of shape ${fmt(shape)} (expected size 1 on every axis but one, where it equals the weight's)`,
      );
    }
    const rt = this.loader.rt;
    const n = shape.reduce((p, x) => p * x, 1);
    const out = rt.allocBytes(4 * n);
    const mark = rt.mark();
    const v = await this.tensor(vName, shape);
    const g = await this.tensor(gName, gInfo.shape);
    const outer = shape.slice(0, dim).reduce((p, x) => p * x, 1);
    const inner = shape.slice(dim + 1).reduce((p, x) => p * x, 1);
    weightNorm(rt, { out, v, g, outer, D: shape[dim], inner });
    rt.release(mark);
    return out;
  }

  private recorded(name: string, shape: readonly number[], kind: TensorRequest['kind']): number {
    this.loader.record!.push({ name, shape: [...shape], kind });
    return this.loader.rt.allocBytes(4 * shape.reduce((p, x) => p * x, 1));
  }

  private require(key: string, what: string): { dtype: string; shape: number[] } {
    const info = this.loader.src.info(key);
    if (!info) throw new XcodecCheckpointError(`${this.loader.fileName}: missing tensor "${key}" (${what})`);
    return info;
  }

  private checkShape(key: string, shape: readonly number[]): void {
    const info = this.require(key, `expected shape ${fmt(shape)}`);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new XcodecCheckpointError(
        `${this.loader.fileName}: tensor "${key}" has shape ${fmt(info.shape)}; the config implies ${fmt(shape)}`,
      );
    }
  }
}

/** The axis torch.nn.utils.weight_norm kept: g matches the weight there and is 1 elsewhere. */
export function weightNormAxis(g: readonly number[], w: readonly number[]): number {
  if (g.length !== w.length) return -1;
  const candidates: number[] = [];
  for (let d = 0; d < w.length; d++) {
    if (g[d] === w[d] && g.every((x, i) => i === d || x === 1)) candidates.push(d);
  }
  // Prefer an axis of real extent when several qualify (sizes of 1 make the choice ambiguous).
  return candidates.find((d) => w[d] > 1) ?? candidates[0] ?? -1;
}
