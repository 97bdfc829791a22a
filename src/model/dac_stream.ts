// The DAC decoder one chunk of frames at a time, with the samples bit-identical to one forward() over
// all the frames. Every layer is local, so each keeps the last columns of its input that its next
// outputs still read (a conv's (k - 1) * dilation, a transposed conv's one), and runs only on those and
// the new columns: an output is computed once, when its whole receptive field has arrived, from the
// same values and with the same operations as in one forward (the kernels' results do not depend on
// where a column sits in the call; Winograd tiles stay aligned to the whole signal). Layer state lives
// in JavaScript between chunks, so streams and other calls on the model can interleave on the arena.

import type { Runtime, Tensor } from '../backend/runtime.js';
import { snake } from '../nn/activation.js';
import { type Conv1d, conv1d, convTranspose1d } from '../nn/conv.js';
import { copyColumns } from '../nn/layout.js';
import type { DecoderLayer } from './dac.js';

/** Columns [off, off + cols) of t: a layer's new outputs. */
export interface Piece {
  t: Tensor;
  off: number;
  cols: number;
}

/** One layer's past: the input columns it still needs, from global column `start`. */
interface LayerState {
  history: Float32Array; // [channels, columns] row-major
  columns: number;
  start: number;
  /** inputs received so far */
  received: number;
  /** outputs emitted so far */
  done: number;
}

/** How far a layer's outputs are final, and what it reads, in global column numbers. */
interface Geometry {
  /** input columns before the first, zero (the left padding) */
  leftZeros: number;
  /** zero columns after the last input at the end of the stream (the right padding) */
  rightZeros: number;
  /** outputs [0, ready(A)) can be computed from inputs [0, A) (no end yet) */
  ready(received: number): number;
  /** outputs of `total` inputs */
  outputs(total: number): number;
  /** the first input column output `j` reads */
  firstInput(j: number): number;
}

/** A stride-1 conv (kernel k, dilation d, padding p): Winograd outputs are final a whole tile span (4d) at a time. */
function convGeometry(c: Conv1d): Geometry {
  const reach = (c.kernel - 1) * c.dilation - c.padding;
  const span = c.winograd ? c.winograd.m * c.dilation : 1;
  return {
    leftZeros: c.padding,
    rightZeros: c.padding,
    ready: (a) => Math.max(0, Math.floor((a - reach) / span) * span),
    outputs: (t) => t,
    firstInput: (j) => j - c.padding,
  };
}

function geometry(layer: DecoderLayer): Geometry {
  if (layer.kind !== 'convTranspose') return convGeometry(layer.kind === 'unit' ? layer.conv1 : layer.conv);
  // Output t is phase (t + p) % s of column n = floor((t + p) / s), which reads inputs n - 1 and n.
  const { stride: s, padding: p } = layer.conv;
  return {
    leftZeros: 1,
    rightZeros: 1,
    ready: (a) => Math.max(0, a * s - p),
    outputs: (t) => t * s, // (t - 1) s - 2p + 2s + (s % 2) with p = ceil(s / 2)
    firstInput: (j) => Math.floor((j + p) / s) - 1,
  };
}

/** A decoder's layers stepped through one chunk at a time. */
export class DecoderStream {
  private readonly geometries: Geometry[];
  private constructor(
    private readonly layers: DecoderLayer[],
    private states: LayerState[],
  ) {
    this.geometries = layers.map(geometry);
  }

  static open(layers: DecoderLayer[]): DecoderStream {
    const states = layers.map((layer) => {
      const g = geometry(layer);
      const channels = inputChannels(layer);
      return {
        history: new Float32Array(channels * g.leftZeros),
        columns: g.leftZeros,
        start: -g.leftZeros,
        received: 0,
        done: 0,
      };
    });
    return new DecoderStream(layers, states);
  }

  /** A copy that steps on its own (a speculative end of the stream leaves this one as it was). */
  clone(): DecoderStream {
    return new DecoderStream(
      this.layers,
      this.states.map((s) => ({ ...s, history: s.history.slice() })),
    );
  }

  /** Samples emitted so far. */
  get samples(): number {
    return this.states[this.states.length - 1].done;
  }

  /**
   * Feeds the first layer's new input columns (null: none) and returns the new final samples
   * ([1, n], possibly none); with `end`, the stream ends and every remaining sample comes out.
   */
  step(rt: Runtime, input: Piece | null, end: boolean): Piece | null {
    const base = rt.mark(); // each layer's output replaces its input and temporaries here
    let x = input;
    for (let i = 0; i < this.layers.length; i++) {
      x = this.stepLayer(rt, i, x, end);
      if (x) x = { ...x, t: rt.keep(base, x.t) };
      else rt.release(base);
    }
    return x;
  }

  private stepLayer(rt: Runtime, i: number, input: Piece | null, end: boolean): Piece | null {
    const layer = this.layers[i];
    const g = this.geometries[i];
    const s = this.states[i];
    const C = inputChannels(layer);
    const n = input?.cols ?? 0;
    const zeros = end ? g.rightZeros : 0;
    const W = s.columns + n + zeros;
    // x: the kept columns, the new ones, and at the end the right padding
    const x = rt.tensor([C, W]);
    if (!rt.isMeasuring) {
      const f32 = rt.f32;
      const base = x.ptr >>> 2;
      for (let c = 0; c < C; c++) {
        f32.set(s.history.subarray(c * s.columns, (c + 1) * s.columns), base + c * W);
        if (zeros) f32.fill(0, base + c * W + s.columns + n, base + (c + 1) * W);
      }
    }
    if (input && n) copyColumns(rt, x, s.columns, input.t, input.off, n);
    s.received += n;
    const final = end ? g.outputs(s.received) : Math.max(s.done, g.ready(s.received));
    const out = final > s.done ? this.compute(rt, layer, x, s.done, final) : null;
    // keep what the next outputs read (at the end nothing more is read)
    const from = Math.min(g.firstInput(final) - s.start, s.columns + n);
    const kept = s.columns + n - from;
    // x holds the old history now, so its array takes the new one when the size is the same (the steady state)
    const history = s.history.length === C * kept ? s.history : new Float32Array(C * kept);
    if (!rt.isMeasuring && kept > 0) {
      const f32 = rt.f32;
      for (let c = 0; c < C; c++) {
        const at = (x.ptr >>> 2) + c * W + from;
        history.set(f32.subarray(at, at + kept), c * kept);
      }
    }
    s.history = history;
    s.columns = kept;
    s.start += from;
    s.done = final;
    return out;
  }

  /** Outputs [done, final) of `layer` from x, whose column 0 is the input `firstInput(done)`. */
  private compute(rt: Runtime, layer: DecoderLayer, x: Tensor, done: number, final: number): Piece {
    const cols = final - done;
    if (layer.kind === 'conv') {
      const t = conv1d(rt, x, { ...layer.conv, padding: 0 }, undefined, { snake: layer.snake, origin: done });
      return { t, off: 0, cols };
    }
    if (layer.kind === 'unit') {
      // x + conv2(snake2(conv1(snake1(x)))): conv1's outputs line up with x's columns from its padding on
      const h = conv1d(rt, x, { ...layer.conv1, padding: 0 }, undefined, { snake: layer.snake1, origin: done });
      const r = rt.tensor(h.dims);
      copyColumns(rt, r, 0, x, layer.conv1.padding, h.dims[1]);
      const t = conv1d(rt, snake(rt, h, layer.snake2, true), layer.conv2, r, { into: r });
      return { t, off: 0, cols };
    }
    // A transposed conv over inputs from n0 - 1 (n0: the column of output `done`); with padding s its
    // first column's outputs (which would read a zero before x) fall before the output's start.
    const { stride: s, padding: p } = layer.conv;
    const n0 = Math.floor((done + p) / s);
    const t = convTranspose1d(rt, x, { ...layer.conv, padding: s, outputPadding: 0 }, layer.snake);
    return { t, off: done - (n0 * s - p), cols };
  }

  /**
   * Frames after frame t that must have arrived before t's samples are final, for `layers` (the
   * largest over a stream's first frames, past every alignment of the Winograd tiles).
   */
  static lookaheadFrames(layers: DecoderLayer[], hop: number): number {
    const gs = layers.map(geometry);
    const samples = (frames: number): number => gs.reduce((a, g) => g.ready(a), frames);
    let worst = 0;
    let frames = 0;
    for (let t = 0; t < 256; t++) {
      while (samples(frames) < (t + 1) * hop) frames++;
      worst = Math.max(worst, frames - t - 1);
    }
    return worst;
  }
}

function inputChannels(layer: DecoderLayer): number {
  return layer.kind === 'unit' ? layer.conv1.cin : layer.conv.cin;
}
