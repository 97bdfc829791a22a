// A kernel table whose top-level calls are timed, for the benches that profile a whole encode or
// decode (profile.mjs, split-plan.mjs): calls a kernel makes inside another (a split call's chunks)
// go straight to `base`, untimed.
import { KERNELS } from '../dist/backend/kernels.js';

/** `base`'s kernels with each top-level call of a kernel `timed(name)` accepts reported as onCall(name, args, ms). */
export function timedKernels(base, onCall, timed = () => true) {
  let depth = 0;
  const out = {};
  for (const k of Object.keys(KERNELS)) {
    out[k] = (...args) => {
      if (depth > 0 || !timed(k)) return base[k](...args);
      depth++;
      const t = performance.now();
      try {
        return base[k](...args);
      } finally {
        depth--;
        onCall(k, args, performance.now() - t);
      }
    };
  }
  return out;
}
