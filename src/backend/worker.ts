// The one way this package starts a worker: node:worker_threads in Node, a module Web Worker in
// browsers, Deno and Bun. Both the model's worker (api/) and the kernel pool's supervisor start here.

type AnyGlobal = {
  Deno?: unknown;
  Bun?: unknown;
  process?: { versions?: { node?: string }; execArgv?: string[] };
  window?: unknown;
  navigator?: { userAgent?: string };
  Worker?: new (url: string | URL, opts?: { type?: string }) => WebWorker;
};

interface WebWorker {
  postMessage(m: unknown, t?: ArrayBuffer[]): void;
  addEventListener(t: string, f: (e: { data?: unknown; message?: string; preventDefault?: () => void }) => void): void;
  terminate(): void;
  ref?: () => void;
  unref?: () => void;
}

export type WorkerEnv = 'node' | 'web';

/** Where workers come from: node:worker_threads, Web Workers, or nowhere (one thread only). */
export function workerEnv(): WorkerEnv | null {
  const g = globalThis as unknown as AnyGlobal;
  // Deno and Bun also set process.versions.node, but their Web Workers are the ones to use
  if (g.Deno !== undefined || g.Bun !== undefined) return typeof g.Worker === 'function' ? 'web' : null;
  // workerd (Cloudflare Workers) with nodejs_compat sets process.versions.node but has no workers at all
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return null;
  if (typeof g.process?.versions?.node === 'string' && g.window === undefined) return 'node';
  return typeof g.Worker === 'function' ? 'web' : null;
}

/** A running worker. */
export interface WorkerHandle {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): void;
  /** whether the worker keeps the process alive (Node, Bun): held while it has work, released when idle */
  hold(busy: boolean): void;
}

export interface WorkerCallbacks {
  onMessage(message: unknown): void;
  /** an error event or an exit, in words */
  onFailure(why: string): void;
}

/** A worker's script: a module file by URL, or source text (run with eval in Node, from a Blob URL elsewhere). */
export type WorkerScript = { url: URL } | { source: string };

/**
 * The caller's Node flags for a worker, less those about the caller's own script (with --input-type or
 * -e the worker would refuse to load a file). Node refuses others in a worker (V8's, such as
 * --max-old-space-size or --expose-gc: process-wide anyway); startNodeWorker drops the ones it names.
 */
function workerExecArgv(): string[] {
  const argv = (globalThis as unknown as AnyGlobal).process?.execArgv ?? [];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (/^(-e|--eval|-p|--print)$/.test(argv[i])) i++;
    else if (!argv[i].startsWith('--input-type') && !/^(-e|--eval|-p|--print)=/.test(argv[i])) out.push(argv[i]);
  }
  return out;
}

/**
 * A Node worker on a module file with the caller's flags, less any Node refuses in a worker: it names
 * them in ERR_WORKER_INVALID_EXEC_ARGV ("... invalid execArgv flags: --a, --b"); they are dropped and
 * the worker started again (with no flags at all if the message cannot be read).
 */
function startNodeWorker(Worker: typeof import('node:worker_threads').Worker, url: URL) {
  let execArgv = workerExecArgv();
  for (let attempt = 0; ; attempt++) {
    try {
      return new Worker(url, { execArgv });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (err.code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || attempt === 2) throw e;
      const refused = new Set((/flags: (.*)$/.exec(err.message ?? '')?.[1] ?? '').split(', '));
      const kept = execArgv.filter((a) => !refused.has(a));
      execArgv = attempt === 0 && kept.length < execArgv.length ? kept : [];
    }
  }
}

/** Starts a worker; its messages and its failure go to the callbacks. */
export async function spawnWorker(script: WorkerScript, on: WorkerCallbacks): Promise<WorkerHandle> {
  const env = workerEnv();
  if (env === 'node') {
    const spec = 'node:worker_threads';
    const { Worker } = (await import(
      /* @vite-ignore */ /* webpackIgnore: true */ spec
    )) as typeof import('node:worker_threads');
    const w = 'url' in script ? startNodeWorker(Worker, script.url) : new Worker(script.source, { eval: true });
    w.on('message', (m) => on.onMessage(m));
    w.on('error', (e: Error) => on.onFailure(`failed: ${e.name}: ${e.message}`));
    w.on('exit', (code: number) => on.onFailure(`exited with code ${code}`));
    return {
      post: (m, t) => w.postMessage(m, t),
      terminate: () => {
        void w.terminate();
      },
      hold: (busy) => (busy ? w.ref() : w.unref()),
    };
  }
  if (env === 'web') {
    const g = globalThis as unknown as AnyGlobal;
    const blob =
      'source' in script ? URL.createObjectURL(new Blob([script.source], { type: 'text/javascript' })) : null;
    const w = new g.Worker!(blob ?? (script as { url: URL }).url, { type: 'module' });
    w.addEventListener('message', (e) => on.onMessage(e.data));
    w.addEventListener('error', (e) => {
      e.preventDefault?.();
      on.onFailure(`failed: ${e.message || 'its script did not load or threw'}`);
    });
    return {
      post: (m, t) => w.postMessage(m, t),
      terminate: () => {
        w.terminate();
        if (blob) URL.revokeObjectURL(blob);
      },
      hold: (busy) => (busy ? w.ref?.() : w.unref?.()),
    };
  }
  throw new Error('this runtime has no Worker');
}
