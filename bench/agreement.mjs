// Do the direct and the Winograd acoustic encoders give the PyTorch reference's codes, and as often?
// 60 s of speech and 60 s of music (../shared/audio, looped: Mandarin then English speech; music.wav),
// full-size weights from scripts/generate-weights.mjs, encoded by this project with the encoder's
// residual-unit convs direct and as Winograd F(4, 7), and by the reference port (Debian's
// python3-torch) on the same weights; for every target bandwidth the share of codes equal to the
// reference's (a lower bandwidth's codes are the first quantizers of the highest one's).
//   node bench/agreement.mjs [--model hubert] [--seconds 60] [--threads 2]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XcodecModelSync } from '../dist/node/index.js';
import { loadAudio } from '../dist/audio.js';
import { ensureCheckpoint } from '../scripts/generate-weights.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const shared = resolve(here, '..', '..', 'shared');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const name = opt('model', 'hubert');
const seconds = Number(opt('seconds', 60));
const threads = Number(opt('threads', 2));
const dir = join(tmpdir(), `xcodec-wasm-fullsize-${name}-0`);
await ensureCheckpoint(join(shared, 'fixtures', 'full-size', name), dir, { seed: 0 });
const rate = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).sample_rate ?? 16000;

const read = async (f) => loadAudio(new Uint8Array(readFileSync(join(shared, 'audio', f))), { sampleRate: rate });
function looped(parts) {
  const n = Math.round((seconds * rate) / 320) * 320;
  const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return Float32Array.from({ length: n }, (_, i) => all[i % all.length]);
}
const inputs = {
  speech: looped([await read('speech_cn.wav'), await read('speech_en.flac')]),
  music: looped([await read('music.wav')]),
};

function reference(x) {
  const work = mkdtempSync(join(tmpdir(), 'xcodec-agreement-'));
  try {
    writeFileSync(join(work, 'x.f32'), new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    const r = spawnSync(
      '/usr/bin/python3',
      [
        join(here, 'reference_codes.py'),
        dir,
        join(work, 'x.f32'),
        join(work, 'codes.i32'),
        String(threads),
        join(shared, 'tools', 'reference'),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status !== 0) throw new Error("the reference failed: it needs Debian's python3-torch and python3-numpy");
    return new Int32Array(readFileSync(join(work, 'codes.i32')).buffer.slice(0));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const rows = [];
for (const [what, x] of Object.entries(inputs)) {
  const t0 = performance.now();
  const ref = reference(x);
  process.stderr.write(`${what}: reference in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  const ours = {};
  let bandwidths = [];
  for (const encoder of ['direct', 'winograd']) {
    const m = await XcodecModelSync.fromPretrained(dir, {
      numThreads: threads,
      convAlgorithm: { encoder, decoder: 'winograd' },
    });
    ours[encoder] = m.encode({ data: x, dims: [1, 1, x.length] }).audioCodes;
    bandwidths = m.config.targetBandwidths.map((bw) => [bw, m.numQuantizersFor(bw)]);
    m.dispose();
  }
  const T = ours.direct.dims[2];
  for (const [bw, nq] of bandwidths) {
    const row = { audio: `${what} ${seconds} s`, kbps: bw, quantizers: nq, codes: nq * T };
    for (const [encoder, codes] of Object.entries(ours)) {
      let equal = 0;
      for (let i = 0; i < nq * T; i++) if (Number(codes.data[i]) === ref[i]) equal++;
      row[`${encoder} = reference`] = `${((100 * equal) / (nq * T)).toFixed(2)}% (${nq * T - equal} differ)`;
    }
    let same = 0;
    for (let i = 0; i < nq * T; i++) if (ours.direct.data[i] === ours.winograd.data[i]) same++;
    row['direct = winograd'] = `${((100 * same) / (nq * T)).toFixed(2)}%`;
    rows.push(row);
  }
}
console.table(rows);
console.log(JSON.stringify(rows));
