// The message port of a pool worker (the supervisor and the kernel workers), whichever way it runs:
// under node:worker_threads (evaluated from source as a script) or as a module Web Worker (Deno, Bun,
// browsers). Bundled into each worker's source by scripts/build-workers.mjs.

type WebScope = { postMessage(m: unknown): void; onmessage: ((e: { data: unknown }) => void) | null; close(): void };
type NodePort = { on(event: 'message', f: (m: unknown) => void): void; postMessage(m: unknown): void };

const web = (globalThis as { self?: WebScope }).self;

/** How this worker runs: a Web Worker has `self.postMessage`; a node:worker_threads worker has neither. */
export const ENV: 'node' | 'web' = web && typeof web.postMessage === 'function' ? 'web' : 'node';

// A dynamic import works whether Node evaluates the source as a script or, when the parent runs with
// --input-type=module (inherited by workers), as an ES module. Messages wait in the port meanwhile.
const spec = 'node:worker_threads';
const nodeThreads: Promise<{ parentPort: NodePort; Worker: NodeWorkerClass }> | null =
  ENV === 'node' ? import(/* @vite-ignore */ spec) : null;
let port: NodePort | null = null;
void nodeThreads?.then((m) => {
  port = m.parentPort;
});

/** node:worker_threads' Worker, as the supervisor starts kernel workers with it. */
export type NodeWorkerClass = new (
  src: string,
  o: { eval: true },
) => {
  postMessage(m: unknown): void;
  on(event: string, f: (x: unknown) => void): void;
  terminate(): unknown;
};

/** Calls f with each message from the parent. */
export function onMessage(f: (m: unknown) => void): void {
  if (web) web.onmessage = (e) => f(e.data);
  else void nodeThreads!.then((m) => m.parentPort.on('message', f));
}

/** Posts to the parent. */
export function post(m: unknown): void {
  if (web) web.postMessage(m);
  else port!.postMessage(m);
}

/** Ends this worker (Node: with an exit code its parent sees). */
export function endSelf(code: number): void {
  if (web) web.close();
  else (globalThis as unknown as { process: { exit(c: number): never } }).process.exit(code);
}

/** node:worker_threads' Worker class (Node only). */
export async function nodeWorker(): Promise<NodeWorkerClass> {
  return (await nodeThreads!).Worker;
}

export { describeError as describe } from '../../errors.js';
