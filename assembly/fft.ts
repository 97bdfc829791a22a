// The inverse STFT of X-Codec 2's (Vocos') head: per frame an inverse real FFT of n points (a
// mixed-radix Stockham FFT, radices 4, 2, 3, 5, in f64) of the spectrum mag e^(i phase), windowed;
// then the overlap-add with the squared-window envelope and the "same" crop.
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/xcodec2/modeling_xcodec2.py

// This instance's scratch: two complex buffers of MAX_FFT f64 pairs and one radix's values.
const MAX_FFT: i32 = 4096;
let buffers: usize = 0;

export function fft_scratch_bytes(): i32 {
  return 2 * MAX_FFT * 16 + 2 * 8 * 16;
}

export function fft_scratch(p: usize): void {
  buffers = p;
}

// The largest n istft_frames takes; n must also factor into 2, 3 and 5 (fft_supports).
export function fft_max_points(): i32 {
  return MAX_FFT;
}

@inline function radixOf(m: i32): i32 {
  if (m % 4 == 0) return 4;
  if (m % 2 == 0) return 2;
  if (m % 3 == 0) return 3;
  if (m % 5 == 0) return 5;
  return 0;
}

// 1 when n points factor into 2, 3 and 5 and fit the scratch.
export function fft_supports(n: i32): i32 {
  if (n < 2 || n > MAX_FFT) return 0;
  let m = n;
  while (m > 1) {
    const r = radixOf(m);
    if (r == 0) return 0;
    m /= r;
  }
  return 1;
}

// frames[t, m] = window[m] * irfft(spec[:, t])[m] for frames t in [frameBegin, frameEnd): spec [n + 2, T]
// holds the head's n/2 + 1 log-magnitudes (clamped after exp at 100) then n/2 + 1 phases; imaginary
// parts of the DC and Nyquist bins are dropped, as irfft does; 1/n scaling ("backward").
// twiddles: n f64 pairs exp(+2 pi i k / n).
export function istft_frames(
  frames: usize,
  spec: usize,
  window: usize,
  twiddles: usize,
  n: i32,
  T: i32,
  frameBegin: i32,
  frameEnd: i32,
): void {
  const half = n >> 1;
  const phases = spec + ((<usize>(half + 1) * T) << 2);
  const a = buffers;
  const b = buffers + ((<usize>MAX_FFT) << 4);
  const v = buffers + ((<usize>(2 * MAX_FFT)) << 4);
  const w = v + 8 * 16;
  const inv = 1.0 / <f64>n;
  for (let t = frameBegin; t < frameEnd; t++) {
    for (let k = 0; k <= half; k++) {
      const lm = <f64>load<f32>(spec + ((<usize>k * T + t) << 2));
      const mag = <f64>min(<f32>Math.exp(lm), <f32>100.0);
      // sin and cos from one argument reduction: NativeMath.sincos gives the same bits as sin and cos
      // (musl's kernels and quadrant rules) for every finite f32 phase
      NativeMath.sincos(<f64>load<f32>(phases + ((<usize>k * T + t) << 2)));
      const re = <f64>(<f32>(mag * NativeMath.sincos_cos));
      const im = k == 0 || k == half ? 0.0 : <f64>(<f32>(mag * NativeMath.sincos_sin));
      store<f64>(a + ((<usize>k) << 4), re);
      store<f64>(a + ((<usize>k) << 4), im, 8);
      if (k > 0 && k < half) {
        store<f64>(a + ((<usize>(n - k)) << 4), re);
        store<f64>(a + ((<usize>(n - k)) << 4), -im, 8);
      }
    }
    const result = stockham(a, b, v, w, twiddles, n);
    const row = frames + ((<usize>t * n) << 2);
    for (let m = 0; m < n; m++) {
      const x = <f32>(load<f64>(result + ((<usize>m) << 4)) * inv);
      store<f32>(row + ((<usize>m) << 2), x * load<f32>(window + ((<usize>m) << 2)));
    }
  }
}

// The inverse DFT of the n complex values at x (sign +, unscaled) by Stockham's autosort passes
// between x and y; returns the buffer holding the result. Butterfly j = jb + k (jb a multiple of ns,
// k < ns) twiddles its inputs by exp(2 pi i k r step / n) (k r step < n) and takes the radix-R DFT
// with exp(2 pi i ((r q) mod R) / R), index ((r q) mod R) stride, counted up without a division.
function stockham(x: usize, y: usize, v: usize, w: usize, tw: usize, n: i32): usize {
  let ns = 1;
  let m = n;
  while (m > 1) {
    const R = radixOf(m);
    const stride = n / R;
    const step = n / (ns * R);
    for (let jb = 0; jb < stride; jb += ns) {
      for (let k = 0; k < ns; k++) {
        const j = jb + k;
        for (let r = 0; r < R; r++) {
          const src = x + ((<usize>(j + r * stride)) << 4);
          const xr = load<f64>(src);
          const xi = load<f64>(src, 8);
          const ti = (<usize>(k * r * step)) << 4;
          const cr = load<f64>(tw + ti);
          const ci = load<f64>(tw + ti, 8);
          store<f64>(v + ((<usize>r) << 4), xr * cr - xi * ci);
          store<f64>(v + ((<usize>r) << 4), xr * ci + xi * cr, 8);
        }
        // the radix-R DFT of v into w
        for (let q = 0; q < R; q++) {
          let sr = 0.0;
          let si = 0.0;
          let rq = 0; // (r q) mod R
          for (let r = 0; r < R; r++) {
            const ti = (<usize>(rq * stride)) << 4;
            const cr = load<f64>(tw + ti);
            const ci = load<f64>(tw + ti, 8);
            const vr = load<f64>(v + ((<usize>r) << 4));
            const vi = load<f64>(v + ((<usize>r) << 4), 8);
            sr += vr * cr - vi * ci;
            si += vr * ci + vi * cr;
            rq += q;
            if (rq >= R) rq -= R;
          }
          store<f64>(w + ((<usize>q) << 4), sr);
          store<f64>(w + ((<usize>q) << 4), si, 8);
        }
        const base = jb * R + k;
        for (let r = 0; r < R; r++) {
          const dst = y + ((<usize>(base + r * ns)) << 4);
          store<f64>(dst, load<f64>(w + ((<usize>r) << 4)));
          store<f64>(dst, load<f64>(w + ((<usize>r) << 4), 8), 8);
        }
      }
    }
    const s = x;
    x = y;
    y = s;
    ns *= R;
    m /= R;
  }
  return x;
}

// out[s] = sum_t frames[t, p - t hop] / max(sum_t window[p - t hop]^2, 1e-11) for p = s + pad, over
// the frames that cover p (t ascending): torch's fold overlap-add, cropped by pad on each side, and
// divided by the folded squared-window envelope. frames [T, n]; samples s in [sBegin, sEnd).
export function overlap_add(
  out: usize,
  frames: usize,
  window: usize,
  n: i32,
  hop: i32,
  T: i32,
  pad: i32,
  sBegin: i32,
  sEnd: i32,
): void {
  for (let s = sBegin; s < sEnd; s++) {
    const p = s + pad;
    const last = min(T - 1, p / hop);
    const first = max(0, (p - n + hop) / hop);
    let sum: f32 = 0;
    let env: f32 = 0;
    for (let t = first; t <= last; t++) {
      const m = p - t * hop;
      const wv = load<f32>(window + ((<usize>m) << 2));
      sum += load<f32>(frames + ((<usize>(t * n + m)) << 2));
      env += wv * wv;
    }
    store<f32>(out + ((<usize>s) << 2), sum / max(env, <f32>1e-11));
  }
}

// Rotary embedding over rows of x [R, T] (R = heads * d): out[r, t] = x[r, t] cos[r] + rot(x)[r, t] sin[r],
// rot pairing row i of a head with i + d/2 (negated) and i - d/2 (Llama's rotate_half), rows
// [rowBegin, rowEnd). out must not overlap x.
export function rotate_half_rows(
  out: usize,
  x: usize,
  cos: usize,
  sin: usize,
  d: i32,
  T: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const h = d >> 1;
  for (let r = rowBegin; r < rowEnd; r++) {
    const i = r % d;
    const partner = i < h ? r + h : r - h;
    const c = f32x4.splat(load<f32>(cos + ((<usize>r) << 2)));
    const sv = load<f32>(sin + ((<usize>r) << 2));
    const s = f32x4.splat(i < h ? -sv : sv);
    const xr = x + ((<usize>r * T) << 2);
    const pr = x + ((<usize>partner * T) << 2);
    const or = out + ((<usize>r * T) << 2);
    let t = 0;
    for (; t + 4 <= T; t += 4) {
      const o = (<usize>t) << 2;
      v128.store(or + o, f32x4.add(f32x4.mul(v128.load(xr + o), c), f32x4.mul(v128.load(pr + o), s)));
    }
    const c1 = f32x4.extract_lane(c, 0);
    const s1 = f32x4.extract_lane(s, 0);
    for (; t < T; t++) {
      const o = (<usize>t) << 2;
      store<f32>(or + o, load<f32>(xr + o) * c1 + load<f32>(pr + o) * s1);
    }
  }
}
