// A queue job's data is untrusted: anyone who can write to the Redis the workers read can put any
// value under any job id. One schema checks it before anything is opened: what a tokenize job must
// carry, that its output path stays inside its output folder (and that folder inside the worker's
// --out-root folders), and that its source is a regular file. Reasons quote values escaped (NUL
// and control characters as JSON writes them) and never a file's content.

import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve, sep } from 'node:path';
import { XcodecInputError, describe } from '../errors.js';
import { isRepoId } from './hub.js';
import { failureReason } from './tokenize.js';

/** What one job carries: enough for any worker to make the outputs of one file. */
export interface QueueJobData {
  source: string;
  rel: string;
  outDir: string;
  model: string;
  settings: {
    bandwidth: number;
    format: 'codes' | 'yue' | 'llasa';
    dtype: 'int16' | 'int32' | 'int64';
    configSha256: string;
  };
}

const bad = (what: string, value: unknown, accepted: string): never => {
  throw new XcodecInputError(`queue job: ${what} ${describe(value)} is not accepted; accepted: ${accepted}`);
};

/** A path a file system can hold: segments of at most 255 bytes, 4096 in all (Linux's NAME_MAX, PATH_MAX). */
const fitsFileSystem = (p: string): boolean =>
  Buffer.byteLength(p) <= 4096 && p.split('/').every((s) => Buffer.byteLength(s) <= 255);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string without NUL or other control characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const cleanString = (v: unknown): v is string => typeof v === 'string' && v !== '' && !/[\u0000-\u001f\u007f]/.test(v);

/**
 * `rel` as an output path: relative, '/'-separated, already normal (no '.', '..' or empty segment, no
 * backslash), with a file name left once its extension is dropped.
 */
export function checkRel(rel: unknown): string {
  const accepted = 'a relative path like "sub/name.wav": "/" separators, no "..", ".", empty segment, backslash or NUL';
  if (!cleanString(rel) || rel.includes('\\') || isAbsolute(rel) || posix.isAbsolute(rel) || !fitsFileSystem(rel))
    bad('rel', rel, accepted);
  const r = rel as string;
  if (posix.normalize(r) !== r || r.split('/').some((s) => s === '' || s === '.' || s === '..'))
    bad('rel', rel, accepted);
  const name = posix.basename(r);
  if (name.slice(0, name.length - posix.extname(name).length) === '') bad('rel', rel, accepted);
  return r;
}

/** Whether `path` is `root` or inside it. */
const inside = (path: string, root: string): boolean =>
  path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The job's data, checked; `outRoots`: the folders outDir must lie in (the worker's --out-root), or null for any. */
export function checkJobData(data: unknown, outRoots: string[] | null): QueueJobData {
  if (!isPlainObject(data)) bad('data', data, 'an object { source, rel, outDir, model, settings }');
  const d = data as Record<string, unknown>;
  if (!cleanString(d.source) || !isAbsolute(d.source as string) || !fitsFileSystem(d.source as string))
    bad('source', d.source, 'an absolute path of an audio file');
  const rel = checkRel(d.rel);
  if (
    !cleanString(d.outDir) ||
    !isAbsolute(d.outDir as string) ||
    resolve(d.outDir as string) !== d.outDir ||
    !fitsFileSystem(d.outDir as string)
  )
    bad('outDir', d.outDir, 'an absolute, normalised folder path (segments of at most 255 bytes)');
  const outDir = d.outDir as string;
  if (outRoots && !outRoots.some((root) => inside(outDir, root)))
    bad('outDir', outDir, `a folder inside this worker's --out-root (${outRoots.join(', ')})`);
  if (
    !cleanString(d.model) ||
    !fitsFileSystem(d.model as string) ||
    !(isAbsolute(d.model as string) || isRepoId(d.model as string))
  )
    bad('model', d.model, 'an absolute checkpoint folder or a Hub repository id');
  const s = d.settings;
  if (!isPlainObject(s)) bad('settings', s, 'an object { bandwidth, format, dtype, configSha256 }');
  const settings = s as Record<string, unknown>;
  if (typeof settings.bandwidth !== 'number' || !(settings.bandwidth > 0) || !Number.isFinite(settings.bandwidth))
    bad('settings.bandwidth', settings.bandwidth, 'a positive number (kbps)');
  if (settings.format !== 'codes' && settings.format !== 'yue' && settings.format !== 'llasa')
    bad('settings.format', settings.format, '"codes", "yue", "llasa"');
  if (settings.dtype !== 'int16' && settings.dtype !== 'int32' && settings.dtype !== 'int64')
    bad('settings.dtype', settings.dtype, '"int16", "int32", "int64"');
  if (typeof settings.configSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(settings.configSha256))
    bad('settings.configSha256', settings.configSha256, 'a sha256 in hex');
  return {
    source: d.source as string,
    rel,
    outDir,
    model: d.model as string,
    settings: {
      bandwidth: settings.bandwidth as number,
      format: settings.format as 'codes' | 'yue' | 'llasa',
      dtype: settings.dtype as 'int16' | 'int32' | 'int64',
      configSha256: settings.configSha256 as string,
    },
  };
}

/** The source, which must be a regular file (a FIFO or a device would hold a worker for ever). */
export function checkSource(source: string): void {
  let regular = false;
  try {
    regular = statSync(source).isFile();
  } catch (e) {
    throw new XcodecInputError(
      `queue job: source ${describe(source)}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  if (!regular) throw new XcodecInputError(`queue job: source ${describe(source)} is not a regular file`);
}

/**
 * Makes the folder of the output `rel` inside outDir and checks that, with every symlink on the way
 * resolved, it is still inside outDir: no output is written through a link that leaves it.
 */
export function confinedOutputDir(outDir: string, rel: string, outRoots: string[] | null): void {
  const target = dirname(join(outDir, rel));
  try {
    mkdirSync(target, { recursive: true });
  } catch (e) {
    // a path that can never be made fails the job for good; anything else (EACCES, ENOSPC) is retried
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (['ENOTDIR', 'EEXIST', 'ENAMETOOLONG', 'EINVAL', 'ELOOP'].includes(code))
      throw new XcodecInputError(
        `queue job: cannot make the folder of ${describe(rel)} in ${describe(outDir)} (${code})`,
      );
    throw e;
  }
  const root = realpathSync(outDir);
  if (outRoots && !outRoots.some((r) => inside(root, r)))
    throw new XcodecInputError(
      `queue job: outDir ${describe(outDir)} leads to ${describe(root)}, outside this worker's --out-root`,
    );
  const real = realpathSync(target);
  if (!inside(real, root))
    throw new XcodecInputError(
      `queue job: the outputs of ${describe(rel)} would leave ${describe(outDir)} (through a link to ${describe(real)})`,
    );
  // the files themselves are written to a temporary name and renamed over: a link there is replaced, not followed
}

/** An error message as a job's failedReason: escaped, with no file content in it. */
export function jobReason(message: string): string {
  return describeText(failureReason(message));
}

/** Text with control characters escaped as JSON writes them, quotes kept as they are. */
function describeText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A job's rel for a log line, whatever the job holds. */
export function shownRel(data: unknown): string {
  const rel = isPlainObject(data) ? data.rel : undefined;
  return typeof rel === 'string' ? describeText(rel) : describe(rel);
}
