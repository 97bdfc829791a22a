// Downloading a checkpoint from the Hugging Face Hub (or a mirror) into the cache that Python's
// huggingface_hub uses, so `XcodecModel.fromPretrained('hf-audio/xcodec-hubert-librispeech')` works like
// transformers' and shares its downloads: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub (~/.cache/huggingface/hub), holding
//   models--ORG--NAME/blobs/<etag>                      the files' bytes, named by their ETag
//   models--ORG--NAME/snapshots/<commit>/<file>         a relative symlink to its blob
//   models--ORG--NAME/refs/<revision>                   the commit a branch or tag pointed to
// A file's metadata comes from a HEAD of `${endpoint}/${repo}/resolve/${revision}/${file}` (X-Repo-Commit,
// X-Linked-Etag or ETag, X-Linked-Size or Content-Length), like huggingface_hub; its bytes go to
// blobs/<etag>.incomplete and are renamed when complete, and an interrupted download resumes there with
// an HTTP Range request. HF_HUB_OFFLINE=1 (or hub.offline) never touches the network; with the
// network down, what the cache holds for the revision is used.
//
// @huggingface/hub (npm) writes the same layout but no refs/ for a file download and has no offline
// mode; the part of it needed here is small, so it is written out below.

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  copyFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { XcodecCheckpointError, XcodecInputError, describe } from '../errors.js';
import { parseStrictJson } from '../checkpoint/json.js';
import type { HubOptions } from '../checkpoint/file_access.js';

export type { HubOptions } from '../checkpoint/file_access.js';

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function isRepoId(s: string): boolean {
  return REPO_ID.test(s) && !s.includes('..') && !existsSync(s);
}

/** huggingface_hub's HF_HUB_CACHE. */
export function hubCacheDir(options: HubOptions = {}): string {
  const env = process.env;
  if (options.cacheDir) return options.cacheDir;
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface', 'hub');
}

const truthy = (v: string | undefined) => v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.toLowerCase());

interface Repo {
  id: string;
  endpoint: string;
  timeoutMs: number;
  readTimeoutMs: number;
  maxFileBytes: number;
  revision: string;
  token?: string;
  offline: boolean;
  /** models--ORG--NAME */
  dir: string;
  /** the commit the first file resolved to: the rest are fetched at it, so one snapshot is consistent */
  pinned?: string;
  onProgress?: HubOptions['onProgress'];
}

/** ETag as huggingface_hub stores it: no weak prefix, no quotes. */
const normalizeEtag = (e: string) => e.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

interface Meta {
  commit: string;
  etag: string;
  size: number | null;
  /** where the bytes are (the redirect's target, or the resolve URL itself) */
  location: string;
}

/** JSON files are small: anything past this is not a config. */
const MAX_JSON_BYTES = 64 * 2 ** 20;
const DEFAULT_MAX_FILE_BYTES = 64 * 2 ** 30;

/** Seconds from an environment variable as ms, or the default. */
function envMs(name: string, fallbackMs: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v * 1000 : fallbackMs;
}

/** A request whose response headers must arrive within repo.timeoutMs; `signal` aborts the body too. */
async function request(
  repo: Repo,
  url: string,
  init: RequestInit,
  what: string,
  controller = new AbortController(),
): Promise<Response> {
  const timer = setTimeout(() => controller.abort(), repo.timeoutMs);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } catch (e) {
    const cause = (e as Error & { cause?: { message?: string; code?: string } }).cause;
    const err = controller.signal.aborted
      ? new XcodecCheckpointError(
          `${what}: no response within ${repo.timeoutMs / 1000} s (hub.timeoutMs, $HF_HUB_ETAG_TIMEOUT)`,
        )
      : new XcodecCheckpointError(
          `${what}: ${cause?.code ?? ''}${cause?.code ? ' ' : ''}${cause?.message ?? (e as Error).message}`,
        );
    (err as XcodecCheckpointError & { network?: boolean }).network = true;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The headers of a request to `url`: the token only where `url` is on the endpoint's own origin
 * (scheme, host and port), as requests drops Authorization on a redirect to another origin.
 */
function headersFor(repo: Repo, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const sameOrigin = new URL(url).origin === new URL(repo.endpoint).origin;
  return {
    'accept-encoding': 'identity',
    ...extra,
    ...(repo.token && sameOrigin ? { authorization: `Bearer ${repo.token}` } : {}),
  };
}

/** HEAD of a file's resolve URL: null when the repository has no such file (404). */
async function fileMeta(repo: Repo, file: string): Promise<Meta | null> {
  const url = `${repo.endpoint}/${repo.id}/resolve/${encodeURIComponent(repo.pinned ?? repo.revision)}/${file}`;
  let res = await request(repo, url, { method: 'HEAD', headers: headersFor(repo, url), redirect: 'manual' }, url);
  // a relative redirect is the Hub's own (a renamed repository): follow it; an absolute one is the file's storage
  for (
    let hops = 0;
    res.status >= 300 && res.status < 400 && (res.headers.get('location') ?? '').startsWith('/') && hops < 5;
    hops++
  ) {
    const next = new URL(res.headers.get('location')!, url).href;
    res = await request(repo, next, { method: 'HEAD', headers: headersFor(repo, next), redirect: 'manual' }, url);
  }
  if (res.status === 404) return null;
  if (res.status === 401 || res.status === 403)
    throw new XcodecCheckpointError(
      `${url}: HTTP ${res.status} (a gated or private repository needs a token: set HF_TOKEN)`,
    );
  if (!(res.ok || (res.status >= 300 && res.status < 400)))
    throw new XcodecCheckpointError(`${url}: HTTP ${res.status} ${res.statusText}`);
  const h = res.headers;
  const commit = h.get('x-repo-commit');
  const etag = h.get('x-linked-etag') ?? h.get('etag');
  if (!commit || !COMMIT.test(commit) || !etag) {
    throw new XcodecCheckpointError(
      `${url}: the server sent no X-Repo-Commit or ETag, which the Hub always sends; is ${repo.endpoint} a Hugging Face Hub endpoint?`,
    );
  }
  const size = Number(h.get('x-linked-size') ?? h.get('content-length') ?? NaN);
  const location = h.get('location') ? new URL(h.get('location')!, url).href : url;
  return { commit, etag: normalizeEtag(etag), size: Number.isFinite(size) ? size : null, location };
}

/** GET `url`, following redirects itself (at most 5) so each hop gets its own headers (headersFor). */
async function get(
  repo: Repo,
  url: string,
  extra: Record<string, string>,
  what: string,
  controller: AbortController,
): Promise<Response> {
  let res = await request(repo, url, { headers: headersFor(repo, url, extra), redirect: 'manual' }, what, controller);
  for (let hops = 0; res.status >= 300 && res.status < 400 && res.headers.get('location'); hops++) {
    if (hops === 5) throw new XcodecCheckpointError(`${what}: more than 5 redirects from ${url}`);
    url = new URL(res.headers.get('location')!, url).href;
    res = await request(repo, url, { headers: headersFor(repo, url, extra), redirect: 'manual' }, what, controller);
  }
  return res;
}

/** The blob's bytes into blobs/<etag>, resuming blobs/<etag>.incomplete with a Range request. */
async function downloadBlob(repo: Repo, file: string, meta: Meta, blob: string): Promise<void> {
  const part = `${blob}.incomplete`;
  let have = existsSync(part) ? statSync(part).size : 0;
  const controller = new AbortController();
  const what = `${repo.id}/${file}: download from ${meta.location}`;
  const res = await get(repo, meta.location, have > 0 ? { range: `bytes=${have}-` } : {}, what, controller);
  if (res.status === 416 && meta.size !== null && have === meta.size) {
    renameSync(part, blob); // the previous run had every byte but not the rename
    return;
  }
  if (!res.ok || !res.body) throw new XcodecCheckpointError(`${meta.location}: HTTP ${res.status} ${res.statusText}`);
  if (res.status !== 206) have = 0; // the server sent the whole file: start over
  const total = meta.size ?? have + Number(res.headers.get('content-length') ?? 0);
  // never more than announced, nor than the cap (an endless or lying body is cut off as it arrives)
  const limit = Math.min(
    meta.size ?? Number.POSITIVE_INFINITY,
    file.endsWith('.json') ? MAX_JSON_BYTES : repo.maxFileBytes,
  );
  const fd = openSync(part, have > 0 ? 'a' : 'w');
  let loaded = have;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const watch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, repo.readTimeoutMs);
  };
  try {
    watch();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      watch();
      const room = limit - loaded;
      const take = Math.min(chunk.length, Math.max(0, room));
      for (let off = 0; off < take; ) off += writeSync(fd, chunk, off, take - off);
      loaded += take;
      repo.onProgress?.(file, loaded, total);
      if (take < chunk.length) {
        controller.abort();
        throw new XcodecCheckpointError(
          meta.size !== null && limit === meta.size
            ? `${what}: the server sent more than the ${meta.size} bytes it announced; cut off`
            : `${what}: the file passed ${limit} bytes (hub.maxFileBytes); cut off`,
        );
      }
    }
  } catch (e) {
    if (e instanceof XcodecCheckpointError) throw e;
    throw new XcodecCheckpointError(
      `${repo.id}/${file}: download failed after ${loaded} of ${total} bytes (` +
        `${stalled ? `no data for ${repo.readTimeoutMs / 1000} s: hub.readTimeoutMs, $HF_HUB_DOWNLOAD_TIMEOUT` : (e as Error).message}); ` +
        `run again to resume from ${part}`,
    );
  } finally {
    clearTimeout(idle);
    closeSync(fd);
  }
  if (meta.size !== null && loaded !== meta.size) {
    throw new XcodecCheckpointError(
      `${repo.id}/${file}: download ended after ${loaded} of ${meta.size} bytes; run again to resume from ${part}`,
    );
  }
  renameSync(part, blob);
}

/** snapshots/<commit>/<file> -> ../../blobs/<etag>, as huggingface_hub links them (a copy where links are refused). */
function linkSnapshot(pointer: string, blob: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch {
    copyFileSync(blob, pointer);
  }
}

/** The commit a revision names in the cache (itself when it is one), or null. */
function cachedCommit(repo: Repo): string | null {
  if (COMMIT.test(repo.revision)) return repo.revision;
  const ref = join(repo.dir, 'refs', repo.revision);
  return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : null;
}

/**
 * The path of one file of the revision in the cache, downloading it when needed; null when the
 * repository has no such file and `required` is false.
 */
async function hubFile(
  repo: Repo,
  file: string,
  required: boolean,
  commitSeen: { commit?: string },
): Promise<string | null> {
  const fromCache = (why: string): string | null => {
    const commit = commitSeen.commit ?? cachedCommit(repo);
    const pointer = commit ? join(repo.dir, 'snapshots', commit, file) : null;
    if (pointer && existsSync(pointer)) return pointer;
    if (!required) return null;
    const missing = commit ? `snapshots/${commit}/${file}` : `refs/${repo.revision}`;
    throw new XcodecCheckpointError(
      `${repo.id}@${repo.revision}: ${why}, and the cache ${repo.dir} has no ${missing}` +
        `${repo.offline ? ' (download it once online, with this package or huggingface_hub, then it loads offline)' : ''}`,
    );
  };
  if (repo.offline) return fromCache('offline (HF_HUB_OFFLINE)');
  let meta: Meta | null;
  try {
    meta = await fileMeta(repo, file);
  } catch (e) {
    if ((e as { network?: boolean }).network) return fromCache(`the Hub is unreachable (${(e as Error).message})`);
    throw e;
  }
  if (!meta) {
    if (required) {
      throw new XcodecCheckpointError(
        `${repo.endpoint}/${repo.id}/resolve/${repo.revision}/${file}: not found (HTTP 404): is "${repo.id}" an X-Codec repository at revision "${repo.revision}"?`,
      );
    }
    return null;
  }
  commitSeen.commit ??= meta.commit;
  repo.pinned ??= meta.commit;
  if (!COMMIT.test(repo.revision)) {
    mkdirSync(join(repo.dir, 'refs'), { recursive: true });
    const ref = join(repo.dir, 'refs', repo.revision);
    if (!existsSync(ref) || readFileSync(ref, 'utf8').trim() !== meta.commit) writeFileSync(ref, meta.commit);
  }
  const pointer = join(repo.dir, 'snapshots', meta.commit, file);
  if (existsSync(pointer)) return pointer;
  if (!/^[\w.-]{1,128}$/.test(meta.etag))
    throw new XcodecCheckpointError(`${repo.id}/${file}: the ETag ${describe(meta.etag)} cannot name a blob`);
  const blob = join(repo.dir, 'blobs', meta.etag);
  mkdirSync(dirname(blob), { recursive: true });
  if (!existsSync(blob)) await downloadBlob(repo, file, meta, blob);
  linkSnapshot(pointer, blob);
  return pointer;
}

/** An option that must be a positive number, or undefined. */
function positiveMs(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
    throw new XcodecInputError(`${name} ${describe(v)} is not accepted; accepted: a positive number`);
  return v;
}

/**
 * Makes sure the revision's config.json, preprocessor_config.json and weights (model.safetensors, or
 * the index and its shards) are in the cache; returns the snapshot directory.
 */
export async function snapshotDownload(repoId: string, options: HubOptions = {}): Promise<string> {
  if (!REPO_ID.test(repoId) || repoId.includes('..'))
    throw new XcodecInputError(
      `"${repoId}" is neither a local directory nor a Hub repository id like "hf-audio/xcodec-hubert-librispeech"`,
    );
  const env = process.env;
  const repo: Repo = {
    id: repoId,
    endpoint: (options.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    timeoutMs: positiveMs('hub.timeoutMs', options.timeoutMs) ?? envMs('HF_HUB_ETAG_TIMEOUT', 10_000),
    readTimeoutMs: positiveMs('hub.readTimeoutMs', options.readTimeoutMs) ?? envMs('HF_HUB_DOWNLOAD_TIMEOUT', 10_000),
    maxFileBytes: positiveMs('hub.maxFileBytes', options.maxFileBytes) ?? DEFAULT_MAX_FILE_BYTES,
    revision: options.revision ?? 'main',
    token: options.token ?? env.HF_TOKEN,
    offline: options.offline ?? truthy(env.HF_HUB_OFFLINE),
    dir: join(hubCacheDir(options), `models--${repoId.replace('/', '--')}`),
    onProgress: options.onProgress,
  };
  if (/[\\]|\.\./.test(repo.revision))
    throw new XcodecInputError(
      `revision ${describe(repo.revision)} is not accepted; accepted: a branch, tag or commit name`,
    );
  const seen: { commit?: string } = {};
  const config = (await hubFile(repo, 'config.json', true, seen))!;
  await hubFile(repo, 'preprocessor_config.json', false, seen);
  if (!(await hubFile(repo, 'model.safetensors', false, seen))) {
    const indexPath = await hubFile(repo, 'model.safetensors.index.json', false, seen);
    if (!indexPath)
      throw new XcodecCheckpointError(
        `${repo.endpoint}/${repo.id}@${repo.revision}: has neither model.safetensors nor model.safetensors.index.json${repo.offline ? ' in the cache' : ''}`,
      );
    const index = parseStrictJson(
      readFileSync(indexPath),
      `${repo.id}/model.safetensors.index.json`,
      XcodecCheckpointError,
    ) as { weight_map?: Record<string, unknown> } | null;
    for (const shard of new Set(Object.values(index?.weight_map ?? {}))) {
      if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard))
        throw new XcodecCheckpointError(`model.safetensors.index.json names an unsafe shard path ${describe(shard)}`);
      await hubFile(repo, shard, true, seen);
    }
  }
  return dirname(config);
}
