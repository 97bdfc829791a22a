// Data movement: zero padding, the polyphase split and merge of strided and transposed convolutions,
// and transposition. Kernels that take [rowBegin, rowEnd) are split across threads by rows.

// Copies x: [C, T] into out: [C, T + padLeft + padRight] with zero margins (the implicit im2col of
// gemm reads past each row's ends into these zeros).
export function pad_rows(out: usize, x: usize, T: i32, padLeft: i32, padRight: i32, rowBegin: i32, rowEnd: i32): void {
  const To = T + padLeft + padRight;
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = out + ((<usize>c * To) << 2);
    memory.fill(o, 0, (<usize>padLeft) << 2);
    memory.copy(o + ((<usize>padLeft) << 2), x + ((<usize>c * T) << 2), (<usize>T) << 2);
    memory.fill(o + ((<usize>(padLeft + T)) << 2), 0, (<usize>padRight) << 2);
  }
}

// Stores column j of the 4x4 matrix with rows a, b, c, d at p + j * stride (bytes).
@inline function storeTransposed(a: v128, b: v128, c: v128, d: v128, p: usize, stride: usize): void {
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(p, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
  v128.store(p + stride, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7));
  v128.store(p + 2 * stride, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5));
  v128.store(p + 3 * stride, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7));
}

// Polyphase split for strided convolution: out[c * s + r, m] = x[c, m * s + r] for m < Tp, zero where
// m * s + r >= T. x: [C, T], out: [C * s, Tp]. A stride-s conv over x is then a stride-1 conv over out.
// Reads x in order and writes the s phase rows side by side; only the last, partial group needs the
// bounds check (a per-element check and strided reads ran at ~1 ns per element).
export function deinterleave(out: usize, x: usize, T: i32, s: i32, Tp: i32, rowBegin: i32, rowEnd: i32): void {
  const phase = (<usize>Tp) << 2;
  const full = min(Tp, T / s);
  const group = (<usize>s) << 2; // bytes of x per group of s samples
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = out + ((<usize>(c * s) * Tp) << 2);
    let xp = x + ((<usize>c * T) << 2);
    let m = 0;
    if (s == 2) {
      for (; m + 4 <= full; m += 4) {
        const a = v128.load(xp);
        const b = v128.load(xp, 16);
        v128.store(o + ((<usize>m) << 2), i32x4.shuffle(a, b, 0, 2, 4, 6));
        v128.store(o + phase + ((<usize>m) << 2), i32x4.shuffle(a, b, 1, 3, 5, 7));
        xp += 32;
      }
    } else if (s == 4 || s == 8) {
      // 4 groups at a time: the 4x4 transposes of their first (and for s = 8, second) four phases
      for (; m + 4 <= full; m += 4) {
        const op = o + ((<usize>m) << 2);
        storeTransposed(
          v128.load(xp),
          v128.load(xp + group),
          v128.load(xp + 2 * group),
          v128.load(xp + 3 * group),
          op,
          phase,
        );
        if (s == 8) {
          storeTransposed(
            v128.load(xp, 16),
            v128.load(xp + group, 16),
            v128.load(xp + 2 * group, 16),
            v128.load(xp + 3 * group, 16),
            op + 4 * phase,
            phase,
          );
        }
        xp += 4 * group;
      }
    }
    // the remaining whole groups (every group for other strides), one sample at a time
    for (; m < full; m++) {
      let op = o + ((<usize>m) << 2);
      for (let r = 0; r < s; r++) {
        store<f32>(op, load<f32>(xp));
        xp += 4;
        op += phase;
      }
    }
    for (let m = full; m < Tp; m++) {
      for (let r = 0; r < s; r++) {
        const i = m * s + r;
        store<f32>(o + <usize>r * phase + ((<usize>m) << 2), i < T ? load<f32>(x + ((<usize>c * T + i) << 2)) : 0);
      }
    }
  }
}

// Inverse of the transposed convolution's phase split: out[c, t] = y[c, p, n] with t = n * s + p - shift,
// for the output range t in [0, Tout). y: [C, s, Tn] (phase p's stride-1 result in row c * s + p).
// Walks t in order with (n, p) carried along: whole groups of s outputs read the s phase rows side by
// side, the partial groups at both ends one element at a time (a division per element ran at ~1.8 ns).
export function interleave(
  out: usize,
  y: usize,
  s: i32,
  Tn: i32,
  shift: i32,
  Tout: i32,
  rowBegin: i32,
  rowEnd: i32,
): void {
  const phase = (<usize>Tn) << 2;
  for (let c = rowBegin; c < rowEnd; c++) {
    const o = out + ((<usize>c * Tout) << 2);
    const y0 = y + ((<usize>(c * s) * Tn) << 2);
    let n = shift / s;
    let p = shift - n * s;
    let t = 0;
    for (; p != 0 && t < Tout; t++) {
      store<f32>(o + ((<usize>t) << 2), load<f32>(y0 + <usize>p * phase + ((<usize>n) << 2)));
      if (++p == s) {
        p = 0;
        n++;
      }
    }
    if (s == 2) {
      for (; t + 8 <= Tout; t += 8) {
        const a = v128.load(y0 + ((<usize>n) << 2));
        const b = v128.load(y0 + phase + ((<usize>n) << 2));
        v128.store(o + ((<usize>t) << 2), i32x4.shuffle(a, b, 0, 4, 1, 5));
        v128.store(o + ((<usize>t) << 2), i32x4.shuffle(a, b, 2, 6, 3, 7), 16);
        n += 4;
      }
    }
    if (s == 4 || s == 8) {
      // 4 groups at a time: transposing 4 columns of the first (and second) four phase rows gives each
      // group's outputs in order
      const g = (<usize>s) << 2; // bytes per group of outputs
      for (; t + 4 * s <= Tout; t += 4 * s) {
        const yp = y0 + ((<usize>n) << 2);
        const op = o + ((<usize>t) << 2);
        storeTransposed(
          v128.load(yp),
          v128.load(yp + phase),
          v128.load(yp + 2 * phase),
          v128.load(yp + 3 * phase),
          op,
          g,
        );
        if (s == 8) {
          const yq = yp + 4 * phase;
          storeTransposed(
            v128.load(yq),
            v128.load(yq + phase),
            v128.load(yq + 2 * phase),
            v128.load(yq + 3 * phase),
            op + 16,
            g,
          );
        }
        n += 4;
      }
    }
    for (; t + s <= Tout; t += s) {
      let yp = y0 + ((<usize>n) << 2);
      const op = o + ((<usize>t) << 2);
      for (let q = 0; q < s; q++) {
        store<f32>(op + ((<usize>q) << 2), load<f32>(yp));
        yp += phase;
      }
      n++;
    }
    for (let q = 0; t < Tout; t++, q++)
      store<f32>(o + ((<usize>t) << 2), load<f32>(y0 + <usize>q * phase + ((<usize>n) << 2)));
  }
}

// out[j, i] = x[i, j]; x: [R, Cn] -> out: [Cn, R]. Four rows at a time as 4 x 4 blocks (four loads,
// eight shuffles, four stores), the column and row tails one element at a time.
export function transpose(out: usize, x: usize, R: i32, Cn: i32, rowBegin: i32, rowEnd: i32): void {
  const rowBytes = (<usize>Cn) << 2;
  const outRow = (<usize>R) << 2;
  let i = rowBegin;
  for (; i + 4 <= rowEnd; i += 4) {
    const x0 = x + <usize>i * rowBytes;
    let j = 0;
    for (; j + 4 <= Cn; j += 4) {
      const p = x0 + ((<usize>j) << 2);
      const a = v128.load(p);
      const b = v128.load(p + rowBytes);
      const c = v128.load(p + 2 * rowBytes);
      const d = v128.load(p + 3 * rowBytes);
      const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
      const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
      const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
      const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
      const o = out + ((<usize>j * R + i) << 2);
      v128.store(o, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
      v128.store(o + outRow, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7));
      v128.store(o + 2 * outRow, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5));
      v128.store(o + 3 * outRow, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7));
    }
    for (; j < Cn; j++) {
      for (let r = 0; r < 4; r++)
        store<f32>(out + ((<usize>j * R + i + r) << 2), load<f32>(x0 + <usize>r * rowBytes + ((<usize>j) << 2)));
    }
  }
  for (; i < rowEnd; i++) {
    const xr = x + <usize>i * rowBytes;
    for (let j = 0; j < Cn; j++) store<f32>(out + ((<usize>j * R + i) << 2), load<f32>(xr + ((<usize>j) << 2)));
  }
}
