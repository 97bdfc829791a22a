// File access for Node, Deno and Bun (all provide node:fs): config files, safetensors files as byte
// sources, and checkpoint directories. Only `xcodec-wasm/node` reaches this module.

import {
  closeSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { XcodecCheckpointError, XcodecConfigError, XcodecInputError } from '../errors.js';
import { parseStrictJson } from '../checkpoint/json.js';
import { type ByteSource, type FileLookup, SafetensorsCheckpoint } from '../checkpoint/safetensors.js';
import type { CheckpointSource } from '../checkpoint/weights.js';

/** A file as a ByteSource: synchronous positioned reads on one descriptor, closed by close(). */
export function fileSource(path: string): ByteSource {
  let fd: number;
  let size: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new XcodecCheckpointError(
      `${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
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
      for (let done = 0; done < length; ) {
        const n = readSync(fd, into, done, length - done, offset + done);
        if (n <= 0)
          throw new XcodecCheckpointError(
            `${path}: unexpected end of file at byte ${offset + done} (was it truncated while open?)`,
          );
        done += n;
      }
    },
    close: () => closeSync(fd),
  };
}

/** A checkpoint directory as the lookup SafetensorsCheckpoint.open uses. */
export function dirLookup(dir: string): FileLookup {
  return {
    where: dir,
    label: (fileName: string) => join(dir, fileName),
    open(fileName: string): ByteSource | undefined {
      const path = join(dir, fileName);
      return statSync(path, { throwIfNoEntry: false })?.isFile() ? fileSource(path) : undefined;
    },
  };
}

export async function readConfigFile(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new XcodecConfigError(
      `${path}: cannot read (${code ?? (e as Error).message}); a model directory needs ${name} as written by save_pretrained`,
    );
  }
  return parseStrictJson(bytes, path, XcodecConfigError);
}

/** A checkpoint directory's tensors (model.safetensors or an index and its shards). */
export async function openCheckpointDir(
  dir: string,
  onProgress?: (loaded: number, total: number) => void,
): Promise<CheckpointSource> {
  return (await SafetensorsCheckpoint.open(dirLookup(dir))).source(onProgress);
}

/** Writes through a temporary file and a rename, so a failure (or a kill) never leaves a half-written output. */
export function writeAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    // 'wx': a fresh file, never through a link or a leftover planted at the temporary name
    rmSync(tmp, { force: true });
    writeFileSync(tmp, bytes, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw new XcodecInputError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
