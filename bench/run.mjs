// Side-by-side benchmark: this project vs ONNX Runtime Node (native) and ONNX Runtime Web (wasm, SIMD)
// on the identical full-size model and input, same thread counts, one run of this script.
//
//   npm run bench -- [--seconds 10] [--runs 5] [--threads 1,2] [--audio music|speech] [--json] [--quick]
//
// The ONNX export and its safetensors twin are made by ../shared/tools/reference/export_onnx.py
// (Debian's python3-torch and python3-numpy) and cached outside the repository.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xcodecFlops } from './flops.mjs';

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
const configDir = resolve(opt('config', join(shared, 'fixtures', 'full-size', 'hubert')));
const cache = resolve(opt('cache', join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'xcodec-wasm', 'onnx-hubert')));
const audioPath = audioName === 'speech' ? join(root, 'test', 'fixtures', 'audio', 'speech_en.flac') : join(root, 'test', 'fixtures', 'audio', 'music.wav');
const log = (m) => process.stderr.write(`${m}\n`);

function ensureExport() {
  if (existsSync(join(cache, 'encode.onnx')) && existsSync(join(cache, 'decode.onnx')) && existsSync(join(cache, 'model.safetensors'))) {
    log(`using the cached ONNX export and weights in ${cache}`);
    return;
  }
  const script = join(shared, 'tools', 'reference', 'export_onnx.py');
  log(`no ONNX export in ${cache}: making it with ${script} (about 30 s; needs python3-torch and python3-numpy)`);
  const r = spawnSync('/usr/bin/python3', [script, configDir, cache], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    log('export failed: install the reference tools with `apt-get install -y python3-torch python3-numpy`');
    process.exit(1);
  }
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

function runSubject(subject, threads, flags = []) {
  log(`running ${subject} with ${threads} thread(s)${flags.length ? ` (${flags.join(' ')})` : ''} ...`);
  const out = execFileSync(process.execPath, [...flags, join(here, 'peer.mjs'), subject, String(threads), cache, audioPath, String(seconds), String(runs)],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop());
}

function peak(flavour, flags) {
  const out = execFileSync(process.execPath, [...flags, join(here, 'peak.mjs'), flavour, String(Math.max(...threadList))], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

ensureExport();
const cfg = JSON.parse(readFileSync(join(cache, 'config.json'), 'utf8'));
const samples = Math.round((seconds * 16000) / 320) * 320;
const flops = xcodecFlops(cfg, samples);
const relaxedFlags = ['--experimental-wasm-relaxed-simd'];
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

const results = [];
for (const threads of threadList) {
  results.push(probed('xcodec-wasm (simd)', 'xcodec', threads, 'simd'));
  results.push(probed('xcodec-wasm (relaxed)', 'xcodec', threads, 'relaxed', relaxedFlags));
  results.push(probed('ONNX Runtime Web (wasm)', 'ort-web', threads, 'simd'));
  results.push({ name: 'ONNX Runtime Node (native)', ...runSubject('ort-node', threads) });
}
const range = (list, key) => `${Math.min(...list.map((p) => p[key])).toFixed(1)}-${Math.max(...list.map((p) => p[key])).toFixed(1)}`;
const peaks = Object.fromEntries(Object.entries(probes).map(([f, list]) => [f, {
  threads: list[0].threads, gflops1: range(list, 'gflops1'), gflopsN: range(list, 'gflopsN'), readings: list,
}]));

const rows = results.map((r) => {
  const enc = median(r.encodeMs) / 1000;
  const dec = median(r.decodeMs) / 1000;
  const p = r.probeGflops ?? null;
  return {
    subject: r.name, threads: r.threads,
    encode_s: +enc.toFixed(3), encode_spread: `${(Math.min(...r.encodeMs) / 1000).toFixed(2)}-${(Math.max(...r.encodeMs) / 1000).toFixed(2)}`,
    decode_s: +dec.toFixed(3), decode_spread: `${(Math.min(...r.decodeMs) / 1000).toFixed(2)}-${(Math.max(...r.decodeMs) / 1000).toFixed(2)}`,
    rtf_roundtrip: +((enc + dec) / seconds).toFixed(3),
    encode_gflops: +(flops.encode / enc / 1e9).toFixed(1), decode_gflops: +(flops.decode / dec / 1e9).toFixed(1),
    probe_gflops: p ? +p.toFixed(1) : null,
    encode_pct_peak: p ? +((100 * flops.encode) / enc / 1e9 / p).toFixed(0) : null,
    decode_pct_peak: p ? +((100 * flops.decode) / dec / 1e9 / p).toFixed(0) : null,
    codes_equal_ours: null,
    _r: r,
  };
});
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
  const best = at.filter((r) => r.subject.startsWith('xcodec')).sort((a, b) => a.encode_s + a.decode_s - b.encode_s - b.decode_s)[0];
  for (const peer of at.filter((r) => !r.subject.startsWith('xcodec'))) {
    ratios.push({
      threads, ours: best.subject, peer: peer.subject,
      encode_speedup: +(peer.encode_s / best.encode_s).toFixed(2), decode_speedup: +(peer.decode_s / best.decode_s).toFixed(2),
    });
  }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`X-Codec full-size (${cfg.semantic_model_config.model_type}), ${seconds} s of ${audioName}, median of ${runs} runs after a warm-up; ` +
  `${cpu}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`work: ${(flops.encode / 1e9).toFixed(1)} GFLOP encode, ${(flops.decode / 1e9).toFixed(1)} GFLOP decode (analytic, from the config)`);
console.log(`measured WASM SIMD peak (probes before and after each WASM subject, ranges): plain ${peaks.simd.gflops1} / ${peaks.simd.gflopsN} GFLOP/s ` +
  `(1 / ${peaks.simd.threads} threads), relaxed ${peaks.relaxed.gflops1} / ${peaks.relaxed.gflopsN}; % peak is of the mean of the two probes around that subject (probe_gflops)`);
console.table(rows);
console.table(ratios);
if (json) console.log(JSON.stringify({ seconds, runs, audio: audioName, flops, peaks, rows, ratios, cpu, node: process.version }));
