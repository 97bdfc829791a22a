// The formatter and linter (Biome, biome.json) find nothing: the tree is formatted and lint-clean.
// A failure prints what to fix; `node scripts/format.mjs` formats in place.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('Biome: every file formatted at width 120 and lint-clean (scripts/format.mjs --check)', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'format.mjs'), '--check'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /format and lint: clean/);
});

test.run();
