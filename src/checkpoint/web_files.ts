// fromPretrained where there is no file system (browsers, edge runtimes): a Hub repository id or an
// http(s) base URL, read with fetch. Files are kept in the Cache API (cache 'xcodec-wasm') where the
// runtime has one, read cache-first as transformers.js does, so the next visit loads offline. A whole
// model.safetensors comes in one download with progress; with components: 'decoder' its tensors are
// read with HTTP Range requests instead, in 4 MiB blocks from its header's offsets, so only the blocks
// the decoder's tensors lie in travel (a server without Range support sends the whole file once).

import { XcodecCheckpointError, XcodecInputError, describe } from '../errors.js';
import { type FileAccess, type HubOptions, setFallbackFileAccess } from './file_access.js';
import { parseStrictJson } from './json.js';
import { type ByteSource, SafetensorsCheckpoint, bufferSource } from './safetensors.js';
import type { CheckpointSource } from './weights.js';

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const MAX_JSON_BYTES = 64 * 2 ** 20;
const DEFAULT_MAX_FILE_BYTES = 64 * 2 ** 30;
const BLOCK_BYTES = 4 * 2 ** 20;
const CACHE_NAME = 'xcodec-wasm';

interface Remote {
  base: string;
  hub: HubOptions;
  /** the endpoint's origin: the only one the token goes to */
  origin: string | null;
}

/** What each resolved base URL was resolved with (fromPretrained passes the same options on). */
const remotes = new Map<string, Remote>();

export const webFileAccess: FileAccess = {
  async resolveModelDir(src, hub = {}) {
    let base: string;
    let origin: string | null = null;
    if (/^https?:\/\//i.test(src)) base = src.endsWith('/') ? src : `${src}/`;
    else if (REPO_ID.test(src) && !src.includes('..')) {
      const endpoint = (hub.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
      origin = new URL(endpoint).origin;
      base = `${endpoint}/${src}/resolve/${encodeURIComponent(hub.revision ?? 'main')}/`;
    } else {
      throw new XcodecInputError(
        `fromPretrained(${describe(src)}): this runtime has no file system; accepted here: a Hub repository id ("org/name") ` +
          "or an http(s) base URL of a checkpoint's files; to read a directory, import from 'xcodec-wasm/node' (Node, Deno, Bun), " +
          'or read the files yourself and use fromBuffers',
      );
    }
    remotes.set(base, { base, hub, origin });
    return base;
  },

  async readJson(base, name) {
    const r = remote(base);
    const bytes = await whole(r, name, MAX_JSON_BYTES);
    return parseStrictJson(bytes, base + name, XcodecCheckpointError);
  },

  async openCheckpoint(base, onProgress, options = {}) {
    const r = remote(base);
    const sources = new Map<string, ByteSource>();
    const open = async (name: string): Promise<ByteSource | null> => {
      if (options.ranged) return optional(ranged(r, name));
      const bytes = await optional(whole(r, name, r.hub.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, onProgress));
      return bytes && bufferSource(bytes);
    };
    const single = await open('model.safetensors');
    if (single) sources.set('model.safetensors', single);
    else {
      const index = await optional(whole(r, 'model.safetensors.index.json', MAX_JSON_BYTES));
      if (!index)
        throw new XcodecCheckpointError(`${base}: neither model.safetensors nor model.safetensors.index.json found`);
      sources.set('model.safetensors.index.json', bufferSource(index));
      const map = (
        parseStrictJson(index, `${base}model.safetensors.index.json`, XcodecCheckpointError) as {
          weight_map?: Record<string, unknown>;
        }
      ).weight_map;
      for (const shard of new Set(Object.values(map ?? {}))) {
        if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard) || shard.startsWith('.')) continue; // SafetensorsCheckpoint reports it
        const src = await open(shard);
        if (src) sources.set(shard, src);
      }
    }
    const checkpoint = await SafetensorsCheckpoint.open({
      where: base,
      label: (name) => base + name,
      open: (name) => sources.get(name),
    });
    return checkpoint.source() as CheckpointSource;
  },
};

function remote(base: string): Remote {
  return remotes.get(base) ?? { base, hub: {}, origin: null };
}

/** null for a 404 (the caller tries the next layout), the bytes otherwise. */
async function optional<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if ((e as { status?: number }).status === 404) return null;
    throw e;
  }
}

let cache: Promise<Cache | null> | undefined;

/** The Cache API's cache, opened once (null where there is none). */
function cacheStore(): Promise<Cache | null> {
  const g = globalThis as { caches?: CacheStorage };
  cache ??= g.caches
    ? g.caches.open(CACHE_NAME).catch(() => null) // an opaque origin, a private window: no cache, every visit downloads
    : Promise.resolve(null);
  return cache;
}

/** A GET of `url` (with `range`), its headers within timeoutMs, the token to the endpoint only. */
async function get(r: Remote, url: string, range?: [number, number]): Promise<Response> {
  if (r.hub.offline) throw failure(url, 'not in the cache, and hub.offline is set', 0);
  const headers: Record<string, string> = {};
  if (range) headers.range = `bytes=${range[0]}-${range[1] - 1}`;
  if (r.hub.token && r.origin && new URL(url).origin === r.origin) headers.authorization = `Bearer ${r.hub.token}`;
  const controller = new AbortController();
  const timeoutMs = r.hub.timeoutMs ?? 10000;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: controller.signal });
  } catch (e) {
    throw failure(
      url,
      controller.signal.aborted ? `no response within ${timeoutMs / 1000} s (hub.timeoutMs)` : String(e),
      0,
    );
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw failure(url, `HTTP ${res.status}`, res.status);
  }
  return res;
}

function failure(url: string, why: string, status: number): XcodecCheckpointError {
  const e = new XcodecCheckpointError(`${url}: ${why}`);
  (e as XcodecCheckpointError & { status?: number }).status = status;
  return e;
}

/** A response's body, at most `limit` bytes (and the announced length), each read within readTimeoutMs. */
async function body(
  r: Remote,
  url: string,
  res: Response,
  limit: number,
  onBytes?: (n: number, total: number) => void,
) {
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (announced > limit)
    throw failure(url, `${announced} bytes, more than the ${limit} accepted (hub.maxFileBytes)`, 0);
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  const stall = r.hub.readTimeoutMs ?? 10000;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(failure(url, `no data for ${stall / 1000} s (hub.readTimeoutMs)`, 0)), stall);
    });
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await Promise.race([reader.read(), stalled]);
    } catch (e) {
      void reader.cancel();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (chunk.done) break;
    n += chunk.value.length;
    if (n > limit || (Number.isFinite(announced) && n > announced)) {
      void reader.cancel();
      throw failure(url, `the body passed ${Math.min(limit, announced)} bytes; cut off (hub.maxFileBytes)`, 0);
    }
    parts.push(chunk.value);
    onBytes?.(n, Number.isFinite(announced) ? announced : 0);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A whole file, from the cache or downloaded (and then cached). */
async function whole(r: Remote, name: string, limit: number, onProgress?: (loaded: number, total: number) => void) {
  const url = r.base + name;
  const cache = await cacheStore();
  const hit = await cache?.match(url);
  if (hit) return body(r, url, hit, limit);
  const bytes = await body(r, url, await get(r, url), limit, (n, total) => {
    onProgress?.(n, total);
    r.hub.onProgress?.(name, n, total);
  });
  await cache?.put(url, new Response(bytes, { headers: { 'content-length': String(bytes.length) } })).catch(() => {});
  return bytes;
}

/** A file read by HTTP Range in cached blocks; its size from the first block's Content-Range. */
async function ranged(r: Remote, name: string): Promise<ByteSource> {
  const url = r.base + name;
  const cache = await cacheStore();
  const wholeHit = await cache?.match(url);
  if (wholeHit) return bufferSource(await body(r, url, wholeHit, r.hub.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES));
  const blocks = new Map<number, Promise<Uint8Array>>();
  const blockKey = (i: number) => `${url}?xcodec-block=${i}`;
  let size = -1;
  let all: Uint8Array | null = null; // a server that ignores Range sent everything
  let fetched = 0;
  const fetchBlock = async (i: number): Promise<Uint8Array> => {
    const hit = await cache?.match(blockKey(i));
    if (hit) {
      size = Number(hit.headers.get('x-xcodec-size'));
      return body(r, url, hit, BLOCK_BYTES);
    }
    const end = size >= 0 ? Math.min(size, (i + 1) * BLOCK_BYTES) : (i + 1) * BLOCK_BYTES;
    const res = await get(r, url, [i * BLOCK_BYTES, end]);
    if (res.status === 200) {
      all = await body(r, url, res, r.hub.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
      size = all.length;
      return all.subarray(i * BLOCK_BYTES, end);
    }
    const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
    if (!total) throw failure(url, 'a 206 reply without Content-Range: bytes A-B/SIZE', 0);
    size = Number(total[1]);
    const bytes = await body(r, url, res, BLOCK_BYTES);
    if (bytes.length !== Math.min(size, (i + 1) * BLOCK_BYTES) - i * BLOCK_BYTES)
      throw failure(url, `block ${i}: ${bytes.length} bytes for the range asked`, 0);
    fetched += bytes.length;
    r.hub.onProgress?.(name, fetched, size); // bytes fetched so far of the file's size (the decoder's share is less)
    const headers = { 'content-length': String(bytes.length), 'x-xcodec-size': String(size) };
    await cache?.put(blockKey(i), new Response(bytes, { headers })).catch(() => {});
    return bytes;
  };
  const block = (i: number): Promise<Uint8Array> => {
    let p = blocks.get(i);
    if (!p) {
      p = fetchBlock(i);
      p.catch(() => blocks.delete(i));
      blocks.set(i, p);
      // keep the last two blocks: a tensor is read front to back in chunks, and its neighbour may share one
      for (const k of blocks.keys()) if (k < i - 1) blocks.delete(k);
    }
    return p;
  };
  await block(0);
  if (all) return bufferSource(all);
  return {
    size,
    async read(offset, length, into) {
      if (offset < 0 || offset + length > size)
        throw failure(url, `bytes [${offset}, ${offset + length}) of ${size}`, 0);
      const first = Math.floor(offset / BLOCK_BYTES);
      const last = Math.floor((offset + length - 1) / BLOCK_BYTES);
      const wanted = [];
      for (let i = first; i <= last; i++) wanted.push(block(i)); // in parallel
      for (let i = first, at = offset; i <= last; i++) {
        const b = await wanted[i - first];
        const from = at - i * BLOCK_BYTES;
        const n = Math.min(b.length - from, offset + length - at);
        into.set(b.subarray(from, from + n), at - offset);
        at += n;
      }
    },
  };
}

setFallbackFileAccess(webFileAccess);
