#!/usr/bin/env node
// xcodec: encode audio to X-Codec codes and back, from the command line.
//   xcodec encode <audio|in.npy> -o <codes.npy> [--model DIR] [--bandwidth KBPS]
//   xcodec decode <codes.npy> -o <out.wav|out.npy|-> [--model DIR] [--rescale]   (-: a WAV stream on stdout)
//   xcodec roundtrip <in> -o <out.wav> [--model DIR] [--bandwidth KBPS] [--rescale]
//   xcodec demo [-o out.wav]      (embedded default model and sample; works offline)
//   xcodec tokenize <input>... -o OUT_DIR [...]   (a dataset, resumable; see tokenize.ts)
//   xcodec worker --queue redis://HOST:PORT        (tokenize jobs from a BullMQ queue; see queue.ts)

import { readFileSync, realpathSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AudioSource, loadAudio } from '../io/audio.js';
import { readNpy, writeNpy } from '../io/npy.js';
import { encodeWav } from '../io/wav.js';
import { type CodesInput, type FloatTensor, XcodecError, XcodecInputError, XcodecModelSync } from './index.js';
import {
  type Args,
  DEFAULT_MODEL,
  DEFAULT_SAMPLE,
  USAGE,
  parseArgs,
  parseTokenizeArgs,
  parseWorkerArgs,
  requireIO,
} from './cli_args.js';
import { writeAtomic } from './files.js';
import { decodeToStream } from './cli_stream.js';

export { DEFAULT_MODEL, DEFAULT_SAMPLE, parseArgs } from './cli_args.js';
import { importIfInstalled } from './optional.js';
import { runQueueWorker, tokenizeOnQueue } from './queue.js';
import { featureExtractor, tokenize } from './tokenize.js';

function log(args: Args, msg: string): void {
  if (!args.quiet) process.stderr.write(`${msg}\n`);
}

function readInputFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new XcodecInputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Audio file or .npy -> input_values [B, 1, N] plus the unpadded lengths. */
async function loadInput(
  path: string,
  model: XcodecModelSync,
  modelDir: string,
  args: Args,
): Promise<{ x: FloatTensor; lengths: number[] }> {
  const ext = extname(path).toLowerCase();
  const fe = await featureExtractor(modelDir, model);
  const bytes = readInputFile(path);
  if (ext === '.npy') {
    const a = readNpy(bytes);
    const data =
      a.data instanceof Float32Array ? a.data : a.data instanceof Float64Array ? Float32Array.from(a.data) : null;
    if (!data) throw new XcodecInputError(`${path}: dtype ${a.dtype} is not audio; accepted: float32 or float64`);
    if (a.shape.length === 3 && a.shape[1] === 1)
      return { x: { data, dims: a.shape }, lengths: Array(a.shape[0]).fill(a.shape[2]) };
    if (a.shape.length === 1)
      return { x: fe.call(data, { samplingRate: fe.config.samplingRate }).inputValues, lengths: [data.length] };
    throw new XcodecInputError(
      `${path}: shape (${a.shape.join(', ')}) is not accepted; accepted: (B, 1, N) input_values or (N,) mono samples`,
    );
  }
  let source: AudioSource | null = null;
  const mono = await loadAudio(bytes, {
    sampleRate: model.config.sampleRate,
    fileName: path,
    onSource: (s) => {
      source = s;
    },
  });
  const { format, sampleRate, channels, samples } = source!;
  log(
    args,
    `read ${path}: ${format}, ${channels} channel(s), ${sampleRate} Hz, ${(samples / sampleRate).toFixed(2)} s` +
      (sampleRate !== model.config.sampleRate ? ` (resampled to ${model.config.sampleRate} Hz)` : '') +
      (channels > 1 ? ' (downmixed by the mean)' : ''),
  );
  return { x: fe.call(mono, { samplingRate: fe.config.samplingRate }).inputValues, lengths: [mono.length] };
}

function writeAudio(
  path: string,
  audio: FloatTensor,
  lengths: number[] | null,
  sampleRate: number,
  rescale: boolean,
): void {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    writeAtomic(path, writeNpy(audio.data, audio.dims));
    return;
  }
  if (ext !== '.wav') throw new XcodecInputError(`output ${path}: accepted extensions are .wav and .npy`);
  const [B, , N] = audio.dims;
  if (B !== 1)
    throw new XcodecInputError(
      `output ${path}: a WAV file holds one signal but the batch has ${B}; write .npy instead`,
    );
  const n = lengths ? Math.min(lengths[0], N) : N;
  writeAtomic(path, encodeWav(audio.data.subarray(0, n), sampleRate, { rescale }));
}

function readCodes(path: string): CodesInput {
  if (extname(path).toLowerCase() !== '.npy')
    throw new XcodecInputError(`${path}: codes must be a .npy file (int64, shape (B, nq, T))`);
  const a = readNpy(readInputFile(path));
  if (!(a.data instanceof BigInt64Array || a.data instanceof Int32Array)) {
    throw new XcodecInputError(`${path}: dtype ${a.dtype} is not accepted for codes; accepted: int64 or int32`);
  }
  if (a.shape.length !== 3)
    throw new XcodecInputError(`${path}: shape (${a.shape.join(', ')}) is not accepted; codes are (B, nq, T)`);
  return { data: a.data, dims: a.shape };
}

/** Hub downloads: a bar per file on a terminal (cli-progress), else a line per 10% of each file. */
async function downloadProgress(
  args: Args,
): Promise<{ onProgress: (file: string, loaded: number, total: number) => void; stop(): void }> {
  if (args.quiet) return { onProgress() {}, stop() {} };
  const imported = process.stderr.isTTY ? await importIfInstalled('cli-progress', () => import('cli-progress')) : null;
  if (imported) {
    const cliProgress = ((imported as { default?: typeof imported }).default ?? imported) as typeof imported;
    const bars = new cliProgress.MultiBar(
      {
        format: 'download {file} [{bar}] {percentage}% | {loadedMiB}/{totalMiB} MiB | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    const byFile = new Map<string, ReturnType<typeof bars.create>>();
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    return {
      onProgress(file, loaded, total) {
        let bar = byFile.get(file);
        if (!bar)
          byFile.set(file, (bar = bars.create(total || 1, 0, { file, loadedMiB: '0.0', totalMiB: mib(total) })));
        bar.update(loaded, { file, loadedMiB: mib(loaded), totalMiB: mib(total) });
      },
      stop: () => bars.stop(),
    };
  }
  const last = new Map<string, number>();
  return {
    onProgress(file, loaded, total) {
      const pct = total ? Math.floor((100 * loaded) / total) : 0;
      if (pct >= (last.get(file) ?? -10) + 10 || loaded === total) {
        last.set(file, pct);
        log(args, `downloading ${file}: ${pct}% of ${(total / 2 ** 20).toFixed(1)} MiB`);
      }
    },
    stop() {},
  };
}

async function loadModel(args: Args): Promise<XcodecModelSync> {
  const started = performance.now();
  let lastPct = -1;
  const download = await downloadProgress(args);
  const model = await XcodecModelSync.fromPretrained(args.model, {
    hub: { onProgress: download.onProgress },
    numThreads: args.threads,
    convAlgorithm: args.convAlgorithm,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct >= lastPct + 10 || done === total) {
        lastPct = pct;
        log(args, `loading ${args.model}: ${pct}%`);
      }
    },
  }).finally(() => download.stop());
  log(
    args,
    `model loaded in ${((performance.now() - started) / 1000).toFixed(2)} s (${model.config.xcodec2 ? 'X-Codec 2, wav2vec2-bert' : model.config.semantic.modelType}, ` +
      `${model.config.numQuantizers} quantizers, bandwidths ${model.config.targetBandwidths.join('/')} kbps, ${model.simdFlavour} SIMD)`,
  );
  return model;
}

/** Audio (in all batch items) from which the CLI logs encode and decode progress. */
const PROGRESS_SECONDS = 60;

/** An onProgress that logs every 10% of the work when `long` (short calls stay quiet). */
function progressLog(args: Args, what: string, unit: string, long: boolean): (done: number, total: number) => void {
  let lastPct = 0;
  return (done, total) => {
    const pct = Math.floor((100 * done) / total);
    if (long && pct >= lastPct + 10 && done < total) {
      lastPct = pct;
      log(args, `${what}: ${pct}% (${done} of ${total} ${unit})`);
    }
  };
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'tokenize') {
    const { o, queue } = parseTokenizeArgs(argv);
    return queue ? tokenizeOnQueue(o, queue) : tokenize(o);
  }
  if (argv[0] === 'worker') {
    const code = await runQueueWorker(parseWorkerArgs(argv));
    // a worker that gave up on a gone Redis still has its reconnect timers: end the process here
    process.exit(code);
  }
  const args = parseArgs(argv);
  if (args.command === '' || args.command === 'help' || args.command === '--help' || args.command === '-h') {
    process.stdout.write(USAGE);
    return args.command === '' ? 2 : 0;
  }
  if (args.command === 'demo') {
    args.input ??= DEFAULT_SAMPLE;
    args.output ??= 'xcodec-demo-reconstruction.wav';
    if (args.model === DEFAULT_MODEL) {
      log(
        args,
        'demo: the embedded default model has RANDOM weights (a tiny test checkpoint): the reconstruction sounds like noise.',
      );
      log(args, '      For real audio run with --model <dir of hf-audio/xcodec-hubert-librispeech> (see README).');
    }
    args.command = 'roundtrip';
  }
  const model = await loadModel(args);
  try {
    if (args.command === 'encode') {
      const { input, output } = requireIO(args);
      if (extname(output).toLowerCase() !== '.npy')
        throw new XcodecInputError(`encode writes codes as .npy; got -o ${output}`);
      const { x } = await loadInput(input, model, args.model, args);
      const t = performance.now();
      const long = x.dims[0] * x.dims[2] > PROGRESS_SECONDS * model.config.sampleRate;
      const { audioCodes } = model.encode(x, {
        bandwidth: args.bandwidth,
        onProgress: progressLog(args, 'encoding', 'steps', long),
      });
      log(
        args,
        `encoded ${(x.dims[2] / model.config.sampleRate).toFixed(2)} s in ${((performance.now() - t) / 1000).toFixed(2)} s`,
      );
      writeAtomic(output, writeNpy(audioCodes.data, audioCodes.dims));
      process.stdout.write(
        `audio_codes (${audioCodes.dims.join(', ')}) at ${args.bandwidth ?? Math.max(...model.config.targetBandwidths)} kbps -> ${output}\n`,
      );
      return 0;
    }
    if (args.command === 'decode') {
      const { input, output } = requireIO(args);
      const codes = readCodes(input);
      if (output === '-') return await decodeToStream(model, codes, process.stdout, { rescale: args.rescale });
      const t = performance.now();
      const long = codes.dims[0] * codes.dims[2] * model.config.hopLength > PROGRESS_SECONDS * model.config.sampleRate;
      const { audioValues } = model.decode(codes, { onProgress: progressLog(args, 'decoding', 'frames', long) });
      log(args, `decoded ${codes.dims[2]} frames in ${((performance.now() - t) / 1000).toFixed(2)} s`);
      writeAudio(output, audioValues, null, model.config.sampleRate, args.rescale);
      process.stdout.write(`audio_values (${audioValues.dims.join(', ')}) -> ${output}\n`);
      return 0;
    }
    if (args.command === 'roundtrip') {
      const { input, output } = requireIO(args);
      const { x, lengths } = await loadInput(input, model, args.model, args);
      const t = performance.now();
      const { audioCodes, audioValues } = model.forward(x, { bandwidth: args.bandwidth });
      const secs = x.dims[2] / model.config.sampleRate;
      const took = (performance.now() - t) / 1000;
      const bw = args.bandwidth ?? Math.max(...model.config.targetBandwidths);
      process.stdout.write(
        `audio_codes (${audioCodes.dims.join(', ')}) at ${bw} kbps (${audioCodes.dims[1]} quantizers)\n`,
      );
      writeAudio(output, audioValues, lengths, model.config.sampleRate, args.rescale);
      process.stdout.write(
        `reconstruction of ${secs.toFixed(2)} s written to ${output} (encode + decode took ${took.toFixed(2)} s, ${(secs / took).toFixed(1)}x real time)\n`,
      );
      return 0;
    }
    throw new XcodecInputError(`unknown command "${args.command}"\n\n${USAGE}`);
  } finally {
    model.dispose?.();
  }
}

/** Whether this module is the process's main script, also when it is run through a link (npm's bin). */
function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      if (e instanceof XcodecError) {
        process.stderr.write(`xcodec: ${e.name}: ${e.message}\n`);
        process.exitCode = 1;
      } else {
        process.stderr.write(`xcodec: unexpected error: ${(e as Error).stack ?? e}\n`);
        process.exitCode = 70;
      }
    },
  );
}
