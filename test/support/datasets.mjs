// Test datasets for tokenize and the queue: copies of the fixture WAVs and compressed files with one
// file that is not audio, and byte-for-byte comparison of output trees.
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fixtures } from './helpers.mjs';

/** 5 WAVs at the top, 2 MP3s and an Opus file in sub/, and one file that is not audio. */
export function dataset(dir, copies = 1) {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (let k = 0; k < copies; k++) {
    const tag = copies > 1 ? `_${k}` : '';
    for (const f of readdirSync(join(fixtures, 'pipeline-tiny-hubert')).filter((f) => f.endsWith('.wav')))
      copyFileSync(join(fixtures, 'pipeline-tiny-hubert', f), join(dir, f.replace('.wav', `${tag}.wav`)));
    for (const f of ['music_44100_stereo.mp3', 'speech_22050_mono.mp3', 'speech_mono.opus'])
      copyFileSync(join(fixtures, 'compressed', f), join(dir, 'sub', f.replace(/(\.\w+)$/, `${tag}$1`)));
  }
  writeFileSync(join(dir, 'sub', 'bad.wav'), 'these bytes are not audio');
  return dir;
}

/** Every file under dir (relative path -> bytes), temporaries included, so leftovers show. */
export function tree(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p);
    }
  };
  walk(dir);
  return out;
}

/** Relative paths of the finished .json files under dir; names only, so files renamed meanwhile by a running process do no harm. */
export function finishedJson(dir) {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true }).filter((p) => String(p).endsWith('.json') && !String(p).includes('.tmp'))
    .length;
}

export function sameTree(a, b, what) {
  assert.equal(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: the same files`);
  for (const k of Object.keys(a)) assert.ok(a[k].equals(b[k]), `${what}: ${k} byte-identical`);
}
