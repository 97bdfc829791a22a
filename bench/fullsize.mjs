// Full-size X-Codec (or the Higgs Audio v2 tokenizer) on real audio: load time, encode and decode time at the highest bandwidth, real-time
// factors, peak RSS, peak WebAssembly memory, and the memory the load itself takes (peak RSS during
// fromPretrained minus RSS before it, against the checkpoint's file size).
//
//   node bench/fullsize.mjs [--config hubert|wavlm|higgs|both|all] [--seconds 10,60] [--threads 1] [--seed 0] [--no-warmup] [--json]
//
// The checkpoint is a random, well-scaled one from scripts/generate-weights.mjs with the published checkpoints'
// exact tensor names and shapes, cached in $XCODEC_FULLSIZE_CACHE (default os.tmpdir()) like the test
// (test/parity/fullsize.test.mjs). Input: test/fixtures/audio/music.wav (20 s; resampled to 24 kHz for Higgs), looped for longer lengths.
// Each config runs in its own child process, so its peak RSS (process.resourceUsage().maxRSS) is its
// own and the load is measured from a clean start. One second is encoded and decoded before the timed
// runs (--no-warmup skips it). --json prints one JSON object on the last line.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : def;
};
const MiB = 2 ** 20;
const log = (m) => process.stderr.write(`${m}\n`);

if (argv.includes('--child')) await child();
else await main();

// ------------------------------------------------------------------ parent: checkpoints, children, table

async function main() {
  const which = opt('config', 'both');
  const kinds = which === 'both' ? ['hubert', 'wavlm'] : which === 'all' ? ['hubert', 'wavlm', 'higgs'] : [which];
  for (const k of kinds) {
    if (k !== 'hubert' && k !== 'wavlm' && k !== 'higgs') {
      log(`--config ${which}; accepted: hubert, wavlm, higgs, both (hubert and wavlm), all`);
      process.exit(2);
    }
  }
  const seconds = opt('seconds', '10,60').split(',').map(Number);
  if (seconds.some((s) => !(s > 0))) {
    log(`--seconds ${opt('seconds')}; accepted: positive numbers, comma separated`);
    process.exit(2);
  }
  const threads = Number(opt('threads', '1'));
  const seed = Number(opt('seed', '0'));
  const json = argv.includes('--json');
  const cache = process.env.XCODEC_FULLSIZE_CACHE || tmpdir();
  const { ensureCheckpoint } = await import('../scripts/generate-weights.mjs');

  const results = [];
  for (const kind of kinds) {
    const dir = join(cache, `xcodec-wasm-fullsize-${kind}-${seed}`);
    const t0 = performance.now();
    const ck = await ensureCheckpoint(join(root, '..', 'shared', 'fixtures', 'full-size', kind), dir, { seed, log });
    log(
      `${kind}: checkpoint ${ck.generated ? `generated in ${((performance.now() - t0) / 1000).toFixed(1)} s` : 'cached'} at ${dir}`,
    );
    log(`${kind}: loading, then encoding and decoding ${seconds.join(' s, ')} s with ${threads} thread(s) ...`);
    const childArgs = [
      '--child',
      dir,
      '--seconds',
      seconds.join(','),
      '--threads',
      String(threads),
      ...(argv.includes('--no-warmup') ? ['--no-warmup'] : []),
    ];
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...childArgs], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const last = (r.stdout ?? '').trim().split('\n').pop();
    if (r.status !== 0 || !last) {
      log(`${kind}: the benchmark process failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
      results.push({ config: kind, error: `exit ${r.status}${r.signal ? `, ${r.signal}` : ''}` });
      continue;
    }
    results.push({ config: kind, checkpointGenerated: ck.generated, ...JSON.parse(last) });
  }

  printTables(results);
  if (json) {
    console.log(JSON.stringify({ node: process.version, threads, seed, seconds, results }));
  }
  if (results.some((r) => r.error)) process.exitCode = 1;
}

function table(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
}

function printTables(results) {
  const ok = results.filter((r) => !r.error);
  if (ok.length === 0) return;
  const f = (x, d = 2) => x.toFixed(d);
  const mib = (b) => (b / MiB).toFixed(0);
  console.log(
    `\nfull-size X-Codec, ${ok[0].threads} thread(s), ${ok[0].flavour} SIMD, Node ${process.version}, music.wav at the highest bandwidth (${ok[0].numQuantizers} quantizers)\n`,
  );
  table(
    [
      'config',
      'audio s',
      'encode s',
      'encode RTF',
      'decode s',
      'decode RTF',
      'x real time (enc+dec)',
      'maxRSS after MiB',
      'peak WASM MiB',
    ],
    ok.flatMap((r) =>
      r.runs.map((x) => [
        r.config,
        x.seconds,
        f(x.encodeS),
        f(x.encodeS / x.seconds, 3),
        f(x.decodeS),
        f(x.decodeS / x.seconds, 3),
        f(x.seconds / (x.encodeS + x.decodeS)),
        mib(x.maxRssAfter),
        mib(x.wasmBytesAfter),
      ]),
    ),
  );
  console.log('');
  table(
    [
      'config',
      'load s',
      'file MiB',
      'RSS before MiB',
      'load peak RSS MiB',
      'load delta MiB',
      'delta / file',
      'WASM after load MiB',
      'delta - WASM MiB',
      'peak RSS MiB',
      'peak WASM MiB',
    ],
    ok.map((r) => [
      r.config,
      f(r.loadS),
      mib(r.fileBytes),
      mib(r.rssBeforeLoad),
      mib(r.loadPeakRss),
      mib(r.loadDelta),
      f(r.loadDelta / r.fileBytes),
      mib(r.wasmBytesAfterLoad),
      mib(r.loadDelta - r.wasmBytesAfterLoad),
      mib(r.peakRss),
      mib(r.peakWasmBytes),
    ]),
  );
  console.log(
    '\nload delta = peak RSS while fromPretrained runs (sampled every ms, and maxRSS) minus RSS before it;' +
      '\n"delta / file" <= ~1 means the load holds about one copy of the weights (in WebAssembly memory) and no second one;' +
      '\n"delta - WASM" is what the load holds outside WebAssembly memory at its peak (read buffers, V8 heap).',
  );
}

// ------------------------------------------------------------------ child: one config, measured

async function child() {
  const dir = argv[argv.indexOf('--child') + 1];
  const seconds = opt('seconds', '10,60').split(',').map(Number);
  const threads = Number(opt('threads', '1'));
  const { XcodecModelSync } = await import('../dist/node/index.js');
  const { decodeWav, resample } = await import('../dist/audio.js');
  const wav = decodeWav(new Uint8Array(readFileSync(join(root, 'test', 'fixtures', 'audio', 'music.wav'))));
  // the model's rate and hop (Higgs: 24 kHz, 960) from its config; music.wav is 16 kHz
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const rate = cfg.sample_rate ?? 16000;
  const hop = cfg.acoustic_model_config.downsampling_ratios.reduce((p, r) => p * r, 1);
  const music = rate === wav.sampleRate ? wav.channels[0] : resample(wav.channels[0], wav.sampleRate, rate);
  const inputs = seconds.map((s) => {
    const n = Math.round((s * rate) / hop) * hop;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = music[i % music.length];
    return x;
  });
  const fileBytes = (await import('node:fs')).statSync(join(dir, 'model.safetensors')).size;

  let peakRss = 0;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const maxRss = () => process.resourceUsage().maxRSS * 1024; // KiB -> bytes

  globalThis.gc?.();
  const rssBeforeLoad = process.memoryUsage().rss;
  peakRss = rssBeforeLoad;
  const timer = setInterval(sample, 1);
  let t0 = performance.now();
  const model = await XcodecModelSync.fromPretrained(dir, { numThreads: threads });
  const loadS = (performance.now() - t0) / 1000;
  clearInterval(timer);
  sample();
  // maxRSS is the process's peak so far: nothing before the load used more than the load does
  const loadPeakRss = Math.max(peakRss, maxRss());
  const wasmBytesAfterLoad = model.wasmMemoryBytes;
  const bandwidth = Math.max(...model.config.targetBandwidths);

  if (!argv.includes('--no-warmup')) {
    // one second through encode and decode first, so the timed runs see warm code paths
    const w = music.subarray(0, rate);
    model.decode(model.encode({ data: w, dims: [1, 1, w.length] }, { bandwidth }).audioCodes);
  }
  const runs = [];
  for (let i = 0; i < seconds.length; i++) {
    const x = inputs[i];
    t0 = performance.now();
    const { audioCodes } = model.encode({ data: x, dims: [1, 1, x.length] }, { bandwidth });
    const encodeS = (performance.now() - t0) / 1000;
    sample();
    t0 = performance.now();
    const { audioValues } = model.decode(audioCodes);
    const decodeS = (performance.now() - t0) / 1000;
    sample();
    let finite = true;
    for (const v of audioValues.data)
      if (!Number.isFinite(v)) {
        finite = false;
        break;
      }
    runs.push({
      seconds: x.length / rate,
      encodeS,
      decodeS,
      codeDims: audioCodes.dims,
      audioDims: audioValues.dims,
      finite,
      maxRssAfter: maxRss(),
      wasmBytesAfter: model.wasmMemoryBytes,
    });
    log(`  ${x.length / rate} s: encode ${encodeS.toFixed(2)} s, decode ${decodeS.toFixed(2)} s`);
  }
  const out = {
    dir,
    threads,
    flavour: model.simdFlavour,
    numQuantizers: model.numQuantizersFor(bandwidth),
    fileBytes,
    loadS,
    rssBeforeLoad,
    loadPeakRss,
    loadDelta: loadPeakRss - rssBeforeLoad,
    wasmBytesAfterLoad,
    runs,
    peakRss: Math.max(peakRss, maxRss()),
    peakRssSampled: peakRss,
    maxRss: maxRss(),
    peakWasmBytes: model.wasmMemoryBytes,
  };
  model.dispose();
  console.log(JSON.stringify(out));
}
