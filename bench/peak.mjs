// Measured WASM SIMD peak on this machine: independent f32x4 multiply-add chains (assembly/peak.ts),
// on 1 thread and on N threads at once. `node [--experimental-wasm-relaxed-simd] bench/peak.mjs <simd|relaxed> [N]`
// prints {"flavour", "gflops1", "gflopsN", "threads"} as JSON.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Runtime } from '../dist/backend/runtime.js';

function probe(flavour, seconds) {
  const rt = new Runtime(flavour);
  const k = rt.k;
  k.peak_madd(200000, 1); // let V8 tier the function up
  const per = k.peak_madd_flops_per_iteration();
  let iters = 1 << 20;
  for (;;) {
    const t = performance.now();
    k.peak_madd(iters, 1);
    const dt = (performance.now() - t) / 1000;
    if (dt > seconds) return { gflops: (iters * per) / dt / 1e9, flavour: rt.flavour };
    iters *= 2;
  }
}

if (!isMainThread) {
  parentPort.postMessage(probe(workerData.flavour, workerData.seconds));
} else {
  const flavour = process.argv[2] ?? 'simd';
  const threads = Number(process.argv[3] ?? 2);
  const one = probe(flavour, 0.6);
  const results = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { flavour, seconds: 0.6 } }); // V8 flags are process-wide: workers inherit them
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const total = results.reduce((s, r) => s + r.gflops, 0);
  process.stdout.write(`${JSON.stringify({ flavour: one.flavour, gflops1: one.gflops, gflopsN: total, threads })}\n`);
}
