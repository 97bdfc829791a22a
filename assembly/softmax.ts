// The attention's column softmax (scores are stored keys x queries).

import { expNonPositivev } from './simd';

// Softmax down each column of s: [R, Cn] (normalises over rows r for every column), in place,
// columns [colBegin, colEnd). Attention scores are stored transposed (keys x queries) so this is the
// usual softmax over keys. scratch: 2 rows of ceil(Cn / 16) * 16 f32 (64-byte aligned), the running
// max and sum of each column; a call touches only its own columns there, so threads working on
// disjoint column ranges share it, and with ranges split at multiples of 16 columns no cache line of
// it is written by two threads (it is updated for every row).
//
// The passes walk rows (contiguous), not columns: a column walk reads 16 bytes per 2 KB stride and
// chains every row's max and add, several times slower. Per column the operations and their order are
// the same whatever the range or the lane, so results do not depend on how columns are split.
// pmax is x64's plain maxps; f32x4.max's NaN and signed-zero rules cost several instructions and would
// change no result (a NaN score makes its column's sum, so all of the column, NaN either way).
export function softmax_cols(s: usize, R: i32, Cn: i32, scratch: usize, colBegin: i32, colEnd: i32): void {
  const stride = <usize>Cn << 2;
  const mx = scratch;
  const sum = scratch + ((<usize>(Cn + 15) & ~15) << 2);
  const vecEnd = colBegin + ((colEnd - colBegin) & ~3);
  for (let t = colBegin; t < colEnd; t++) {
    store<f32>(mx + (<usize>t << 2), -Infinity);
    store<f32>(sum + (<usize>t << 2), 0);
  }
  let row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = <usize>t << 2;
      v128.store(mx + o, f32x4.pmax(v128.load(mx + o), v128.load(row + o)));
    }
    for (; t < colEnd; t++) {
      const o = <usize>t << 2;
      const m = load<f32>(mx + o);
      const v = load<f32>(row + o);
      store<f32>(mx + o, m < v ? v : m);
    }
    row += stride;
  }
  const vec6End = colBegin + (vecEnd - colBegin) / 24 * 24;
  row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vec6End; t += 24) { // six independent exps per iteration, as in mapVec
      const o = <usize>t << 2;
      const e0 = expNonPositivev(f32x4.sub(v128.load(row + o), v128.load(mx + o)));
      const e1 = expNonPositivev(f32x4.sub(v128.load(row + o, 16), v128.load(mx + o, 16)));
      const e2 = expNonPositivev(f32x4.sub(v128.load(row + o, 32), v128.load(mx + o, 32)));
      const e3 = expNonPositivev(f32x4.sub(v128.load(row + o, 48), v128.load(mx + o, 48)));
      const e4 = expNonPositivev(f32x4.sub(v128.load(row + o, 64), v128.load(mx + o, 64)));
      const e5 = expNonPositivev(f32x4.sub(v128.load(row + o, 80), v128.load(mx + o, 80)));
      v128.store(row + o, e0); v128.store(row + o, e1, 16); v128.store(row + o, e2, 32);
      v128.store(row + o, e3, 48); v128.store(row + o, e4, 64); v128.store(row + o, e5, 80);
      v128.store(sum + o, f32x4.add(v128.load(sum + o), e0));
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 16), e1), 16);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 32), e2), 32);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 48), e3), 48);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 64), e4), 64);
      v128.store(sum + o, f32x4.add(v128.load(sum + o, 80), e5), 80);
    }
    for (; t < vecEnd; t += 4) {
      const o = <usize>t << 2;
      const e = expNonPositivev(f32x4.sub(v128.load(row + o), v128.load(mx + o)));
      v128.store(row + o, e);
      v128.store(sum + o, f32x4.add(v128.load(sum + o), e));
    }
    for (; t < colEnd; t++) {
      const o = <usize>t << 2;
      const e = f32x4.extract_lane(expNonPositivev(f32x4.splat(load<f32>(row + o) - load<f32>(mx + o))), 0);
      store<f32>(row + o, e);
      store<f32>(sum + o, load<f32>(sum + o) + e);
    }
    row += stride;
  }
  // The reciprocals replace the maxima in scratch.
  for (let t = colBegin; t < colEnd; t++) store<f32>(mx + (<usize>t << 2), <f32>1.0 / load<f32>(sum + (<usize>t << 2)));
  row = s;
  for (let r = 0; r < R; r++) {
    let t = colBegin;
    for (; t < vecEnd; t += 4) {
      const o = <usize>t << 2;
      v128.store(row + o, f32x4.mul(v128.load(row + o), v128.load(mx + o)));
    }
    for (; t < colEnd; t++) {
      const o = <usize>t << 2;
      store<f32>(row + o, load<f32>(row + o) * load<f32>(mx + o));
    }
    row += stride;
  }
}
