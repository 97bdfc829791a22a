// Long inputs in windows of frames, each computed with `context` frames on both sides so that its kept
// frames come out exactly as in one call over everything (every stage is local; see docs/design.md).
// The one place the window and context arithmetic is written: the acoustic encoder, the semantic
// model's feature encoder (context 0) and the decoder all walk these.

import { XcodecInputError, describe } from '../errors.js';

export interface FrameWindow {
  /** frames [begin, end) are this window's result */
  begin: number;
  end: number;
  /** frames [from, to) are computed: the window with its context, clipped to [0, total) */
  from: number;
  to: number;
}

/** Window when windowFrames is not given: 30 s at 50 frames/s. */
export const DEFAULT_WINDOW_FRAMES = 1500;

/** The windows covering `total` frames: one (no context) when they fit in `size`. */
export function frameWindows(total: number, size: number, context: number): FrameWindow[] {
  if (total <= size) return [{ begin: 0, end: total, from: 0, to: total }];
  const out: FrameWindow[] = [];
  for (let begin = 0; begin < total; begin += size) {
    const end = Math.min(total, begin + size);
    out.push({ begin, end, from: Math.max(0, begin - context), to: Math.min(total, end + context) });
  }
  return out;
}

/** Number of windows frameWindows() gives (progress accounting without building them). */
export function windowCount(total: number, size: number): number {
  return total <= size ? 1 : Math.ceil(total / size);
}

/** An API caller's windowFrames, checked: a positive integer, Infinity (one window) or the default. */
export function checkWindowFrames(w: unknown): number {
  if (w === undefined) return DEFAULT_WINDOW_FRAMES;
  if (typeof w !== 'number' || !(Number.isInteger(w) || w === Infinity) || w < 1) {
    throw new XcodecInputError(
      `windowFrames ${describe(w)} is not accepted; accepted: an integer >= 1 (frames per window), or Infinity for one window`,
    );
  }
  return w;
}

/** The largest t in [0, upTo] with fits(t), fits monotone (true up to some t): a bisection. */
export function largestFitting(upTo: number, fits: (t: number) => boolean): number {
  let best = 0;
  for (let lo = 0, hi = upTo; lo <= hi; ) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
