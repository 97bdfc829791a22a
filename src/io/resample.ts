// Band-limited resampling with a Kaiser-windowed sinc low-pass filter.
//
// The filter passes everything up to 0.90 of the lower of the two Nyquist frequencies and attenuates
// by at least STOPBAND_ATTENUATION_DB from 1.00 of it on, so nothing above the new Nyquist frequency
// aliases back audibly when downsampling and no images appear when upsampling. The Kaiser formulas
// turn those edges into the window's beta and the filter length.
//
// Output sample n sits at input position n * fromRate / toRate. When the rates are integers whose
// reduced ratio has few phases, the taps of every phase are computed exactly once up front; otherwise
// (irrational or awkward ratios) the taps come from a finely sampled kernel table by linear
// interpolation at the exact fractional position.

import { XcodecInputError } from '../errors.js';

const STOPBAND_ATTENUATION_DB = 90;
/** Edges as fractions of the lower Nyquist frequency (the cutoff is their midpoint, 0.95). */
const PASSBAND_EDGE = 0.9;
const STOPBAND_EDGE = 1.0;
/** Largest exact polyphase table, in phases and in total taps. */
const MAX_PHASES = 4096;
const MAX_TABLE_TAPS = 1 << 20;
/** Kernel table entries per zero crossing of the sinc for the interpolated path (error below -110 dB). */
const TABLE_STEPS_PER_ZERO_CROSSING = 4096;

export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  for (const [name, rate] of [['fromRate', fromRate], ['toRate', toRate]] as const) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new XcodecInputError(`resample: ${name} must be a positive finite number of Hz, got ${rate}`);
  }
  if (fromRate === toRate) return x.slice();
  const filter = designLowPass(fromRate, toRate);
  const outLength = Math.ceil((x.length * toRate) / fromRate);
  const reduced = reducedRatio(fromRate, toRate);
  if (reduced && reduced.phases <= MAX_PHASES && reduced.phases * filter.taps <= MAX_TABLE_TAPS) {
    return resamplePolyphase(x, outLength, filter, reduced.inputStep, reduced.phases);
  }
  return resampleInterpolated(x, outLength, filter, fromRate, toRate);
}

interface LowPass {
  /** Cutoff as a fraction of the input Nyquist frequency. */
  cutoff: number;
  /** The kernel is nonzero for |d| < halfLength input samples. */
  halfLength: number;
  /** Taps per output sample: input samples base - halfLength + 1 .. base + halfLength. */
  taps: number;
  beta: number;
}

function designLowPass(fromRate: number, toRate: number): LowPass {
  const ratio = Math.min(1, toRate / fromRate); // lower Nyquist over input Nyquist
  const cutoff = ((PASSBAND_EDGE + STOPBAND_EDGE) / 2) * ratio;
  const transition = (STOPBAND_EDGE - PASSBAND_EDGE) * ratio * Math.PI; // radians per input sample
  const length = (STOPBAND_ATTENUATION_DB - 7.95) / (2.285 * transition); // Kaiser's length estimate
  const halfLength = Math.ceil(length / 2);
  const beta = 0.1102 * (STOPBAND_ATTENUATION_DB - 8.7); // Kaiser's beta for attenuations above 50 dB
  return { cutoff, halfLength, taps: 2 * halfLength, beta };
}

/** Impulse response at distance d (in input samples): a sinc at the cutoff times the Kaiser window. */
function kernelAt(filter: LowPass, d: number, i0Beta: number): number {
  const r = d / filter.halfLength;
  if (r <= -1 || r >= 1) return 0;
  const window = besselI0(filter.beta * Math.sqrt(1 - r * r)) / i0Beta;
  const t = Math.PI * filter.cutoff * d;
  return filter.cutoff * (t === 0 ? 1 : Math.sin(t) / t) * window;
}

/** Modified Bessel function of the first kind, order 0, by its power series. */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 200 && term > sum * 1e-17; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

/**
 * fromRate/toRate in lowest terms when both rates are integers, else null: output n then sits at input
 * position n * inputStep / phases.
 */
function reducedRatio(fromRate: number, toRate: number): { inputStep: number; phases: number } | null {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate)) return null;
  let a = fromRate;
  let b = toRate;
  while (b) [a, b] = [b, a % b];
  return { inputStep: fromRate / a, phases: toRate / a };
}

/** Sum of x[first + j] * taps[tapOffset + j] over the taps that fall inside the signal. */
function dot(x: Float32Array, first: number, taps: Float64Array, tapOffset: number, count: number): number {
  const start = Math.max(0, -first);
  const end = Math.min(count, x.length - first);
  let acc = 0;
  for (let j = start; j < end; j++) acc += x[first + j] * taps[tapOffset + j];
  return acc;
}

/**
 * Rational ratio: output n is at input position n * inputStep / phases, whose fractional part takes
 * only `phases` values, so each phase's taps are computed once.
 */
function resamplePolyphase(x: Float32Array, outLength: number, filter: LowPass, inputStep: number, phases: number): Float32Array {
  const { taps, halfLength } = filter;
  const i0Beta = besselI0(filter.beta);
  const table = new Float64Array(phases * taps);
  for (let p = 0; p < phases; p++) {
    const frac = p / phases;
    for (let j = 0; j < taps; j++) table[p * taps + j] = kernelAt(filter, frac - (j - halfLength + 1), i0Beta);
  }
  const out = new Float32Array(outLength);
  let base = 0; // integer part of the input position
  let phase = 0; // fractional part, in units of 1/phases
  for (let n = 0; n < outLength; n++) {
    out[n] = dot(x, base - halfLength + 1, table, phase * taps, taps);
    phase += inputStep;
    const carry = Math.floor(phase / phases);
    base += carry;
    phase -= carry * phases;
  }
  return out;
}

/** Any ratio: taps are interpolated from a kernel table at the exact fractional position of each output. */
function resampleInterpolated(x: Float32Array, outLength: number, filter: LowPass, fromRate: number, toRate: number): Float32Array {
  const { taps, halfLength } = filter;
  const i0Beta = besselI0(filter.beta);
  const stepsPerSample = TABLE_STEPS_PER_ZERO_CROSSING * filter.cutoff; // the sinc crosses zero every 1/cutoff samples
  const size = Math.ceil(halfLength * stepsPerSample) + 2;
  const kernel = new Float64Array(size);
  for (let k = 0; k < size; k++) kernel[k] = kernelAt(filter, k / stepsPerSample, i0Beta);
  const weights = new Float64Array(taps);
  const out = new Float32Array(outLength);
  for (let n = 0; n < outLength; n++) {
    const position = (n * fromRate) / toRate; // from n, not accumulated, so rounding cannot drift
    const base = Math.floor(position);
    const frac = position - base;
    for (let j = 0; j < taps; j++) {
      const at = Math.abs(frac - (j - halfLength + 1)) * stepsPerSample; // the kernel is symmetric
      const k = Math.floor(at);
      const w = at - k;
      weights[j] = k + 1 < size ? kernel[k] + w * (kernel[k + 1] - kernel[k]) : 0;
    }
    out[n] = dot(x, base - halfLength + 1, weights, 0, taps);
  }
  return out;
}
