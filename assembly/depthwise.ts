// Depthwise convolution: each channel convolved with its own K taps (groups = channels), four outputs
// per vector. x: rows of ldx floats already padded (ldx >= T + K - 1); w: [C, K]; out: [C, T].

export function depthwise_conv_rows(
  out: usize,
  x: usize,
  w: usize,
  ldx: i32,
  K: i32,
  T: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  for (let c = rowBegin; c < rowEnd; c++) {
    const xr = x + ((<usize>c * ldx) << 2);
    const wr = w + ((<usize>c * K) << 2);
    const or = out + ((<usize>c * T) << 2);
    let t = 0;
    for (; t + 8 <= T; t += 8) {
      let a = f32x4.splat(0);
      let b = f32x4.splat(0);
      const p = xr + ((<usize>t) << 2);
      for (let k = 0; k < K; k++) {
        const wk = v128.load32_splat(wr + ((<usize>k) << 2));
        a = f32x4.add(a, f32x4.mul(wk, v128.load(p + ((<usize>k) << 2))));
        b = f32x4.add(b, f32x4.mul(wk, v128.load(p + ((<usize>k) << 2), 16)));
      }
      v128.store(or + ((<usize>t) << 2), a);
      v128.store(or + ((<usize>t) << 2), b, 16);
    }
    for (; t < T; t++) {
      let s: f32 = 0;
      const p = xr + ((<usize>t) << 2);
      for (let k = 0; k < K; k++) s += load<f32>(wr + ((<usize>k) << 2)) * load<f32>(p + ((<usize>k) << 2));
      store<f32>(or + ((<usize>t) << 2), s);
    }
  }
}
