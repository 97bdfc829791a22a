// safetensors parsing and dtype conversion, independent of where the bytes come from.
// Format: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, data.

import { XcodecCheckpointError } from './errors.js';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** byte range in the data section */
  begin: number;
  end: number;
  file: string;
}

export const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'];
const MAX_HEADER = 100 * 1024 * 1024;

/** Validates a header: every entry's dtype, shape and in-bounds, non-overlapping byte range. */
export function parseSafetensorsHeader(json: Uint8Array, dataSize: number, file: string): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(json));
  } catch (e) {
    throw new XcodecCheckpointError(`${file}: the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new XcodecCheckpointError(`${file}: the header is not a JSON object`);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Object.values(value).some((v) => typeof v !== 'string')) {
        throw new XcodecCheckpointError(`${file}: __metadata__ must map strings to strings`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor "${name}"`;
    if (typeof v !== 'object' || v === null) throw new XcodecCheckpointError(`${where}: entry is not an object`);
    if (typeof v.dtype !== 'string' || !(v.dtype in DTYPE_SIZES)) {
      throw new XcodecCheckpointError(`${where}: unknown dtype ${JSON.stringify(v.dtype)}; accepted: ${Object.keys(DTYPE_SIZES).join(', ')}`);
    }
    if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new XcodecCheckpointError(`${where}: shape ${JSON.stringify(v.shape)} is not a list of non-negative integers`);
    }
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new XcodecCheckpointError(`${where}: data_offsets ${JSON.stringify(off)} is not [begin, end] with 0 <= begin <= end`);
    }
    if (off[1] > dataSize) {
      throw new XcodecCheckpointError(`${where}: data_offsets [${off[0]}, ${off[1]}] run past the end of the data (${dataSize} bytes)`);
    }
    const shape = v.shape as number[];
    const bytes = shape.reduce((p, d) => p * d, 1) * DTYPE_SIZES[v.dtype];
    if (off[1] - off[0] !== bytes) {
      throw new XcodecCheckpointError(`${where}: data_offsets [${off[0]}, ${off[1]}] hold ${off[1] - off[0]} bytes but shape [${shape.join(', ')}] of ${v.dtype} needs ${bytes}`);
    }
    tensors.set(name, { name, dtype: v.dtype, shape, begin: off[0], end: off[1], file });
  }
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new XcodecCheckpointError(`${file}: tensors "${sorted[i - 1].name}" [${sorted[i - 1].begin}, ${sorted[i - 1].end}] and "${sorted[i].name}" [${sorted[i].begin}, ${sorted[i].end}] overlap`);
    }
  }
  return { tensors, metadata };
}

/** Header length from the first 8 bytes, validated against the file size. */
export function headerLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new XcodecCheckpointError(`${file}: ${fileSize} bytes is too short for a safetensors file (the header length alone is 8 bytes)`);
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n < 2) throw new XcodecCheckpointError(`${file}: header length ${n} is too small (the header is a JSON object)`);
  if (n > MAX_HEADER) throw new XcodecCheckpointError(`${file}: header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  if (8 + n > fileSize) throw new XcodecCheckpointError(`${file}: header length ${n} runs past the end of the file (size ${fileSize})`);
  return n;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Converts `src` bytes of `dtype` into `dest` floats starting at element `at`. */
export function convertToF32(dtype: string, src: Uint8Array, dest: Float32Array, at: number, name: string): void {
  const n = src.length / DTYPE_SIZES[dtype];
  if (dtype === 'F32') {
    new Uint8Array(dest.buffer, dest.byteOffset + at * 4, src.length).set(src);
  } else if (dtype === 'F16' || dtype === 'BF16') {
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    if (dtype === 'F16') for (let i = 0; i < n; i++) dest[at + i] = F16_TABLE[dv.getUint16(2 * i, true)];
    else {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < n; i++) { u[0] = dv.getUint16(2 * i, true) << 16; dest[at + i] = f[0]; }
    }
  } else if (dtype === 'F64') {
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    for (let i = 0; i < n; i++) dest[at + i] = dv.getFloat64(8 * i, true);
  } else {
    throw new XcodecCheckpointError(`tensor "${name}" has dtype ${dtype}; accepted for weights: ${FLOAT_DTYPES.join(', ')}`);
  }
}

/** A source of bytes: a file in Node/Deno/Bun, or a buffer in a browser. */
export interface ByteSource {
  size: number;
  read(offset: number, into: Uint8Array): void;
  close?(): void;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, into) => into.set(bytes.subarray(offset, offset + into.length)) };
}

const CHUNK = 4 * 1024 * 1024;

/** One safetensors file: validated header, tensors streamed chunk by chunk into f32 destinations. */
export class SafetensorsFile {
  private scratch: Uint8Array | null = null;

  private constructor(private src: ByteSource, readonly name: string, readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>, private dataStart: number) {}

  static open(src: ByteSource, name: string): SafetensorsFile {
    const first8 = new Uint8Array(8);
    if (src.size >= 8) src.read(0, first8);
    const n = headerLength(first8, src.size, name);
    const json = new Uint8Array(n);
    src.read(8, json);
    const { tensors, metadata } = parseSafetensorsHeader(json, src.size - 8 - n, name);
    return new SafetensorsFile(src, name, tensors, metadata, 8 + n);
  }

  readF32(name: string, dest: Float32Array): void {
    const t = this.tensors.get(name);
    if (!t) throw new XcodecCheckpointError(`${this.name}: no tensor "${name}"`);
    const size = DTYPE_SIZES[t.dtype];
    const count = (t.end - t.begin) / size;
    if (dest.length !== count) throw new XcodecCheckpointError(`${this.name}: tensor "${name}" has ${count} elements; the destination holds ${dest.length}`);
    if (!FLOAT_DTYPES.includes(t.dtype)) convertToF32(t.dtype, new Uint8Array(0), dest, 0, name);
    // Chunks of whole elements through one reusable scratch buffer: never a whole-tensor copy.
    this.scratch ??= new Uint8Array(CHUNK);
    const per = Math.floor(CHUNK / size) * size;
    for (let off = 0; off < t.end - t.begin; off += per) {
      const len = Math.min(per, t.end - t.begin - off);
      const view = this.scratch.subarray(0, len);
      this.src.read(this.dataStart + t.begin + off, view);
      convertToF32(t.dtype, view, dest, off / size, name);
    }
  }

  close(): void {
    this.src.close?.();
  }
}
