// Source text of the two worker kinds, inlined so that no file has to be found at run time (no bundler
// step, no URL to resolve): Node runs them with `new Worker(src, { eval: true })`, Deno, Bun and
// browsers as module workers from a Blob URL.
//
//  - supervisor: one per pool. It starts the kernel workers, hears when one fails or exits (its event
//    loop stays free, unlike the calling thread's, which blocks in Atomics.wait during an op), marks the
//    slot dead in the control block, wakes the caller and starts a replacement.
//  - kernel worker: instantiates the kernel module on the shared memory, then loops: wait for GEN to
//    change, claim chunks of the op, run them, count them in DONE.

import { SPLIT_KERNELS } from '../kernels.js';
import * as P from './protocol.js';

import type { WorkerEnv } from '../worker.js';

const PROLOGUE: Record<WorkerEnv, string> = {
  // A dynamic import works whether Node evaluates the source as CommonJS or, when the parent runs with
  // --input-type=module (inherited by workers), as an ES module. Messages wait in the port meanwhile.
  node: `let __wt = null;
const __loaded = import('node:worker_threads').then((m) => { __wt = m; });
const onMessage = (f) => { __loaded.then(() => __wt.parentPort.on('message', f)); };
const post = (m) => __wt.parentPort.postMessage(m);
const endSelf = (code) => process.exit(code);
const ENV = 'node';
`,
  web: `const onMessage = (f) => { self.onmessage = (e) => f(e.data); };
const post = (m) => self.postMessage(m);
const endSelf = () => self.close();
const ENV = 'web';
`,
};

const CONSTANTS = `const P = ${JSON.stringify(Object.fromEntries(Object.entries(P).filter(([, v]) => typeof v === 'number')))};
const NAMES = ${JSON.stringify(SPLIT_KERNELS)};
const slot = (i, f) => P.SLOT_BASE + P.SLOT_INTS * i + f;
`;

const KERNEL_WORKER = `
let ctrl, f64, fns, ex, me;
const argv = [];
for (let n = 0; n <= P.MAX_ARGS; n++) argv.push(new Array(n).fill(0));

function describe(e) {
  if (e && typeof e === 'object' && 'message' in e) return (e.name ? e.name + ': ' : '') + e.message;
  return String(e);
}

function report(e) {
  if (Atomics.compareExchange(ctrl, P.ERROR, 0, me + 1) !== 0) return;
  const text = describe(e);
  const bytes = new TextEncoder().encode(text.slice(0, P.ERROR_MAX / 4));
  const dst = new Uint8Array(ctrl.buffer, P.ERROR_BYTES, P.ERROR_MAX);
  const n = Math.min(bytes.length, P.ERROR_MAX);
  for (let i = 0; i < n; i++) dst[i] = bytes[i];
  Atomics.store(ctrl, P.ERROR_LEN, n);
}

function fault(kind) {
  if (kind === P.FAULT_TRAP) {
    // A store at 4 GiB - 64: outside any memory this pool allocates, so the engine traps.
    ex.scale(-64, 0, 1, 0, 16);
    return;
  }
  if (kind === P.FAULT_EXIT && ENV === 'node') endSelf(70);
  if (kind === P.FAULT_HANG) {
    const never = new Int32Array(new SharedArrayBuffer(4));
    for (;;) Atomics.wait(never, 0, 0);
  }
  // FAULT_KILL, or FAULT_EXIT where a worker cannot end itself mid-call: ask to be terminated, then
  // block forever (the chunk is never counted) until the supervisor kills this thread.
  post({ type: 'kill-me' });
  const never = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(never, 0, 0);
}

function runChunk(c) {
  const k = ctrl[P.KERNEL];
  const n = ctrl[P.NARGS];
  const r = ctrl[P.RPOS];
  const a = argv[n];
  for (let i = 0; i < n; i++) a[i] = f64[P.ARGS_F64 + i];
  a[r] = ctrl[P.RANGES + 2 * c];
  a[r + 1] = ctrl[P.RANGES + 2 * c + 1];
  const kind = Atomics.load(ctrl, P.FAULT_KIND);
  if (kind !== 0) {
    const target = Atomics.load(ctrl, P.FAULT_SLOT);
    if ((target === -1 || target === me) && Atomics.compareExchange(ctrl, P.FAULT_KIND, kind, 0) === kind) fault(kind);
  }
  fns[k].apply(null, a);
}

function work() {
  const hold = slot(me, P.HOLD);
  const chunks = slot(me, P.CHUNKS);
  for (;;) {
    const v = Atomics.load(ctrl, P.NEXT);
    const n = v >>> 16;
    const c = v & 0xffff;
    if (c >= n) return;
    Atomics.store(ctrl, hold, 1);
    if (Atomics.compareExchange(ctrl, P.NEXT, v, v + 1) !== v) {
      Atomics.store(ctrl, hold, 0);
      continue;
    }
    try {
      runChunk(c);
    } catch (e) {
      report(e);
    }
    ctrl[chunks]++;
    if (Atomics.add(ctrl, P.DONE, 1) + 1 === n || Atomics.load(ctrl, P.ERROR) !== 0) Atomics.notify(ctrl, P.DONE);
    Atomics.store(ctrl, hold, 0);
  }
}

function loop() {
  let seen = Atomics.load(ctrl, P.GEN);
  for (;;) {
    let g = Atomics.load(ctrl, P.GEN);
    if (g === seen) {
      const spin = Atomics.load(ctrl, P.SPIN);
      for (let s = 0; s < spin && g === seen; s++) g = Atomics.load(ctrl, P.GEN);
      while (g === seen) {
        Atomics.wait(ctrl, P.GEN, seen);
        g = Atomics.load(ctrl, P.GEN);
      }
    }
    if (Atomics.load(ctrl, P.STOP) !== 0) return;
    seen = g;
    work();
  }
}

onMessage((m) => {
  if (!m || m.type !== 'init') return;
  try {
    const mod = m.module instanceof WebAssembly.Module ? m.module : new WebAssembly.Module(m.bytes);
    ex = new WebAssembly.Instance(mod, { env: { memory: m.memory } }).exports;
    ctrl = new Int32Array(m.ctrl);
    f64 = new Float64Array(m.ctrl);
    me = m.index;
    ex.thread_scratch(P.SCRATCH_BASE + (me + 1) * ex.thread_scratch_bytes());
    fns = NAMES.map((name) => ex[name]);
    const missing = NAMES.filter((name, i) => typeof fns[i] !== 'function');
    if (missing.length) throw new Error('the kernel module lacks ' + missing.join(', '));
  } catch (e) {
    post({ type: 'init-error', message: describe(e) });
    return;
  }
  Atomics.store(ctrl, slot(me, P.HOLD), 0);
  Atomics.store(ctrl, slot(me, P.STATE), P.READY);
  post({ type: 'ready', index: me });
  loop();
  post({ type: 'stopped', index: me });
  endSelf(0);
});
`;

const SUPERVISOR = `
let init = null;
let ctrl = null;
let stopped = false;
const workers = [];
const failures = [];

function makeWorker(src) {
  if (ENV === 'node') {
    const w = new __wt.Worker(src, { eval: true });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => w.on('message', f),
      // 'error' and 'messageerror' come before the thread is gone: only 'exit' is final.
      onFailure: (f) => {
        w.on('error', (e) => f('failed: ' + (e && e.message ? e.message : String(e)), false));
        w.on('messageerror', () => f('could not receive a message', false));
        w.on('exit', (code) => f('exited with code ' + code, true));
      },
      terminate: () => { w.terminate(); },
      // Node reports the end of the thread with 'exit'; wait for it before declaring the slot dead.
      confirmsExit: true,
    };
  }
  const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
  const w = new Worker(url, { type: 'module' });
  return {
    post: (m) => w.postMessage(m),
    onMessage: (f) => w.addEventListener('message', (e) => f(e.data)),
    onFailure: (f) => {
      w.addEventListener('error', (e) => { e.preventDefault?.(); f('failed: ' + (e.message || 'uncaught error'), false); });
      w.addEventListener('messageerror', () => f('could not receive a message', false));
      w.addEventListener('close', () => f('closed', true));
    },
    terminate: () => { w.terminate(); URL.revokeObjectURL(url); },
    // Web Workers report no end: a terminated worker is taken as gone.
    confirmsExit: false,
  };
}

function writeReason(i, text) {
  if (Atomics.compareExchange(ctrl, P.ERROR, 0, -(i + 1)) !== 0) return;
  const bytes = new TextEncoder().encode(text.slice(0, P.ERROR_MAX / 4));
  const dst = new Uint8Array(ctrl.buffer, P.ERROR_BYTES, P.ERROR_MAX);
  const n = Math.min(bytes.length, P.ERROR_MAX);
  for (let k = 0; k < n; k++) dst[k] = bytes[k];
  Atomics.store(ctrl, P.ERROR_LEN, n);
}

// A worker failed, exited or is to be killed. The slot is marked dead only once the thread is gone
// (Node: its 'exit'), so no thread still writes memory when the caller gives up on its chunks.
function dead(i, w, reason, final) {
  if (stopped || workers[i] !== w || Atomics.load(ctrl, P.STOP) !== 0) return;
  if (!w.reason) w.reason = reason;
  if (!final && w.confirmsExit) {
    if (!w.terminating) { w.terminating = true; try { w.terminate(); } catch {} }
    return;
  }
  workers[i] = null;
  if (!w.terminating) { try { w.terminate(); } catch {} }
  const wasReady = Atomics.load(ctrl, slot(i, P.STATE)) === P.READY;
  if (wasReady && Atomics.load(ctrl, slot(i, P.HOLD)) !== 0) writeReason(i, 'worker ' + (i + 1) + ' ' + w.reason);
  Atomics.store(ctrl, slot(i, P.STATE), P.DEAD);
  Atomics.add(ctrl, P.DEATHS, 1);
  Atomics.notify(ctrl, P.DONE);
  failures[i] = (failures[i] || 0) + 1;
  post({ type: 'dead', index: i, reason: w.reason, respawn: failures[i] <= 3 });
  if (failures[i] <= 3) setTimeout(() => { if (!stopped && !workers[i]) spawn(i); }, 0);
}

function spawn(i) {
  Atomics.store(ctrl, slot(i, P.STATE), P.STARTING);
  let w;
  try {
    w = makeWorker(init.workerSource);
  } catch (e) {
    post({ type: 'dead', index: i, reason: 'could not start: ' + (e && e.message ? e.message : String(e)), respawn: false });
    Atomics.store(ctrl, slot(i, P.STATE), P.DEAD);
    return;
  }
  workers[i] = w;
  w.onMessage((m) => {
    if (workers[i] !== w || !m) return;
    if (m.type === 'ready') { failures[i] = 0; post({ type: 'ready', index: i }); }
    else if (m.type === 'init-error') { failures[i] = 3; dead(i, w, 'could not start: ' + m.message, false); }
    else if (m.type === 'kill-me') dead(i, w, 'was killed (test fault)', false);
  });
  w.onFailure((reason, final) => dead(i, w, reason, final));
  const msg = { type: 'init', memory: init.memory, ctrl: init.ctrl, index: i };
  try {
    w.post({ ...msg, module: init.module });
  } catch {
    w.post({ ...msg, bytes: init.bytes });
  }
}

onMessage((m) => {
  if (!m) return;
  if (m.type === 'init') {
    init = m;
    ctrl = new Int32Array(m.ctrl);
    for (let i = 0; i < m.count; i++) spawn(i);
  } else if (m.type === 'kill') {
    const w = workers[m.index];
    if (w) dead(m.index, w, m.reason || 'was terminated', false);
  } else if (m.type === 'stop') {
    stopped = true;
    for (const w of workers) { try { w && w.terminate(); } catch {} }
    post({ type: 'stopped' });
    endSelf(0);
  }
});
`;

export function kernelWorkerSource(env: WorkerEnv): string {
  return PROLOGUE[env] + CONSTANTS + KERNEL_WORKER;
}

export function supervisorSource(env: WorkerEnv): string {
  return PROLOGUE[env] + CONSTANTS + SUPERVISOR;
}
