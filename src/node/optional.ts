// The optional peer dependencies: the queue's `bullmq` and `ioredis` and the terminal bars'
// `cli-progress` are not installed with the package, so a browser-first install stays small. They
// load on first use; a missing one is a typed error that says what to install.

import { XcodecInputError } from '../errors.js';

/** What each optional package is for, and the command that installs what that feature needs. */
const FEATURES = {
  bullmq: {
    feature: 'the Redis queue (xcodec tokenize --queue, xcodec worker)',
    install: 'npm install bullmq ioredis',
  },
  ioredis: {
    feature: 'the Redis queue (xcodec tokenize --queue, xcodec worker)',
    install: 'npm install bullmq ioredis',
  },
  'cli-progress': { feature: 'progress bars on a terminal', install: 'npm install cli-progress' },
} as const;

export type OptionalPackage = keyof typeof FEATURES;

/** Whether an import failed because the package itself is not installed (not an error inside it). */
function isMissing(e: unknown, name: string): boolean {
  const err = e as { code?: string; message?: string };
  return (
    (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') &&
    new RegExp(`['"]${name}['"]|${name}/`).test(err.message ?? '')
  );
}

/** Imports an optional package, or throws an XcodecInputError naming the install command. */
export async function importOptional<T>(name: OptionalPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (!isMissing(e, name)) throw e;
    const f = FEATURES[name];
    throw new XcodecInputError(
      `${f.feature} needs the package "${name}", which is not installed; install it with: ${f.install}`,
    );
  }
}

/** Imports an optional package, or returns null where it is not installed (features with a plain fallback). */
export async function importIfInstalled<T>(name: OptionalPackage, load: () => Promise<T>): Promise<T | null> {
  try {
    return await load();
  } catch (e) {
    if (isMissing(e, name)) return null;
    throw e;
  }
}
