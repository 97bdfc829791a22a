// The config reader: typed getters over a parsed JSON object that name the key, the value and what is
// accepted in an XcodecConfigError, and the bounds every integer field is held to.

import { XcodecConfigError, describe } from '../errors.js';

export type Json = Record<string, unknown>;

/**
 * Upper bounds of integer fields: far above every published checkpoint, low enough that no
 * accepted value can make a shape overflow or a buffer absurd (a dilation of 1e7 would pad 1 s of
 * audio to gigabytes).
 */
export const CONFIG_LIMITS = {
  /** channel counts, hidden and intermediate sizes */
  size: 1 << 16,
  /** convolution kernels (HuBERT's positional conv is 128) */
  kernel: 1024,
  /** strides and up/downsampling ratios */
  stride: 64,
  /** dilations */
  dilation: 1024,
  /** layers, heads, groups */
  count: 1024,
} as const;

export class Reader {
  constructor(
    private obj: Json,
    private where: string,
  ) {}

  fail(key: string, value: unknown, accepted: string): never {
    throw new XcodecConfigError(`${this.where}: "${key}" is ${describe(value)}; accepted: ${accepted}`);
  }

  int(key: string, def: number, min = 1, max: number = CONFIG_LIMITS.size): number {
    const v = this.obj[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(key, v, `an integer from ${min} to ${max}`);
    return v;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  num(key: string, def: number, positive = true): number {
    const v = this.obj[key] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0))
      this.fail(key, v, positive ? 'a finite number > 0' : 'a finite number');
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.obj[key] ?? def;
    if (typeof v !== 'boolean') this.fail(key, v, 'true or false');
    return v;
  }

  ints(key: string, def: number[], min = 1, max: number = CONFIG_LIMITS.size, minLength = 1): number[] {
    const v = this.obj[key] ?? def;
    if (
      !Array.isArray(v) ||
      v.length < minLength ||
      v.length > CONFIG_LIMITS.count ||
      !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max)
    ) {
      this.fail(key, v, `a list of ${minLength} to ${CONFIG_LIMITS.count} integers from ${min} to ${max}`);
    }
    return v as number[];
  }

  nums(key: string, def: number[], max = 1e6): number[] {
    const v = this.obj[key] ?? def;
    if (
      !Array.isArray(v) ||
      v.length < 1 ||
      v.length > CONFIG_LIMITS.count ||
      !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0 && x <= max)
    ) {
      this.fail(key, v, `a list of 1 to ${CONFIG_LIMITS.count} numbers > 0 and <= ${max}`);
    }
    return v as number[];
  }

  oneOf<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const v = this.obj[key] ?? def;
    if (typeof v !== 'string' || !allowed.includes(v as T))
      this.fail(key, v, allowed.map((a) => describe(a)).join(', '));
    return v as T;
  }

  sub(key: string): Reader {
    const v = this.obj[key];
    if (v === undefined) return new Reader({}, `${this.where} ${key}`);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, v, 'an object');
    return new Reader(v as Json, `${this.where} ${key}`);
  }
}
