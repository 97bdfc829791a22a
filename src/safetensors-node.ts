// File access for safetensors in Node, Deno and Bun (all provide node:fs). Kept apart from
// safetensors.ts so that module imports nothing from node: and runs in browsers.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XcodecCheckpointError } from './errors.js';
import type { ByteSource } from './safetensors.js';

export { SafetensorsCheckpoint } from './safetensors.js';

/** A file as a ByteSource: synchronous positioned reads on one descriptor, closed by close(). */
export function fileSource(path: string): ByteSource {
  let fd: number;
  let size: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new XcodecCheckpointError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new XcodecCheckpointError(`${path}: not a regular file`);
    size = st.size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    size,
    read(offset, length, into) {
      // readSync may return fewer bytes than asked (large reads, pipes): loop until done
      for (let done = 0; done < length;) {
        const n = readSync(fd, into, done, length - done, offset + done);
        if (n <= 0) throw new XcodecCheckpointError(`${path}: unexpected end of file at byte ${offset + done} (was it truncated while open?)`);
        done += n;
      }
    },
    close: () => closeSync(fd),
  };
}

/** A checkpoint directory as the lookup SafetensorsCheckpoint.openDir uses. */
export function dirLookup(dir: string) {
  return {
    where: dir,
    label: (fileName: string) => join(dir, fileName),
    open(fileName: string): ByteSource | undefined {
      const path = join(dir, fileName);
      return statSync(path, { throwIfNoEntry: false })?.isFile() ? fileSource(path) : undefined;
    },
  };
}
