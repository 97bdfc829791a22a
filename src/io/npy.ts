// numpy .npy files (format versions 1.0, 2.0, 3.0; little-endian; C order).

import { XcodecInputError } from '../errors.js';

export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array;

export interface NpyArray {
  dtype: string;
  shape: number[];
  data: NpyData;
}

const DTYPES: Record<string, { size: number; make: (buf: ArrayBuffer) => NpyData }> = {
  '<f4': { size: 4, make: (b) => new Float32Array(b) },
  '<f8': { size: 8, make: (b) => new Float64Array(b) },
  '<i8': { size: 8, make: (b) => new BigInt64Array(b) },
  '<i4': { size: 4, make: (b) => new Int32Array(b) },
  '<i2': { size: 2, make: (b) => new Int16Array(b) },
  '|i1': { size: 1, make: (b) => new Int8Array(b) },
  '|u1': { size: 1, make: (b) => new Uint8Array(b) },
  '|b1': { size: 1, make: (b) => new Uint8Array(b) },
  '<u2': { size: 2, make: (b) => new Uint16Array(b) },
  '<u4': { size: 4, make: (b) => new Uint32Array(b) },
};

const fail = (msg: string): never => { throw new XcodecInputError(`.npy: ${msg}`); };

export function readNpy(bytes: Uint8Array): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) fail('not a numpy file (missing the \\x93NUMPY magic)');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) { headerLen = dv.getUint16(8, true); start = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLen = dv.getUint32(8, true); start = 12;
  } else return fail(`format version ${major}.${bytes[7]} is not supported; accepted: 1.0, 2.0, 3.0`);
  if (start + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the file (${bytes.length} bytes)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`unreadable header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') fail('fortran_order arrays are not supported; accepted: C order (np.ascontiguousarray)');
  const normalized = descr === '<b1' ? '|b1' : descr.replace(/^=/, '<').replace(/^\|(f|i|u)([248])$/, '<$1$2');
  const kind = DTYPES[normalized];
  if (!kind) {
    if (descr.startsWith('>')) fail(`big-endian dtype ${descr} is not supported; accepted: little-endian (${Object.keys(DTYPES).join(', ')})`);
    fail(`dtype ${descr} is not supported; accepted: ${Object.keys(DTYPES).join(', ')}`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const n = Number(s.replace(/L$/, ''));
    if (!Number.isInteger(n) || n < 0) fail(`bad shape entry ${JSON.stringify(s)}`);
    return n;
  });
  const count = shape.reduce((p, x) => p * x, 1);
  const dataStart = start + headerLen;
  const byteLength = count * kind.size;
  if (dataStart + byteLength > bytes.length) {
    fail(`data is truncated: shape (${shape.join(', ')}) of ${descr} needs ${byteLength} bytes, the file has ${bytes.length - dataStart}`);
  }
  // Copy so the typed array is aligned whatever the header length.
  const copy = bytes.slice(dataStart, dataStart + byteLength);
  return { dtype: normalized, shape, data: kind.make(copy.buffer) };
}

function descrOf(data: NpyData): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Uint32Array) return '<u4';
  return fail('unsupported array type');
}

/** Version 1.0 .npy bytes, header padded so the data starts at a multiple of 64 bytes (as numpy). */
export function writeNpy(data: NpyData, shape: number[]): Uint8Array {
  const count = shape.reduce((p, x) => p * x, 1);
  if (count !== data.length) fail(`shape (${shape.join(', ')}) holds ${count} values but the data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
