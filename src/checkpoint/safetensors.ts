// safetensors reading, independent of where the bytes come from (Node file, browser buffer, ...).
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the data section; data_offsets are byte offsets into the data section.
// Tensors are streamed chunk by chunk into caller-provided Float32Array views (typically WebAssembly
// linear memory), so loading never holds a whole file or a whole-tensor copy in JS memory.
// No node: imports: a file on disk comes in as a ByteSource from src/node/files.ts.

import { XcodecCheckpointError, XcodecRuntimeError, describe } from '../errors.js';
import { parseStrictJson } from './json.js';
import {
  CHUNK_BYTES,
  DTYPE_SIZES,
  FLOAT_DTYPES,
  LITTLE_ENDIAN,
  MAX_HEADER_BYTES,
  type TensorInfo,
  headerLength,
  parseSafetensorsHeader,
} from './safetensors_header.js';

export * from './safetensors_header.js';

const show = describe;
import type { CheckpointSource } from './weights.js';

/** Random access to a file's bytes: a Node file descriptor, an in-memory buffer, HTTP ranges, ... */
export interface ByteSource {
  size: number;
  /** Fills into[0, length) with the bytes at [offset, offset + length); throws if they are not all there. */
  read(offset: number, length: number, into: Uint8Array): void | Promise<void>;
  close?(): void;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset, length, into) {
      into.set(bytes.subarray(offset, offset + length));
    },
  };
}

// f16 -> f32 as bit patterns, so NaN payloads and signed zeros survive; built on first use (256 KiB).
let f16Table: Uint32Array | null = null;

function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return sign | 0x7f800000 | (man << 13); // inf, nan
  if (exp !== 0) return sign | ((exp + 112) << 23) | (man << 13); // rebias 15 -> 127
  if (man === 0) return sign;
  // subnormal man * 2^-24: shift the leading 1 into the implicit bit, lowering the exponent as we go
  let e = 113;
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return sign | (e << 23) | ((man & 0x3ff) << 13);
}

/** Converts raw little-endian elements of `dtype` into dest[at, at + n); src is 8-byte aligned scratch. */
function convertChunk(dtype: 'F16' | 'BF16' | 'F64', src: Uint8Array, dest: Float32Array, at: number): void {
  if (dtype === 'F64') {
    dest.set(new Float64Array(src.buffer, src.byteOffset, src.length / 8), at); // rounds to nearest f32
    return;
  }
  const h = new Uint16Array(src.buffer, src.byteOffset, src.length / 2);
  const out = new Uint32Array(dest.buffer, dest.byteOffset + at * 4, h.length);
  if (dtype === 'BF16') {
    for (let i = 0; i < h.length; i++) out[i] = h[i] << 16; // bf16 is the top half of an f32
  } else {
    if (!f16Table) {
      f16Table = new Uint32Array(65536);
      for (let i = 0; i < 65536; i++) f16Table[i] = f16ToF32Bits(i);
    }
    const t = f16Table;
    for (let i = 0; i < h.length; i++) out[i] = t[h[i]];
  }
}

/** One safetensors file: a validated header, tensors streamed chunk by chunk into f32 destinations. */
export class SafetensorsFile {
  /** reused between reads; taken (set to null) while a read is in flight so concurrent reads never share it */
  private scratch: Uint8Array | null = null;
  private closed = false;

  private constructor(
    private src: ByteSource,
    readonly name: string,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    private dataStart: number,
  ) {}

  /** Reads and validates the header; `name` is how messages refer to the file. The source stays the caller's. */
  static async open(src: ByteSource, name: string): Promise<SafetensorsFile> {
    if (!LITTLE_ENDIAN) throw new XcodecRuntimeError('safetensors reading needs a little-endian host');
    if (src.size < 8)
      throw new XcodecCheckpointError(
        `${name}: the file is ${src.size} bytes, too short for the 8-byte safetensors header length`,
      );
    const first8 = new Uint8Array(8);
    await src.read(0, 8, first8);
    const n = headerLength(first8, src.size, name);
    const json = new Uint8Array(n);
    await src.read(8, n, json);
    const header = parseSafetensorsHeader(json, src.size - 8 - n, name);
    return new SafetensorsFile(src, name, header, header.metadata, 8 + n);
  }

  /** The tensor's entry; throws naming the file when it is absent. */
  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new XcodecCheckpointError(`${this.name}: no tensor "${name}"`);
    return t;
  }

  /** Converts the tensor to f32 into `dest`, whose length must equal the tensor's element count. */
  async readF32(name: string, dest: Float32Array): Promise<void> {
    const t = this.info(name);
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new XcodecCheckpointError(
        `${this.name}: tensor "${name}" has dtype ${t.dtype}; accepted for weights: ${FLOAT_DTYPES.join(', ')}`,
      );
    }
    const size = DTYPE_SIZES[t.dtype];
    const count = (t.end - t.begin) / size;
    if (dest.length !== count) {
      throw new XcodecCheckpointError(
        `${this.name}: tensor "${name}" has ${count} elements (shape ${show(t.shape)}); the destination holds ${dest.length}`,
      );
    }
    if (this.closed) throw new XcodecCheckpointError(`${this.name}: read of "${name}" after close()`);
    const bytes = t.end - t.begin;
    // F32 is copied straight into dest's bytes; other dtypes go through scratch, one chunk at a time.
    const scratch = t.dtype === 'F32' ? null : this.takeScratch(Math.min(bytes, CHUNK_BYTES));
    try {
      for (let off = 0; off < bytes; off += CHUNK_BYTES) {
        const len = Math.min(CHUNK_BYTES, bytes - off);
        const at = off / size;
        const pos = this.dataStart + t.begin + off;
        if (scratch) {
          await this.src.read(pos, len, scratch);
          checkAttached(dest, count, name);
          convertChunk(t.dtype as 'F16' | 'BF16' | 'F64', scratch.subarray(0, len), dest, at);
        } else {
          await this.src.read(pos, len, new Uint8Array(dest.buffer, dest.byteOffset + at * 4, len));
          checkAttached(dest, count, name);
        }
      }
    } finally {
      if (scratch) this.scratch = scratch;
    }
  }

  private takeScratch(n: number): Uint8Array {
    const s = this.scratch && this.scratch.length >= n ? this.scratch : new Uint8Array(n);
    this.scratch = null;
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.scratch = null;
    this.src.close?.();
  }
}

/** An async source may yield while WebAssembly memory grows, detaching a non-shared dest's buffer. */
function checkAttached(dest: Float32Array, count: number, name: string): void {
  if (dest.length !== count) {
    throw new XcodecRuntimeError(
      `the destination for tensor "${name}" was detached during the read (did WebAssembly memory grow?)`,
    );
  }
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

/** How a checkpoint finds its files by name: in a directory, or among in-memory buffers. */
export interface FileLookup {
  /** the directory, or a description, for messages */
  where: string;
  /** the file's display name (its path for a directory) */
  label(fileName: string): string;
  /** undefined when there is no such file */
  open(fileName: string): ByteSource | undefined;
}

/**
 * A checkpoint as save_pretrained writes it: one model.safetensors, or shards listed by
 * model.safetensors.index.json ({"metadata": ..., "weight_map": {tensor: shard file}}).
 */
export class SafetensorsCheckpoint {
  private constructor(
    readonly tensors: Map<string, TensorInfo>,
    private owners: Map<string, SafetensorsFile>,
    readonly files: readonly SafetensorsFile[],
  ) {}

  /** The files of a checkpoint directory held in memory, keyed by file name (browsers). */
  static async fromBuffers(files: Record<string, Uint8Array>): Promise<SafetensorsCheckpoint> {
    return SafetensorsCheckpoint.open({
      where: `the given files (${Object.keys(files).join(', ') || 'none'})`,
      label: (fileName) => fileName,
      open: (fileName) => (Object.hasOwn(files, fileName) ? bufferSource(files[fileName]) : undefined),
    });
  }

  /** The checkpoint whose files `lookup` finds (a directory: src/node/files.ts). */
  static async open(lookup: FileLookup): Promise<SafetensorsCheckpoint> {
    const single = lookup.open(SINGLE);
    if (single) {
      const file = await openOwned(single, lookup.label(SINGLE));
      return new SafetensorsCheckpoint(file.tensors, new Map([...file.tensors.keys()].map((k) => [k, file])), [file]);
    }
    const index = lookup.open(INDEX);
    if (!index)
      throw new XcodecCheckpointError(
        `${lookup.where}: neither ${SINGLE} nor ${INDEX} found; a checkpoint needs one of them`,
      );
    const weightMap = await readWeightMap(index, lookup.label(INDEX));
    return SafetensorsCheckpoint.loadShards(lookup, weightMap);
  }

  /** Opens every shard the index names and checks that each really holds the tensors mapped to it. */
  private static async loadShards(lookup: FileLookup, weightMap: Map<string, string>): Promise<SafetensorsCheckpoint> {
    const indexLabel = lookup.label(INDEX);
    const shards = new Map<string, SafetensorsFile>();
    try {
      const tensors = new Map<string, TensorInfo>();
      const owners = new Map<string, SafetensorsFile>();
      for (const [tensor, shardName] of weightMap) {
        let shard = shards.get(shardName);
        if (!shard) {
          const src = lookup.open(shardName);
          if (!src)
            throw new XcodecCheckpointError(
              `${indexLabel}: weight_map maps "${tensor}" to "${shardName}", which is missing from ${lookup.where}`,
            );
          shard = await openOwned(src, lookup.label(shardName));
          shards.set(shardName, shard);
        }
        const info = shard.tensors.get(tensor);
        if (!info)
          throw new XcodecCheckpointError(
            `${indexLabel}: weight_map maps "${tensor}" to "${shardName}", which does not hold it`,
          );
        tensors.set(tensor, info);
        owners.set(tensor, shard);
      }
      return new SafetensorsCheckpoint(tensors, owners, [...shards.values()]);
    } catch (e) {
      for (const s of shards.values()) s.close();
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo | undefined {
    return this.tensors.get(name);
  }

  async readF32(name: string, dest: Float32Array): Promise<void> {
    const file = this.owners.get(name);
    if (!file) throw new XcodecCheckpointError(`the checkpoint has no tensor "${name}"`);
    await file.readF32(name, dest);
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  /** The checkpoint as the model loader reads it; `onProgress(loaded, total)` in bytes after each tensor. */
  source(onProgress?: (loaded: number, total: number) => void): CheckpointSource {
    let total = 0;
    for (const t of this.tensors.values()) total += t.end - t.begin;
    let loaded = 0;
    return {
      info: (name) => this.info(name),
      names: () => [...this.tensors.keys()],
      readF32: async (name, dest) => {
        await this.readF32(name, dest);
        const t = this.info(name);
        if (t && onProgress) {
          loaded += t.end - t.begin;
          onProgress(loaded, total);
        }
      },
      close: () => this.close(),
    };
  }
}

/** SafetensorsFile.open for a source this module created: closed again if the header is bad. */
async function openOwned(src: ByteSource, label: string): Promise<SafetensorsFile> {
  try {
    return await SafetensorsFile.open(src, label);
  } catch (e) {
    src.close?.();
    throw e;
  }
}

/** Reads and validates an index json; returns tensor -> shard file name. */
async function readWeightMap(src: ByteSource, label: string): Promise<Map<string, string>> {
  let json: unknown;
  try {
    if (src.size > MAX_HEADER_BYTES)
      throw new XcodecCheckpointError(
        `${label}: ${src.size} bytes exceeds the limit of ${MAX_HEADER_BYTES} for an index`,
      );
    const bytes = new Uint8Array(src.size);
    await src.read(0, src.size, bytes);
    json = parseStrictJson(bytes, label, XcodecCheckpointError);
  } finally {
    src.close?.();
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new XcodecCheckpointError(
      `${label}: "weight_map" is ${show(weightMap)}; expected an object mapping tensor names to shard file names`,
    );
  }
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    // shards are plain names beside the index: never a path that could reach outside the checkpoint
    if (typeof shard !== 'string' || !/^[^/\\]+$/.test(shard) || shard === '.' || shard === '..') {
      throw new XcodecCheckpointError(
        `${label}: weight_map maps "${tensor}" to ${show(shard)}; expected a file name in the same directory`,
      );
    }
    map.set(tensor, shard);
  }
  return map;
}
