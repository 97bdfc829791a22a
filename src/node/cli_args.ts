// The command line's arguments: the usage text, and each command's flags parsed and checked, every
// bad value a typed error that says what is accepted.

import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONV_ALGORITHMS } from '../api/options.js';
import { XcodecInputError } from '../errors.js';
import type { ConvAlgorithm } from '../model/dac.js';
import { DEFAULT_QUEUE_NAME, type WorkerOptions } from './queue.js';
import type { TokenizeOptions } from './tokenize.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_MODEL = join(packageRoot, 'weights', 'default');
export const DEFAULT_SAMPLE = join(packageRoot, 'weights', 'sample_speech_en.flac');

export const USAGE = `usage:
  xcodec encode <audio|in.npy> -o <codes.npy> [--model DIR] [--bandwidth KBPS] [--conv-algorithm A]
  xcodec decode <codes.npy> -o <out.wav|out.npy|-> [--model DIR] [--rescale] [--conv-algorithm A]
                     (-o -: a WAV streamed to stdout as it decodes: | ffplay -, | aplay)
  xcodec roundtrip <audio|in.npy> -o <out.wav|out.npy> [--model DIR] [--bandwidth KBPS] [--rescale] [--conv-algorithm A]
  xcodec demo [-o out.wav] [--model DIR] [--bandwidth KBPS] [--conv-algorithm A]
  xcodec tokenize <input>... -o OUT_DIR [--model DIR|REPO] [--bandwidth KBPS] [--format codes|yue|llasa]
                  [--dtype int16|int32|int64] [--shard I/N] [--jobs N]
                  [--queue redis://HOST:PORT[/DB] [--queue-name NAME]]
  xcodec worker --queue redis://HOST:PORT[/DB] [--queue-name NAME] [--jobs N] [--threads N]
                [--stalled-interval MS] [--out-root DIR]... [--job-timeout S] [--stop-timeout S]

audio: WAV, FLAC, MP3, Ogg Vorbis or Ogg Opus (by content, not extension); it is read like the
  authors' pipeline: the mean over channels, then torchaudio's resampler to the model's rate.

options:
  --model DIR        checkpoint directory (config.json, model.safetensors, preprocessor_config.json),
                     e.g. a local copy of hf-audio/xcodec-hubert-librispeech. Default: the embedded
                     demo model (random weights: its output is noise).
  --bandwidth KBPS   one of the model's target_bandwidths (default: the highest)
  --threads N        worker threads (default: available cores)
  --conv-algorithm A direct or winograd: how both acoustic halves run their kernel-7 convolutions
                     (default: direct in the encoder, winograd in the decoder; see the README)
  --queue URL        tokenize: enqueue one job per file on this Redis (BullMQ), wait for the
                     workers, then write manifest.jsonl and errors.jsonl. worker: take jobs from it
  --queue-name NAME  the BullMQ queue (default ${DEFAULT_QUEUE_NAME})
  --jobs N           files in flight at once (tokenize, worker; default: available cores, 2 at most)
  --stalled-interval MS  worker: how often to look for jobs a dead worker held (their lock lasts
                     twice this; default 15000)
  --out-root DIR     worker: job outputs must lie in DIR (repeatable); use it whenever Redis is
                     shared, since anyone who can write to it can queue a job
  --job-timeout S    worker: a job that takes longer fails for good (default 3600)
  --stop-timeout S   worker: on SIGINT/SIGTERM, wait this long for held jobs, then end (default 10)
  --rescale          WAV output: scale to a 0.99 peak instead of clamping to +-0.99
  -q, --quiet        no progress on stderr
`;

export interface Args {
  command: string;
  input?: string;
  output?: string;
  model: string;
  bandwidth?: number;
  threads?: number;
  convAlgorithm?: ConvAlgorithm;
  rescale: boolean;
  quiet: boolean;
}

/** The value after flag argv[i], or a typed error naming the flag. */
function flagValue(argv: string[], i: number): string {
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new XcodecInputError(`${argv[i]} needs a value\n\n${USAGE}`);
  return v;
}

function flagNumber(flag: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (integer ? !Number.isInteger(n) || n < 1 : !Number.isFinite(n)) {
    throw new XcodecInputError(
      integer ? `${flag} ${v} is not accepted; accepted: an integer >= 1` : `${flag} ${v} is not a number (kbps)`,
    );
  }
  return n;
}

function flagConvAlgorithm(flag: string, v: string): ConvAlgorithm {
  if (!(CONV_ALGORITHMS as readonly string[]).includes(v)) {
    throw new XcodecInputError(`${flag} ${v} is not accepted; accepted: ${[...CONV_ALGORITHMS].sort().join(', ')}`);
  }
  return v as ConvAlgorithm;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { command: argv[0] ?? '', model: DEFAULT_MODEL, rescale: false, quiet: false };
  const positional: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => flagValue(argv, i++);
    if (a === '-o' || a === '--output') args.output = value();
    else if (a === '--model') args.model = value();
    else if (a === '--bandwidth') args.bandwidth = flagNumber(a, value(), false);
    else if (a === '--threads') args.threads = flagNumber(a, value(), true);
    else if (a === '--conv-algorithm') args.convAlgorithm = flagConvAlgorithm(a, value());
    else if (a === '--rescale') args.rescale = true;
    else if (a === '-q' || a === '--quiet') args.quiet = true;
    else if (a.startsWith('-')) throw new XcodecInputError(`unknown option ${a}\n\n${USAGE}`);
    else positional.push(a);
  }
  if (positional.length > 1)
    throw new XcodecInputError(`expected one input file, got ${positional.length}: ${positional.join(' ')}`);
  args.input = positional[0];
  return args;
}

export function requireIO(args: Args): { input: string; output: string } {
  if (!args.input) throw new XcodecInputError(`${args.command}: missing input file\n\n${USAGE}`);
  if (!args.output) throw new XcodecInputError(`${args.command}: missing -o <output>\n\n${USAGE}`);
  return { input: args.input, output: args.output };
}

/** `xcodec tokenize` options: several inputs and its own flags. */
export function parseTokenizeArgs(argv: string[]): { o: TokenizeOptions; queue?: { url: string; name: string } } {
  const o: TokenizeOptions = {
    inputs: [],
    outDir: '',
    model: DEFAULT_MODEL,
    format: 'codes',
    dtype: 'int16',
    jobs: Math.min(2, availableParallelism()),
    quiet: false,
  };
  let queue: string | undefined;
  let queueName = DEFAULT_QUEUE_NAME;
  let jobsGiven = false;
  const fraction = (flag: string, v: string) => {
    const m = /^(\d+)\/(\d+)$/.exec(v);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
      throw new XcodecInputError(`${flag} ${v} is not accepted; accepted: I/N with 0 <= I < N, e.g. 0/4`);
    return { index: Number(m[1]), count: Number(m[2]) };
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => flagValue(argv, i++);
    if (a === '-o' || a === '--output') o.outDir = value();
    else if (a === '--model') o.model = value();
    else if (a === '--bandwidth') o.bandwidth = flagNumber(a, value(), false);
    else if (a === '--format') {
      const v = value();
      if (v !== 'codes' && v !== 'yue' && v !== 'llasa')
        throw new XcodecInputError(
          `--format ${v} is not accepted; accepted: codes, yue, llasa (X-Codec 2's speech tokens)`,
        );
      o.format = v;
    } else if (a === '--dtype') {
      const v = value();
      if (v !== 'int16' && v !== 'int32' && v !== 'int64')
        throw new XcodecInputError(`--dtype ${v} is not accepted; accepted: int16, int32, int64`);
      o.dtype = v;
    } else if (a === '--shard') o.shard = fraction(a, value());
    else if (a === '--worker') o.worker = fraction(a, value());
    else if (a === '--jobs') {
      o.jobs = flagNumber(a, value(), true);
      jobsGiven = true;
    } else if (a === '--threads') o.threads = flagNumber(a, value(), true);
    else if (a === '--queue') queue = value();
    else if (a === '--queue-name') queueName = value();
    else if (a === '-q' || a === '--quiet') o.quiet = true;
    else if (a.startsWith('-')) throw new XcodecInputError(`unknown option ${a}\n\n${USAGE}`);
    else o.inputs.push(a);
  }
  if (!o.outDir) throw new XcodecInputError(`tokenize: missing -o OUT_DIR\n\n${USAGE}`);
  if (o.inputs.length === 0)
    throw new XcodecInputError(`tokenize: no inputs (files, directories or .jsonl manifests)\n\n${USAGE}`);
  if (queue !== undefined && (jobsGiven || o.threads !== undefined)) {
    throw new XcodecInputError(
      'tokenize --queue: --jobs and --threads belong to `xcodec worker` (the workers encode; this command only enqueues and waits)',
    );
  }
  return { o, queue: queue === undefined ? undefined : { url: queue, name: queueName } };
}

/** `xcodec worker` options. */
export function parseWorkerArgs(argv: string[]): WorkerOptions {
  const w: Partial<WorkerOptions> & { name: string; jobs: number; quiet: boolean } = {
    name: DEFAULT_QUEUE_NAME,
    jobs: Math.min(2, availableParallelism()),
    quiet: false,
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const value = () => flagValue(argv, i++);
    if (a === '--queue') w.url = value();
    else if (a === '--queue-name') w.name = value();
    else if (a === '--jobs') w.jobs = flagNumber(a, value(), true);
    else if (a === '--threads') w.threads = flagNumber(a, value(), true);
    else if (a === '--stalled-interval') w.stalledIntervalMs = flagNumber(a, value(), true);
    else if (a === '--out-root') (w.outRoots ??= []).push(value());
    else if (a === '--job-timeout') w.jobTimeoutS = flagNumber(a, value(), true);
    else if (a === '--stop-timeout') w.stopTimeoutS = flagNumber(a, value(), true);
    else if (a === '-q' || a === '--quiet') w.quiet = true;
    else
      throw new XcodecInputError(
        `worker: ${a.startsWith('-') ? `unknown option ${a}` : `unexpected argument ${a}`}\n\n${USAGE}`,
      );
  }
  if (w.url === undefined) throw new XcodecInputError(`worker: missing --queue redis://HOST:PORT\n\n${USAGE}`);
  return w as WorkerOptions;
}
