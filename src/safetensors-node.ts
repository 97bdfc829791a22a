// Checkpoint directories on disk: model.safetensors, or shards listed by model.safetensors.index.json.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { XcodecCheckpointError } from './errors.js';
import { type ByteSource, SafetensorsFile, type TensorInfo } from './safetensors.js';

export function fileSource(path: string): ByteSource {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new XcodecCheckpointError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, into) {
      let done = 0;
      while (done < into.length) {
        const n = readSync(fd, into, done, into.length - done, offset + done);
        if (n <= 0) throw new XcodecCheckpointError(`${path}: unexpected end of file at byte ${offset + done}`);
        done += n;
      }
    },
    close: () => closeSync(fd),
  };
}

export class SafetensorsCheckpoint {
  readonly tensors = new Map<string, TensorInfo>();
  private owner = new Map<string, SafetensorsFile>();

  private constructor(private files: SafetensorsFile[]) {
    for (const f of files) {
      for (const [name, t] of f.tensors) {
        this.tensors.set(name, t);
        this.owner.set(name, f);
      }
    }
  }

  static async openDir(dir: string): Promise<SafetensorsCheckpoint> {
    const single = join(dir, 'model.safetensors');
    const index = join(dir, 'model.safetensors.index.json');
    if (existsSync(single)) return new SafetensorsCheckpoint([SafetensorsFile.open(fileSource(single), single)]);
    if (!existsSync(index)) {
      throw new XcodecCheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json (the files save_pretrained writes)`);
    }
    let map: Record<string, string>;
    try {
      const json = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> };
      if (typeof json.weight_map !== 'object' || json.weight_map === null) throw new Error('no "weight_map" object');
      map = json.weight_map;
    } catch (e) {
      throw new XcodecCheckpointError(`${index}: ${(e as Error).message}`);
    }
    const names = [...new Set(Object.values(map))];
    const files = new Map<string, SafetensorsFile>();
    for (const n of names) {
      const path = join(dir, n);
      if (typeof n !== 'string' || n.includes('/') || n.includes('\\') || !existsSync(path)) {
        for (const f of files.values()) f.close();
        throw new XcodecCheckpointError(`${index}: shard ${JSON.stringify(n)} is missing from ${dir}`);
      }
      files.set(n, SafetensorsFile.open(fileSource(path), path));
    }
    for (const [tensor, shard] of Object.entries(map)) {
      if (!files.get(shard)!.tensors.has(tensor)) {
        for (const f of files.values()) f.close();
        throw new XcodecCheckpointError(`${index}: maps "${tensor}" to ${shard}, which does not hold it`);
      }
    }
    return new SafetensorsCheckpoint([...files.values()]);
  }

  info(name: string): TensorInfo | undefined {
    return this.tensors.get(name);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  async readF32(name: string, dest: Float32Array): Promise<void> {
    const f = this.owner.get(name);
    if (!f) throw new XcodecCheckpointError(`no tensor "${name}" in the checkpoint`);
    f.readF32(name, dest);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
