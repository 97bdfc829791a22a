// The job processor `xcodec worker` hands to BullMQ's sandbox: it runs in a worker thread that BullMQ
// keeps between jobs, so the models it loads stay loaded. A file that cannot be read as audio fails
// for good (UnrecoverableError: retrying cannot help); anything else (a network share's hiccup, a
// full disk) is thrown as is and BullMQ retries it with backoff.

import type { SandboxedJob } from 'bullmq';
import { XcodecError } from '../errors.js';
import { type XcodecFeatureExtractor, XcodecModelSync } from './index.js';
import { importOptional } from './optional.js';
import type { QueueJobData } from './queue.js';
import { configSha256, encodeItem, featureExtractor, writeItem } from './tokenize.js';

interface Loaded {
  model: XcodecModelSync;
  fe: XcodecFeatureExtractor;
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

export default async function processTokenizeJob(job: SandboxedJob<QueueJobData>): Promise<{ seconds: number }> {
  const d = job.data;
  let loaded: Loaded;
  try {
    loaded = await load(d.model);
  } catch (e) {
    throw e instanceof XcodecError ? await unrecoverable(`cannot load the model ${d.model}: ${e.message}`) : e;
  }
  if (loaded.configSha256 !== d.settings.configSha256) {
    throw await unrecoverable(
      `the model at ${d.model} on this worker is not the one the job was enqueued with (config.json differs)`,
    );
  }
  const item = { source: d.source, rel: d.rel };
  let encoded: Awaited<ReturnType<typeof encodeItem>>;
  try {
    encoded = await encodeItem(loaded.model, loaded.fe, item, d.settings);
  } catch (e) {
    throw e instanceof XcodecError ? await unrecoverable(e.message) : e;
  }
  writeItem(d.outDir, item, encoded);
  return { seconds: encoded.seconds };
}
