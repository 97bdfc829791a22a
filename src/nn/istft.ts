// The inverse STFT of a Vocos head: spectrum [n + 2, T] (log-magnitudes, then phases) -> audio [1, T hop],
// torch.istft-like with "same" padding: per-frame inverse real FFT times a periodic Hann window,
// overlap-add, (n - hop) / 2 samples cropped each side, divided by the squared-window envelope.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

import { fftSupports, istftFrames, overlapAdd } from '../backend/launch.js';
import type { Runtime, Tensor } from '../backend/runtime.js';

/** The constant tables of one ISTFT size, in linear memory. */
export interface IstftTables {
  n: number;
  hop: number;
  /** periodic Hann window [n] (f32) */
  window: number;
  /** e^(2 pi i k / n) for k < n, f64 pairs */
  twiddles: number;
}

/** Allocates and fills the window and twiddles of an n-point ISTFT at `hop` (load time). */
export function istftTables(rt: Runtime, n: number, hop: number): IstftTables {
  if (!fftSupports(rt, n)) throw new Error(`istft: ${n} points do not factor into 2, 3 and 5 within the FFT's limit`);
  const window = rt.allocBytes(4 * n);
  const twiddles = rt.allocBytes(16 * n);
  if (!rt.isMeasuring) {
    const w = rt.f32.subarray(window >>> 2, (window >>> 2) + n);
    for (let k = 0; k < n; k++) w[k] = 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / n);
    const tw = new Float64Array(rt.memory.buffer, twiddles, 2 * n);
    for (let k = 0; k < n; k++) {
      tw[2 * k] = Math.cos((2 * Math.PI * k) / n);
      tw[2 * k + 1] = Math.sin((2 * Math.PI * k) / n);
    }
  }
  return { n, hop, window, twiddles };
}

/** spec [n + 2, T] -> audio [1, T * hop]. */
export function istft(rt: Runtime, spec: Tensor, t: IstftTables): Tensor {
  const [rows, T] = spec.dims;
  if (rows !== t.n + 2) throw new Error(`istft: the spectrum has ${rows} rows; ${t.n} points need ${t.n + 2}`);
  const samples = T * t.hop;
  const out = rt.tensor([1, samples]);
  rt.scope(() => {
    const frames = rt.tensor([T, t.n]);
    istftFrames(rt, { frames: frames.ptr, spec: spec.ptr, window: t.window, twiddles: t.twiddles, n: t.n, T });
    overlapAdd(rt, {
      out: out.ptr,
      frames: frames.ptr,
      window: t.window,
      n: t.n,
      hop: t.hop,
      T,
      pad: (t.n - t.hop) >> 1,
      samples,
    });
  });
  return out;
}
