// Where an XcodecModel's calls run: a dedicated worker holding an XcodecModelSync (WorkerBackend), or
// this thread (LocalBackend) where no worker can start; both behind the same Promise interface.

import { XcodecInputError, XcodecRuntimeError } from '../errors.js';
import { type WorkerHandle, spawnWorker } from '../backend/worker.js';
import {
  type LoadRequest,
  METHODS,
  type Method,
  type ModelInfo,
  type WorkerReply,
  modelInfo,
  revive,
} from './contract.js';
import type { LoadOptions } from './options.js';
import type { XcodecModelSync } from './xcodec_model_sync.js';

export interface Backend {
  readonly info: ModelInfo;
  /** transfer: buffers of args to move to the worker instead of copying them */
  call(
    method: Method,
    args: unknown[],
    onProgress: ((done: number, total: number) => void) | undefined,
    transfer: ArrayBuffer[],
  ): Promise<unknown>;
  dispose(): Promise<void>;
}

/** The model on this thread behind the same Promise interface. */
export class LocalBackend implements Backend {
  constructor(private model: XcodecModelSync) {}

  get info(): ModelInfo {
    return { ...modelInfo(this.model), tuning: this.model.tuning }; // the live knobs, as XcodecModelSync's
  }

  async call(
    method: Method,
    args: unknown[],
    onProgress: ((done: number, total: number) => void) | undefined,
  ): Promise<unknown> {
    await null; // the call starts after the caller's synchronous code, as a worker's would
    const a = [...args];
    const at = METHODS[method];
    if (onProgress && at !== null && typeof a[at] === 'object' && a[at] !== null)
      a[at] = { ...(a[at] as object), onProgress };
    return (this.model[method] as (...x: unknown[]) => unknown)(...a);
  }

  async dispose(): Promise<void> {
    this.model.dispose();
  }
}

/** The model in a dedicated worker (model_worker.ts); one call in flight at a time, by the caller's chain. */
export class WorkerBackend implements Backend {
  info!: ModelInfo;
  private endpoint!: WorkerHandle;
  private pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (done: number, total: number) => void }
  >();
  private nextId = 1;
  private dead: string | null = null;

  static async start(
    url: URL,
    load: LoadRequest,
    loadProgress: LoadOptions['onProgress'],
    hubProgress: ((f: string, l: number, t: number) => void) | undefined,
  ): Promise<WorkerBackend> {
    const b = new WorkerBackend();
    let settleLoad!: { resolve: (i: ModelInfo) => void; reject: (e: Error) => void };
    const loaded = new Promise<ModelInfo>((resolve, reject) => {
      settleLoad = { resolve, reject };
    });
    let started = false;
    b.endpoint = await spawnWorker(
      { url },
      {
        onMessage: (reply) => {
          const m = reply as WorkerReply;
          if (m.type === 'ready') {
            started = true;
            b.endpoint.post(load);
          } else if (m.type === 'loaded') settleLoad.resolve(m.info);
          else if (m.type === 'load-failed') settleLoad.reject(revive(m.error));
          else if (m.type === 'load-progress') loadProgress?.(m.loaded, m.total);
          else if (m.type === 'hub-progress') hubProgress?.(m.file, m.loaded, m.total);
          else b.reply(m);
        },
        onFailure: (why) => {
          const error = new XcodecRuntimeError(
            started
              ? `the model's worker stopped: ${why}; load the model again`
              : `the model's worker did not start: ${why}`,
          );
          (error as XcodecRuntimeError & { beforeStart?: boolean }).beforeStart = !started;
          settleLoad.reject(error);
          b.fail(error.message);
        },
      },
    );
    b.endpoint.hold(true);
    try {
      b.info = await loaded;
    } catch (e) {
      b.endpoint.terminate();
      throw e;
    }
    b.endpoint.hold(false);
    return b;
  }

  private reply(m: WorkerReply): void {
    if (m.type !== 'result' && m.type !== 'error' && m.type !== 'progress') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') {
      p.onProgress?.(m.done, m.total);
      return;
    }
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.endpoint.hold(false);
    if (m.type === 'error') p.reject(revive(m.error));
    else {
      this.info.wasmMemoryBytes = m.wasmMemoryBytes;
      p.resolve(m.value);
    }
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = why;
    for (const p of this.pending.values()) p.reject(new XcodecRuntimeError(why));
    this.pending.clear();
  }

  call(
    method: Method,
    args: unknown[],
    onProgress: ((done: number, total: number) => void) | undefined,
    transfer: ArrayBuffer[],
  ): Promise<unknown> {
    if (this.dead) return Promise.reject(new XcodecRuntimeError(this.dead));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.endpoint.hold(true);
      try {
        this.endpoint.post({ type: 'call', id, method, args, wantsProgress: onProgress !== undefined }, transfer);
      } catch (e) {
        this.pending.delete(id);
        if (this.pending.size === 0) this.endpoint.hold(false);
        reject(
          new XcodecInputError(
            `${method}: its arguments cannot be sent to the model's worker (${(e as Error).name}: ${(e as Error).message}); ` +
              'accepted: typed arrays, plain objects and numbers as documented',
          ),
        );
      }
    });
  }

  async dispose(): Promise<void> {
    this.fail('the model was disposed');
    this.endpoint.terminate();
  }
}
