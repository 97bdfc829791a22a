// Runs every test/<group>/*.test.mjs with uvu (groups: unit, parity, api, e2e) and ends with the plain
// line "N passed, N failed" that CI reads. Arguments filter by path: `node test/run.mjs unit/ kernels`.
// uvu prints per-file results and a "Total/Passed/Skipped" block; each file is run in its own process
// so a crash in one file is counted as a failure instead of hiding the rest.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const GROUPS = ['unit', 'parity', 'api', 'e2e'];
const files = GROUPS.flatMap((g) => readdirSync(join(here, g)).map((f) => `${g}/${f}`))
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort((a, b) => GROUPS.indexOf(a.split('/')[0]) - GROUPS.indexOf(b.split('/')[0]) || a.localeCompare(b));

let passed = 0;
let failed = 0;
const skipped = [];
for (const file of files) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(here, file)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  process.stdout.write(`\n## ${file} (${((Date.now() - started) / 1000).toFixed(1)} s)\n${out}`);
  // a file that cannot run here (a system package missing, not installable) says so in one line
  const skip = /^SKIPPED: (.*)$/m.exec(out);
  if (skip && r.status === 0) {
    skipped.push(skip[1]);
    continue;
  }
  const total = /Total:\s+(\d+)/.exec(out);
  const ok = /Passed:\s+(\d+)/.exec(out);
  if (!total || !ok) {
    failed += 1; // the file crashed before uvu could report: count it as one failure
    process.stdout.write(`!! ${file} did not report (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})\n`);
    continue;
  }
  passed += Number(ok[1]);
  failed += Number(total[1]) - Number(ok[1]);
  if (r.status !== 0 && Number(total[1]) === Number(ok[1])) {
    failed += 1;
    process.stdout.write(`!! ${file} exited ${r.status} after its tests\n`);
  }
}
if (skipped.length)
  process.stdout.write(`\n${skipped.length} test file(s) SKIPPED:\n${skipped.map((s) => `  ${s}\n`).join('')}`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);
