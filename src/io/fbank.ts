// Kaldi's log mel filterbank (torchaudio.compliance.kaldi.fbank with the options X-Codec 2's feature
// extractor passes) and that extractor's per-utterance normalisation and frame stacking, in float64.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/feature_extraction_xcodec2.py
// https://github.com/pytorch/audio/blob/main/src/torchaudio/compliance/kaldi.py

/** The fbank options: 25 ms frames every 10 ms at 16 kHz, povey window, pre-emphasis 0.97, 80 mel bins 20 Hz .. Nyquist. */
export interface FbankOptions {
  sampleRate: number;
  frameLength: number;
  frameShift: number;
  numMelBins: number;
}

export const XCODEC2_FBANK: FbankOptions = { sampleRate: 16000, frameLength: 400, frameShift: 160, numMelBins: 80 };

const FLT_EPSILON = 1.1920928955078125e-7;
const PREEMPHASIS = 0.97;
const LOW_FREQ = 20;

const mel = (f: number) => 1127 * Math.log(1 + f / 700);

/** Kaldi's triangular mel banks [bins, fft / 2] (no VTLN), as torchaudio's get_mel_banks. */
function melBanks(o: FbankOptions, fftSize: number): Float64Array[] {
  const half = fftSize / 2;
  const highFreq = o.sampleRate / 2;
  const width = o.sampleRate / fftSize;
  const lo = mel(LOW_FREQ);
  const delta = (mel(highFreq) - lo) / (o.numMelBins + 1);
  const banks: Float64Array[] = [];
  for (let b = 0; b < o.numMelBins; b++) {
    const left = lo + b * delta;
    const center = lo + (b + 1) * delta;
    const right = lo + (b + 2) * delta;
    const row = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const m = mel(width * k);
      row[k] = Math.max(0, Math.min((m - left) / (center - left), (right - m) / (right - center)));
    }
    banks.push(row);
  }
  return banks;
}

/** In-place radix-2 complex FFT of re, im (length a power of two). */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** log mel fbank of `wave` (already scaled to the int16 range): [frames, numMelBins], frames = 1 + (n - frameLength) / frameShift. */
export function kaldiFbank(wave: Float32Array, o: FbankOptions = XCODEC2_FBANK): Float64Array {
  const L = o.frameLength;
  const frames = wave.length < L ? 0 : 1 + Math.floor((wave.length - L) / o.frameShift);
  let fftSize = 1;
  while (fftSize < L) fftSize <<= 1;
  const banks = melBanks(o, fftSize);
  const window = new Float64Array(L);
  for (let i = 0; i < L; i++) window[i] = (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (L - 1))) ** 0.85;
  const out = new Float64Array(frames * o.numMelBins);
  const re = new Float64Array(fftSize);
  const im = new Float64Array(fftSize);
  const power = new Float64Array(fftSize / 2);
  const frame = new Float64Array(L);
  for (let f = 0; f < frames; f++) {
    const start = f * o.frameShift;
    let mean = 0;
    for (let i = 0; i < L; i++) mean += wave[start + i];
    mean /= L;
    for (let i = 0; i < L; i++) frame[i] = wave[start + i] - mean;
    re.fill(0);
    im.fill(0);
    for (let i = L - 1; i >= 0; i--) re[i] = (frame[i] - PREEMPHASIS * frame[Math.max(i - 1, 0)]) * window[i];
    fft(re, im);
    for (let k = 0; k < fftSize / 2; k++) power[k] = re[k] * re[k] + im[k] * im[k];
    for (let b = 0; b < o.numMelBins; b++) {
      const row = banks[b];
      let e = 0;
      for (let k = 0; k < fftSize / 2; k++) e += power[k] * row[k];
      out[f * o.numMelBins + b] = Math.log(Math.max(e, FLT_EPSILON));
    }
  }
  return out;
}

/**
 * X-Codec 2's input features of one item from the first `valid` samples of its padded input (valid a
 * multiple of hop): fbank of those samples x 32768 with hop / 2 zeros each side, each bin normalised
 * over the item's frames ((x - mean) / sqrt(unbiased var + 1e-7)), pairs of frames stacked:
 * [valid / hop, 2 numMelBins] (float32), as Xcodec2FeatureExtractor writes them before its padding.
 */
export function xcodec2Features(samples: Float32Array, valid: number, hop: number): Float32Array {
  const pad = hop >> 1;
  const wave = new Float32Array(valid + 2 * pad);
  for (let i = 0; i < valid; i++) wave[pad + i] = Math.fround(samples[i] * 32768);
  const bins = XCODEC2_FBANK.numMelBins;
  const fb = kaldiFbank(wave);
  const frames = fb.length / bins;
  const out = new Float32Array(frames * bins);
  for (let b = 0; b < bins; b++) {
    let mean = 0;
    for (let f = 0; f < frames; f++) mean += fb[f * bins + b];
    mean /= frames;
    let v = 0;
    for (let f = 0; f < frames; f++) v += (fb[f * bins + b] - mean) ** 2;
    const sd = Math.sqrt(v / Math.max(frames - 1, 1) + 1e-7);
    // row f of [frames, bins] is half of stacked row f >> 1: the same memory order
    for (let f = 0; f < frames; f++) out[f * bins + b] = (fb[f * bins + b] - mean) / sd;
  }
  return out;
}
