// A config that disagrees with its checkpoint never loads silently: checkpoint tensors the config does
// not account for (fewer layers, fewer dilations, fewer quantizers) are an XcodecCheckpointError naming
// them, or a warning under { strict: false }; tensors only training uses, and the half that
// `components` skips, are expected to stay unread.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XcodecModelSync } from '../../dist/node/index.js';
import { fixtures } from '../support/helpers.mjs';

const made = [];
/** The fixture's checkpoint beside a config.json changed by `edit`. */
function variant(name, edit) {
  const dir = mkdtempSync(join(tmpdir(), 'xcodec-mismatch-'));
  made.push(dir);
  const cfg = JSON.parse(readFileSync(join(fixtures, name, 'config.json'), 'utf8'));
  edit(cfg);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  for (const f of ['model.safetensors', 'preprocessor_config.json'])
    copyFileSync(join(fixtures, name, f), join(dir, f));
  return dir;
}
test.after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

async function loadError(dir, options = {}) {
  try {
    (await XcodecModelSync.fromPretrained(dir, { numThreads: 1, ...options })).dispose();
    return null;
  } catch (e) {
    return e;
  }
}

const CASES = [
  [
    'num_hidden_layers 1 over 2 layers',
    (c) => (c.semantic_model_config.num_hidden_layers = 1),
    /semantic_model\.encoder\.layers\.1\./,
  ],
  [
    'num_hidden_layers 0 over 2 layers',
    (c) => (c.semantic_model_config.num_hidden_layers = 0),
    /semantic_model\.encoder\.layers\.0\./,
  ],
  [
    'block_dilations [1] over [1, 1]',
    (c) => (c.block_dilations = [1]),
    /encoder_semantic\.conv_blocks\.\d\.res_units\.1\./,
  ],
  [
    'fewer quantizers (target_bandwidths up to 2 kbps)',
    (c) => (c.target_bandwidths = [0.5, 1, 1.5, 2]),
    /quantizer\.quantizers\.[4-7]\./,
  ],
];

for (const [what, edit, named] of CASES) {
  test(`tiny-hubert, ${what}: an XcodecCheckpointError naming the unused tensors`, async () => {
    const e = await loadError(variant('tiny-hubert', edit));
    assert.is(e?.name, 'XcodecCheckpointError', String(e));
    assert.match(e.message, /tensor\(s\) that config\.json does not use/);
    assert.match(e.message, named);
    assert.match(e.message, /\{ strict: false \}/);
  });
}

test('strict: false loads it anyway, with a warning that names the tensors', async () => {
  const dir = variant('tiny-hubert', (c) => (c.semantic_model_config.num_hidden_layers = 1));
  const warned = [];
  const warn = console.warn;
  console.warn = (m) => warned.push(String(m));
  try {
    const m = await XcodecModelSync.fromPretrained(dir, { numThreads: 1, strict: false });
    assert.ok(m.unusedTensors.some((t) => t.startsWith('semantic_model.encoder.layers.1.')));
    m.dispose();
  } finally {
    console.warn = warn;
  }
  assert.is(warned.length, 1);
  assert.match(warned[0], /semantic_model\.encoder\.layers\.1\..*loaded anyway \(strict: false\)/);
});

test("the fixtures' own configs load strictly; components skip their half without complaint", async () => {
  for (const name of ['tiny-hubert', 'tiny-hubert-layernorm', 'tiny-wavlm', 'tiny-higgs'])
    for (const components of ['all', 'decoder', 'encoder'])
      assert.is(await loadError(join(fixtures, name), { components }), null, `${name} ${components}`);
});

test('WavLM with other num_attention_heads: the per-head tensors no longer fit (a typed error)', async () => {
  const e = await loadError(variant('tiny-wavlm', (c) => (c.semantic_model_config.num_attention_heads = 1)));
  assert.is(e?.name, 'XcodecCheckpointError', String(e));
  assert.match(e.message, /gru_rel_pos|rel_attn_embed/);
});

test('strict must be a boolean', async () => {
  const e = await loadError(join(fixtures, 'tiny-hubert'), { strict: 'no' });
  assert.is(e?.name, 'XcodecInputError', String(e));
  assert.match(e.message, /strict "no" is not accepted/);
});

test.run();
