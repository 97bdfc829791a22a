// File access for Node, Deno and Bun (all provide node:fs): config files and checkpoint directories.
// Kept apart so the rest of the package imports nothing from node: and runs in browsers.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XcodecConfigError } from './errors.js';
import { type HubOptions, isRepoId, snapshotDownload } from './hub.js';
import { SafetensorsCheckpoint } from './safetensors-node.js';
import type { CheckpointSource } from './xcodec.js';

export async function readConfigFile(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new XcodecConfigError(`${path}: cannot read (${code ?? (e as Error).message}); a model directory needs ${name} as written by save_pretrained`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new XcodecConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export async function openCheckpointDir(dir: string, onProgress?: (loaded: number, total: number) => void): Promise<CheckpointSource> {
  const ckpt = await SafetensorsCheckpoint.openDir(dir);
  let total = 0;
  for (const t of ckpt.tensors.values()) total += t.end - t.begin;
  let loaded = 0;
  return {
    info: (name) => ckpt.info(name),
    names: () => [...ckpt.tensors.keys()],
    async readF32(name, dest) {
      await ckpt.readF32(name, dest);
      const t = ckpt.info(name);
      if (t && onProgress) {
        loaded += t.end - t.begin;
        onProgress(loaded, total);
      }
    },
    close: () => ckpt.close(),
  };
}

/** A local directory as is; a Hub repository id ("owner/name") downloaded into the cache first. */
export async function resolveModelDir(dir: string, hub?: HubOptions): Promise<string> {
  return isRepoId(dir) ? snapshotDownload(dir, hub) : dir;
}
