// Dataset throughput: `xcodec tokenize` over many short files against the single-call encode rate of
// `npm run bench` (bench/peer.mjs: one 10 s encode with all threads), measured side by side in this run:
// single calls, tokenize, single calls again. This host's speed drifts by up to 2x over minutes, so
// the ratio is against the median of every single-call encode before and after (and its spread is shown).
//
//   node bench/tokenize.mjs [--files 200] [--min 1] [--max 12] [--jobs 2] [--repeat 1] [--single-runs 5] [--json]
//
// Files are cut from the authors' music and speech (test/fixtures/audio) at lengths spread evenly over
// [min, max] seconds, written as 16 kHz WAVs. The model is the full-size HuBERT checkpoint that
// `npm run bench` uses (its cache; made on first use by ../shared/tools/reference/export_onnx.py).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeWav, loadAudio } from '../dist/audio.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const files = Number(opt('files', 200));
const minS = Number(opt('min', 1));
const maxS = Number(opt('max', 12));
const jobs = Number(opt('jobs', 2));
const repeat = Number(opt('repeat', 1));
const singleRuns = Number(opt('single-runs', 5));
const log = (m) => process.stderr.write(`${m}\n`);

const shared = resolve(root, '..', 'shared');
const model = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'xcodec-wasm', 'onnx-hubert');
if (!existsSync(join(model, 'model.safetensors'))) {
  log(
    `no full-size checkpoint in ${model}: making it with export_onnx.py (needs python3-torch python3-numpy python3-torchaudio)`,
  );
  const r = spawnSync(
    '/usr/bin/python3',
    [join(shared, 'tools', 'reference', 'export_onnx.py'), join(shared, 'fixtures', 'full-size', 'hubert'), model],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'xcodec-bench-tokenize-'));
const dataDir = join(work, 'in');
mkdirSync(dataDir);
const sources = await Promise.all(
  ['music.wav', 'speech_en.flac'].map(async (f) =>
    loadAudio(new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'audio', f))), {
      sampleRate: 16000,
      fileName: f,
    }),
  ),
);
let audioSeconds = 0;
for (let k = 0; k < files; k++) {
  const seconds = minS + ((maxS - minS) * ((k * 37) % files)) / Math.max(1, files - 1);
  const src = sources[k % 2];
  const n = Math.round(seconds * 16000);
  const x = new Float32Array(n);
  const start = (k * 7919) % src.length;
  for (let i = 0; i < n; i++) x[i] = src[(start + i) % src.length];
  writeFileSync(join(dataDir, `clip_${String(k).padStart(4, '0')}.wav`), encodeWav(x, 16000));
  audioSeconds += n / 16000;
}
log(`${files} files, ${audioSeconds.toFixed(0)} s of audio (${minS}-${maxS} s each) in ${dataDir}`);

const threads = Math.min(2, cpus().length);
/** Encode wall times (ms) of `singleRuns` 10 s single calls, after peer.mjs's warm-up run. */
function singleCalls() {
  log(`single call: bench/peer.mjs xcodec, ${threads} threads, 10 s, ${singleRuns} runs ...`);
  const out = execFileSync(
    process.execPath,
    [
      join(here, 'peer.mjs'),
      'xcodec',
      String(threads),
      model,
      join(root, 'test', 'fixtures', 'audio', 'music.wav'),
      '10',
      String(singleRuns),
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop()).encodeMs;
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rate = (ms) => 10 / (ms / 1000);

function tokenizeRun(k) {
  const out = join(work, `out${k}`);
  log(`tokenize: ${files} files, --jobs ${jobs} ...`);
  const t = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'dist', 'node', 'cli.js'),
      'tokenize',
      dataDir,
      '-o',
      out,
      '--model',
      model,
      '--jobs',
      String(jobs),
      '-q',
    ],
    { encoding: 'utf8' },
  );
  const wall = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`tokenize exited ${r.status}: ${r.stderr}`);
  const done = readFileSync(join(out, 'manifest.jsonl'), 'utf8').trim().split('\n').length;
  if (done !== files) throw new Error(`tokenize finished ${done} of ${files} files`);
  rmSync(out, { recursive: true, force: true });
  return { wall, rate: audioSeconds / wall };
}

const rows = [];
const single = [singleCalls()];
for (let k = 0; k < repeat; k++) {
  const t = tokenizeRun(k);
  single.push(singleCalls());
  const around = [...single[k], ...single[k + 1]];
  const mid = rate(median(around));
  const spread = `${rate(Math.max(...around)).toFixed(2)}-${rate(Math.min(...around)).toFixed(2)}`;
  rows.push({
    tokenize_wall_s: +t.wall.toFixed(1),
    tokenize_audio_s_per_s: +t.rate.toFixed(2),
    single_call_audio_s_per_s: +mid.toFixed(2),
    single_call_spread: spread,
    ratio: +(t.rate / mid).toFixed(3),
  });
  log(
    `tokenize ${t.wall.toFixed(1)} s wall = ${t.rate.toFixed(2)} audio s/s; single call ${mid.toFixed(2)} audio s/s (median of ${around.length} encodes before and after, spread ${spread}): ratio ${(t.rate / mid).toFixed(3)}`,
  );
}
rmSync(work, { recursive: true, force: true });
const report = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  files,
  audio_seconds: +audioSeconds.toFixed(1),
  jobs,
  single_threads: threads,
  rows,
};
if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(report)}\n`);
else {
  process.stdout.write(
    `\n${files} files (${audioSeconds.toFixed(0)} s audio), tokenize --jobs ${jobs} vs a single ${threads}-thread call, ${report.cpu}, Node ${process.version}\n`,
  );
  process.stdout.write(
    '| run | tokenize wall s | tokenize audio s/s | single call audio s/s (spread) | ratio (target >= 0.9) |\n|---|---|---|---|---|\n',
  );
  rows.forEach((r, i) =>
    process.stdout.write(
      `| ${i + 1} | ${r.tokenize_wall_s} | ${r.tokenize_audio_s_per_s} | ${r.single_call_audio_s_per_s} (${r.single_call_spread}) | ${r.ratio} |\n`,
    ),
  );
}
