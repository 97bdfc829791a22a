// Where checkpoint directories and Hub repository ids are read from. The package entry has no file
// access of its own, so that it runs unchanged in browsers and edge runtimes; importing
// `xcodec-wasm/node` installs Node's (src/node/index.ts), which Deno and Bun run too.

import { XcodecInputError } from '../errors.js';
import type { CheckpointSource } from './weights.js';

/** Where a Hub repository id is downloaded from and cached (xcodec-wasm/node). */
export interface HubOptions {
  /** default: $HF_ENDPOINT or https://huggingface.co */
  endpoint?: string;
  revision?: string;
  /**
   * huggingface_hub's cache, shared with Python: default $HF_HUB_CACHE, else $HF_HOME/hub, else
   * $XDG_CACHE_HOME/huggingface/hub (~/.cache/huggingface/hub)
   */
  cacheDir?: string;
  /** never touch the network, only the cache (default: $HF_HUB_OFFLINE) */
  offline?: boolean;
  /** default: $HF_TOKEN; sent to the endpoint's own origin only, never across a redirect to another */
  token?: string;
  onProgress?: (file: string, loaded: number, total: number) => void;
  /**
   * ms to wait for a server's response headers (default: $HF_HUB_ETAG_TIMEOUT seconds, else 10 s, as
   * huggingface_hub); past it the download fails with an XcodecCheckpointError naming the URL
   */
  timeoutMs?: number;
  /** ms a download may go without receiving a byte (default: $HF_HUB_DOWNLOAD_TIMEOUT seconds, else 10 s) */
  readTimeoutMs?: number;
  /**
   * the most bytes one file may have (default 64 GiB; JSON files 64 MiB): a body past it, or past the
   * size the server announced, is cut off
   */
  maxFileBytes?: number;
}

export interface FileAccess {
  /** a local directory as is; a Hub repository id downloaded into the cache first */
  resolveModelDir(dirOrRepo: string, hub?: HubOptions): Promise<string>;
  /** a JSON file of the directory, parsed */
  readJson(dir: string, name: string): Promise<unknown>;
  /**
   * the directory's tensors: model.safetensors, or an index and its shards; `ranged`: only the tensors
   * the model reads are wanted (components: 'decoder'), so a remote file is read by range, not whole
   */
  openCheckpoint(
    dir: string,
    onProgress?: (loaded: number, total: number) => void,
    options?: { ranged?: boolean },
  ): Promise<CheckpointSource>;
}

let installed: FileAccess | null = null;
/** fetch's file access (web_files.ts registers it), used where none is installed */
let fallback: FileAccess | null = null;

export function setFallbackFileAccess(access: FileAccess): void {
  fallback = access;
}

export function setFileAccess(access: FileAccess): void {
  installed = access;
}

/** Whether `xcodec-wasm/node` installed its file access (a worker then installs it too). */
export function nodeFileAccess(): boolean {
  return installed !== null;
}

/**
 * The installed file access (xcodec-wasm/node's), else fetch's (Hub ids and URLs: web_files.ts), else
 * an error saying how to get one (`call` names what needed it).
 */
export function fileAccess(call: string): FileAccess {
  if (installed) return installed;
  if (fallback && typeof fetch === 'function') return fallback;
  throw new XcodecInputError(
    `${call} needs file access or fetch, which this runtime lacks: ` +
      `in Node, Deno and Bun import from 'xcodec-wasm/node' instead of 'xcodec-wasm'; elsewhere ` +
      `read the files yourself and use XcodecModel.fromBuffers (XcodecFeatureExtractor.fromConfig for preprocessor_config.json)`,
  );
}
