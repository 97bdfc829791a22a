// Downloading a checkpoint from the Hugging Face Hub (or a mirror) into a local cache directory, so
// `XcodecModel.fromPretrained('hf-audio/xcodec-hubert-librispeech')` works like transformers'.
// Files come from `${endpoint}/${repo}/resolve/${revision}/${file}`; each is written to a temporary
// file and renamed when complete, so an interrupted download never leaves a truncated file behind.

import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { XcodecCheckpointError, XcodecInputError, describe } from '../errors.js';
import { parseStrictJson } from '../json.js';
import type { HubOptions } from '../file_access.js';

export type { HubOptions } from '../file_access.js';

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function isRepoId(s: string): boolean {
  return REPO_ID.test(s) && !s.includes('..') && !existsSync(s);
}

function defaultCache(): string {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  if (env.XCODEC_CACHE) return env.XCODEC_CACHE;
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'xcodec-wasm', 'hub');
}

async function download(url: string, dest: string, token: string | undefined, file: string, onProgress?: HubOptions['onProgress']): Promise<boolean> {
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, redirect: 'follow' });
  } catch (e) {
    const cause = (e as Error & { cause?: { message?: string } }).cause;
    throw new XcodecCheckpointError(`${url}: download failed: ${cause?.message ?? (e as Error).message}`);
  }
  if (res.status === 404) return false;
  if (res.status === 401 || res.status === 403) {
    throw new XcodecCheckpointError(`${url}: HTTP ${res.status} (a gated or private repository needs a token: set HF_TOKEN)`);
  }
  if (!res.ok || !res.body) throw new XcodecCheckpointError(`${url}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const part = `${dest}.${process.pid}.part`;
  const out = createWriteStream(part);
  let loaded = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      loaded += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      onProgress?.(file, loaded, total);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (total && loaded !== total) throw new XcodecCheckpointError(`${url}: download ended after ${loaded} of ${total} bytes`);
    renameSync(part, dest);
  } catch (e) {
    out.destroy();
    rmSync(part, { force: true });
    if (e instanceof XcodecCheckpointError) throw e;
    throw new XcodecCheckpointError(`${url}: download failed after ${loaded} bytes: ${(e as Error).message}`);
  }
  return true;
}

/**
 * Makes sure the repository's config.json, preprocessor_config.json and weights (model.safetensors, or
 * the index and its shards) are in the cache; returns the local directory.
 */
export async function snapshotDownload(repo: string, options: HubOptions = {}): Promise<string> {
  if (!REPO_ID.test(repo) || repo.includes('..')) throw new XcodecInputError(`"${repo}" is neither a local directory nor a Hub repository id like "hf-audio/xcodec-hubert-librispeech"`);
  const env = process.env;
  const endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const token = options.token ?? env.HF_TOKEN;
  const dir = join(options.cacheDir ?? defaultCache(), repo.replace('/', '--'), revision.replace(/[^\w.-]/g, '_'));
  mkdirSync(dir, { recursive: true });
  const fetchFile = async (file: string, required: boolean): Promise<boolean> => {
    const dest = join(dir, file);
    if (existsSync(dest)) return true;
    const url = `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
    const ok = await download(url, dest, token, file, options.onProgress);
    if (!ok && required) throw new XcodecCheckpointError(`${url}: not found (HTTP 404): is "${repo}" an X-Codec repository at revision "${revision}"?`);
    return ok;
  };
  await fetchFile('config.json', true);
  await fetchFile('preprocessor_config.json', false);
  if (!(await fetchFile('model.safetensors', false))) {
    if (!(await fetchFile('model.safetensors.index.json', false))) {
      throw new XcodecCheckpointError(`${endpoint}/${repo}: has neither model.safetensors nor model.safetensors.index.json`);
    }
    const { readFileSync } = await import('node:fs');
    const index = parseStrictJson(readFileSync(join(dir, 'model.safetensors.index.json')), `${endpoint}/${repo}/model.safetensors.index.json`,
      XcodecCheckpointError) as { weight_map?: Record<string, unknown> } | null;
    for (const shard of new Set(Object.values(index?.weight_map ?? {}))) {
      if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard)) throw new XcodecCheckpointError(`model.safetensors.index.json names an unsafe shard path ${describe(shard)}`);
      await fetchFile(shard, true);
    }
  }
  return dir;
}
