// The fuzz suite's quick pass (fuzz/run.mjs; `npm run fuzz` runs any range of any seed): 3,000
// mutants of safetensors, config.json, preprocessor_config.json, WAV, FLAC, MP3, Ogg Vorbis, Ogg Opus
// and .npy files and of API calls, each in a worker under a timeout. None may end untyped, hang,
// crash, or load a mutated checkpoint that gives other results than the original.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { here } from '../support/helpers.mjs';

const runner = join(here, '..', 'fuzz', 'run.mjs');
const run = (...args) => {
  const r = spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8', timeout: 600000, maxBuffer: 16 << 20 });
  const last = r.stdout.trim().split('\n').pop();
  return { status: r.status, out: r.stdout + r.stderr, summary: last?.startsWith('{') ? JSON.parse(last) : null };
};

test('the harness tells every outcome apart (untyped, hang, crash, typed, ok) and fails on the bad ones', () => {
  const r = run('--selftest', '--count', '5', '--timeout', '3000', '--workers', '1');
  assert.ok(r.summary, r.out);
  assert.equal(r.summary.counts, { ok: 1, typed: 1, untyped: 1, hang: 1, crash: 1, 'loaded-different': 0 }, r.out);
  assert.is(r.status, 1, 'bad outcomes make the run fail');
});

test('a mutant is a function of (seed, index) alone: building 5,000 others first changes no config or preprocessor mutant', async () => {
  const { mutateJson, rngFor } = await import('../../fuzz/mutate.mjs');
  const read = (name) => JSON.parse(readFileSync(join(here, 'fixtures', 'tiny-hubert', name), 'utf8'));
  const originals = [read('config.json'), read('preprocessor_config.json')];
  const build = (i) => JSON.stringify(mutateJson(originals[i % 2], rngFor(7, i)));
  // Mutators that shared their weird values grew them from mutant to mutant: seed 7 made a cycle at
  // the 1,249th JSON mutant here, and filled a long pass's worker heap.
  const probes = [3, 17, 1248, 4999, 326711];
  const alone = probes.map(build);
  for (let i = 0; i < 5000; i++) build(i);
  assert.equal(probes.map(build), alone);
});

test('quick pass: 3,000 mutants, none untyped, hung, crashed or loaded different', () => {
  const r = run('--seed', '1', '--count', '3000');
  console.log(
    r.out
      .split('\n')
      .filter((l) => /^\s*(│|┌|├|└|fuzz:|slowest)/.test(l))
      .map((l) => `  # ${l}`)
      .join('\n'),
  );
  assert.ok(r.summary, r.out.slice(-3000));
  const total = Object.values(r.summary.counts).reduce((a, b) => a + b, 0);
  assert.is(total, 3000, 'every mutant ran');
  assert.ok(
    r.summary.counts.ok > 100 && r.summary.counts.typed > 1000,
    `a mix of outcomes: ${JSON.stringify(r.summary.counts)}`,
  );
  assert.is(r.summary.bad, 0, r.out.slice(-3000));
  assert.is(r.status, 0);
});

// the queue surface's quick pass needs redis-server: it runs in e2e/queue-hostile.test.mjs
for (const [surface, count] of [['hub', 150]]) {
  test(`${surface} surface: ${count} mutants (fuzz/edges.mjs), none untyped, hung, crashed or escaping`, () => {
    const r = run('--surface', surface, '--seed', '1', '--count', String(count));
    assert.ok(r.summary, r.out.slice(-3000));
    const { counts } = r.summary;
    process.stdout.write(`  # ${surface}: ${JSON.stringify(counts)}\n`);
    assert.is(
      Object.values(counts).reduce((a, b) => a + b, 0),
      count,
      'every mutant ran',
    );
    assert.equal([counts.untyped, counts.hang, counts.crash, counts.escape], [0, 0, 0, 0], r.out.slice(-3000));
    assert.ok(counts.typed > 0 && counts.ok > 0, 'both outcomes occur: the mutants reach the checks and past them');
    assert.is(r.status, 0);
  });
}

test.run();
