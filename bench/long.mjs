// Long audio: full-size X-Codec (HuBERT) encodes of 30 s, 1, 3 and 10 minutes in one process, each with
// its time, seconds per audio second, GFLOP/s (bench/flops.mjs's count, the attention's 4 T^2 H per
// layer included), % of the SIMD peak probed on the same thread count right before and after it
// (bench/peak.mjs), and the WebAssembly memory after it (lengths run in increasing order and the memory
// never shrinks, so that is each call's peak).
//
//   node bench/long.mjs [--minutes 0.5,1,3,10] [--threads 2] [--flavour auto|simd|relaxed] [--config hubert|wavlm] [--json]
//
// Input: test/fixtures/audio/music.wav (20 s) looped to each length; the checkpoint is the random,
// well-scaled full-size one of bench/fullsize.mjs ($XCODEC_FULLSIZE_CACHE, default os.tmpdir()).
// Relaxed SIMD on Node 20 needs the flag, so the child runs with --experimental-wasm-relaxed-simd.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xcodecFlops } from './flops.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const MiB = 2 ** 20;
const log = (m) => process.stderr.write(`${m}\n`);
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const PROGRESS_EVERY_S = 60;

if (argv.includes('--child')) await child();
else await main();

async function main() {
  const minutes = opt('minutes', '0.5,1,3,10').split(',').map(Number);
  const threads = Number(opt('threads', '2'));
  const flavour = opt('flavour', 'auto');
  const config = opt('config', 'hubert');
  if (
    minutes.some((m) => !(m > 0)) ||
    !(Number.isInteger(threads) && threads >= 1) ||
    !['auto', 'simd', 'relaxed'].includes(flavour) ||
    !['hubert', 'wavlm'].includes(config)
  ) {
    log(
      'accepted: --minutes (positive numbers, comma separated), --threads (an integer >= 1), --flavour auto|simd|relaxed, --config hubert|wavlm',
    );
    process.exit(2);
  }
  const cache = process.env.XCODEC_FULLSIZE_CACHE || tmpdir();
  const { ensureCheckpoint } = await import('../scripts/generate-weights.mjs');
  const configDir = join(root, '..', 'shared', 'fixtures', 'full-size', config);
  const dir = join(cache, `xcodec-wasm-fullsize-${config}-0`);
  await ensureCheckpoint(configDir, dir, { seed: 0, log });
  const r = spawnSync(
    process.execPath,
    [
      RELAXED_FLAG,
      fileURLToPath(import.meta.url),
      '--child',
      dir,
      String(threads),
      flavour,
      minutes.sort((a, b) => a - b).join(','),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) {
    log(`the encoding child failed (status ${r.status})`);
    process.exit(1);
  }
  const result = JSON.parse(r.stdout.trim().split('\n').pop());
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const rows = result.runs.map((x) => {
    const flops = xcodecFlops(cfg, x.samples).encode;
    const gflops = flops / x.seconds / 1e9;
    const peak = (x.peakBefore + x.peakAfter) / 2;
    return {
      audio: x.label,
      'encode s': +x.seconds.toFixed(1),
      's per audio s': +(x.seconds / x.audioSeconds).toFixed(3),
      GFLOP: +(flops / 1e9).toFixed(0),
      'GFLOP/s': +gflops.toFixed(1),
      'peak GFLOP/s': +peak.toFixed(1),
      '% peak': +((100 * gflops) / peak).toFixed(0),
      'WASM MiB': +(x.wasmBytes / MiB).toFixed(0),
    };
  });
  console.log(
    `\nlong audio: full-size ${config}, ${threads} thread(s), ${result.flavour} SIMD, Node ${process.version}; peak: bench/peak.mjs on ${threads} thread(s) before and after each encode (mean)`,
  );
  console.table(rows);
  const first = rows[0];
  for (const x of rows.slice(1))
    console.log(
      `${x.audio}: ${(x['s per audio s'] / first['s per audio s']).toFixed(2)}x the time per audio second of ${first.audio}`,
    );
  if (argv.includes('--json'))
    console.log(JSON.stringify({ config, threads, flavour: result.flavour, node: process.version, rows }));
}

async function child() {
  const [dir, threadsArg, flavour, minutesArg] = argv.slice(argv.indexOf('--child') + 1);
  const threads = Number(threadsArg);
  const { XcodecModelSync } = await import('../dist/node/index.js');
  const { loadAudio } = await import('../dist/audio.js');
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: threads, simd: flavour });
  const sr = model.config.sampleRate;
  const music = await loadAudio(new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'audio', 'music.wav'))), {
    sampleRate: sr,
    fileName: 'music.wav',
  });
  const bandwidth = Math.max(...model.config.targetBandwidths);
  const loop = (n) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = music[i % music.length];
    return { data: x, dims: [1, 1, n] };
  };
  const peak = () =>
    JSON.parse(
      execFileSync(process.execPath, [RELAXED_FLAG, join(here, 'peak.mjs'), model.simdFlavour, String(threads)], {
        encoding: 'utf8',
      }),
    ).gflopsN;
  model.encode(loop(sr), { bandwidth }); // warm-up
  const runs = [];
  for (const m of minutesArg.split(',').map(Number)) {
    const samples = Math.round(m * 60 * sr);
    const input = loop(samples);
    const peakBefore = peak();
    const label = m < 1 ? `${m * 60} s` : `${m} min`;
    const t0 = performance.now();
    let shown = t0;
    // A 30-minute encode takes hours here: a line at most every PROGRESS_EVERY_S says how far it is
    // (a step is one transformer layer, acoustic window or quantizer pass; steps are not equal in time).
    const onProgress = (done, total) => {
      const now = performance.now();
      if (now - shown < PROGRESS_EVERY_S * 1000 && done < total) return;
      shown = now;
      log(`  ${label}: step ${done} of ${total} at ${((now - t0) / 1000).toFixed(0)} s`);
    };
    model.encode(input, { bandwidth, onProgress });
    const seconds = (performance.now() - t0) / 1000;
    const peakAfter = peak();
    runs.push({
      label,
      samples,
      audioSeconds: samples / sr,
      seconds,
      peakBefore,
      peakAfter,
      wasmBytes: model.wasmMemoryBytes,
    });
    log(
      `${label}: encode ${seconds.toFixed(1)} s, ${(model.wasmMemoryBytes / MiB).toFixed(0)} MiB of WebAssembly memory`,
    );
  }
  model.dispose();
  console.log(JSON.stringify({ flavour: model.simdFlavour, runs }));
}
