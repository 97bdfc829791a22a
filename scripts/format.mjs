// The formatter and linter (Biome, biome.json): `node scripts/format.mjs` formats the tree in place,
// `--check` only reports (npm test runs it, so CI enforces both). Biome cannot parse AssemblyScript's
// function decorators (`@inline function`), so assembly/ goes through Biome's stdin one file at a
// time with each decorator hidden in a comment of the same width, then put back.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const biome = join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
const run = (args, input) => spawnSync(process.execPath, [biome, ...args], { cwd: root, input, encoding: 'utf8' });

let failed = false;
const whole = run(check ? ['ci', '--error-on-warnings', '--reporter=summary', '.'] : ['check', '--write', '.']);
if (whole.status !== 0) {
  process.stdout.write(whole.stdout + whole.stderr);
  failed = true;
}

// A decorator becomes a comment of the same width, so Biome wraps the line where it will be wrapped.
const HIDDEN = '/*@inl*/ ';
const differing = [];
for (const name of readdirSync(join(root, 'assembly')).filter((f) => f.endsWith('.ts'))) {
  const path = join(root, 'assembly', name);
  const text = readFileSync(path, 'utf8');
  const r = run(['format', '--stdin-file-path=assembly.stdin.ts'], text.replace(/^(\s*)@inline /gm, `$1${HIDDEN}`));
  if (r.status !== 0) {
    process.stdout.write(`assembly/${name}: ${r.stderr}`);
    failed = true;
    continue;
  }
  const formatted = r.stdout.replaceAll(HIDDEN, '@inline ');
  if (formatted === text) continue;
  if (check) differing.push(`assembly/${name}`);
  else writeFileSync(path, formatted);
}
if (differing.length > 0) {
  process.stdout.write(`not formatted (run node scripts/format.mjs): ${differing.join(', ')}\n`);
  failed = true;
}
if (check && !failed) process.stdout.write('format and lint: clean\n');
process.exit(failed ? 1 : 0);
