// Streaming decode: code chunks in, audio out as soon as it is final (model/dac_stream.ts), bit-identical
// to decode() of all the codes at the default lookahead. XcodecModelSync keeps its open streams here;
// streamDecode and decodeTransform drive the same four steps on either model (XcodecModel runs them in
// its worker, where the state stays).

import { XcodecError, XcodecInputError, XcodecRuntimeError, describe, describeError } from '../errors.js';
import type { Runtime } from '../backend/runtime.js';
import type { CodecNetwork } from '../model/codec.js';
import { DEFAULT_WINDOW_FRAMES } from '../model/windows.js';
import type { DecoderStream } from '../model/dac_stream.js';
import { type CheckedCodes, checkCodes, checkOptions } from './checks.js';
import type { CodeSource, CodesArgument, StreamDecodeOptions } from './options.js';

/** The steps of one stream, on a model on this thread or in its worker. */
export interface StreamSteps {
  open(options: StreamDecodeOptions): number | Promise<number>;
  push(id: number, chunk: CodesArgument): Float32Array | Promise<Float32Array>;
  end(id: number): Float32Array | Promise<Float32Array>;
  close(id: number): void | Promise<void>;
}

/** One entry point for the four steps (the method XcodecModel's worker answers: streamStep). */
export type StreamOp = 'open' | 'push' | 'end' | 'close';

/** The steps over a model's streamStep (on this thread, or posted to the worker). */
export function stepsOf(call: (op: StreamOp, id: number, arg?: unknown) => unknown): StreamSteps {
  return {
    open: (options) => call('open', 0, options) as number | Promise<number>,
    push: (id, chunk) => call('push', id, chunk) as Float32Array | Promise<Float32Array>,
    end: (id) => call('end', id) as Float32Array | Promise<Float32Array>,
    close: (id) => call('close', id) as void | Promise<void>,
  };
}

/** runs fn on the model's arena, one call at a time (XcodecModelSync.guard) */
export type CodesShape = { hopLength: number; codebookSize: number; numQuantizers: number };
type Guard = (fn: () => void, what: string) => void;

interface OpenStream {
  stream: DecoderStream;
  lookahead: number;
  nq: number | null;
  chunks: number;
  frames: number;
  /** samples handed out, speculative ones included */
  emitted: number;
}

/** A model's open streams, by id. */
export class DecodeStreams {
  private open = new Map<number, OpenStream>();
  private nextId = 1;

  private host: { rt: Runtime; net: CodecNetwork; shape: CodesShape; guard: Guard };

  constructor(rt: Runtime, net: CodecNetwork, shape: CodesShape, guard: Guard) {
    this.host = { rt, net, shape, guard };
  }

  /** XcodecModelSync.streamStep: one of the four steps. */
  step(op: StreamOp, id: number, arg?: unknown): number | Float32Array | undefined {
    if (op === 'open') return this.start(arg as StreamDecodeOptions);
    if (op === 'push') return this.push(id, arg as CodesArgument);
    if (op === 'end') return this.end(id);
    if (op === 'close') return void this.close(id);
    throw new XcodecInputError(`stream step ${describe(op)} is not accepted; accepted: 'open', 'push', 'end', 'close'`);
  }

  start(options: StreamDecodeOptions = {}): number {
    checkOptions('streamDecode', options, '{ lookaheadFrames? }');
    const exact = this.host.net.streamLookaheadFrames;
    const lookahead = options.lookaheadFrames === undefined ? exact : options.lookaheadFrames;
    if (!Number.isInteger(lookahead) || lookahead < 0) {
      throw new XcodecInputError(
        `lookaheadFrames ${describe(options.lookaheadFrames)} is not accepted; accepted: an integer >= 0 (${exact}, the default, and above: exact)`,
      );
    }
    const stream = this.host.net.decodeStream();
    const id = this.nextId++;
    this.open.set(id, { stream, lookahead: Math.min(lookahead, exact), nq: null, chunks: 0, frames: 0, emitted: 0 });
    return id;
  }

  /** Decodes one chunk of codes [1, nq, t]: the samples that became final (or were asked for sooner by the lookahead). */
  push(id: number, chunk: CodesArgument): Float32Array {
    const s = this.get(id);
    const index = s.chunks++;
    const codes = this.check(s, index, chunk);
    const parts: Float32Array[] = [];
    this.host.guard(() => {
      // long chunks in pieces of a window's length: the same samples, with a window's memory
      for (let from = 0; from < codes.T; from += DEFAULT_WINDOW_FRAMES) {
        const n = Math.min(DEFAULT_WINDOW_FRAMES, codes.T - from);
        parts.push(this.stepCodes(s, codes.codes, codes.T, from, n));
      }
      if (s.lookahead < this.host.net.streamLookaheadFrames) parts.push(this.speculate(s));
    }, 'streamDecode');
    return concat(parts);
  }

  /** Ends the stream: its last samples; the stream is closed. */
  end(id: number): Float32Array {
    const s = this.get(id);
    let out: Float32Array = new Float32Array(0);
    try {
      this.host.guard(() => {
        const rt = this.host.rt;
        rt.scope(() => {
          const start = s.stream.samples;
          out = this.emit(s, start, samples(rt, s.stream.step(rt, null, true)));
        });
      }, 'streamDecode');
    } finally {
      this.open.delete(id);
    }
    return out;
  }

  close(id: number): void {
    this.open.delete(id);
  }

  /** Streams still open (tests: a stopped consumer leaves none). */
  get size(): number {
    return this.open.size;
  }

  private get(id: number): OpenStream {
    const s = this.open.get(id);
    if (!s) throw new XcodecRuntimeError(`decode stream ${describe(id)} is not open (it ended, failed or was closed)`);
    return s;
  }

  private check(s: OpenStream, index: number, chunk: CodesArgument): CheckedCodes {
    const codes = checkChunk(chunk, index, s.nq, this.host.shape);
    s.nq = codes.nq;
    return codes;
  }

  /** Frames [from, from + n) of codes (i32 [nq, T]) through the stream: the samples they make final. */
  private stepCodes(s: OpenStream, codes: Int32Array, T: number, from: number, n: number): Float32Array {
    const { rt, net } = this.host;
    const nq = s.nq!;
    let out: Float32Array = new Float32Array(0);
    rt.scope(() => {
      const ptr = rt.allocBytes(4 * nq * n);
      for (let q = 0; q < nq; q++) rt.i32.set(codes.subarray(q * T + from, q * T + from + n), (ptr >>> 2) + q * n);
      const input = net.streamInput(rt, net.dequantize(rt, ptr, nq, n));
      const start = s.stream.samples;
      out = this.emit(s, start, samples(rt, s.stream.step(rt, { t: input, off: 0, cols: n }, false)));
    });
    s.frames += n;
    return out;
  }

  /** Below the exact lookahead: the samples up to `lookahead` frames back, as if the stream ended now. */
  private speculate(s: OpenStream): Float32Array {
    const rt = this.host.rt;
    const hop = this.host.shape.hopLength;
    const target = (s.frames - s.lookahead) * hop;
    if (target <= s.emitted) return new Float32Array(0);
    let out: Float32Array = new Float32Array(0);
    rt.scope(() => {
      const start = s.stream.samples;
      const ended = samples(rt, s.stream.clone().step(rt, null, true));
      out = this.emit(s, start, ended.subarray(0, target - start));
    });
    return out;
  }

  /** The part of samples (starting at sample `start`) not handed out yet. */
  private emit(s: OpenStream, start: number, data: Float32Array): Float32Array {
    const skip = Math.max(0, s.emitted - start);
    if (skip >= data.length) return new Float32Array(0);
    s.emitted = start + data.length;
    return data.slice(skip);
  }
}

function samples(rt: Runtime, piece: ReturnType<DecoderStream['step']>): Float32Array {
  if (!piece) return new Float32Array(0);
  return rt.view(piece.t).subarray(piece.off, piece.off + piece.cols);
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Frames one step takes at most when chunks are already waiting (a source ahead of the decoder, or a
 * burst): they go through together, which costs less per frame than one chunk at a time (every step
 * reads the low-rate layers' weights once) and gives their audio sooner. The first step takes fewer,
 * so the first audio comes soon. A chunk not yet there is never waited for: one that arrives alone
 * goes through alone.
 */
export const MAX_STEP_FRAMES = 100;
export const FIRST_STEP_FRAMES = 25;

type Read = { value?: CodesArgument; done?: boolean; error?: unknown };
const LATER = Symbol('later');

/** streamDecode on either model: audio chunks as the code chunks of `source` arrive; the stream's state goes when the loop ends, however it ends. */
export async function* streamDecode(
  steps: StreamSteps,
  source: CodeSource,
  options: StreamDecodeOptions,
  shape: CodesShape,
): AsyncGenerator<Float32Array, void, undefined> {
  const iterator = iterate(source);
  const read = (): Promise<Read> =>
    Promise.resolve()
      .then(() => iterator.next())
      .then(
        (r) => (r.done ? { done: true } : { value: r.value }),
        (error) => ({ error }),
      );
  const id = await steps.open(options);
  let closed = false;
  let index = 0; // chunks taken
  let nq: number | null = null;
  let waiting: Promise<Read> | null = null;
  try {
    for (let ended = false; !ended; ) {
      const batch: CheckedCodes[] = [];
      let failure: unknown = null;
      // the step's first chunk is waited for; the ones after it only if they are already there
      const cap = index === 0 ? FIRST_STEP_FRAMES : MAX_STEP_FRAMES;
      for (let frames = 0; frames < cap; ) {
        const pending: Promise<Read> = waiting ?? read();
        waiting = null;
        const r: Read | typeof LATER = batch.length === 0 ? await pending : await unlessLater(pending);
        if (r === LATER) {
          waiting = pending;
          break;
        }
        if (r.error !== undefined) failure = sourceFailed(index, r.error);
        else if (r.done) ended = true;
        else {
          try {
            const codes = checkChunk(r.value!, index, nq, shape);
            nq = codes.nq;
            batch.push(codes);
            frames += codes.T;
            index++;
            continue;
          } catch (e) {
            failure = e;
          }
        }
        break;
      }
      if (batch.length) {
        const audio = await steps.push(id, joined(batch));
        if (audio.length) yield audio;
      }
      if (failure !== null) throw failure; // after the audio of the chunks before it
    }
    closed = true;
    const last = await steps.end(id);
    if (last.length) yield last;
  } finally {
    if (!closed) await Promise.resolve(steps.close(id)).catch(() => {}); // the stream's error, not the close's, is what the caller sees
  }
}

/** `pending`'s result if it is there by the next turn of the event loop (the source had its turn), else LATER. */
async function unlessLater(pending: Promise<Read>): Promise<Read | typeof LATER> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = new Promise<typeof LATER>((resolve) => {
    timer = setTimeout(() => resolve(LATER), 0);
  });
  try {
    return await Promise.race([pending, later]);
  } finally {
    clearTimeout(timer);
  }
}

/** A chunk checked as decode checks codes, named by its index, with the stream's first nq. */
function checkChunk(chunk: CodesArgument, index: number, nq: number | null, shape: CodesShape): CheckedCodes {
  let codes: CheckedCodes;
  try {
    codes = checkCodes(chunk, shape);
  } catch (e) {
    if (e instanceof XcodecError) throw new (e.constructor as typeof XcodecError)(`code chunk ${index}: ${e.message}`);
    throw e;
  }
  if (codes.B !== 1)
    throw new XcodecInputError(`code chunk ${index} has batch ${codes.B}; accepted: [1, quantizers, frames]`);
  if (nq !== null && codes.nq !== nq) {
    throw new XcodecInputError(
      `code chunk ${index} has ${codes.nq} quantizers, the stream's first chunk ${nq}; accepted: the same number in every chunk`,
    );
  }
  return codes;
}

/** Checked chunks end to end: one [1, nq, T] chunk. */
function joined(batch: CheckedCodes[]): CodesArgument {
  if (batch.length === 1) return { data: batch[0].codes, dims: [1, batch[0].nq, batch[0].T] };
  const nq = batch[0].nq;
  const T = batch.reduce((n, c) => n + c.T, 0);
  const data = new Int32Array(nq * T);
  let t0 = 0;
  for (const c of batch) {
    for (let q = 0; q < nq; q++) data.set(c.codes.subarray(q * c.T, (q + 1) * c.T), q * T + t0);
    t0 += c.T;
  }
  return { data, dims: [1, nq, T] };
}

/** decodeTransform on either model: a TransformStream of code chunks to audio chunks (WHATWG streams). */
export function decodeTransform(
  steps: StreamSteps,
  options: StreamDecodeOptions = {},
): TransformStream<CodesArgument, Float32Array> {
  let id: number | null = null;
  return new TransformStream<CodesArgument, Float32Array>({
    start: async () => {
      id = await steps.open(options);
    },
    transform: async (chunk, controller) => {
      try {
        const audio = await steps.push(id!, chunk);
        if (audio.length) controller.enqueue(audio);
      } catch (e) {
        await steps.close(id!);
        throw e;
      }
    },
    flush: async (controller) => {
      const last = await steps.end(id!);
      if (last.length) controller.enqueue(last);
    },
    // @ts-expect-error: `cancel` is in the WHATWG spec (a reader that cancels) but not yet in every lib's types
    cancel: async () => {
      await steps.close(id!);
    },
  });
}

function iterate(source: CodeSource): AsyncIterator<CodesArgument> | Iterator<CodesArgument> {
  const s = source as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown } | null;
  if (s && typeof s[Symbol.asyncIterator] === 'function')
    return (source as AsyncIterable<CodesArgument>)[Symbol.asyncIterator]();
  if (s && typeof s[Symbol.iterator] === 'function' && !ArrayBuffer.isView(s))
    return (source as Iterable<CodesArgument>)[Symbol.iterator]();
  throw new XcodecInputError(
    `streamDecode source ${describe(source)} is not accepted; accepted: an Iterable or AsyncIterable of code chunks { data, dims: [1, quantizers, frames] }`,
  );
}

function sourceFailed(index: number, e: unknown): XcodecInputError {
  const error = new XcodecInputError(
    `the code source failed before chunk ${index} (the audio of chunks 0..${index - 1} was emitted and stays valid): ${describeError(e)}`,
  );
  (error as Error & { cause?: unknown }).cause = e;
  return error;
}
