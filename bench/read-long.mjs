// Peak memory of reading a long compressed file like the authors' pipeline (decode, mean over
// channels, resample to 16 kHz), against the size of its 16 kHz mono output.
//   node bench/read-long.mjs [FILE] [--rate 16000]
// Without FILE it makes a 60-minute 44.1 kHz stereo MP3 (128 kbps) from ../shared/audio/music.wav
// with Debian's ffmpeg into the temp folder (about 40 s here). The read runs in a child process so
// that its peak RSS (getrusage maxrss) belongs to the read alone; the baseline is that child's peak
// just after it has loaded the package and the file's bytes.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const rate = args.includes('--rate') ? Number(args[args.indexOf('--rate') + 1]) : 16000;
let file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--rate');

if (process.env.XCODEC_READ_CHILD) {
  const { readFileSync } = await import('node:fs');
  const { loadAudio } = await import('../dist/audio.js');
  const bytes = new Uint8Array(readFileSync(file));
  const baseline = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  let source = null;
  const y = await loadAudio(bytes, {
    sampleRate: rate,
    fileName: file,
    onSource: (s) => {
      source = s;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ baseline, peak, outputBytes: y.byteLength, fileBytes: bytes.length, seconds, source }));
  process.exit(0);
}

if (!file) {
  file = join(tmpdir(), 'xcodec-read-long-60min.mp3');
  if (!existsSync(file)) {
    const music = resolve(here, '..', '..', 'shared', 'audio', 'music.wav');
    console.log(`making ${file} from ${music} with ffmpeg ...`);
    const r = spawnSync(
      'ffmpeg',
      [
        '-nostdin',
        '-v',
        'error',
        '-y',
        '-stream_loop',
        '-1',
        '-i',
        music,
        '-t',
        '3600',
        '-ac',
        '2',
        '-ar',
        '44100',
        '-c:a',
        'libmp3lame',
        '-b:a',
        '128k',
        file,
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) throw new Error('ffmpeg failed (apt-get install -y ffmpeg)');
  }
}
const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), file, '--rate', String(rate)], {
  env: { ...process.env, XCODEC_READ_CHILD: '1' },
  encoding: 'utf8',
  maxBuffer: 1 << 20,
});
if (r.status !== 0) throw new Error(r.stderr);
const m = JSON.parse(r.stdout.trim().split('\n').pop());
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const s = m.source;
console.log(
  `${file}: ${s.format}, ${s.channels} ch, ${s.sampleRate} Hz, ${(s.samples / s.sampleRate / 60).toFixed(1)} min, ${mib(m.fileBytes)} on disk`,
);
console.log(
  `read + downmix + resample to ${rate} Hz in ${m.seconds.toFixed(1)} s (${(s.samples / s.sampleRate / m.seconds).toFixed(0)}x real time)`,
);
console.log(
  `output ${mib(m.outputBytes)}; peak RSS ${mib(m.peak)}, of which ${mib(m.peak - m.baseline)} above the baseline ` +
    `(package + file bytes: ${mib(m.baseline)}) = ${((m.peak - m.baseline) / m.outputBytes).toFixed(2)}x the output`,
);
