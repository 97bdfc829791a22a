// Shared test helpers: fixture loading and tolerance checks.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from '../../dist/audio.js';

export const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // test/
export const fixtures = join(here, 'fixtures');

export function npy(path) {
  return readNpy(new Uint8Array(readFileSync(path)));
}

export function manifest(model) {
  return JSON.parse(readFileSync(join(fixtures, model, 'cases', 'manifest.json'), 'utf8'));
}

/** max |a - b| over all elements; throws with the first offending index when over atol. */
export function assertClose(got, expected, atol, what) {
  if (got.length !== expected.length) throw new Error(`${what}: length ${got.length} != expected ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - expected[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  if (!(worst <= atol))
    throw new Error(
      `${what}: max |diff| ${worst} at index ${at} (got ${got[at]}, expected ${expected[at]}) exceeds atol ${atol}`,
    );
  return worst;
}

export function assertDims(got, expected, what) {
  if (JSON.stringify(got) !== JSON.stringify(expected))
    throw new Error(`${what}: dims ${JSON.stringify(got)} != expected ${JSON.stringify(expected)}`);
}

export function assertCodesEqual(got, expected, what) {
  if (got.length !== expected.length) throw new Error(`${what}: ${got.length} codes, expected ${expected.length}`);
  for (let i = 0; i < got.length; i++) {
    if (BigInt(got[i]) !== BigInt(expected[i]))
      throw new Error(`${what}: code ${i} is ${got[i]}, expected ${expected[i]}`);
  }
}

/** Copies [B, ...rest] item b out of a flat array. */
export function item(data, dims, b) {
  const n = dims.slice(1).reduce((p, x) => p * x, 1);
  return data.subarray(b * n, (b + 1) * n);
}

/** Awaits `promise`, which must reject with an error named `name` whose message holds every fragment. */
export async function rejectsWith(name, promise, ...fragments) {
  let error = null;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (!error) throw new Error(`expected a ${name} containing ${JSON.stringify(fragments)}, the promise resolved`);
  if (error.name !== name) throw new Error(`wrong error type: ${error.name}: ${error.message}`);
  for (const f of fragments)
    if (!error.message.includes(f))
      throw new Error(`message ${JSON.stringify(error.message)} lacks ${JSON.stringify(f)}`);
  return error;
}

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
