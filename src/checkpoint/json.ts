// JSON files as the Python side writes them (config.json, preprocessor_config.json, safetensors
// headers and indexes), read strictly: UTF-8 that must decode (a bad byte inside a key must not make
// the key silently default), no byte-order mark, no key twice in one object (JSON.parse keeps the
// last, Python's json keeps the last too, but a file with two different `data_offsets` or two
// `hop_length`s is corrupt, not a choice), and a bounded nesting depth.

import { type XcodecError, describe } from '../errors.js';

/** Deeper than any config or header needs; keeps every later walk of the value shallow. */
export const MAX_JSON_DEPTH = 64;

type ErrorClass = new (message: string) => XcodecError;

/** Parses `bytes` as strict JSON; every failure is an `ErrorClass` prefixed with `what`. */
export function parseStrictJson(bytes: Uint8Array, what: string, ErrorClass: ErrorClass): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ErrorClass(`${what}: not valid UTF-8; accepted: JSON in UTF-8`);
  }
  if (text.charCodeAt(0) === 0xfeff)
    throw new ErrorClass(`${what}: starts with a byte-order mark; accepted: JSON in UTF-8 without a BOM`);
  checkStructure(text, what, ErrorClass);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ErrorClass(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * One pass over the text: the nesting depth, and the keys of every object. Malformed text is left
 * to JSON.parse to report; this only looks at what a valid document would contain.
 */
function checkStructure(text: string, what: string, ErrorClass: ErrorClass): void {
  const stack: (Set<string> | null)[] = []; // a Set per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: a key when an object expects one
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return; // malformed: JSON.parse names it
        }
        if (top.has(key))
          throw new ErrorClass(
            `${what}: the key ${describe(key)} appears twice in one object; accepted: each key once`,
          );
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      // { [
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > MAX_JSON_DEPTH)
        throw new ErrorClass(
          `${what}: nested more than ${MAX_JSON_DEPTH} levels deep; accepted: at most ${MAX_JSON_DEPTH}`,
        );
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      // } ]
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      // ,
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
}
