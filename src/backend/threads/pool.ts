// The calling thread's side of the worker pool: starts the supervisor (which starts the kernel
// workers), then runs split ops synchronously: post, work on its own chunks, wait for the rest.
// See protocol.ts for the control block and sources.ts for the worker code.

import { XcodecRuntimeError, describeError as describe } from '../../errors.js';
import * as P from './protocol.js';
import { type WorkerHandle, spawnWorker, workerEnv } from '../worker.js';
import { kernelWorkerSource, supervisorSource } from '../generated/worker-sources.js';

export { workerEnv } from '../worker.js';

type AnyGlobal = typeof globalThis & {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
};

/** Whether this runtime can share a WebAssembly memory between threads at all. */
export function sharedMemorySupported(): boolean {
  const g = globalThis as AnyGlobal;
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  if (g.crossOriginIsolated === false) return false;
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** Whether Atomics.wait may block this thread (not on a browser's main thread). */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Logical cores: navigator.hardwareConcurrency, os.availableParallelism() in Node 20. */
export async function availableCores(): Promise<number> {
  const g = globalThis as AnyGlobal;
  const n = g.navigator?.hardwareConcurrency;
  if (typeof n === 'number' && n >= 1) return n;
  if (workerEnv() === 'node') {
    try {
      const spec = 'node:os';
      const os = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as {
        availableParallelism?: () => number;
        cpus(): unknown[];
      };
      return os.availableParallelism?.() ?? os.cpus().length;
    } catch {
      return 1;
    }
  }
  return 1;
}

export interface PoolOptions {
  /** iterations a worker spins on the op counter before it blocks (default 20000, about 20-50 us) */
  workerSpin?: number;
  /** ms to wait for the workers to start before giving up on threads (default 30000) */
  startTimeoutMs?: number;
  /** a worker holding a chunk this long with no progress is declared hung and terminated (default 60000) */
  stallMs?: number;
}

export type Kernel = (...args: number[]) => void;

export class Pool {
  private readonly ctrl: Int32Array;
  private readonly f64: Float64Array;
  private readonly blocking = canBlock();
  private disposed = false;
  /** set when the pool stopped responding and was shut down: callers then run kernels on their own thread */
  broken = false;
  private readonly stallMs: number;
  /** messages about dead workers since the last call (for error text when the control block has none) */
  private lastDeath = '';

  private constructor(
    private sup: WorkerHandle,
    sab: SharedArrayBuffer,
    readonly workers: number,
    opts: PoolOptions,
  ) {
    this.ctrl = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.stallMs = opts.stallMs ?? 60000;
  }

  /**
   * Starts `workers` kernel workers on `memory` (shared) with `module` (the threads build). Resolves to
   * null where workers cannot be started, so the caller falls back to one thread.
   */
  static async create(
    module: WebAssembly.Module,
    bytes: Uint8Array,
    memory: WebAssembly.Memory,
    workers: number,
    opts: PoolOptions = {},
  ): Promise<Pool | null> {
    const env = workerEnv();
    Pool.startError = '';
    if (env === null || workers < 1) {
      Pool.startError = 'no workers in this runtime';
      return null;
    }
    workers = Math.min(workers, P.MAX_WORKERS);
    const sab = new SharedArrayBuffer(P.CONTROL_BYTES);
    const ctrl = new Int32Array(sab);
    ctrl[P.SPIN] = opts.workerSpin ?? 20000;
    // The supervisor's messages and failure reach the pool once it exists (they cannot come before).
    type SupervisorMessage = { type: string; index?: number; reason?: string; respawn?: boolean };
    let onMessage = (_m: SupervisorMessage): void => {};
    let onFailure = (_why: string): void => {};
    let sup: WorkerHandle;
    try {
      sup = await spawnWorker(
        { source: supervisorSource },
        { onMessage: (m) => onMessage(m as SupervisorMessage), onFailure: (why) => onFailure(why) },
      );
    } catch (e) {
      Pool.startError = `could not start a worker: ${describe(e)}`;
      return null;
    }
    const pool = new Pool(sup, sab, workers, opts);
    const started = new Promise<boolean>((resolve) => {
      let ready = 0;
      let settled = 0;
      const timer = setTimeout(() => resolve(ready > 0), opts.startTimeoutMs ?? 30000);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      onMessage = (m) => {
        if (m.type === 'ready') {
          ready++;
          settled++;
        } else if (m.type === 'dead') {
          pool.lastDeath = `worker ${(m.index ?? 0) + 1} ${m.reason ?? 'died'}`;
          if (!m.respawn) settled++;
        }
        if (settled >= workers) done(ready > 0);
      };
      onFailure = (reason) => {
        pool.lastDeath = `the pool supervisor ${reason}`;
        done(false);
      };
    });
    const init = {
      type: 'init',
      module,
      bytes,
      memory,
      ctrl: sab,
      count: workers,
      workerSource: kernelWorkerSource,
    };
    try {
      try {
        sup.post(init);
      } catch {
        // A runtime that cannot clone a compiled module: the workers compile the bytes themselves.
        sup.post({ ...init, module: undefined });
      }
    } catch (e) {
      sup.terminate();
      Pool.startError = `could not send the module and memory to a worker: ${describe(e)}`;
      return null;
    }
    if (!(await started)) {
      pool.dispose();
      Pool.startError = pool.lastDeath || `no worker started within ${opts.startTimeoutMs ?? 30000} ms`;
      return null;
    }
    // Idle workers must not keep a Node process alive when the user forgets dispose().
    sup.hold(false);
    return pool;
  }

  /** Why the last create() returned null ('' when it did not). */
  static startError = '';

  /** Split calls (in all and by kernel), their chunks, and the chunks this thread ran (statistics). */
  readonly stats = { calls: 0, chunks: 0, ownChunks: 0, byKernel: {} as Record<string, number> };

  /** Chunks each worker slot has run so far. */
  get workerChunks(): number[] {
    const out = [];
    for (let i = 0; i < this.workers; i++) out.push(Atomics.load(this.ctrl, P.slot(i, P.CHUNKS)));
    return out;
  }

  /** Kernel workers that are started and taking work now. */
  get liveWorkers(): number {
    let n = 0;
    for (let i = 0; i < this.workers; i++) if (Atomics.load(this.ctrl, P.slot(i, P.STATE)) === P.READY) n++;
    return n;
  }

  /**
   * Runs `fn(...args)` over the ranges bounds[c]..bounds[c+1] (written at args[rpos], args[rpos + 1])
   * on this thread and the workers; returns when every chunk is done. Throws XcodecRuntimeError when a
   * kernel trapped or a worker died holding a chunk (after every other chunk has finished, so no
   * thread still writes memory when the caller moves on).
   */
  run(kernel: number, name: string, fn: Kernel, args: number[], rpos: number, bounds: number[]): void {
    if (this.disposed) throw new XcodecRuntimeError('the model was disposed; load it again to run it');
    const c = this.ctrl;
    const n = bounds.length - 1;
    c[P.KERNEL] = kernel;
    c[P.NARGS] = args.length;
    c[P.RPOS] = rpos;
    for (let i = 0; i < args.length; i++) this.f64[P.ARGS_F64 + i] = args[i];
    for (let j = 0; j < n; j++) {
      c[P.RANGES + 2 * j] = bounds[j];
      c[P.RANGES + 2 * j + 1] = bounds[j + 1];
    }
    Atomics.store(c, P.ERROR, 0);
    Atomics.store(c, P.DONE, 0);
    const deaths = Atomics.load(c, P.DEATHS);
    Atomics.store(c, P.NEXT, n << 16);
    Atomics.add(c, P.GEN, 1);
    Atomics.notify(c, P.GEN);

    let own: unknown = null;
    const started = performance.now();
    for (;;) {
      const v = Atomics.load(c, P.NEXT);
      const j = v & 0xffff;
      if (j >= n) break;
      if (Atomics.compareExchange(c, P.NEXT, v, v + 1) !== v) continue;
      args[rpos] = bounds[j];
      args[rpos + 1] = bounds[j + 1];
      try {
        fn(...args);
      } catch (e) {
        own ??= e;
      }
      Atomics.add(c, P.DONE, 1);
      this.stats.ownChunks++;
    }
    this.stats.calls++;
    this.stats.chunks += n;
    this.stats.byKernel[name] = (this.stats.byKernel[name] ?? 0) + 1;
    const lost = this.waitDone(n, deaths, performance.now() - started);
    if (lost) {
      const why = (this.broken ? this.lastDeath : this.errorText() || this.lastDeath) || 'a worker thread died';
      throw new XcodecRuntimeError(
        `${why} while running kernel ${name}; the pool starts a replacement, so the next call can run`,
      );
    }
    const err = Atomics.load(c, P.ERROR);
    if (own !== null) throw new XcodecRuntimeError(`kernel ${name} failed: ${describe(own)}`);
    if (err !== 0)
      throw new XcodecRuntimeError(`kernel ${name} failed in worker ${Math.abs(err)}: ${this.errorText()}`);
  }

  /** Waits until DONE reaches n; returns true if chunks were lost with a dead worker. */
  private waitDone(n: number, deaths: number, ownMs: number): boolean {
    const c = this.ctrl;
    let d = Atomics.load(c, P.DONE);
    if (d === n) return false;
    // The other threads usually finish within microseconds of this one: spin briefly first.
    for (let s = 0; s < 4000 && d !== n; s++) d = Atomics.load(c, P.DONE);
    let lastProgress = performance.now();
    let lastDone = d;
    const stall = Math.max(this.stallMs, 100 * ownMs);
    let killedAt = -1;
    while (d !== n) {
      if (this.blocking) {
        Atomics.wait(c, P.DONE, d, 20);
      } else {
        const until = performance.now() + 2;
        while (Atomics.load(c, P.DONE) === d && Atomics.load(c, P.DEATHS) === deaths && performance.now() < until) {
          /* spin */
        }
      }
      d = Atomics.load(c, P.DONE);
      if (d === n) break;
      const now = performance.now();
      if (d !== lastDone) {
        lastDone = d;
        lastProgress = now;
      }
      if (!this.anyLiveHolder()) {
        // Every chunk is claimed (this thread saw NEXT exhausted) and no live thread holds one: the
        // missing ones went down with a worker that died.
        d = Atomics.load(c, P.DONE);
        if (d !== n) return true;
        break;
      }
      if (killedAt >= 0 && now - killedAt > stall) {
        // The supervisor did not end the hung worker either (it is gone itself?): stop trusting the
        // pool. Its threads are terminated; calls from now on run on this thread alone.
        this.broken = true;
        this.lastDeath =
          `the worker pool stopped responding (no progress for ${Math.round(now - lastProgress)} ms); ` +
          'its threads were terminated and calls now run on one thread';
        this.dispose();
        return true;
      }
      if (killedAt < 0 && now - lastProgress > stall) {
        // A live worker holds a chunk and nothing moved for far longer than this thread's own share
        // took: it hangs (or died without an event). Have the supervisor terminate it.
        killedAt = now;
        for (let i = 0; i < this.workers; i++) {
          if (Atomics.load(c, P.slot(i, P.STATE)) === P.READY && Atomics.load(c, P.slot(i, P.HOLD)) !== 0) {
            this.lastDeath = `worker ${i + 1} made no progress for ${Math.round(now - lastProgress)} ms and was terminated`;
            this.sup.post({
              type: 'kill',
              index: i,
              reason: `made no progress for ${Math.round(now - lastProgress)} ms and was terminated`,
            });
          }
        }
      }
    }
    return false;
  }

  private anyLiveHolder(): boolean {
    const c = this.ctrl;
    for (let i = 0; i < this.workers; i++) {
      if (Atomics.load(c, P.slot(i, P.STATE)) === P.READY && Atomics.load(c, P.slot(i, P.HOLD)) !== 0) return true;
    }
    return false;
  }

  private errorText(): string {
    const len = Atomics.load(this.ctrl, P.ERROR_LEN);
    if (Atomics.load(this.ctrl, P.ERROR) === 0 || len <= 0) return '';
    const bytes = new Uint8Array(len);
    bytes.set(new Uint8Array(this.ctrl.buffer, P.ERROR_BYTES, len));
    return new TextDecoder().decode(bytes);
  }

  /**
   * Test hook: the next chunk that worker `slot` (0-based, or -1 for any worker) claims fails with
   * `kind`: 'trap' (a real out-of-bounds store), 'exit' (the thread ends itself), 'kill' (the supervisor
   * terminates it mid-chunk), 'hang' (it blocks forever without a word: the stall watchdog's case).
   */
  injectFault(kind: 'trap' | 'exit' | 'kill' | 'hang' | 'none', slot = -1): void {
    const code = { none: P.FAULT_NONE, trap: P.FAULT_TRAP, exit: P.FAULT_EXIT, kill: P.FAULT_KILL, hang: P.FAULT_HANG }[
      kind
    ];
    Atomics.store(this.ctrl, P.FAULT_SLOT, slot);
    Atomics.store(this.ctrl, P.FAULT_KIND, code);
  }

  /** Resolves when `count` workers (default: all) are taking work, e.g. after a replacement. */
  async whenReady(count = this.workers, timeoutMs = 30000): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (this.liveWorkers < count) {
      if (performance.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.ctrl;
    Atomics.store(c, P.STOP, 1);
    Atomics.add(c, P.GEN, 1);
    Atomics.notify(c, P.GEN);
    try {
      this.sup.post({ type: 'stop' });
    } catch {
      /* already gone */
    }
    this.sup.terminate();
  }
}
