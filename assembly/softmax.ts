// The attention's online softmax (scores are stored keys x queries, so it runs down columns).

import { expNonPositivev } from './simd';

// One key block of the online softmax, over columns [colBegin, colEnd) of s: [R, ld] (keys x queries),
// in place. state: 4 rows of ld floats addressed by column like s: the running max m, the running sum
// l, this block's rescale factor a = exp(m_old - m_new) (left for the caller to scale its context
// with), and this block's sum. first: 1 for the first block (m = max, l = sum, no rescale).
// The passes walk rows (contiguous), not columns: a column walk reads 16 bytes per row stride and
// chains every row's max and add, several times slower. Each column gets the same operations in the
// same order in a vector lane or the scalar tail, so results do not depend on how columns are split.
// pmax is x64's plain maxps; f32x4.max's NaN and signed-zero rules cost several instructions and would
// change no result (a NaN score makes its column's sum, so all of the column, NaN either way).
export function softmax_online_cols(
  s: usize,
  R: i32,
  ld: i32,
  state: usize,
  first: i32,
  colBegin: i32,
  colEnd: i32,
): void {
  onlineSoftmaxBlock(s, R, ld, state, first, colBegin, colEnd, 0);
}

// softmax_online_cols, with P written to `panels` in the GEMM's packed-B layout for columns [colBegin,
// colEnd) (panel j: [R, 8], columns colBegin + 8j .., zero past colEnd) instead of over s: the context
// product reads that layout, and packing it there was a second pass over the block.
export function softmaxOnlineToPanels(
  s: usize,
  R: i32,
  ld: i32,
  state: usize,
  first: i32,
  colBegin: i32,
  colEnd: i32,
  panels: usize,
): void {
  onlineSoftmaxBlock(s, R, ld, state, first, colBegin, colEnd, panels);
  const w = colEnd - colBegin;
  if ((w & 7) == 0) return;
  // The last panel's lanes past colEnd: zeros, as gemm_pack_b leaves them.
  const last = panels + ((<usize>((w >> 3) * R)) << 5);
  for (let r = 0; r < R; r++) {
    for (let j = w & 7; j < 8; j++) store<f32>(last + ((<usize>r) << 5) + ((<usize>j) << 2), 0);
  }
}

// Where P[r, t] goes: over s (panels == 0; a loop-invariant branch) or into panels.
@inline function pAt(row: usize, panels: usize, R: i32, r: i32, colBegin: i32, t: i32): usize {
  if (panels == 0) return row + ((<usize>t) << 2);
  const c = t - colBegin;
  return panels + ((<usize>((c >> 3) * R + r)) << 5) + ((<usize>(c & 7)) << 2);
}

@inline function onlineSoftmaxBlock(
  s: usize,
  R: i32,
  ld: i32,
  state: usize,
  first: i32,
  colBegin: i32,
  colEnd: i32,
  panels: usize,
): void {
  const stride = (<usize>ld) << 2;
  const mx = state;
  const sum = state + stride;
  const alpha = sum + stride;
  const bsum = alpha + stride;
  const vecEnd = colBegin + ((colEnd - colBegin) & ~3);
  // New max into bsum (as scratch), starting from the old one.
  for (let t = colBegin; t < colEnd; t++) {
    store<f32>(bsum + ((<usize>t) << 2), first != 0 ? -Infinity : load<f32>(mx + ((<usize>t) << 2)));
  }
  let row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = (<usize>t) << 2;
      v128.store(bsum + o, f32x4.pmax(v128.load(bsum + o), v128.load(row + o)));
    }
    for (; t < colEnd; t++) {
      const o = (<usize>t) << 2;
      const m = load<f32>(bsum + o);
      const x = load<f32>(row + o);
      store<f32>(bsum + o, m < x ? x : m);
    }
    row += stride;
  }
  // Rescale factors, the new max in place, the block sum reset.
  {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = (<usize>t) << 2;
      const mNew = v128.load(bsum + o);
      if (first == 0) v128.store(alpha + o, expNonPositivev(f32x4.sub(v128.load(mx + o), mNew)));
      v128.store(mx + o, mNew);
      v128.store(bsum + o, f32x4.splat(0));
    }
    for (; t < colEnd; t++) {
      const o = (<usize>t) << 2;
      const mNew = load<f32>(bsum + o);
      if (first == 0)
        store<f32>(alpha + o, f32x4.extract_lane(expNonPositivev(f32x4.splat(load<f32>(mx + o) - mNew)), 0));
      store<f32>(mx + o, mNew);
      store<f32>(bsum + o, 0);
    }
  }
  const vec6End = colBegin + ((vecEnd - colBegin) / 24) * 24;
  row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vec6End; t += 24) {
      // six independent exps per iteration, as in mapVec
      const o = (<usize>t) << 2;
      const e0 = expNonPositivev(f32x4.sub(v128.load(row + o), v128.load(mx + o)));
      const e1 = expNonPositivev(f32x4.sub(v128.load(row + o, 16), v128.load(mx + o, 16)));
      const e2 = expNonPositivev(f32x4.sub(v128.load(row + o, 32), v128.load(mx + o, 32)));
      const e3 = expNonPositivev(f32x4.sub(v128.load(row + o, 48), v128.load(mx + o, 48)));
      const e4 = expNonPositivev(f32x4.sub(v128.load(row + o, 64), v128.load(mx + o, 64)));
      const e5 = expNonPositivev(f32x4.sub(v128.load(row + o, 80), v128.load(mx + o, 80)));
      if (panels == 0) {
        v128.store(row + o, e0);
        v128.store(row + o, e1, 16);
        v128.store(row + o, e2, 32);
        v128.store(row + o, e3, 48);
        v128.store(row + o, e4, 64);
        v128.store(row + o, e5, 80);
      } else {
        // t - colBegin is a multiple of 24: three whole panels
        const p0 = pAt(row, panels, R, r, colBegin, t);
        const step = (<usize>R) << 5;
        v128.store(p0, e0);
        v128.store(p0, e1, 16);
        v128.store(p0 + step, e2);
        v128.store(p0 + step, e3, 16);
        v128.store(p0 + 2 * step, e4);
        v128.store(p0 + 2 * step, e5, 16);
      }
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o), e0));
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o, 16), e1), 16);
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o, 32), e2), 32);
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o, 48), e3), 48);
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o, 64), e4), 64);
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o, 80), e5), 80);
    }
    for (; t < vecEnd; t += 4) {
      const o = (<usize>t) << 2;
      const e = expNonPositivev(f32x4.sub(v128.load(row + o), v128.load(mx + o)));
      v128.store(pAt(row, panels, R, r, colBegin, t), e);
      v128.store(bsum + o, f32x4.add(v128.load(bsum + o), e));
    }
    for (; t < colEnd; t++) {
      const o = (<usize>t) << 2;
      const e = f32x4.extract_lane(expNonPositivev(f32x4.splat(load<f32>(row + o) - load<f32>(mx + o))), 0);
      store<f32>(pAt(row, panels, R, r, colBegin, t), e);
      store<f32>(bsum + o, load<f32>(bsum + o) + e);
    }
    row += stride;
  }
  // l = a l + block sum (the first block: l = block sum).
  for (let t = colBegin; t < colEnd; t++) {
    const o = (<usize>t) << 2;
    const b = load<f32>(bsum + o);
    store<f32>(sum + o, first != 0 ? b : load<f32>(alpha + o) * load<f32>(sum + o) + b);
  }
}
