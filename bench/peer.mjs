// One benchmark subject in its own process (thread settings of ONNX Runtime Web are process-wide):
//   node bench/peer.mjs <xcodec|xcodec-direct|ort-node|ort-web> <threads> <model-dir> <audio-file> <seconds> <runs>
// Prints one JSON line: encode/decode wall times of every run (after one warm-up run) and the codes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [subject, threadsArg, dir, audioPath, secondsArg, runsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const seconds = Number(secondsArg);
const runs = Number(runsArg);

async function loadAudio() {
  const { loadAudio: read } = await import('../dist/audio.js');
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const rate = cfg.sample_rate ?? cfg.sampling_rate ?? 16000;
  const hop = (cfg.acoustic_model_config?.downsampling_ratios ?? cfg.downsampling_ratios).reduce((p, r) => p * r, 1);
  const mono = await read(new Uint8Array(readFileSync(audioPath)), { sampleRate: rate, fileName: audioPath });
  // loop the file when the benchmark asks for more audio than it holds; length a multiple of the hop
  const n = Math.round((seconds * rate) / hop) * hop;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = mono[i % mono.length];
  return x;
}

async function timed(fn) {
  const t = performance.now();
  const r = await fn();
  return { ms: performance.now() - t, r };
}

const x = await loadAudio();
const result = { subject, threads, encodeMs: [], decodeMs: [] };

if (subject === 'torch') {
  // the PyTorch reference in its own Python process, on the same samples
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { dirname, resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const here = dirname(fileURLToPath(import.meta.url));
  const work = mkdtempSync(join(tmpdir(), 'xcodec-bench-torch-'));
  writeFileSync(join(work, 'x.f32'), new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  const r = spawnSync(
    '/usr/bin/python3',
    [
      join(here, 'peer_torch.py'),
      String(threads),
      dir,
      join(work, 'x.f32'),
      String(runs),
      resolve(here, '..', '..', 'shared', 'tools', 'reference'),
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  rmSync(work, { recursive: true, force: true });
  if (r.status !== 0) {
    process.stderr.write(
      "the PyTorch peer failed: it needs Debian's python3-torch and python3-numpy (apt-get install -y python3-torch python3-numpy)\n",
    );
    process.exit(1);
  }
  Object.assign(result, JSON.parse(r.stdout.trim().split('\n').pop()));
} else if (subject === 'xcodec' || subject === 'xcodec-direct') {
  // xcodec-direct: the residual units' kernel-7 convs as the direct GEMM (convAlgorithm 'direct'), the
  // build before Winograd, side by side in the same run
  const { XcodecModelSync } = await import('../dist/node/index.js');
  const t = performance.now();
  const model = await XcodecModelSync.fromPretrained(dir, {
    numThreads: threads,
    convAlgorithm: subject === 'xcodec' ? undefined : 'direct',
  });
  result.loadMs = performance.now() - t;
  result.wasmBytesAfterLoad = model.wasmMemoryBytes;
  result.flavour = model.simdFlavour;
  let input = { data: x, dims: [1, 1, x.length] };
  if (model.config.modelType === 'xcodec2') {
    // X-Codec 2 takes what its feature extractor makes of the samples (one zero appended, padded to the hop)
    const { Xcodec2FeatureExtractor } = await import('../dist/node/index.js');
    input = Xcodec2FeatureExtractor.fromConfig({}).call(x).inputValues;
    const t2 = performance.now();
    const decoder = await XcodecModelSync.fromPretrained(dir, { numThreads: threads, components: 'decoder' });
    result.decoderLoadMs = performance.now() - t2;
    result.decoderWasmBytesAfterLoad = decoder.wasmMemoryBytes;
    decoder.dispose();
  }
  for (let i = 0; i <= runs; i++) {
    const e = await timed(() => model.encode(input));
    const d = await timed(() => model.decode(e.r.audioCodes));
    if (i > 0) {
      result.encodeMs.push(e.ms);
      result.decodeMs.push(d.ms);
    }
    result.codes = Array.from(e.r.audioCodes.data.slice(0, 4000), Number);
    result.codeDims = e.r.audioCodes.dims;
  }
  result.wasmBytes = model.wasmMemoryBytes;
  model.dispose();
} else {
  let ort;
  if (subject === 'ort-node') {
    ort = await import('onnxruntime-node');
  } else {
    ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.simd = true;
  }
  ort = ort.default ?? ort;
  const opts =
    subject === 'ort-node'
      ? { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }
      : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const load = async (name) =>
    subject === 'ort-node'
      ? ort.InferenceSession.create(join(dir, name), opts)
      : ort.InferenceSession.create(new Uint8Array(readFileSync(join(dir, name))), opts);
  const t = performance.now();
  const enc = await load('encode.onnx');
  const dec = await load('decode.onnx');
  result.loadMs = performance.now() - t;
  const input = new ort.Tensor('float32', x, [1, 1, x.length]);
  for (let i = 0; i <= runs; i++) {
    const e = await timed(() => enc.run({ input_values: input }));
    const codes = e.r.audio_codes;
    const d = await timed(() => dec.run({ audio_codes: codes }));
    if (i > 0) {
      result.encodeMs.push(e.ms);
      result.decodeMs.push(d.ms);
    }
    result.codes = Array.from(codes.data.slice(0, 4000), Number);
    result.codeDims = codes.dims;
  }
}
result.rssBytes ??= process.resourceUsage().maxRSS * 1024;
result.node = process.version;
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
