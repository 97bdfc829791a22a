// The dedicated worker behind XcodecModel (xcodec_model.ts): it loads an XcodecModelSync and runs the
// calls posted to it one by one, posting progress as it goes and the results with their buffers
// transferred. The same file runs as a Web Worker (browsers, Deno, Bun) and under node:worker_threads.

import { XcodecError } from '../errors.js';
import { type CallRequest, type LoadRequest, METHODS, type WorkerReply, errorJson, modelInfo } from './contract.js';
import type { LoadOptions } from './options.js';
import { buffersOf } from './transferables.js';
import { XcodecModelSync } from './xcodec_model_sync.js';

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
      // installs Node's file access, as on the caller's side (without it, fetch's: web_files.ts)
      if (r.nodeEntry) await import(/* @vite-ignore */ /* webpackIgnore: true */ r.nodeEntry);
      model = await XcodecModelSync.fromPretrained(r.dir, options);
    } else model = await XcodecModelSync.fromBuffers(r.files, { ...options, config: r.config });
    io.post({ type: 'loaded', info: modelInfo(model) });
  } catch (e) {
    io.post({ type: 'load-failed', error: errorJson(e) });
  }
}

function call(r: CallRequest): void {
  try {
    if (!model) throw new XcodecError('the model is not loaded');
    const args = [...r.args];
    const at = METHODS[r.method];
    if (r.wantsProgress && at !== null)
      args[at] = {
        ...(args[at] as object),
        onProgress: (done: number, total: number) => io.post({ type: 'progress', id: r.id, done, total }),
      };
    const value = (model[r.method] as (...a: unknown[]) => unknown).apply(model, args);
    io.post({ type: 'result', id: r.id, value, wasmMemoryBytes: model.wasmMemoryBytes }, buffersOf(value));
  } catch (e) {
    io.post({ type: 'error', id: r.id, error: errorJson(e) });
  }
}

io.listen((m) => {
  if (m.type === 'load') void load(m);
  else if (m.type === 'call') call(m);
});
io.post({ type: 'ready' });
