// The pool's supervisor, one per pool: it starts the kernel workers, hears when one fails or exits
// (its event loop stays free, unlike the calling thread's, which blocks in Atomics.wait during an op),
// marks the slot dead in the control block, wakes the caller and starts a replacement. Bundled into a
// source string by scripts/build-workers.mjs; backend/threads/pool.ts starts it.

import * as P from './protocol.js';
import { ENV, describe, endSelf, nodeWorker, onMessage, post } from './worker_port.js';

interface Init {
  type: 'init';
  module?: WebAssembly.Module;
  bytes: Uint8Array;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  count: number;
  workerSource: string;
}
type WorkerMessage = { type: string; message?: string } | null;

/** A kernel worker as the supervisor handles it, whichever kind of worker it is. */
interface Handle {
  post(m: unknown): void;
  onMessage(f: (m: WorkerMessage) => void): void;
  /** `final`: the thread is gone (Node's 'exit'); otherwise it may still be running */
  onFailure(f: (reason: string, final: boolean) => void): void;
  terminate(): void;
  /** Node reports the end of a thread with 'exit': wait for it before declaring the slot dead */
  confirmsExit: boolean;
  reason?: string;
  terminating?: boolean;
}

type WebWorkerLike = {
  postMessage(m: unknown): void;
  addEventListener(t: string, f: (e: { data?: unknown; message?: string; preventDefault?: () => void }) => void): void;
  terminate(): void;
};

let init: Init | null = null;
let ctrl: Int32Array;
let stopped = false;
const workers: (Handle | null)[] = [];
const failures: number[] = [];

async function makeWorker(src: string): Promise<Handle> {
  if (ENV === 'node') {
    const Worker = await nodeWorker();
    const w = new Worker(src, { eval: true });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => w.on('message', (m) => f(m as WorkerMessage)),
      // 'error' and 'messageerror' come before the thread is gone: only 'exit' is final.
      onFailure: (f) => {
        w.on('error', (e) => f(`failed: ${(e as Error)?.message ?? String(e)}`, false));
        w.on('messageerror', () => f('could not receive a message', false));
        w.on('exit', (code) => f(`exited with code ${code}`, true));
      },
      terminate: () => {
        w.terminate();
      },
      confirmsExit: true,
    };
  }
  const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  const WebWorker = (globalThis as unknown as { Worker: new (u: string, o: { type: 'module' }) => WebWorkerLike })
    .Worker;
  const w = new WebWorker(url, { type: 'module' });
  return {
    post: (m) => w.postMessage(m),
    onMessage: (f) => w.addEventListener('message', (e) => f(e.data as WorkerMessage)),
    onFailure: (f) => {
      w.addEventListener('error', (e) => {
        e.preventDefault?.();
        f(`failed: ${e.message || 'uncaught error'}`, false);
      });
      w.addEventListener('messageerror', () => f('could not receive a message', false));
      w.addEventListener('close', () => f('closed', true));
    },
    terminate: () => {
      w.terminate();
      URL.revokeObjectURL(url);
    },
    // Web Workers report no end: a terminated worker is taken as gone.
    confirmsExit: false,
  };
}

/** The reason a slot died, in the control block's error area, where the caller reads it. */
function writeReason(i: number, text: string): void {
  if (Atomics.compareExchange(ctrl, P.ERROR, 0, -(i + 1)) !== 0) return;
  const bytes = new TextEncoder().encode(text.slice(0, P.ERROR_MAX / 4));
  const dst = new Uint8Array(ctrl.buffer, P.ERROR_BYTES, P.ERROR_MAX);
  const n = Math.min(bytes.length, P.ERROR_MAX);
  for (let k = 0; k < n; k++) dst[k] = bytes[k];
  Atomics.store(ctrl, P.ERROR_LEN, n);
}

function terminateQuietly(w: Handle): void {
  try {
    w.terminate();
  } catch {
    // already gone
  }
}

// A worker failed, exited or is to be killed. The slot is marked dead only once the thread is gone
// (Node: its 'exit'), so no thread still writes memory when the caller gives up on its chunks.
function dead(i: number, w: Handle, reason: string, final: boolean): void {
  if (stopped || workers[i] !== w || Atomics.load(ctrl, P.STOP) !== 0) return;
  if (!w.reason) w.reason = reason;
  if (!final && w.confirmsExit) {
    if (!w.terminating) {
      w.terminating = true;
      terminateQuietly(w);
    }
    return;
  }
  workers[i] = null;
  if (!w.terminating) terminateQuietly(w);
  const wasReady = Atomics.load(ctrl, P.slot(i, P.STATE)) === P.READY;
  if (wasReady && Atomics.load(ctrl, P.slot(i, P.HOLD)) !== 0) writeReason(i, `worker ${i + 1} ${w.reason}`);
  Atomics.store(ctrl, P.slot(i, P.STATE), P.DEAD);
  Atomics.add(ctrl, P.DEATHS, 1);
  Atomics.notify(ctrl, P.DONE);
  failures[i] = (failures[i] || 0) + 1;
  post({ type: 'dead', index: i, reason: w.reason, respawn: failures[i] <= 3 });
  if (failures[i] <= 3)
    setTimeout(() => {
      if (!stopped && !workers[i]) void spawn(i);
    }, 0);
}

async function spawn(i: number): Promise<void> {
  const start = init!;
  Atomics.store(ctrl, P.slot(i, P.STATE), P.STARTING);
  let w: Handle;
  try {
    w = await makeWorker(start.workerSource);
  } catch (e) {
    post({ type: 'dead', index: i, reason: `could not start: ${describe(e)}`, respawn: false });
    Atomics.store(ctrl, P.slot(i, P.STATE), P.DEAD);
    return;
  }
  if (stopped) {
    terminateQuietly(w);
    return;
  }
  workers[i] = w;
  w.onMessage((m) => {
    if (workers[i] !== w || !m) return;
    if (m.type === 'ready') {
      failures[i] = 0;
      post({ type: 'ready', index: i });
    } else if (m.type === 'init-error') {
      failures[i] = 3;
      dead(i, w, `could not start: ${m.message}`, false);
    } else if (m.type === 'kill-me') dead(i, w, 'was killed (test fault)', false);
  });
  w.onFailure((reason, final) => dead(i, w, reason, final));
  const msg = { type: 'init', memory: start.memory, ctrl: start.ctrl, index: i };
  try {
    w.post({ ...msg, module: start.module });
  } catch {
    w.post({ ...msg, bytes: start.bytes });
  }
}

onMessage((message) => {
  const m = message as (Init | { type: 'kill'; index: number; reason?: string } | { type: 'stop' }) | null;
  if (!m) return;
  if (m.type === 'init') {
    init = m;
    ctrl = new Int32Array(m.ctrl);
    for (let i = 0; i < m.count; i++) void spawn(i);
  } else if (m.type === 'kill') {
    const w = workers[m.index];
    if (w) dead(m.index, w, m.reason || 'was terminated', false);
  } else if (m.type === 'stop') {
    stopped = true;
    for (const w of workers) if (w) terminateQuietly(w);
    post({ type: 'stopped' });
    endSelf(0);
  }
});
