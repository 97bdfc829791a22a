// The weight generator (scripts/generate-weights.mjs) takes the names and shapes of what inference reads
// from the loaders (a recording weight view) and writes through the one safetensors writer: its tensor
// list for each tiny fixture's config is the list PyTorch's save_pretrained wrote for that config, and a
// generated checkpoint loads with only the tensors inference never reads left unused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unexpectedTensors } from '../../dist/model/tensors.js';
import { XcodecModelSync } from '../../dist/node/index.js';
import { generateCheckpoint, tensorSpecs } from '../../scripts/generate-weights.mjs';
import { fixtures } from '../support/helpers.mjs';

/** { name: shape } of a safetensors file's header. */
function shapesOf(path) {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  delete header.__metadata__;
  return Object.fromEntries(Object.entries(header).map(([k, v]) => [k, v.shape]));
}

const TINY = ['tiny-hubert', 'tiny-hubert-layernorm', 'tiny-wavlm', 'tiny-higgs'];

for (const name of TINY) {
  test(`${name}: the generator's tensors are the names and shapes PyTorch saved`, async () => {
    const cfg = JSON.parse(readFileSync(join(fixtures, name, 'config.json'), 'utf8'));
    const specs = await tensorSpecs(cfg);
    const generated = Object.fromEntries(specs.map((t) => [t.name, t.shape]));
    assert.equal(generated, shapesOf(join(fixtures, name, 'model.safetensors')));
  });
}

test('a generated checkpoint (bf16, weight-normed DAC convs) loads; only what inference never reads is unused', async () => {
  const out = mkdtempSync(join(tmpdir(), 'xcodec-generated-'));
  try {
    const r = await generateCheckpoint(join(fixtures, 'tiny-wavlm'), out, { seed: 5, dtype: 'bf16', weightNorm: true });
    assert.ok(r.tensors > 300, `${r.tensors} tensors`);
    const model = await XcodecModelSync.fromPretrained(out, { numThreads: 1 });
    assert.ok(model.unusedTensors.length > 0);
    assert.equal(unexpectedTensors(model.unusedTensors, 'all'), [], 'every other tensor is read');
    const { audioCodes } = model.encode(new Float32Array(16000).map((_, i) => 0.1 * Math.sin(i / 9)));
    assert.equal(audioCodes.dims, [1, 8, 50]);
    model.dispose();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
