// The inputs of a dataset run: files, directories (walked by the bytes of their names) and JSONL
// manifests, as items named by their relative path, checked so that no two write the same outputs.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, posix, resolve, sep } from 'node:path';
import { XcodecInputError, describe } from '../errors.js';

/** Extensions a directory walk picks up (content decides the format when a file is read). */
export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.mp3', '.ogg', '.opus', '.oga'];

export interface Item {
  /** the file to read (its bytes where its name is not valid UTF-8) */
  source: string | Buffer;
  /** its path relative to the input it came from, with / separators: names the outputs */
  rel: string;
}

const fail = (msg: string): never => {
  throw new XcodecInputError(`tokenize: ${msg}`);
};

/**
 * A file name as text for the outputs: itself where it is valid UTF-8, else each byte that is not
 * part of valid UTF-8 as %XX, so names that are not UTF-8 still get outputs of their own.
 */
export function nameText(name: Buffer): string {
  const text = name.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(name)) return text;
  let out = '';
  for (let i = 0; i < name.length; ) {
    const n = utf8Length(name, i);
    if (n > 0) {
      out += name.subarray(i, i + n).toString('utf8');
      i += n;
    } else out += `%${name[i++].toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The length of the valid UTF-8 sequence at name[i], or 0. */
function utf8Length(name: Buffer, i: number): number {
  const b = name[i];
  const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
  if (n === 0 || i + n > name.length) return 0;
  const seq = name.subarray(i, i + n);
  return Buffer.from(seq.toString('utf8'), 'utf8').equals(seq) ? n : 0;
}

/** A path as messages show it. */
export const shownPath = (p: string | Buffer): string => (typeof p === 'string' ? p : nameText(p));

function walk(dir: Buffer, rel: string, out: Item[]): void {
  const entries = readdirSync(dir, { withFileTypes: true, encoding: 'buffer' }).sort((a, b) =>
    Buffer.compare(a.name, b.name),
  );
  for (const entry of entries) {
    const full = Buffer.concat([dir, Buffer.from(sep), entry.name]);
    const name = nameText(entry.name);
    const r = rel ? `${rel}/${name}` : name;
    if (entry.isDirectory()) walk(full, r, out);
    else if (entry.isFile() && AUDIO_EXTENSIONS.includes(extname(name).toLowerCase()))
      out.push({ source: nameText(full) === full.toString('utf8') ? full.toString('utf8') : full, rel: r });
  }
}

/** Files, directories (recursive) and JSONL manifests ({"path": ...} per line, relative to the manifest) -> items sorted by rel. */
export function collectInputs(inputs: string[]): Item[] {
  if (inputs.length === 0)
    fail('no inputs; accepted: audio files, directories, or .jsonl manifests of {"path": ...} lines');
  const items: Item[] = [];
  for (const input of inputs) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(input);
    } catch {
      fail(`${input}: no such file or directory`);
    }
    if (st!.isDirectory()) walk(Buffer.from(input), '', items);
    else if (extname(input).toLowerCase() === '.jsonl') {
      const base = dirname(input);
      readFileSync(input, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.trim() === '') return;
          let entry: unknown;
          try {
            entry = JSON.parse(line);
          } catch {
            fail(`${input}:${i + 1}: not a JSON line`);
          }
          const p = (entry as { path?: unknown })?.path;
          if (typeof p !== 'string' || p === '' || isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
            fail(`${input}:${i + 1}: "path" is ${describe(p)}; accepted: a relative path inside the manifest's folder`);
          }
          items.push({
            source: resolve(base, p as string),
            rel: posix.normalize((p as string).split(/[\\/]/).join('/')),
          });
        });
    } else items.push({ source: input, rel: basename(input) });
  }
  items.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  // Outputs are named by the path without its extension: a.wav and a.flac (or ./a.wav in a manifest)
  // would write one a.npy. Checked before any encode, over all pairs, not only sorted neighbours.
  const byStem = new Map<string, Item>();
  for (const it of items) {
    const key = stem(it.rel);
    const other = byStem.get(key);
    if (other)
      fail(
        `${shownPath(other.source)} and ${shownPath(it.source)} would write the same outputs (${key}.npy, ${key}.json); rename one or tokenize them apart`,
      );
    byStem.set(key, it);
  }
  return items;
}

/** The pattern a file-content quote takes in an audio error. */
const CONTENT_QUOTE = / \(it starts with "(?:\\x[0-9a-f]{2}|[\x20-\x7e]){0,4}"\)/g;

/**
 * An error as errors.jsonl and a queue job's failedReason record it: without the file's first bytes
 * that the audio reader quotes (a queue job's source may be any file on a worker: no content leaves).
 */
export function failureReason(message: string): string {
  return message.replace(CONTENT_QUOTE, '');
}

export const stem = (rel: string) => rel.slice(0, rel.length - extname(rel).length);
