// Band-limited resampling: a Kaiser-windowed sinc low-pass at 0.95 of the lower Nyquist frequency,
// 32 zero crossings (at the lower rate) on each side, beta 9 (about 90 dB stop-band attenuation).
// Rational ratios with at most 4096 phases use a precomputed polyphase table; others evaluate taps.

import { XcodecInputError } from '../errors.js';

const ZERO_CROSSINGS = 32;
const BETA = 9;
const ROLLOFF = 0.95;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!(fromRate > 0) || !(toRate > 0) || !Number.isFinite(fromRate) || !Number.isFinite(toRate)) {
    throw new XcodecInputError(`resample: rates must be positive numbers, got ${fromRate} -> ${toRate}`);
  }
  if (fromRate === toRate) return x.slice();
  const outLength = Math.ceil((x.length * toRate) / fromRate);
  const out = new Float32Array(outLength);
  // cutoff as a fraction of the input Nyquist frequency
  const fc = ROLLOFF * Math.min(1, toRate / fromRate);
  const half = Math.ceil(ZERO_CROSSINGS / fc); // taps on each side, in input samples
  const i0beta = besselI0(BETA);
  const kernel = (d: number): number => {
    const a = Math.abs(d);
    if (a >= half) return 0;
    const w = besselI0(BETA * Math.sqrt(1 - (a / half) ** 2)) / i0beta;
    const t = Math.PI * fc * d;
    return fc * (d === 0 ? 1 : Math.sin(t) / t) * w;
  };
  const step = fromRate / toRate;
  const integer = Number.isInteger(fromRate) && Number.isInteger(toRate);
  const g = integer ? gcd(fromRate, toRate) : 0;
  const phases = integer ? toRate / g : Infinity;
  const taps = 2 * half;
  let table: Float32Array | null = null;
  if (phases <= 4096) {
    // output n sits at input position n * M / L; its fractional part is (n * M mod L) / L
    table = new Float32Array(phases * taps);
    for (let p = 0; p < phases; p++) {
      const frac = p / phases;
      for (let j = 0; j < taps; j++) table[p * taps + j] = kernel(frac - (j - half + 1));
    }
  }
  const M = integer ? fromRate / g : 0;
  for (let n = 0; n < outLength; n++) {
    let base: number;
    let frac: number;
    let row = -1;
    if (table) {
      const num = n * M;
      base = Math.floor(num / phases);
      row = num - base * phases;
      frac = row / phases;
    } else {
      const t = n * step;
      base = Math.floor(t);
      frac = t - base;
    }
    let acc = 0;
    const lo = base - half + 1;
    const jStart = Math.max(0, -lo);
    const jEnd = Math.min(taps, x.length - lo);
    if (table) {
      const off = row * taps;
      for (let j = jStart; j < jEnd; j++) acc += x[lo + j] * table[off + j];
    } else {
      for (let j = jStart; j < jEnd; j++) acc += x[lo + j] * kernel(frac - (j - half + 1));
    }
    out[n] = acc;
  }
  return out;
}
