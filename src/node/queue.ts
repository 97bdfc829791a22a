// Tokenizing across machines on BullMQ (Redis). `xcodec tokenize ... --queue URL` enqueues one job per
// input file and waits for the queue to finish them; `xcodec worker --queue URL` (any number, on every
// machine that can write OUT_DIR) encodes them. Workers write exactly as one-machine mode does (temp +
// rename, the .json last), so the outputs, manifest.jsonl and errors.jsonl are byte-identical to a
// one-machine run.
//
// What BullMQ gives and we rely on: a job id derived from the output path, so enqueueing twice adds
// nothing; retries with backoff for failures that may pass (I/O), none for a file that cannot be
// decoded (an UnrecoverableError); and stalled-job recovery: a worker killed mid-job stops renewing
// its lock, and another worker's stalled check hands the job on. The encode runs in BullMQ's sandbox
// (a worker thread per concurrent job, kept and reused, which keeps its models) so the worker's own
// event loop stays free to renew locks however long a song takes.

import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, Queue as BullQueue, QueueEvents as BullQueueEvents } from 'bullmq';
import { parseXcodecConfig } from '../checkpoint/config.js';
import { XcodecInputError, XcodecRuntimeError } from '../errors.js';
import { readConfigFile } from './files.js';
import { importOptional } from './optional.js';
import { type QueueJobData, checkJobData, jobReason, shownRel } from './queue_job.js';
import { isRepoId, snapshotDownload } from './hub.js';
import {
  type Item,
  type Settings,
  type TokenizeOptions,
  collectInputs,
  finished,
  inShard,
  progressReporter,
  settingsFor,
  stem,
  writeSummary,
} from './tokenize.js';

export const DEFAULT_QUEUE_NAME = 'xcodec-tokenize';
/** BullMQ's default lock; tests shorten it (--stalled-interval) to see a recovery in seconds. */
const DEFAULT_STALLED_INTERVAL_MS = 15000;
const CONNECT_TIMEOUT_MS = 3000;

export type { QueueJobData } from './queue_job.js';

export interface QueueOptions {
  url: string;
  name: string;
}

export interface WorkerOptions extends QueueOptions {
  jobs: number;
  threads?: number;
  quiet: boolean;
  /** folders job outputs must lie in (--out-root, repeatable); every outDir is accepted when empty */
  outRoots?: string[];
  /** seconds one job may take before it fails for good (--job-timeout; default 3600) */
  jobTimeoutS?: number;
  /** seconds SIGINT or SIGTERM waits for the held jobs and Redis before the worker ends anyway (default 10) */
  stopTimeoutS?: number;
  /** how often workers look for stalled jobs; a job's lock lasts twice this */
  stalledIntervalMs?: number;
}

/** redis://HOST[:PORT][/DB] or rediss://; anything else is a typed error naming what is accepted. */
export function parseQueueUrl(url: string): string {
  const accepted = 'accepted: redis://HOST:PORT[/DB] (rediss:// for TLS), e.g. redis://127.0.0.1:6379/0';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new XcodecInputError(`--queue ${url} is not a URL; ${accepted}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new XcodecInputError(`--queue ${url}: the scheme ${u.protocol} is not accepted; ${accepted}`);
  if (!u.hostname) throw new XcodecInputError(`--queue ${url} names no host; ${accepted}`);
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,5}$/.test(u.pathname))
    throw new XcodecInputError(`--queue ${url}: "${u.pathname}" is not a database number; ${accepted}`);
  return url;
}

/** Fails within a few seconds, naming the URL, when Redis does not answer; BullMQ itself would retry forever. */
async function checkReachable(url: string): Promise<void> {
  const { Redis } = await importOptional('ioredis', () => import('ioredis'));
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let cause: Error | undefined; // ioredis rejects with "Connection is closed"; the first error event says why
  probe.on('error', (e: Error) => {
    cause ??= e;
  });
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer in ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS).unref(),
      ),
    ]);
  } catch (e) {
    const why = cause ?? (e as Error);
    throw new XcodecRuntimeError(
      `cannot reach Redis at ${url}: ${why.message || why.name} (is redis-server running and listening there?)`,
    );
  } finally {
    probe.disconnect();
  }
}

const connection = (url: string) => ({ url, maxRetriesPerRequest: null });

/** The job id of an output: the same output path is the same job, whoever enqueues it. */
export function jobIdFor(outDir: string, rel: string): string {
  return `out-${createHash('sha256')
    .update(`${resolve(outDir)}\0${stem(rel)}`)
    .digest('hex')
    .slice(0, 40)}`;
}

const sameSettings = (a: Settings, b: Settings) =>
  a.bandwidth === b.bandwidth && a.format === b.format && a.dtype === b.dtype && a.configSha256 === b.configSha256;

/** `xcodec tokenize --queue`: enqueue what is not finished, wait for the queue, write manifest.jsonl and errors.jsonl. */
export async function tokenizeOnQueue(o: TokenizeOptions, q: QueueOptions): Promise<number> {
  parseQueueUrl(q.url);
  const all = collectInputs(o.inputs);
  const items = o.shard ? all.filter((it) => inShard(it.rel, o.shard!)) : all;
  await checkReachable(q.url);
  // workers elsewhere read the model from the same place: a local folder travels as an absolute path
  const model = isRepoId(o.model) ? o.model : resolve(o.model);
  const dir = isRepoId(model) ? await snapshotDownload(model) : model;
  const s = settingsFor(
    { ...o, model },
    parseXcodecConfig(await readConfigFile(dir, 'config.json'), `${dir}/config.json`),
  );
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });

  const { Queue, QueueEvents } = await importOptional('bullmq', () => import('bullmq'));
  const queue: BullQueue = new Queue(q.name, { connection: connection(q.url) });
  const events: BullQueueEvents = new QueueEvents(q.name, { connection: connection(q.url) });
  const progress = await progressReporter(o.quiet);
  const failures = new Map<string, string>();
  const pending = new Map<string, Item>();
  let stalled = 0;
  try {
    await events.waitUntilReady();
    const todo = items.filter((it) => !finished(outDir, it, s));
    const skipped = items.length - todo.length;
    let kept = 0;
    const fresh: { name: string; data: QueueJobData; opts: object }[] = [];
    for (const it of todo) {
      const id = jobIdFor(outDir, it.rel);
      pending.set(id, it);
      if (typeof it.source !== 'string') {
        throw new XcodecInputError(
          `tokenize --queue: ${it.rel}: a file name that is not valid UTF-8 cannot travel in a queue job (JSON); tokenize it without --queue`,
        );
      }
      const data: QueueJobData = { source: resolve(it.source), rel: it.rel, outDir, model, settings: s };
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        let theirs: QueueJobData | null = null;
        try {
          theirs = checkJobData(existing.data, null);
        } catch {
          // not a job this program would write: replace it. A worker holding it fails it at once (its
          // data is checked before anything else), after which it can be removed.
          for (let waited = 0; waited < 10000 && (await queue.getJob(id)); waited += 200) {
            await existing.remove().catch(() => {});
            if (await queue.getJob(id)) await new Promise((r) => setTimeout(r, 200));
          }
          if (await queue.getJob(id)) {
            throw new XcodecInputError(
              `tokenize: the queue holds a job ${id} with invalid data where ${it.rel}'s job belongs (in progress, so it cannot be removed); wait for it to fail, or use another --queue-name`,
            );
          }
        }
        if (theirs && state !== 'completed' && state !== 'failed' && state !== 'unknown') {
          if (!sameSettings(theirs.settings, s)) {
            throw new XcodecInputError(
              `tokenize: ${it.rel} is already queued for ${outDir} with other options (${JSON.stringify(theirs.settings)}); ` +
                'wait for that run, or choose another OUT_DIR',
            );
          }
          kept++;
          continue; // queued or running already: enqueueing twice adds nothing
        }
        if (theirs) await existing.remove(); // finished before but its outputs are gone or stale: do it again
      }
      fresh.push({
        name: 'tokenize',
        data,
        opts: {
          jobId: id,
          attempts: 3,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: { count: 1000 },
          removeOnFail: false,
        },
      });
    }
    events.on('stalled', ({ jobId }) => {
      if (pending.has(jobId)) stalled++;
    });
    const settle = (id: string, outcome: { seconds: number } | { error: string }) => {
      const it = pending.get(id);
      if (!it) return;
      pending.delete(id);
      if ('error' in outcome) {
        failures.set(it.rel, outcome.error);
        progress.file(0, true);
      } else progress.file(outcome.seconds, false);
    };
    let lastEvent = Date.now();
    events.on('completed', ({ jobId, returnvalue }) => {
      lastEvent = Date.now();
      let value: { seconds?: unknown } | null = null;
      try {
        value = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : (returnvalue as typeof value);
      } catch {
        // a foreign worker's answer: the outputs on disk decide (settled by the polling below if missing)
      }
      settle(jobId, { seconds: Number(value?.seconds ?? 0) || 0 });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      lastEvent = Date.now();
      settle(jobId, { error: failedReason });
    });
    progress.start(todo.length);
    for (let i = 0; i < fresh.length; i += 500)
      await queue.addBulk(fresh.slice(i, i + 500) as Parameters<BullQueue['addBulk']>[0]);
    if (!o.quiet) {
      process.stderr.write(
        `tokenize: ${fresh.length} jobs enqueued on ${q.url} (queue ${q.name}), ${kept} were queued already, ${skipped} files already done\n`,
      );
    }
    // Events are the fast path; when none has come for a while, ask the queue directly, which also
    // covers a job that finished while this process was not listening.
    while (pending.size > 0) {
      await new Promise((r) => setTimeout(r, 250));
      if (Date.now() - lastEvent < 3000) continue;
      lastEvent = Date.now();
      for (const [id, it] of [...pending]) {
        const job: Job | undefined = await queue.getJob(id);
        const state = job ? await job.getState() : 'unknown';
        if (state === 'completed') settle(id, { seconds: Number(job!.returnvalue?.seconds ?? 0) });
        else if (state === 'failed') settle(id, { error: job!.failedReason });
        else if (state === 'unknown') {
          // removed after completing (removeOnComplete), or by someone else: the disk says which
          const done = finished(outDir, it, s);
          settle(
            id,
            done
              ? { seconds: Number(done.seconds) }
              : {
                  error:
                    'the job left the queue without its outputs (removed by another client?); run the same command again',
                },
          );
        }
      }
    }
    progress.stop();
    writeSummary(outDir, items, failures);
    if (!o.quiet) {
      process.stderr.write(
        `tokenize: ${todo.length - failures.size} encoded by the queue's workers, ${skipped} already done, ${failures.size} failed` +
          `${stalled ? `, ${stalled} stalled job${stalled > 1 ? 's' : ''} recovered` : ''}; ${join(outDir, 'manifest.jsonl')}${failures.size ? `, ${join(outDir, 'errors.jsonl')}` : ''}\n`,
      );
    }
    return failures.size ? 1 : 0;
  } finally {
    progress.stop();
    await Promise.allSettled([queue.close(), events.close()]);
  }
}

/** An --out-root folder as job outDirs are compared with it: absolute, links resolved. */
function outRoot(dir: string): string {
  try {
    return realpathSync(resolve(dir));
  } catch {
    throw new XcodecInputError(`--out-root ${dir}: no such folder`);
  }
}

/** `xcodec worker`: takes jobs until SIGINT or SIGTERM, then finishes the ones it holds. */
export async function runQueueWorker(w: WorkerOptions): Promise<number> {
  parseQueueUrl(w.url);
  await checkReachable(w.url);
  const { Worker } = await importOptional('bullmq', () => import('bullmq'));
  const stalledInterval = w.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS;
  // the sandbox's worker threads copy this environment when they start
  process.env.XCODEC_WORKER_THREADS = String(w.threads ?? Math.max(1, Math.floor(availableParallelism() / w.jobs)));
  process.env.XCODEC_JOB_TIMEOUT_S = String(w.jobTimeoutS ?? 3600);
  if (w.outRoots?.length) process.env.XCODEC_OUT_ROOTS = JSON.stringify(w.outRoots.map(outRoot));
  else delete process.env.XCODEC_OUT_ROOTS;
  const processor = join(dirname(fileURLToPath(import.meta.url)), 'queue_processor.js');
  const worker = new Worker(w.name, processor, {
    connection: connection(w.url),
    concurrency: w.jobs,
    useWorkerThreads: true,
    stalledInterval,
    lockDuration: 2 * stalledInterval,
    maxStalledCount: 2,
  });
  const log = (line: string) => {
    if (!w.quiet) process.stderr.write(`worker ${process.pid}: ${line}\n`);
  };
  worker.on('active', (job) => log(`active ${shownRel(job.data)}`));
  worker.on('completed', (job) => log(`done ${shownRel(job.data)}`));
  worker.on('failed', (job, err) =>
    log(`failed ${shownRel(job?.data)} (attempt ${job?.attemptsMade ?? '?'}): ${jobReason(err.message)}`),
  );
  worker.on('error', (err) => log(`error: ${err.message}`));
  await worker.waitUntilReady();
  log(
    `ready on ${w.url} (queue ${w.name}), ${w.jobs} job${w.jobs > 1 ? 's' : ''} at a time, ${process.env.XCODEC_WORKER_THREADS} thread(s) each`,
  );
  await new Promise<void>((resolvePromise) => {
    const stop = () => {
      log('stopping: finishing the jobs it holds');
      resolvePromise();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // Redis may be gone: the held jobs get stopTimeoutS to finish, then the worker ends regardless (a
  // stalled job is handed on by another worker's stalled check).
  const grace = (w.stopTimeoutS ?? 10) * 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    worker.close().then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), grace);
    }),
  ]);
  clearTimeout(timer);
  if (!closed) {
    log(`stopping: not done after ${grace / 1000} s (is Redis gone?); ending anyway`);
    void worker.close(true).catch(() => {});
    return 1;
  }
  log('stopped');
  return 0;
}
