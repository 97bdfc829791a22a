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
    throw new XcodecInputError(`resample: ${name} ${String(rate)} is not accepted; accepted: an integer number of Hz from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}`);
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

/** `x` at `fromRate` Hz resampled to `toRate` Hz (integers, 1 kHz to 768 kHz); a copy when they are equal. */
export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!(x instanceof Float32Array)) throw new XcodecInputError(`resample: the signal must be a Float32Array, got ${Object.prototype.toString.call(x)}`);
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  if (fromRate === toRate) return x.slice();
  const g = gcd(fromRate, toRate);
  const orig = fromRate / g;
  const phases = toRate / g;
  const { width, taps } = filterShape(orig, phases);
  if (phases * taps > MAX_FILTER_COEFFICIENTS) {
    throw new XcodecInputError(`resample: ${fromRate} -> ${toRate} Hz reduces to ${orig} -> ${phases} (gcd ${g}) and would need a filter bank of ` +
      `${phases} x ${taps} coefficients; accepted: rate pairs whose reduced rates need at most ${MAX_FILTER_COEFFICIENTS} (resample to a nearby common rate first)`);
  }
  const kernel = sincKernel(orig, phases, width, taps);
  const n = x.length;
  const outLength = Math.ceil((phases * n) / orig);
  const out = new Float32Array(outLength);
  // Output group f (samples f * phases + i) reads padded input [f * orig, f * orig + taps), that is
  // x[f * orig - width + j]; taps outside x read the zero padding and are skipped.
  const groups = Math.ceil(outLength / phases);
  for (let f = 0; f < groups; f++) {
    const start = f * orig - width;
    const j0 = Math.max(0, -start);
    const j1 = Math.min(taps, n - start);
    const count = Math.min(phases, outLength - f * phases);
    for (let i = 0; i < count; i++) {
      const row = i * taps;
      let sum = 0;
      for (let j = j0; j < j1; j++) sum += kernel[row + j] * x[start + j];
      out[f * phases + i] = sum;
    }
  }
  return out;
}
