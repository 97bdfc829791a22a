// Load-time weight preparation: weight norm folded, conv weights packed for the GEMM.

// Weight norm: w = v * g / ||v|| with the norm over every axis but `dim`, for v viewed as
// [outer, D, inner] where D is the kept axis; g: [D]. Accumulated in f64 (load time only).
export function weight_norm(out: usize, v: usize, g: usize, outer: i32, D: i32, inner: i32): void {
  for (let d = 0; d < D; d++) {
    let s: f64 = 0;
    for (let o = 0; o < outer; o++) {
      const base = v + ((<usize>(o * D + d) * inner) << 2);
      for (let i = 0; i < inner; i++) {
        const e = <f64>load<f32>(base + ((<usize>i) << 2));
        s += e * e;
      }
    }
    const k: f32 = <f32>(<f64>load<f32>(g + ((<usize>d) << 2)) / Math.sqrt(s));
    for (let o = 0; o < outer; o++) {
      const off = (<usize>(o * D + d) * inner) << 2;
      for (let i = 0; i < inner; i++) {
        const p = (<usize>i) << 2;
        store<f32>(out + off + p, load<f32>(v + off + p) * k);
      }
    }
  }
}

// Repacks a strided Conv1d weight w: [cout, cin, K] into out: [cout, cin * K] for the phase-split conv:
// row co holds, for each input channel c and phase r < s, the taps q*s + r < K in q order:
// out[co, ...] = w[co, c, q*s + r]. A phase with fewer taps than ceil(K / s) (K % s != 0) gets no
// zero columns, so the GEMM multiplies nothing by zero (gemm_rows_phases lists the matching B rows).
export function pack_conv_strided(out: usize, w: usize, cout: i32, cin: i32, K: i32, s: i32): void {
  let o = out;
  for (let co = 0; co < cout; co++) {
    for (let c = 0; c < cin; c++) {
      const row = w + ((<usize>(co * cin + c) * K) << 2);
      for (let r = 0; r < s; r++) {
        for (let k = r; k < K; k += s) {
          store<f32>(o, load<f32>(row + ((<usize>k) << 2)));
          o += 4;
        }
      }
    }
  }
}

// Repacks a ConvTranspose1d weight w: [cin, cout, K] into out: [cout * s, cin * taps] with
// out[co*s + ph, ci*taps + j] = w[ci, co, ph + (taps - 1 - j) * s] (zero where that tap is >= K).
export function pack_conv_transpose(out: usize, w: usize, cin: i32, cout: i32, K: i32, s: i32, taps: i32): void {
  let o = out;
  for (let co = 0; co < cout; co++) {
    for (let ph = 0; ph < s; ph++) {
      for (let ci = 0; ci < cin; ci++) {
        const row = w + ((<usize>(ci * cout + co) * K) << 2);
        for (let j = 0; j < taps; j++) {
          const k = ph + (taps - 1 - j) * s;
          store<f32>(o, k < K ? load<f32>(row + ((<usize>k) << 2)) : 0);
          o += 4;
        }
      }
    }
  }
}
