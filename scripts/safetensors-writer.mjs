// The one safetensors writer of the repository's tools and tests (the package itself only reads):
// u64 little-endian header length, the JSON header (tensors in the given order, then __metadata__,
// padded with spaces to a multiple of 8 as safetensors' own writer does), then the data back to back.

/**
 * The file's first bytes for tensors [{name, dtype, shape, bytes}] (bytes: the data's length), data
 * laid out in that order: { prefix (length + header), dataBytes }.
 */
export function safetensorsPrefix(entries, metadata = { format: 'pt' }) {
  const header = {};
  let offset = 0;
  for (const { name, dtype, shape, bytes } of entries) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8 + text.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(text.length), true);
  prefix.set(text, 8);
  return { prefix, dataBytes: offset };
}

/** A whole file in memory from { name: { dtype, shape, bytes: Uint8Array } }, in name order unless `sort: false`. */
export function encodeSafetensors(tensors, { metadata = { format: 'pt' }, sort = true } = {}) {
  const names = Object.keys(tensors);
  if (sort) names.sort();
  const { prefix, dataBytes } = safetensorsPrefix(
    names.map((name) => ({
      name,
      dtype: tensors[name].dtype,
      shape: tensors[name].shape,
      bytes: tensors[name].bytes.length,
    })),
    metadata,
  );
  const out = new Uint8Array(prefix.length + dataBytes);
  out.set(prefix);
  let at = prefix.length;
  for (const name of names) {
    out.set(tensors[name].bytes, at);
    at += tensors[name].bytes.length;
  }
  return out;
}

/** The same file with its header changed by edit(header) (JSON object, edited in place): tests of damaged files. */
export function withSafetensorsHeader(bytes, edit) {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + (bytes.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(bytes.subarray(8 + n), 8 + h.length);
  return out;
}
