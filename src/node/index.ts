// `xcodec-wasm/node`: everything the package entry has, plus file access for Node, Deno and Bun
// (all provide node:fs): XcodecModel.fromPretrained on a checkpoint directory or a Hub repository id,
// the Hub download cache, and safetensors files read from disk.
import { setFileAccess } from '../checkpoint/file_access.js';
import { openCheckpointDir, readConfigFile } from './files.js';
import { isRepoId, snapshotDownload } from './hub.js';

export * from '../index.js';
export { snapshotDownload } from './hub.js';
export { dirLookup, fileSource, openCheckpointDir, readConfigFile } from './files.js';

setFileAccess({
  resolveModelDir: async (dir, hub) => (isRepoId(dir) ? snapshotDownload(dir, hub) : dir),
  readJson: readConfigFile,
  openCheckpoint: openCheckpointDir,
});
