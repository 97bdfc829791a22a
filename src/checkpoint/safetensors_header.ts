// The safetensors header: u64 little-endian length N, then N bytes of JSON {name: {dtype, shape,
// data_offsets}} describing the data section. Parsed strictly: every entry checked, and the tensors
// must tile the data section exactly, so a damaged or hostile file is refused before any read.

import { XcodecCheckpointError, describe } from '../errors.js';
import { parseStrictJson } from './json.js';

/** Byte size of every dtype the safetensors format defines. */
export const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/** The dtypes readF32 converts; the rest parse fine but are not float weights. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64'];

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** byte range [begin, end) relative to the start of the data section */
  begin: number;
  end: number;
  /** the file holding the tensor, as named when it was opened */
  file: string;
}

/** The parsed header: tensors by name, plus the free-form `__metadata__` strings. */
export interface SafetensorsHeader extends Map<string, TensorInfo> {
  readonly metadata: Record<string, string>;
}

/** Same limit as the reference Rust implementation: a larger header is corruption, not a model. */
export const MAX_HEADER_BYTES = 100_000_000;
/** Bytes per read: large enough to amortise each call, small enough to keep the scratch buffer cheap. */
export const CHUNK_BYTES = 4 << 20;
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const isDtype = (d: unknown): d is SafetensorsDtype => typeof d === 'string' && Object.hasOwn(DTYPE_SIZES, d);
const isSize = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) >= 0;

/** Element count of a shape; throws rather than lose precision past 2^53. */
function numelOf(shape: number[], where: string): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n))
    throw new XcodecCheckpointError(`${where}: shape ${describe(shape)} has more elements than can be addressed`);
  return n;
}

/**
 * Parses and validates a safetensors JSON header against a data section of `dataSize` bytes.
 * Every failure names the file, the tensor key, the offending value and what was expected.
 */
export function parseSafetensorsHeader(headerJson: Uint8Array, dataSize: number, fileName: string): SafetensorsHeader {
  // The format allows trailing spaces after the JSON object (alignment padding), nothing before it.
  if (headerJson[0] !== 0x7b) {
    throw new XcodecCheckpointError(
      `${fileName}: the safetensors header does not start with "{" (byte 0x${(headerJson[0] ?? 0).toString(16).padStart(2, '0')}); expected a JSON object of tensors`,
    );
  }
  const header = parseStrictJson(headerJson, `${fileName}: the safetensors header`, XcodecCheckpointError);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new XcodecCheckpointError(
      `${fileName}: the safetensors header is ${describe(header)}; expected a JSON object of tensors`,
    );
  }
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__') metadata = parseMetadata(entry, fileName);
    else tensors.set(key, parseEntry(key, entry, dataSize, fileName));
  }
  checkTiling(tensors, dataSize, fileName);
  return Object.assign(tensors, { metadata });
}

function parseMetadata(value: unknown, fileName: string): Record<string, string> {
  if (value === null) return {}; // the reference implementation treats null as absent
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new XcodecCheckpointError(
      `${fileName}: __metadata__ is ${describe(value)}; expected an object mapping strings to strings`,
    );
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw new XcodecCheckpointError(`${fileName}: __metadata__ key "${k}" is ${describe(v)}; expected a string`);
  }
  return value as Record<string, string>;
}

/** One tensor entry; keys other than dtype/shape/data_offsets do not affect the bytes and are ignored. */
function parseEntry(name: string, entry: unknown, dataSize: number, file: string): TensorInfo {
  const where = `${file}: tensor "${name}"`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new XcodecCheckpointError(
      `${where}: entry is ${describe(entry)}; expected {"dtype", "shape", "data_offsets"}`,
    );
  }
  const { dtype, shape, data_offsets: off } = entry as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw new XcodecCheckpointError(
      `${where}: unknown dtype ${describe(dtype)}; accepted: ${Object.keys(DTYPE_SIZES).join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw new XcodecCheckpointError(
      `${where}: shape ${describe(shape)} is invalid; expected an array of non-negative integers`,
    );
  }
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isSize)) {
    throw new XcodecCheckpointError(
      `${where}: data_offsets ${describe(off)} is invalid; expected [begin, end] of non-negative integers`,
    );
  }
  const [begin, end] = off as number[];
  if (begin > end)
    throw new XcodecCheckpointError(
      `${where}: data_offsets [${begin}, ${end}] end before they begin; expected begin <= end`,
    );
  if (end > dataSize) {
    throw new XcodecCheckpointError(
      `${where}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataSize} bytes); expected end <= ${dataSize}`,
    );
  }
  const bytes = numelOf(shape, where) * DTYPE_SIZES[dtype];
  if (end - begin !== bytes) {
    throw new XcodecCheckpointError(
      `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${describe(shape)} of ${dtype} needs ${bytes}`,
    );
  }
  return { name, dtype, shape, begin, end, file };
}

/**
 * The tensors must tile the data section exactly, as the format requires: in offset order the first
 * begins at 0, each begins where the previous ends, and the last ends at the end of the file. Two
 * tensors sharing bytes would alias each other's weights, and a gap or a short header length field
 * (the header's padding then shifts every tensor) would load shifted garbage.
 */
function checkTiling(tensors: Map<string, TensorInfo>, dataSize: number, file: string): void {
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  // Overlaps first: two tensors claiming the same bytes say more about the file than the gap one leaves.
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.begin < a.end) {
      throw new XcodecCheckpointError(
        `${file}: tensors "${a.name}" [${a.begin}, ${a.end}] and "${b.name}" [${b.begin}, ${b.end}] overlap; expected disjoint byte ranges`,
      );
    }
  }
  let at = 0;
  let previous: TensorInfo | null = null;
  for (const t of sorted) {
    if (t.begin > at) {
      throw new XcodecCheckpointError(
        `${file}: ${t.begin - at} bytes of the data section before tensor "${t.name}" [${t.begin}, ${t.end}] belong to no tensor` +
          `${previous ? ` (the previous one, "${previous.name}", ends at ${previous.end})` : ''}; expected the tensors to tile the data section exactly (is the header length field right?)`,
      );
    }
    at = t.end;
    previous = t;
  }
  if (at !== dataSize) {
    throw new XcodecCheckpointError(
      `${file}: the tensors end at byte ${at} of a ${dataSize}-byte data section; expected them to tile it exactly ` +
        `(${dataSize - at} trailing bytes: is the header length field right?)`,
    );
  }
}

/** Validates the u64 header length against the file size; returns it as a number. */
export function headerLength(first8: Uint8Array, fileSize: number, file: string): number {
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n)
    throw new XcodecCheckpointError(
      `${file}: header length ${n} is too small; expected at least 2 (the JSON object "{}")`,
    );
  if (8n + n > BigInt(fileSize))
    throw new XcodecCheckpointError(`${file}: header length ${n} runs past the end of the file (size ${fileSize})`);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new XcodecCheckpointError(`${file}: header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  return Number(n);
}
