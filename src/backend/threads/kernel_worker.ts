// A kernel worker of the pool: instantiates the kernel module on the shared memory, then loops: wait
// for GEN to change, claim chunks of the op (protocol.ts), run them, count them in DONE. Bundled into
// a source string by scripts/build-workers.mjs; the supervisor starts it.

import { SPLIT_KERNELS } from '../kernels.js';
import * as P from './protocol.js';
import { ENV, describe, endSelf, onMessage, post } from './worker_port.js';

type KernelFn = (...a: number[]) => void;
interface KernelExports {
  scale: KernelFn;
  thread_scratch(p: number): void;
  thread_scratch_bytes(): number;
  [name: string]: unknown;
}
interface Init {
  type: 'init';
  module?: WebAssembly.Module;
  bytes?: Uint8Array<ArrayBuffer>;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  index: number;
}

let ctrl: Int32Array;
let f64: Float64Array;
let fns: KernelFn[];
let ex: KernelExports;
let me: number;
/** One reused argument array per argument count: no allocation per chunk. */
const argv: number[][] = [];
for (let n = 0; n <= P.MAX_ARGS; n++) argv.push(new Array(n).fill(0));

/** Puts the first error of an op in the control block, where the caller reads it. */
function report(e: unknown): void {
  if (Atomics.compareExchange(ctrl, P.ERROR, 0, me + 1) !== 0) return;
  const bytes = new TextEncoder().encode(describe(e).slice(0, P.ERROR_MAX / 4));
  const dst = new Uint8Array(ctrl.buffer, P.ERROR_BYTES, P.ERROR_MAX);
  const n = Math.min(bytes.length, P.ERROR_MAX);
  for (let i = 0; i < n; i++) dst[i] = bytes[i];
  Atomics.store(ctrl, P.ERROR_LEN, n);
}

/** Blocks this thread for good (a hung worker, or one waiting to be terminated). */
function blockForever(): never {
  const never = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(never, 0, 0);
}

/** The test hooks' faults (protocol.ts FAULT_*). */
function fault(kind: number): void {
  if (kind === P.FAULT_TRAP) {
    // A store at 4 GiB - 64: outside any memory this pool allocates, so the engine traps.
    ex.scale(-64, 0, 1, 0, 16);
    return;
  }
  if (kind === P.FAULT_EXIT && ENV === 'node') endSelf(70);
  if (kind === P.FAULT_HANG) blockForever();
  // FAULT_KILL, or FAULT_EXIT where a worker cannot end itself mid-call: ask to be terminated, then
  // block (the chunk is never counted) until the supervisor kills this thread.
  post({ type: 'kill-me' });
  blockForever();
}

function runChunk(c: number): void {
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

/** Claims and runs chunks of the current op until none is left. */
function work(): void {
  const hold = P.slot(me, P.HOLD);
  const chunks = P.slot(me, P.CHUNKS);
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

/** Waits for each new op (spinning a while first), until STOP. */
function loop(): void {
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

onMessage((message) => {
  const m = message as Init | null;
  if (m?.type !== 'init') return;
  try {
    const mod = m.module instanceof WebAssembly.Module ? m.module : new WebAssembly.Module(m.bytes!);
    ex = new WebAssembly.Instance(mod, { env: { memory: m.memory } }).exports as unknown as KernelExports;
    ctrl = new Int32Array(m.ctrl);
    f64 = new Float64Array(m.ctrl);
    me = m.index;
    ex.thread_scratch(P.SCRATCH_BASE + (me + 1) * ex.thread_scratch_bytes());
    fns = SPLIT_KERNELS.map((name) => ex[name] as KernelFn);
    const missing = SPLIT_KERNELS.filter((_, i) => typeof fns[i] !== 'function');
    if (missing.length) throw new Error(`the kernel module lacks ${missing.join(', ')}`);
  } catch (e) {
    post({ type: 'init-error', message: describe(e) });
    return;
  }
  Atomics.store(ctrl, P.slot(me, P.HOLD), 0);
  Atomics.store(ctrl, P.slot(me, P.STATE), P.READY);
  post({ type: 'ready', index: me });
  loop();
  post({ type: 'stopped', index: me });
  endSelf(0);
});
