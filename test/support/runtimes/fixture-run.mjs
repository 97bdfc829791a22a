// Deno and Bun entry: `deno run --allow-read --allow-env fixture-run.mjs [--threads N] [--from-buffers]`,
// `bun fixture-run.mjs ...`. Prints one JSON line with the outputs for test/e2e/runtimes.test.mjs to check.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import '../../../dist/node/index.js'; // file access for fromPretrained(dir) in Deno and Bun
import { runAsync, runFixtures } from './fixture-core.mjs';

const argv = globalThis.Deno?.args ?? process.argv.slice(2);
const threads = argv.includes('--threads') ? Number(argv[argv.indexOf('--threads') + 1]) : undefined;
const dirUrl = new URL('../../fixtures/tiny-hubert/', import.meta.url);
const read = async (p) => new Uint8Array(readFileSync(fileURLToPath(new URL(p, dirUrl))));
const options = { numThreads: threads, dir: argv.includes('--from-buffers') ? undefined : fileURLToPath(dirUrl) };
const out = argv.includes('--async') ? await runAsync(read, options) : await runFixtures(read, options);
console.log(
  JSON.stringify({
    runtime: globalThis.Deno
      ? `deno ${Deno.version.deno}`
      : globalThis.Bun
        ? `bun ${Bun.version}`
        : `node ${process.version}`,
    ...out,
  }),
);
