// The job processor `xcodec worker` hands to BullMQ's sandbox: it runs in a worker thread that BullMQ
// keeps between jobs, so the models it loads stay loaded. Job data is checked before anything is
// opened (queue_job.ts). A job that is invalid, a file that cannot be read as audio, or a job past its
// time limit fails for good (UnrecoverableError: retrying cannot help), with an escaped reason that
// quotes no file content; anything else (a network share's hiccup, a full disk) is thrown as is and
// BullMQ retries it with backoff.

import type { SandboxedJob } from 'bullmq';
import { XcodecError } from '../errors.js';
import { XcodecModelSync } from './index.js';
import { importOptional } from './optional.js';
import { type QueueJobData, checkJobData, checkSource, confinedOutputDir, jobReason } from './queue_job.js';
import { type AudioFeatures, configSha256, encodeItem, featureExtractor, writeItem } from './tokenize.js';

interface Loaded {
  model: XcodecModelSync;
  fe: AudioFeatures;
  configSha256: string;
}

/** Loaded models by name, the most recent last; two at most, so a mixed queue cannot fill memory. */
const models = new Map<string, Promise<Loaded>>();
const MAX_MODELS = 2;

function load(name: string): Promise<Loaded> {
  let loading = models.get(name);
  if (loading) {
    models.delete(name);
    models.set(name, loading);
    return loading;
  }
  const threads = Number(process.env.XCODEC_WORKER_THREADS) || undefined;
  loading = XcodecModelSync.fromPretrained(name, { numThreads: threads, components: 'encoder' }).then(
    async (model) => ({
      model,
      fe: await featureExtractor(name, model),
      configSha256: configSha256(name),
    }),
  );
  loading.catch(() => models.delete(name));
  models.set(name, loading);
  while (models.size > MAX_MODELS) {
    const [oldest, evicted] = models.entries().next().value!;
    models.delete(oldest);
    void evicted.then(
      (l) => l.model.dispose(),
      () => {},
    );
  }
  return loading;
}

async function unrecoverable(message: string): Promise<Error> {
  const { UnrecoverableError } = await importOptional('bullmq', () => import('bullmq'));
  return new UnrecoverableError(message);
}

/** The folders job outputs must lie in (the worker's --out-root), passed in the environment. */
function outRoots(): string[] | null {
  const v = process.env.XCODEC_OUT_ROOTS;
  return v ? (JSON.parse(v) as string[]) : null;
}

/** Seconds a job may take (the worker's --job-timeout), checked at each step of the encode. */
const jobTimeoutMs = () => (Number(process.env.XCODEC_JOB_TIMEOUT_S) || 3600) * 1000;

export default async function processTokenizeJob(job: SandboxedJob<unknown>): Promise<{ seconds: number }> {
  try {
    return await processChecked(job.data);
  } catch (e) {
    if (e instanceof XcodecError) throw await unrecoverable(jobReason(e.message));
    throw e;
  }
}

async function processChecked(data: unknown): Promise<{ seconds: number }> {
  const d: QueueJobData = checkJobData(data, outRoots());
  checkSource(d.source);
  let loaded: Loaded;
  try {
    loaded = await load(d.model);
  } catch (e) {
    throw e instanceof XcodecError ? new XcodecError(`cannot load the model ${d.model}: ${e.message}`) : e;
  }
  if (loaded.configSha256 !== d.settings.configSha256) {
    throw new XcodecError(
      `the model at ${d.model} on this worker is not the one the job was enqueued with (config.json differs)`,
    );
  }
  // the clock starts once the model is loaded: a cold load is the worker's cost, not the job's
  const started = Date.now();
  const limit = jobTimeoutMs();
  const deadline = () => {
    if (Date.now() - started > limit)
      throw new XcodecError(`${d.rel}: the job took longer than ${limit / 1000} s (xcodec worker --job-timeout)`);
  };
  const item = { source: d.source, rel: d.rel };
  const encoded = await encodeItem(loaded.model, loaded.fe, item, d.settings, deadline);
  deadline();
  confinedOutputDir(d.outDir, d.rel, outRoots());
  try {
    writeItem(d.outDir, item, encoded);
  } catch (e) {
    throw new Error((e as Error).message); // I/O (a full disk, a share's hiccup): BullMQ retries it
  }
  return { seconds: encoded.seconds };
}
