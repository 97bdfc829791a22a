#!/usr/bin/env node
// xcodec: encode audio to X-Codec codes and back, from the command line.
//   xcodec encode <audio|in.npy> -o <codes.npy> [--model DIR] [--bandwidth KBPS]
//   xcodec decode <codes.npy> -o <out.wav|out.npy> [--model DIR] [--rescale]
//   xcodec roundtrip <in> -o <out.wav> [--model DIR] [--bandwidth KBPS] [--rescale]
//   xcodec demo [-o out.wav]      (embedded default model and sample; works offline)

import { readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AudioSource, loadAudio } from '../io/audio.js';
import { readNpy, writeNpy } from '../io/npy.js';
import { encodeWav } from '../io/wav.js';
import { type CodesInput, type FloatTensor, XcodecError, XcodecFeatureExtractor, XcodecInputError, XcodecModel } from './index.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_MODEL = join(packageRoot, 'weights', 'default');
export const DEFAULT_SAMPLE = join(packageRoot, 'weights', 'sample_speech_en.flac');

const USAGE = `usage:
  xcodec encode <audio|in.npy> -o <codes.npy> [--model DIR] [--bandwidth KBPS]
  xcodec decode <codes.npy> -o <out.wav|out.npy> [--model DIR] [--rescale]
  xcodec roundtrip <audio|in.npy> -o <out.wav|out.npy> [--model DIR] [--bandwidth KBPS] [--rescale]
  xcodec demo [-o out.wav] [--model DIR] [--bandwidth KBPS]

audio: WAV, FLAC, MP3, Ogg Vorbis or Ogg Opus (by content, not extension); it is read like the
  authors' pipeline: the mean over channels, then torchaudio's resampler to the model's rate.

options:
  --model DIR        checkpoint directory (config.json, model.safetensors, preprocessor_config.json),
                     e.g. a local copy of hf-audio/xcodec-hubert-librispeech. Default: the embedded
                     demo model (random weights: its output is noise).
  --bandwidth KBPS   one of the model's target_bandwidths (default: the highest)
  --threads N        worker threads (default: available cores)
  --rescale          WAV output: scale to a 0.99 peak instead of clamping to +-0.99
  -q, --quiet        no progress on stderr
`;

interface Args {
  command: string;
  input?: string;
  output?: string;
  model: string;
  bandwidth?: number;
  threads?: number;
  rescale: boolean;
  quiet: boolean;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { command: argv[0] ?? '', model: DEFAULT_MODEL, rescale: false, quiet: false };
  const positional: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new XcodecInputError(`${a} needs a value\n\n${USAGE}`);
      return v;
    };
    if (a === '-o' || a === '--output') args.output = value();
    else if (a === '--model') args.model = value();
    else if (a === '--bandwidth') {
      const v = value();
      args.bandwidth = Number(v);
      if (!Number.isFinite(args.bandwidth)) throw new XcodecInputError(`--bandwidth ${v} is not a number (kbps)`);
    } else if (a === '--threads') {
      const v = value();
      args.threads = Number(v);
      if (!Number.isInteger(args.threads) || args.threads < 1) throw new XcodecInputError(`--threads ${v} is not accepted; accepted: an integer >= 1`);
    } else if (a === '--rescale') args.rescale = true;
    else if (a === '-q' || a === '--quiet') args.quiet = true;
    else if (a.startsWith('-')) throw new XcodecInputError(`unknown option ${a}\n\n${USAGE}`);
    else positional.push(a);
  }
  if (positional.length > 1) throw new XcodecInputError(`expected one input file, got ${positional.length}: ${positional.join(' ')}`);
  args.input = positional[0];
  return args;
}

function log(args: Args, msg: string): void {
  if (!args.quiet) process.stderr.write(`${msg}\n`);
}

/** Writes through a temporary file and a rename, so a failure never leaves a half-written output. */
function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* nothing to clean */ }
    throw new XcodecInputError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

function readInputFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new XcodecInputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Audio file or .npy -> input_values [B, 1, N] plus the unpadded lengths. */
async function loadInput(path: string, model: XcodecModel, modelDir: string, args: Args): Promise<{ x: FloatTensor; lengths: number[] }> {
  const ext = extname(path).toLowerCase();
  const fe = await XcodecFeatureExtractor.fromPretrained(modelDir).catch(() =>
    new XcodecFeatureExtractor({ featureSize: 1, samplingRate: model.config.sampleRate, paddingValue: 0, hopLength: model.config.hopLength, paddingSide: 'right' }));
  const bytes = readInputFile(path);
  if (ext === '.npy') {
    const a = readNpy(bytes);
    const data = a.data instanceof Float32Array ? a.data : a.data instanceof Float64Array ? Float32Array.from(a.data) : null;
    if (!data) throw new XcodecInputError(`${path}: dtype ${a.dtype} is not audio; accepted: float32 or float64`);
    if (a.shape.length === 3 && a.shape[1] === 1) return { x: { data, dims: a.shape }, lengths: Array(a.shape[0]).fill(a.shape[2]) };
    if (a.shape.length === 1) return { x: fe.call(data, { samplingRate: fe.config.samplingRate }).inputValues, lengths: [data.length] };
    throw new XcodecInputError(`${path}: shape (${a.shape.join(', ')}) is not accepted; accepted: (B, 1, N) input_values or (N,) mono samples`);
  }
  let source: AudioSource | null = null;
  const mono = await loadAudio(bytes, { sampleRate: model.config.sampleRate, fileName: path, onSource: (s) => { source = s; } });
  const { format, sampleRate, channels, samples } = source!;
  log(args, `read ${path}: ${format}, ${channels} channel(s), ${sampleRate} Hz, ${(samples / sampleRate).toFixed(2)} s` +
    (sampleRate !== model.config.sampleRate ? ` (resampled to ${model.config.sampleRate} Hz)` : '') + (channels > 1 ? ' (downmixed by the mean)' : ''));
  return { x: fe.call(mono, { samplingRate: fe.config.samplingRate }).inputValues, lengths: [mono.length] };
}

function writeAudio(path: string, audio: FloatTensor, lengths: number[] | null, sampleRate: number, rescale: boolean): void {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    writeAtomic(path, writeNpy(audio.data, audio.dims));
    return;
  }
  if (ext !== '.wav') throw new XcodecInputError(`output ${path}: accepted extensions are .wav and .npy`);
  const [B, , N] = audio.dims;
  if (B !== 1) throw new XcodecInputError(`output ${path}: a WAV file holds one signal but the batch has ${B}; write .npy instead`);
  const n = lengths ? Math.min(lengths[0], N) : N;
  writeAtomic(path, encodeWav(audio.data.subarray(0, n), sampleRate, { rescale }));
}

function readCodes(path: string): CodesInput {
  if (extname(path).toLowerCase() !== '.npy') throw new XcodecInputError(`${path}: codes must be a .npy file (int64, shape (B, nq, T))`);
  const a = readNpy(readInputFile(path));
  if (!(a.data instanceof BigInt64Array || a.data instanceof Int32Array)) {
    throw new XcodecInputError(`${path}: dtype ${a.dtype} is not accepted for codes; accepted: int64 or int32`);
  }
  if (a.shape.length !== 3) throw new XcodecInputError(`${path}: shape (${a.shape.join(', ')}) is not accepted; codes are (B, nq, T)`);
  return { data: a.data, dims: a.shape };
}

async function loadModel(args: Args): Promise<XcodecModel> {
  const started = performance.now();
  let lastPct = -1;
  const model = await XcodecModel.fromPretrained(args.model, {
    numThreads: args.threads,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct >= lastPct + 10 || done === total) {
        lastPct = pct;
        log(args, `loading ${args.model}: ${pct}%`);
      }
    },
  });
  log(args, `model loaded in ${((performance.now() - started) / 1000).toFixed(2)} s (${model.config.semantic.modelType}, ` +
    `${model.config.numQuantizers} quantizers, bandwidths ${model.config.targetBandwidths.join('/')} kbps, ${model.simdFlavour} SIMD)`);
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

function requireIO(args: Args): { input: string; output: string } {
  if (!args.input) throw new XcodecInputError(`${args.command}: missing input file\n\n${USAGE}`);
  if (!args.output) throw new XcodecInputError(`${args.command}: missing -o <output>\n\n${USAGE}`);
  return { input: args.input, output: args.output };
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.command === '' || args.command === 'help' || args.command === '--help' || args.command === '-h') {
    process.stdout.write(USAGE);
    return args.command === '' ? 2 : 0;
  }
  if (args.command === 'demo') {
    args.input ??= DEFAULT_SAMPLE;
    args.output ??= 'xcodec-demo-reconstruction.wav';
    if (args.model === DEFAULT_MODEL) {
      log(args, 'demo: the embedded default model has RANDOM weights (a tiny test checkpoint): the reconstruction sounds like noise.');
      log(args, '      For real audio run with --model <dir of hf-audio/xcodec-hubert-librispeech> (see README).');
    }
    args.command = 'roundtrip';
  }
  const model = await loadModel(args);
  try {
    if (args.command === 'encode') {
      const { input, output } = requireIO(args);
      if (extname(output).toLowerCase() !== '.npy') throw new XcodecInputError(`encode writes codes as .npy; got -o ${output}`);
      const { x } = await loadInput(input, model, args.model, args);
      const t = performance.now();
      const long = x.dims[0] * x.dims[2] > PROGRESS_SECONDS * model.config.sampleRate;
      const { audioCodes } = model.encode(x, { bandwidth: args.bandwidth, onProgress: progressLog(args, 'encoding', 'steps', long) });
      log(args, `encoded ${(x.dims[2] / model.config.sampleRate).toFixed(2)} s in ${((performance.now() - t) / 1000).toFixed(2)} s`);
      writeAtomic(output, writeNpy(audioCodes.data, audioCodes.dims));
      process.stdout.write(`audio_codes (${audioCodes.dims.join(', ')}) at ${args.bandwidth ?? model.config.targetBandwidths.at(-1)} kbps -> ${output}\n`);
      return 0;
    }
    if (args.command === 'decode') {
      const { input, output } = requireIO(args);
      const codes = readCodes(input);
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
      const bw = args.bandwidth ?? model.config.targetBandwidths.at(-1);
      process.stdout.write(`audio_codes (${audioCodes.dims.join(', ')}) at ${bw} kbps (${audioCodes.dims[1]} quantizers)\n`);
      writeAudio(output, audioValues, lengths, model.config.sampleRate, args.rescale);
      process.stdout.write(`reconstruction of ${secs.toFixed(2)} s written to ${output} (encode + decode took ${took.toFixed(2)} s, ${(secs / took).toFixed(1)}x real time)\n`);
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
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    if (e instanceof XcodecError) {
      process.stderr.write(`xcodec: ${e.name}: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`xcodec: unexpected error: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 70;
    }
  });
}
