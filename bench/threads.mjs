// Thread scaling: encode and decode time for 10 s of audio with 1 and N threads in Node, and the speedup.
//
//   node bench/threads.mjs [--model DIR] [--seconds 10] [--runs 5] [--threads 1,2] [--json]
//
// The model: --model DIR, else the full-size checkpoint in $XCODEC_FULL_MODEL, /tmp/xc-full (made by
// `node scripts/generate-weights.mjs ../shared/fixtures/full-size/hubert /tmp/xc-full`) or the ONNX peer
// benchmark's cache (~/.cache/xcodec-wasm/onnx-hubert), else the tiny-hubert fixture (tiny widths: its
// calls are too small to gain much from threads; the number printed says which model ran).
// Each thread count runs in its own process, so one run's JIT state or memory does not affect another.
// Before the timings, a calibration runs the same pure-JS loop on 1 and N workers: on a machine shared
// with other jobs it shows how many cores were really free (the ceiling for any speedup).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const log = (m) => process.stderr.write(`${m}\n`);

if (argv[0] === '--child') {
  await child(argv[1], Number(argv[2]), Number(argv[3]), Number(argv[4]));
} else if (argv[0] === '--calibrate') {
  await calibrate(Number(argv[1]));
} else {
  await main();
}

function findModel() {
  const given = opt('model', null);
  if (given) return resolve(given);
  const candidates = [
    process.env.XCODEC_FULL_MODEL,
    '/tmp/xc-full',
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'xcodec-wasm', 'onnx-hubert'),
  ].filter(Boolean);
  for (const dir of candidates)
    if (existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.safetensors'))) return dir;
  return join(root, 'test', 'fixtures', 'tiny-hubert');
}

async function main() {
  const seconds = Number(opt('seconds', 10));
  const runs = Number(opt('runs', 5));
  const threads = opt('threads', '1,2').split(',').map(Number);
  const model = findModel();
  log(`model: ${model}`);
  log(`audio: ${seconds} s at 16 kHz; ${runs} timed runs after one warm-up; median reported`);
  const cal = JSON.parse(
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--calibrate', String(Math.max(...threads))], {
      encoding: 'utf8',
    }),
  );
  log(
    `calibration (pure JS loop on ${cal.threads} workers vs 1): ${cal.speedup.toFixed(2)}x -> about ${cal.speedup.toFixed(1)} free cores`,
  );
  const results = {};
  for (const t of threads) {
    log(`running ${t} thread(s) ...`);
    const out = execFileSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--child', model, String(t), String(seconds), String(runs)],
      { encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    results[t] = JSON.parse(out.trim().split('\n').pop());
  }
  const base = results[threads[0]];
  const rows = threads.map((t) => {
    const r = results[t];
    return {
      threads: t,
      usedThreads: r.numThreads,
      encodeMs: r.encodeMs,
      decodeMs: r.decodeMs,
      encodeSpeedup: base.encodeMs / r.encodeMs,
      decodeSpeedup: base.decodeMs / r.decodeMs,
    };
  });
  if (argv.includes('--json')) {
    console.log(JSON.stringify({ model, seconds, runs, calibration: cal, rows }));
    return;
  }
  console.log(`model ${model}, ${seconds} s of audio, median of ${runs}`);
  console.log('threads  encode ms  decode ms  encode speedup  decode speedup');
  for (const r of rows) {
    console.log(
      `${String(r.usedThreads).padStart(7)}  ${r.encodeMs.toFixed(1).padStart(9)}  ${r.decodeMs.toFixed(1).padStart(9)}  ` +
        `${r.encodeSpeedup.toFixed(2).padStart(13)}x  ${r.decodeSpeedup.toFixed(2).padStart(13)}x`,
    );
  }
  console.log(`free cores during calibration: ${cal.speedup.toFixed(2)} (speedup ceiling)`);
}

async function child(model, threads, seconds, runs) {
  const { XcodecModelSync } = await import('../dist/node/index.js');
  const m = await XcodecModelSync.fromPretrained(model, { numThreads: threads });
  const sr = m.config.sampleRate;
  const N = Math.round(seconds * sr);
  const x = new Float32Array(N);
  let s = 12345;
  for (let i = 0; i < N; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // a few tones and noise: enough structure that codes vary
    x[i] =
      0.3 * Math.sin((2 * Math.PI * 220 * i) / sr) +
      0.2 * Math.sin((2 * Math.PI * 1375 * i) / sr + Math.sin(i / 4000)) +
      0.05 * (s / 2 ** 32 - 0.5);
  }
  const enc = [];
  const dec = [];
  let codes = m.encode(x).audioCodes;
  m.decode(codes);
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    codes = m.encode(x).audioCodes;
    enc.push(performance.now() - t0);
    t0 = performance.now();
    m.decode(codes);
    dec.push(performance.now() - t0);
  }
  const median = (a) => {
    const v = [...a].sort((p, q) => p - q);
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const numThreads = m.rt?.numThreads ?? threads;
  m.dispose();
  console.log(
    JSON.stringify({ numThreads, encodeMs: median(enc), decodeMs: median(dec), encodeRuns: enc, decodeRuns: dec }),
  );
}

async function calibrate(n) {
  const { Worker } = await import('node:worker_threads');
  const src = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => { let x = 0; for (let i = 0; i < 2e8; i++) x += i * 1e-9; parentPort.postMessage(x); });`;
  const time = async (k) => {
    const ws = Array.from({ length: k }, () => new Worker(src, { eval: true }));
    await Promise.all(ws.map((w) => new Promise((r) => w.once('online', r))));
    const t0 = performance.now();
    await Promise.all(
      ws.map(
        (w) =>
          new Promise((r) => {
            w.once('message', r);
            w.postMessage(0);
          }),
      ),
    );
    const dt = performance.now() - t0;
    await Promise.all(ws.map((w) => w.terminate()));
    return dt;
  };
  const one = await time(1);
  const many = await time(n);
  console.log(JSON.stringify({ threads: n, oneMs: one, manyMs: many, speedup: (n * one) / many }));
}
