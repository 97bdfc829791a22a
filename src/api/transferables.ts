// The ArrayBuffers under a value posted to or from the model's worker, so they move instead of being
// copied: the worker's results, and the caller's input under `transfer: true`.

/**
 * Every ArrayBuffer under `value` (typed arrays, at any depth, each object visited once). Left out: a
 * SharedArrayBuffer (shared, never copied) and an empty or already moved buffer (in Node 20 a transfer
 * list holding a detached buffer lost the message: the call never settled).
 */
export function buffersOf(value: unknown, out: ArrayBuffer[] = [], seen = new Set<object>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const b = value.buffer;
    if (b instanceof ArrayBuffer && b.byteLength > 0 && !out.includes(b)) out.push(b);
  } else if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    for (const v of Object.values(value)) buffersOf(v, out, seen);
  }
  return out;
}
