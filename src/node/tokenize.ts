// `xcodec tokenize`: a whole dataset to codes on one machine, resumable and shardable.
//
// Per input, under OUT_DIR at the input's relative path with its extension replaced: NAME.npy (codes
// (nq, T), or YuE ids) or NAME.txt (Llasa's <|s_N|> speech tokens, X-Codec 2) and NAME.json (what was read and made; no timestamps or host names, so two runs
// compare byte for byte). Both are written to a temporary name and renamed, the .json last: a file is
// done exactly when its .json exists (and matches the options), so a run killed at any moment resumes
// by running the same command again. At the end OUT_DIR/manifest.jsonl holds every .json line sorted
// by path and OUT_DIR/errors.jsonl every file that failed this run.
//
// --jobs N runs N worker processes (each loads the model once, with cores / N threads) over
// interleaved slices of the sorted inputs; a file's codes are the same whatever process encodes it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type XcodecConfig, numQuantizersForBandwidth } from '../checkpoint/config.js';
import { XcodecError, XcodecInputError } from '../errors.js';
import { type AudioSource, loadAudio } from '../io/audio.js';
import { writeNpy } from '../io/npy.js';
import { toYueTokens } from '../tokens/yue.js';
import { toLlasaTokens } from '../tokens/llasa.js';
import { writeAtomic as writeFileAtomic } from './files.js';
import { Xcodec2FeatureExtractor, XcodecFeatureExtractor, XcodecModelSync } from './index.js';
import { type Progress, progressReporter } from './progress_reporter.js';

export { type Progress, progressReporter } from './progress_reporter.js';
export { AUDIO_EXTENSIONS, type Item, collectInputs, failureReason, shownPath, stem } from './tokenize_inputs.js';
import { type Item, collectInputs, failureReason, shownPath, stem } from './tokenize_inputs.js';

export interface TokenizeOptions {
  inputs: string[];
  outDir: string;
  model: string;
  bandwidth?: number;
  format: 'codes' | 'yue' | 'llasa';
  dtype: 'int16' | 'int32' | 'int64';
  shard?: { index: number; count: number };
  jobs: number;
  threads?: number;
  quiet: boolean;
  /** internal: this process is worker k of n (set by the parent for --jobs) */
  worker?: { index: number; count: number };
}

/** Shard membership by a hash of the relative path: N machines split a dataset with no coordinator. */
export function inShard(rel: string, shard: { index: number; count: number }): boolean {
  return createHash('sha256').update(rel).digest().readUInt32BE(0) % shard.count === shard.index;
}

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, bytes);
}

export interface Settings {
  bandwidth: number;
  format: TokenizeOptions['format'];
  dtype: TokenizeOptions['dtype'];
  configSha256: string;
}

/** The extension of the codes file a format writes. */
export function codesExtension(format: Settings['format']): '.npy' | '.txt' {
  return format === 'llasa' ? '.txt' : '.npy';
}

/**
 * The .json of a finished file, if it exists, was made with these settings and its codes file is
 * still the one it describes (size and sha256): a deleted, emptied or changed one is redone.
 */
export function finished(outDir: string, item: Item, s: Settings): Record<string, unknown> | null {
  const path = join(outDir, `${stem(item.rel)}.json`);
  if (!existsSync(path)) return null;
  try {
    const j = JSON.parse(readFileSync(path, 'utf8'));
    if (
      j.path === item.rel &&
      j.bandwidth === s.bandwidth &&
      j.format === s.format &&
      j.dtype === s.dtype &&
      j.config_sha256 === s.configSha256 &&
      npyMatches(join(outDir, `${stem(item.rel)}${codesExtension(s.format)}`), j)
    )
      return j;
  } catch {
    // unreadable: redo it
  }
  return null;
}

/** Whether the .npy at `path` has the size and sha256 its .json records. */
function npyMatches(path: string, j: { npy_bytes?: unknown; npy_sha256?: unknown }): boolean {
  if (!existsSync(path)) return false;
  const bytes = readFileSync(path);
  if (typeof j.npy_bytes === 'number' && bytes.length !== j.npy_bytes) return false;
  return createHash('sha256').update(bytes).digest('hex') === j.npy_sha256;
}

function codesArray(
  codes: { data: BigInt64Array; dims: number[] },
  s: Settings,
): { data: BigInt64Array | Int32Array | Int16Array; dims: number[] } {
  const [, nq, T] = codes.dims;
  if (s.format === 'yue') return { data: toYueTokens(codes), dims: [nq * T] };
  if (s.dtype === 'int64') return { data: codes.data, dims: [nq, T] };
  const data = s.dtype === 'int32' ? new Int32Array(nq * T) : new Int16Array(nq * T);
  for (let i = 0; i < data.length; i++) data[i] = Number(codes.data[i]);
  return { data, dims: [nq, T] };
}

/** A file read and encoded, not yet written: what tokenizeOne and the queue's workers share. */
export interface Encoded {
  npy: Uint8Array;
  json: Record<string, unknown>;
  seconds: number;
}

/** Reads, decodes and encodes one file. Every XcodecError here is about the file itself (retrying cannot help). */
export async function encodeItem(
  model: XcodecModelSync,
  fe: AudioFeatures,
  item: Item,
  s: Settings,
  onStep?: () => void,
): Promise<Encoded> {
  const rate = model.config.sampleRate;
  let source: AudioSource | null = null;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(item.source));
  } catch (e) {
    throw new XcodecInputError(
      `${item.rel}: cannot read ${shownPath(item.source)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const samples = await loadAudio(bytes, {
    sampleRate: rate,
    fileName: item.rel,
    onSource: (x) => {
      source = x;
    },
  });
  const { inputValues } = fe.call(samples, { samplingRate: rate });
  onStep?.();
  const { audioCodes } = model.encode(inputValues, { bandwidth: s.bandwidth, onProgress: onStep && (() => onStep()) });
  let npy: Uint8Array;
  if (s.format === 'llasa') npy = new TextEncoder().encode(`${toLlasaTokens(audioCodes).join('')}\n`);
  else {
    const arr = codesArray(audioCodes, s);
    npy = writeNpy(arr.data, arr.dims);
  }
  const src = source! as AudioSource;
  const seconds = src.samples / src.sampleRate;
  const json = {
    path: item.rel,
    seconds: Math.round(seconds * 1e6) / 1e6,
    sample_rate: src.sampleRate,
    channels: src.channels,
    frames: audioCodes.dims[2],
    num_quantizers: audioCodes.dims[1],
    bandwidth: s.bandwidth,
    format: s.format,
    dtype: s.format === 'yue' ? 'int32' : s.dtype,
    npy_bytes: npy.length,
    npy_sha256: createHash('sha256').update(npy).digest('hex'),
    config_sha256: s.configSha256,
  };
  return { npy, json, seconds };
}

/** The codes file, then the .json that marks the file done. */
export function writeItem(outDir: string, item: Item, e: Encoded): void {
  writeAtomic(join(outDir, `${stem(item.rel)}${codesExtension(e.json.format as Settings['format'])}`), e.npy);
  writeAtomic(join(outDir, `${stem(item.rel)}.json`), `${JSON.stringify(e.json)}\n`);
}

/** Encodes one file and writes its outputs; returns the audio seconds. */
async function tokenizeOne(
  model: XcodecModelSync,
  fe: AudioFeatures,
  outDir: string,
  item: Item,
  s: Settings,
): Promise<number> {
  const e = await encodeItem(model, fe, item, s);
  writeItem(outDir, item, e);
  return e.seconds;
}

export function configSha256(model: string): string {
  const path = join(model, 'config.json');
  return createHash('sha256')
    .update(existsSync(path) ? readFileSync(path) : model)
    .digest('hex');
}

export async function tokenize(o: TokenizeOptions): Promise<number> {
  const all = collectInputs(o.inputs);
  const items = o.shard ? all.filter((it) => inShard(it.rel, o.shard!)) : all;
  mkdirSync(o.outDir, { recursive: true });
  if (o.worker)
    return runWorker(
      o,
      items.filter((_, i) => i % o.worker!.count === o.worker!.index),
    );

  const jobs = Math.max(1, Math.min(o.jobs, items.length || 1));
  const progress = await progressReporter(o.quiet);
  const failures = new Map<string, string>();
  let skipped = 0;
  if (jobs === 1) {
    const model = await XcodecModelSync.fromPretrained(o.model, { numThreads: o.threads, components: 'encoder' });
    try {
      const fe = await featureExtractor(o.model, model);
      const s = settings(o, model);
      const todo = items.filter((it) => !finished(o.outDir, it, s));
      skipped = items.length - todo.length;
      progress.start(todo.length);
      for (const it of todo) {
        try {
          progress.file(await tokenizeOne(model, fe, o.outDir, it, s), false);
        } catch (e) {
          if (!(e instanceof XcodecError)) throw e;
          failures.set(it.rel, failureReason(e.message));
          progress.file(0, true);
        }
      }
    } finally {
      model.dispose();
    }
  } else {
    await runChildren(o, jobs, progress, failures, (n) => {
      skipped += n;
    });
  }
  progress.stop();
  writeSummary(o.outDir, items, failures);
  if (!o.quiet) {
    process.stderr.write(
      `tokenize: ${items.length - failures.size - skipped} encoded, ${skipped} already done, ${failures.size} failed; ` +
        `${join(o.outDir, 'manifest.jsonl')}${failures.size ? `, ${join(o.outDir, 'errors.jsonl')}` : ''}\n`,
    );
  }
  return failures.size ? 1 : 0;
}

function settings(o: TokenizeOptions, model: XcodecModelSync): Settings {
  return settingsFor(o, model.config);
}

/** The options a finished file must match; an unsupported bandwidth is a typed error now, not once per file. */
export function settingsFor(
  o: Pick<TokenizeOptions, 'bandwidth' | 'format' | 'dtype' | 'model'>,
  config: XcodecConfig,
): Settings {
  const bandwidth = o.bandwidth ?? Math.max(...config.targetBandwidths);
  numQuantizersForBandwidth(config, bandwidth);
  if (o.format === 'llasa' && config.modelType !== 'xcodec2') {
    throw new XcodecInputError(
      `--format llasa writes Llasa's speech tokens, the codes of X-Codec 2; this model's model_type is "${config.modelType}": accepted: --format codes or yue, or an X-Codec 2 checkpoint`,
    );
  }
  return {
    bandwidth,
    format: o.format,
    dtype: o.format === 'yue' ? 'int32' : o.dtype,
    configSha256: configSha256(o.model),
  };
}

/** What turns one mono signal at the model's rate into encode's input_values. */
export type AudioFeatures = XcodecFeatureExtractor | Xcodec2FeatureExtractor;

/** The checkpoint's feature extractor, or the default one for its model_type where it has no preprocessor_config.json. */
export async function featureExtractor(dir: string, model: XcodecModelSync): Promise<AudioFeatures> {
  if (model.config.modelType === 'xcodec2')
    return Xcodec2FeatureExtractor.fromPretrained(dir).catch(() => Xcodec2FeatureExtractor.fromConfig({}));
  return XcodecFeatureExtractor.fromPretrained(dir).catch(
    () =>
      new XcodecFeatureExtractor({
        featureSize: 1,
        samplingRate: model.config.sampleRate,
        paddingValue: 0,
        hopLength: model.config.hopLength,
        paddingSide: 'right',
      }),
  );
}

/** A worker process: its slice of the items, one JSON line per file on stdout. */
async function runWorker(o: TokenizeOptions, items: Item[]): Promise<number> {
  const model = await XcodecModelSync.fromPretrained(o.model, { numThreads: o.threads, components: 'encoder' });
  try {
    const fe = await featureExtractor(o.model, model);
    const s = settings(o, model);
    const todo = items.filter((it) => !finished(o.outDir, it, s));
    process.stdout.write(`${JSON.stringify({ todo: todo.length, skipped: items.length - todo.length })}\n`);
    for (const it of todo) {
      try {
        const seconds = await tokenizeOne(model, fe, o.outDir, it, s);
        process.stdout.write(`${JSON.stringify({ rel: it.rel, seconds })}\n`);
      } catch (e) {
        if (!(e instanceof XcodecError)) throw e;
        process.stdout.write(`${JSON.stringify({ rel: it.rel, error: failureReason(e.message) })}\n`);
      }
    }
  } finally {
    model.dispose();
  }
  return 0;
}

/** --jobs N: N worker processes of this CLI over interleaved slices; their lines drive the progress. */
async function runChildren(
  o: TokenizeOptions,
  jobs: number,
  progress: Progress,
  failures: Map<string, string>,
  skippedBy: (n: number) => void,
): Promise<void> {
  const cli = join(dirname(fileURLToPath(import.meta.url)), 'cli.js');
  const threads = o.threads ?? Math.max(1, Math.floor(availableParallelism() / jobs));
  const args = [
    'tokenize',
    ...o.inputs,
    '-o',
    o.outDir,
    '--model',
    o.model,
    '--format',
    o.format,
    '--dtype',
    o.dtype,
    '--threads',
    String(threads),
    '-q',
  ];
  if (o.bandwidth !== undefined) args.push('--bandwidth', String(o.bandwidth));
  if (o.shard) args.push('--shard', `${o.shard.index}/${o.shard.count}`);
  let todo = 0;
  let reported = 0;
  const early: { seconds: number; failed: boolean }[] = [];
  await Promise.all(
    Array.from(
      { length: jobs },
      (_, k) =>
        new Promise<void>((resolvePromise, reject) => {
          const child = spawn(process.execPath, [cli, ...args, '--worker', `${k}/${jobs}`], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let buffer = '';
          let stderr = '';
          child.stderr.on('data', (d) => {
            stderr += d;
          });
          child.stdout.on('data', (d) => {
            buffer += d;
            let nl: number;
            while ((nl = buffer.indexOf('\n')) >= 0) {
              const line = JSON.parse(buffer.slice(0, nl));
              buffer = buffer.slice(nl + 1);
              if (line.todo !== undefined) {
                todo += line.todo;
                skippedBy(line.skipped);
                if (++reported === jobs) {
                  progress.start(todo);
                  for (const f of early.splice(0)) progress.file(f.seconds, f.failed);
                }
              } else {
                if (line.error !== undefined) failures.set(line.rel, line.error);
                const f = { seconds: line.error !== undefined ? 0 : line.seconds, failed: line.error !== undefined };
                // a fast worker can finish files before a slow one has counted its share: hold them until the total is known
                if (reported === jobs) progress.file(f.seconds, f.failed);
                else early.push(f);
              }
            }
          });
          child.on('exit', (code, signal) => {
            if (code === 0) resolvePromise();
            else
              reject(
                new XcodecInputError(
                  `tokenize: worker ${k + 1} of ${jobs} exited with ${signal ?? code}: ${stderr.trim().split('\n').pop() ?? ''} ` +
                    '(files it had not finished have no .json: run the same command again to resume)',
                ),
              );
          });
        }),
    ),
  );
}

/** manifest.jsonl (every finished file's .json, sorted by path) and errors.jsonl, both written atomically. */
export function writeSummary(outDir: string, items: Item[], failures: Map<string, string>): void {
  const lines: string[] = [];
  for (const it of items) {
    const path = join(outDir, `${stem(it.rel)}.json`);
    if (existsSync(path) && !failures.has(it.rel)) lines.push(readFileSync(path, 'utf8').trim());
  }
  writeAtomic(join(outDir, 'manifest.jsonl'), lines.length ? `${lines.join('\n')}\n` : '');
  const errors = [...failures]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([path, error]) => JSON.stringify({ path, error }));
  writeAtomic(join(outDir, 'errors.jsonl'), errors.length ? `${errors.join('\n')}\n` : '');
}
