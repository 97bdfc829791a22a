// `npm run demo:web [-- --port N] [--model DIR]`: serves the demo page (web/) on 127.0.0.1 with COOP/COEP
// headers, so the page is cross-origin isolated and the model's worker gets kernel threads. The page
// imports the package's own entries from /dist/; /model/ is the checkpoint folder (default: the
// embedded test model, weights/default); /model-xcodec2/ the tiny X-Codec 2 test checkpoint
// (test/fixtures/tiny-xcodec2); /examples/ the examples folder (examples/browser-decode/);
// /decoders.mjs is the MP3/Ogg decoder packages bundled for the
// browser by esbuild, as a page without a bundler would map them.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/** The decoder packages as one browser ES module (their names are mapped to it by the pages' import maps). */
export async function bundleDecoders() {
  const { build } = await import('esbuild');
  const r = await build({
    stdin: {
      contents:
        "export { MPEGDecoder } from 'mpg123-decoder'; export { OggOpusDecoder } from 'ogg-opus-decoder'; export { OggVorbisDecoder } from '@wasm-audio-decoders/ogg-vorbis';",
      resolveDir: root,
    },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0].contents;
}

/** A file under `base` for a URL path, or null (no escaping the folder). */
function under(base, rel) {
  const full = normalize(join(base, rel));
  if (full !== base && !full.startsWith(base + sep)) return null;
  return existsSync(full) && statSync(full).isFile() ? full : null;
}

/** Starts the server; resolves { url, close() }. */
export async function startDemoServer({ port = 0, model = join(root, 'weights', 'default') } = {}) {
  if (!existsSync(join(root, 'dist', 'index.js')))
    throw new Error('no dist/: run `npm run build` first (npm run demo:web does)');
  if (!existsSync(join(model, 'config.json')))
    throw new Error(
      `--model ${model}: no config.json there; accepted: a checkpoint folder as save_pretrained writes it`,
    );
  const decoders = await bundleDecoders();
  const modelDir = resolve(model);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const headers = {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-store',
    };
    let file = null;
    if (path === '/' || path === '/index.html') file = join(root, 'web', 'index.html');
    else if (path === '/decoders.mjs') {
      res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(decoders);
      return;
    } else if (path.startsWith('/dist/')) file = under(join(root, 'dist'), path.slice(6));
    else if (path.startsWith('/build/')) file = under(join(root, 'build'), path.slice(7));
    else if (path.startsWith('/model/')) file = under(modelDir, path.slice(7));
    else if (path.startsWith('/model-xcodec2/'))
      file = under(join(root, 'test', 'fixtures', 'tiny-xcodec2'), path.slice(15));
    else if (path.startsWith('/examples/')) file = under(join(root, 'examples'), path.slice(10));
    else file = under(join(root, 'web'), path.slice(1));
    if (!file) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    res
      .writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
      .end(readFileSync(file));
  });
  await new Promise((r, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', r);
  });
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const opt = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const port = opt('--port') === undefined ? 8080 : Number(opt('--port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port ${opt('--port')} is not accepted; accepted: an integer from 0 to 65535\n`);
    process.exit(2);
  }
  try {
    const { url } = await startDemoServer({ port, model: opt('--model') });
    process.stdout.write(`xcodec-wasm demo: ${url}  (Ctrl-C stops it)\n`);
  } catch (e) {
    process.stderr.write(`demo:web: ${e.message}\n`);
    process.exit(1);
  }
}
