// The dedicated worker behind XcodecModel (model_async.ts): it loads an XcodecModelSync and runs the
// calls posted to it one by one, posting progress as it goes and the results with their buffers
// transferred. The same file runs as a Web Worker (browsers, Deno, Bun) and under node:worker_threads.

import type { XcodecConfig } from '../checkpoint/config.js';
import { XcodecError } from '../errors.js';
import { buffersOf } from './transferables.js';
import type { Components, ConvAlgorithms } from '../model/network.js';
import type { Tuning } from '../backend/runtime.js';
import { type LoadOptions, XcodecModelSync } from './xcodec_model_sync.js';

/** What the caller sees of the model without asking the worker. */
export interface ModelInfo {
  config: XcodecConfig;
  numThreads: number;
  threadsFallbackReason: string | null;
  tuning: Tuning;
  simdFlavour: 'simd' | 'relaxed';
  components: Components;
  convAlgorithm: ConvAlgorithms;
  unusedTensors: string[];
  wasmMemoryBytes: number;
}

export type LoadRequest = {
  type: 'load';
  options?: Omit<LoadOptions, 'onProgress'>;
  wantsProgress?: boolean;
  wantsHubProgress?: boolean;
} & (
  | { how: 'pretrained'; dir: string; nodeEntry: string }
  | { how: 'buffers'; files: Record<string, Uint8Array>; config?: unknown }
);

interface CallRequest {
  type: 'call';
  id: number;
  method: 'encode' | 'decode' | 'forward' | 'dequantize' | 'encodeTrace';
  args: unknown[];
  wantsProgress: boolean;
}

type ErrorJson = { name: string; message: string };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'load-failed'; error: ErrorJson }
  | { type: 'load-progress'; loaded: number; total: number }
  | { type: 'hub-progress'; file: string; loaded: number; total: number }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'result'; id: number; value: unknown; wasmMemoryBytes: number }
  | { type: 'error'; id: number; error: ErrorJson };

const toJson = (e: unknown): ErrorJson =>
  e instanceof XcodecError
    ? { name: e.name, message: e.message }
    : { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) };

interface Port {
  post(m: WorkerReply, transfer?: ArrayBuffer[]): void;
  listen(f: (m: LoadRequest | CallRequest) => void): void;
}

async function port(): Promise<Port> {
  const g = globalThis as unknown as {
    postMessage?: (m: unknown, t?: ArrayBuffer[]) => void;
    addEventListener?: (t: string, f: (e: { data: unknown }) => void) => void;
  };
  const spec = 'node:worker_threads';
  const wt =
    typeof g.postMessage === 'function'
      ? null
      : ((await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as typeof import('node:worker_threads'));
  if (wt?.parentPort) {
    const p = wt.parentPort;
    return { post: (m, t) => p.postMessage(m, t), listen: (f) => p.on('message', f) };
  }
  return {
    post: (m, t) => g.postMessage!(m, t),
    listen: (f) => g.addEventListener!('message', (e) => f(e.data as LoadRequest | CallRequest)),
  };
}

const io = await port();
let model: XcodecModelSync | null = null;

function info(m: XcodecModelSync): ModelInfo {
  return {
    config: m.config,
    numThreads: m.numThreads,
    threadsFallbackReason: m.threadsFallbackReason,
    tuning: { ...m.tuning },
    simdFlavour: m.simdFlavour,
    components: m.components,
    convAlgorithm: m.convAlgorithm,
    unusedTensors: m.unusedTensors,
    wasmMemoryBytes: m.wasmMemoryBytes,
  };
}

async function load(r: LoadRequest): Promise<void> {
  const options: LoadOptions = { ...r.options };
  if (r.wantsProgress) options.onProgress = (loaded, total) => io.post({ type: 'load-progress', loaded, total });
  if (r.wantsHubProgress)
    options.hub = {
      ...options.hub,
      onProgress: (file, loaded, total) => io.post({ type: 'hub-progress', file, loaded, total }),
    };
  try {
    if (r.how === 'pretrained') {
      await import(/* @vite-ignore */ /* webpackIgnore: true */ r.nodeEntry); // installs file access, as on the caller's side
      model = await XcodecModelSync.fromPretrained(r.dir, options);
    } else model = await XcodecModelSync.fromBuffers(r.files, { ...options, config: r.config });
    io.post({ type: 'loaded', info: info(model) });
  } catch (e) {
    io.post({ type: 'load-failed', error: toJson(e) });
  }
}

function call(r: CallRequest): void {
  try {
    if (!model) throw new XcodecError('the model is not loaded');
    const args = [...r.args];
    const at = r.method === 'encodeTrace' ? 2 : 1;
    if (r.wantsProgress)
      args[at] = {
        ...(args[at] as object),
        onProgress: (done: number, total: number) => io.post({ type: 'progress', id: r.id, done, total }),
      };
    const value = (model[r.method] as (...a: unknown[]) => unknown).apply(model, args);
    io.post({ type: 'result', id: r.id, value, wasmMemoryBytes: model.wasmMemoryBytes }, buffersOf(value));
  } catch (e) {
    io.post({ type: 'error', id: r.id, error: toJson(e) });
  }
}

io.listen((m) => {
  if (m.type === 'load') void load(m);
  else if (m.type === 'call') call(m);
});
io.post({ type: 'ready' });
