// Deno and Bun entry: `deno run --allow-read --allow-env fixture-run.mjs [--threads N] [--from-buffers] [--xcodec2]`,
// `bun fixture-run.mjs ...`. Prints one JSON line with the outputs for test/e2e/runtimes.test.mjs to check.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import '../../../dist/node/index.js'; // file access for fromPretrained(dir) in Deno and Bun
import { runAsync, runFixtures, runXcodec2 } from './fixture-core.mjs';

const argv = globalThis.Deno?.args ?? process.argv.slice(2);
const threads = argv.includes('--threads') ? Number(argv[argv.indexOf('--threads') + 1]) : undefined;
const xcodec2 = argv.includes('--xcodec2');
const dirUrl = new URL(`../../fixtures/${xcodec2 ? 'tiny-xcodec2' : 'tiny-hubert'}/`, import.meta.url);
const read = async (p) => new Uint8Array(readFileSync(fileURLToPath(new URL(p, dirUrl))));
const options = { numThreads: threads, dir: argv.includes('--from-buffers') ? undefined : fileURLToPath(dirUrl) };
const out = xcodec2
  ? await runXcodec2(read, options)
  : argv.includes('--async')
    ? await runAsync(read, options)
    : await runFixtures(read, options);
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
