// Residual vector quantisation helpers. Distances come from gemm: scores[k, t] = |e_k|^2 - 2 e_k . r_t
// (the -2 folded into a codebook copy at load, |r_t|^2 dropped: it does not change the argmin).
// Layouts: scores: [K, T]; residual, out: [D, T]; embed: [K, D] row-major; codes: i32 [T].

// codes[t] = the first k minimising scores[k, t], for t in [colBegin, colEnd).
export function argmin_cols(codes: usize, scores: usize, K: i32, T: i32, colBegin: i32, colEnd: i32): void {
  const stride = (<usize>T) << 2;
  for (let t = colBegin; t < colEnd; t++) {
    let p = scores + ((<usize>t) << 2);
    let best = load<f32>(p);
    let arg = 0;
    for (let k = 1; k < K; k++) {
      p += stride;
      const v = load<f32>(p);
      // Strict < keeps the first index on ties, like torch.max over -dist.
      if (v < best) {
        best = v;
        arg = k;
      }
    }
    store<i32>(codes + ((<usize>t) << 2), arg);
  }
}

// residual[d, t] -= embed[codes[t], d] for t in [colBegin, colEnd).
export function subtract_codewords(
  residual: usize,
  embed: usize,
  codes: usize,
  D: i32,
  T: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  for (let t = colBegin; t < colEnd; t++) {
    const e = embed + ((<usize>load<i32>(codes + ((<usize>t) << 2)) * D) << 2);
    let p = residual + ((<usize>t) << 2);
    for (let d = 0; d < D; d++) {
      store<f32>(p, load<f32>(p) - load<f32>(e + ((<usize>d) << 2)));
      p += (<usize>T) << 2;
    }
  }
}

// out[d, t] += embed[codes[t], d] for t in [colBegin, colEnd): the decoder's codebook sum.
export function add_codewords(
  out: usize,
  embed: usize,
  codes: usize,
  D: i32,
  T: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  for (let t = colBegin; t < colEnd; t++) {
    const e = embed + ((<usize>load<i32>(codes + ((<usize>t) << 2)) * D) << 2);
    let p = out + ((<usize>t) << 2);
    for (let d = 0; d < D; d++) {
      store<f32>(p, load<f32>(p) + load<f32>(e + ((<usize>d) << 2)));
      p += (<usize>T) << 2;
    }
  }
}

// sq[k] = sum_d embed[k, d]^2 and neg2[k, d] = -2 embed[k, d] (exact: a power-of-two scale). Load time.
export function codebook_prepare(sq: usize, neg2: usize, embed: usize, K: i32, D: i32): void {
  for (let k = 0; k < K; k++) {
    const row = embed + ((<usize>k * D) << 2);
    let s: f32 = 0;
    for (let d = 0; d < D; d++) {
      const v = load<f32>(row + ((<usize>d) << 2));
      s += v * v;
      store<f32>(neg2 + ((<usize>k * D + d) << 2), v * <f32>-2.0);
    }
    store<f32>(sq + ((<usize>k) << 2), s);
  }
}
