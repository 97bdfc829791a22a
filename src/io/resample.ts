// Resampling exactly as torchaudio.functional.resample does with its defaults (sinc_interp_hann,
// lowpass_filter_width 6, rolloff 0.99), so that audio read at 44.1 or 48 kHz gives the codes of the
// Python pipeline the X-Codec authors, YuE and transformers users run.
//
// The rates are reduced by their gcd to orig -> new; each of the `new` output phases is a filter of
// 2 * width + orig taps (width = ceil(6 * orig / (min(orig, new) * 0.99))) over the input zero-padded
// by width on the left and width + orig on the right, stepping orig samples per group of `new`
// outputs (torchaudio's strided conv1d); the output has ceil(new * length / orig) samples. Taps and
// sums are computed in float64 and rounded once to float32, so the result is as close to the exact
// filter as float32 allows (torchaudio computes in float32; the fixtures' tolerance is 10x its own
// float32-vs-float64 spread).

import { XcodecInputError } from '../errors.js';

const LOWPASS_FILTER_WIDTH = 6;
const ROLLOFF = 0.99;
/** Accepted sample rates, in Hz. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 768000;
/** Largest filter bank (phases x taps) built: 16 M coefficients, 128 MiB of float64. */
const MAX_FILTER_COEFFICIENTS = 1 << 24;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function checkRate(name: string, rate: unknown): number {
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    throw new XcodecInputError(
      `resample: ${name} ${String(rate)} is not accepted; accepted: an integer number of Hz from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}`,
    );
  }
  return rate;
}

/** The filter's half-width in input samples (its left padding) and taps per phase, for reduced rates. */
function filterShape(orig: number, phases: number): { width: number; taps: number } {
  const width = Math.ceil((LOWPASS_FILTER_WIDTH * orig) / (Math.min(orig, phases) * ROLLOFF));
  return { width, taps: 2 * width + orig };
}

/** The filter bank: [phases][taps] row-major. */
function sincKernel(orig: number, phases: number, width: number, taps: number): Float64Array {
  const base = Math.min(orig, phases) * ROLLOFF;
  const kernel = new Float64Array(phases * taps);
  const scale = base / orig;
  for (let i = 0; i < phases; i++) {
    for (let j = 0; j < taps; j++) {
      // torchaudio: t = (-i / new + (j - width) / orig) * base, clamped to +-width, Hann-windowed sinc
      let t = (-i / phases + (j - width) / orig) * base;
      t = Math.max(-LOWPASS_FILTER_WIDTH, Math.min(LOWPASS_FILTER_WIDTH, t));
      const window = Math.cos((t * Math.PI) / LOWPASS_FILTER_WIDTH / 2) ** 2;
      const tp = t * Math.PI;
      kernel[i * taps + j] = (tp === 0 ? 1 : Math.sin(tp) / tp) * window * scale;
    }
  }
  return kernel;
}

interface Filter {
  orig: number;
  phases: number;
  width: number;
  taps: number;
  kernel: Float64Array;
}

function checkSignal(x: unknown): asserts x is Float32Array {
  if (!(x instanceof Float32Array))
    throw new XcodecInputError(`resample: the signal must be a Float32Array, got ${Object.prototype.toString.call(x)}`);
}

/** The reduced rates and filter bank for fromRate -> toRate, with the size checked before it is built. */
function makeFilter(fromRate: number, toRate: number): Filter {
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  const g = gcd(fromRate, toRate);
  const orig = fromRate / g;
  const phases = toRate / g;
  const { width, taps } = filterShape(orig, phases);
  if (phases * taps > MAX_FILTER_COEFFICIENTS) {
    throw new XcodecInputError(
      `resample: ${fromRate} -> ${toRate} Hz reduces to ${orig} -> ${phases} (gcd ${g}) and would need a filter bank of ` +
        `${phases} x ${taps} coefficients; accepted: rate pairs whose reduced rates need at most ${MAX_FILTER_COEFFICIENTS} (resample to a nearby common rate first)`,
    );
  }
  return { orig, phases, width, taps, kernel: sincKernel(orig, phases, width, taps) };
}

/**
 * Output groups [fFrom, fTo): group f (samples f * phases + i) reads padded input [f * orig, f * orig
 * + taps), that is x[f * orig - width + j]; `src[k]` holds x[srcStart + k], x has `n` samples (taps
 * past it read the zero padding and are skipped) and the output stops at `outLength`. Writes
 * out[(f - fFrom) * phases + i]. The one-shot and streaming paths both come here, so they agree bit for bit.
 */
function runGroups(
  filter: Filter,
  src: Float32Array,
  srcStart: number,
  n: number,
  fFrom: number,
  fTo: number,
  outLength: number,
  out: Float32Array,
): void {
  const { orig, phases, width, taps, kernel } = filter;
  for (let f = fFrom; f < fTo; f++) {
    const start = f * orig - width;
    const j0 = Math.max(0, -start);
    const j1 = Math.min(taps, n - start);
    const count = Math.min(phases, outLength - f * phases);
    const base = start - srcStart;
    const at = (f - fFrom) * phases;
    for (let i = 0; i < count; i++) {
      const row = i * taps;
      let sum = 0;
      for (let j = j0; j < j1; j++) sum += kernel[row + j] * src[base + j];
      out[at + i] = sum;
    }
  }
}

/** `x` at `fromRate` Hz resampled to `toRate` Hz (integers, 1 kHz to 768 kHz); a copy when they are equal. */
export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  checkSignal(x);
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  if (fromRate === toRate) return x.slice();
  const filter = makeFilter(fromRate, toRate);
  const n = x.length;
  const outLength = Math.ceil((filter.phases * n) / filter.orig);
  const out = new Float32Array(outLength);
  runGroups(filter, x, 0, n, 0, Math.ceil(outLength / filter.phases), outLength, out);
  return out;
}

/** The length resample() gives for n samples: ceil(new * n / orig) over the reduced rates. */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  if (fromRate === toRate) return n;
  const g = gcd(checkRate('fromRate', fromRate), checkRate('toRate', toRate));
  return Math.ceil(((toRate / g) * n) / (fromRate / g));
}

/**
 * resample() written into `out` (which must hold resampledLength samples; views of WebAssembly memory
 * are fine, so the model resamples in place of its input tensor with no copy).
 */
export function resampleInto(x: Float32Array, fromRate: number, toRate: number, out: Float32Array): void {
  const outLength = resampledLength(x.length, fromRate, toRate);
  if (out.length < outLength)
    throw new XcodecInputError(`resample: the output holds ${out.length} samples; ${outLength} are needed`);
  if (fromRate === toRate) {
    out.set(x);
    return;
  }
  const filter = makeFilter(fromRate, toRate);
  runGroups(filter, x, 0, x.length, 0, Math.ceil(outLength / filter.phases), outLength, out);
}

/**
 * The same resampling over a signal that arrives in pieces (a long file being decoded): `push`
 * returns the output samples that the input so far determines, `end` the rest. The concatenated
 * outputs equal `resample` of the concatenated input exactly, and only about one filter's span of
 * input is held between calls.
 */
export class StreamingResampler {
  private readonly filter: Filter | null;
  private pending = new Float32Array(0);
  /** Index in the whole input of pending[0], and how many input samples arrived so far. */
  private pendingStart = 0;
  private pendingLength = 0;
  private received = 0;
  private nextGroup = 0;
  private ended = false;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {
    checkRate('fromRate', fromRate);
    checkRate('toRate', toRate);
    this.filter = fromRate === toRate ? null : makeFilter(fromRate, toRate);
  }

  push(x: Float32Array): Float32Array {
    checkSignal(x);
    if (this.ended) throw new XcodecInputError('StreamingResampler: push after end');
    if (this.filter === null) {
      this.received += x.length;
      return x.slice();
    }
    this.append(x);
    const { orig, width, taps, phases } = this.filter;
    // Group f is complete once its last tap, input f * orig - width + taps - 1, has arrived.
    const ready = Math.max(this.nextGroup, Math.floor((this.received + width - taps) / orig) + 1);
    const out = new Float32Array((ready - this.nextGroup) * phases);
    runGroups(this.filter, this.pending, this.pendingStart, Infinity, this.nextGroup, ready, Infinity, out);
    this.nextGroup = ready;
    this.dropConsumed();
    return out;
  }

  end(): Float32Array {
    if (this.ended) throw new XcodecInputError('StreamingResampler: end called twice');
    this.ended = true;
    if (this.filter === null) return new Float32Array(0);
    const { orig, phases } = this.filter;
    const n = this.received;
    const outLength = Math.ceil((phases * n) / orig);
    const groups = Math.ceil(outLength / phases);
    const out = new Float32Array(Math.max(0, outLength - this.nextGroup * phases));
    runGroups(this.filter, this.pending, this.pendingStart, n, this.nextGroup, groups, outLength, out);
    this.pending = new Float32Array(0);
    return out;
  }

  private append(x: Float32Array): void {
    const need = this.pendingLength + x.length;
    if (need > this.pending.length) {
      const grown = new Float32Array(Math.max(need, 2 * this.pending.length));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(x, this.pendingLength);
    this.pendingLength = need;
    this.received += x.length;
  }

  /** Keeps the input from the next group's first tap on; earlier samples are never read again. */
  private dropConsumed(): void {
    const { orig, width } = this.filter!;
    const keepFrom = Math.max(this.pendingStart, this.nextGroup * orig - width);
    const drop = Math.min(keepFrom - this.pendingStart, this.pendingLength);
    if (drop <= 0) return;
    this.pending.copyWithin(0, drop, this.pendingLength);
    this.pendingLength -= drop;
    this.pendingStart += drop;
  }
}
