// numpy .npy files: reading format versions 1.0, 2.0 and 3.0 (little-endian numeric dtypes, C order)
// and writing version 1.0 the way numpy.save does.

import { XcodecInputError, describe } from '../errors.js';

export type NpyDtype = '<f4' | '<f8' | '<i8' | '<i4' | '<i2' | '|i1' | '|u1' | '<u2' | '<u4' | '|b1';

export type NpyData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** `|b1` (bool) arrays come back as 0/1 bytes in a Uint8Array. */
  data: NpyData;
}

interface DtypeInfo {
  bytes: number;
  view: (buffer: ArrayBuffer) => NpyData;
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  '<f4': { bytes: 4, view: (b) => new Float32Array(b) },
  '<f8': { bytes: 8, view: (b) => new Float64Array(b) },
  '<i8': { bytes: 8, view: (b) => new BigInt64Array(b) },
  '<i4': { bytes: 4, view: (b) => new Int32Array(b) },
  '<i2': { bytes: 2, view: (b) => new Int16Array(b) },
  '|i1': { bytes: 1, view: (b) => new Int8Array(b) },
  '|u1': { bytes: 1, view: (b) => new Uint8Array(b) },
  '<u2': { bytes: 2, view: (b) => new Uint16Array(b) },
  '<u4': { bytes: 4, view: (b) => new Uint32Array(b) },
  '|b1': { bytes: 1, view: (b) => new Uint8Array(b) },
};

const ACCEPTED_DTYPES = `accepted: ${Object.keys(DTYPES).join(', ')}`;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy aligns the start of the data to this many bytes. */
const DATA_ALIGNMENT = 64;

function fail(message: string): never {
  throw new XcodecInputError(`.npy: ${message}`);
}

export function readNpy(bytes: Uint8Array): NpyArray {
  const { header, dataStart } = readHeader(bytes);
  const { dtype, fortranOrder, shape } = parseHeader(header);
  if (fortranOrder) fail('fortran_order arrays are not supported; accepted: C order (save np.ascontiguousarray(a))');
  const count = shape.reduce((p, d) => p * d, 1);
  const byteLength = count * DTYPES[dtype].bytes;
  const available = bytes.length - dataStart;
  if (byteLength > available) {
    fail(
      `data is truncated: shape (${shape.join(', ')}) of ${dtype} needs ${byteLength} bytes, the file has ${available}`,
    );
  }
  // A copy, because the data may start at any offset of the caller's buffer and typed arrays need alignment.
  const copy = bytes.slice(dataStart, dataStart + byteLength);
  return { dtype, shape, data: DTYPES[dtype].view(copy.buffer) };
}

/** Checks the magic and version and returns the header text and where the data starts. */
function readHeader(bytes: Uint8Array): { header: string; dataStart: number } {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m))
    fail('not a numpy file (missing the "\\x93NUMPY" magic)');
  const major = bytes[6];
  const minor = bytes[7];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1 && minor === 0) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if ((major === 2 || major === 3) && minor === 0) {
    if (bytes.length < 12) fail('the file ends inside the header length');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    fail(`format version ${major}.${minor} is not supported; accepted: 1.0, 2.0, 3.0`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length)
    fail(`header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  // Versions 1 and 2 store the header as latin-1, version 3 as UTF-8.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  return { header, dataStart };
}

/**
 * Reads the header's Python dict literal as numpy's own reader does: exactly the keys descr,
 * fortran_order and shape, each once; shape a tuple of plain decimal integers (no 0x10, 1e4 or 16000.0).
 */
function parseHeader(header: string): { dtype: NpyDtype; fortranOrder: boolean; shape: number[] } {
  const text = header.trim();
  if (/['"]descr['"]\s*:\s*\[/.test(text)) fail(`structured dtypes are not supported; ${ACCEPTED_DTYPES}`);
  const body = /^\{(.*)\}$/s.exec(text)?.[1];
  if (body === undefined)
    fail(
      `unreadable header ${describe(text)}; expected a dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}`,
    );
  const entry = /\s*(['"])(\w+)\1\s*:\s*('[^']*'|"[^"]*"|True|False|\([^()]*\))\s*(,|$)/y;
  const values = new Map<string, string>();
  let at = 0;
  while (at < body.length && body.slice(at).trim() !== '') {
    entry.lastIndex = at;
    const m = entry.exec(body);
    if (!m) fail(`unreadable header ${describe(text)} at ${describe(body.slice(at, at + 30))}`);
    const key = m[2];
    if (values.has(key)) fail(`header key '${key}' appears twice in ${describe(text)}; accepted: each key once`);
    values.set(key, m[3]);
    at = entry.lastIndex;
  }
  const keys = [...values.keys()].sort().join(', ');
  if (keys !== 'descr, fortran_order, shape')
    fail(`header keys are ${keys || 'none'}; accepted: exactly descr, fortran_order, shape (as numpy writes them)`);
  const descr = values.get('descr')!;
  const fortran = values.get('fortran_order')!;
  const shapeText = values.get('shape')!;
  if (!/^['"]/.test(descr)) fail(`descr ${describe(descr)} is not a string`);
  if (fortran !== 'True' && fortran !== 'False') fail(`fortran_order ${describe(fortran)} is not True or False`);
  if (!shapeText.startsWith('(')) fail(`shape ${describe(shapeText)} is not a tuple`);
  const parts = shapeText
    .slice(1, -1)
    .split(',')
    .map((p) => p.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // (3,) and (3, 4,)
  if (parts.length === 1 && parts[0] === '') parts.pop(); // ()
  const shape = parts.map((p) => {
    if (!/^\d+L?$/.test(p))
      fail(`bad shape entry ${describe(p)} in ${describe(text)}; accepted: non-negative decimal integers`);
    const n = Number(p.replace(/L$/, '')); // Python 2 wrote longs as "3L"
    if (!Number.isSafeInteger(n)) fail(`shape entry ${p} is too large`);
    return n;
  });
  return { dtype: normalizeDtype(descr.slice(1, -1)), fortranOrder: fortran === 'True', shape };
}

/** Maps equivalent spellings ('=f4', '<i1', '>u1', '|b1') onto our keys and rejects the rest clearly. */
function normalizeDtype(descr: string): NpyDtype {
  const m = /^([<>=|])([fiub])(\d+)$/.exec(descr);
  if (!m) fail(`dtype ${descr} is not supported; ${ACCEPTED_DTYPES}`);
  const [, order, kind, size] = m;
  // Byte order does not matter for single bytes; '=' is native order, little-endian on every host we run on.
  const key = size === '1' ? `|${kind}1` : `${order === '=' ? '<' : order}${kind}${size}`;
  if (key in DTYPES) return key as NpyDtype;
  if (order === '>')
    fail(
      `big-endian dtype ${descr} is not supported; accepted: little-endian (${Object.keys(DTYPES).join(', ')}); save a.astype(a.dtype.newbyteorder('<'))`,
    );
  return fail(`dtype ${descr} is not supported; ${ACCEPTED_DTYPES}`);
}

function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Uint32Array) return '<u4';
  return fail(`cannot write ${Object.prototype.toString.call(data)}; ${ACCEPTED_DTYPES}`);
}

/** Version 1.0 .npy bytes, the header padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes, as numpy.save writes. */
export function writeNpy(data: NpyData, shape: number[]): Uint8Array {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    fail(`shape (${shape.join(', ')}) must hold non-negative integers`);
  const count = shape.reduce((p, d) => p * d, 1);
  if (count !== data.length) fail(`shape (${shape.join(', ')}) holds ${count} values but the data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`; // Python's tuple syntax
  const dict = `{'descr': '${dtypeOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const prefixLength = 10; // magic, version, 2-byte header length
  const unpadded = prefixLength + dict.length + 1;
  const header = `${dict + ' '.repeat((DATA_ALIGNMENT - (unpadded % DATA_ALIGNMENT)) % DATA_ALIGNMENT)}\n`;
  if (header.length > 0xffff) fail(`header of ${header.length} bytes does not fit format version 1.0`);
  const out = new Uint8Array(prefixLength + header.length + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefixLength + i] = header.charCodeAt(i);
  // The host is little-endian (as every platform Node and browsers run on), so the bytes go out as they are.
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), prefixLength + header.length);
  return out;
}
