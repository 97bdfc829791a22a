#!/usr/bin/env node
// Writes a random, well-scaled X-Codec checkpoint for any config, as transformers' save_pretrained lays
// it out: config.json, preprocessor_config.json and model.safetensors with exactly the tensor names and
// shapes of transformers' XcodecModel, HiggsAudioV2TokenizerModel or Xcodec2Model (the ones inference
// never reads included).
//
//   node scripts/generate-weights.mjs CONFIG_DIR OUT_DIR [--seed N] [--dtype f32|f16|bf16] [--weight-norm] [--quiet]
//
// CONFIG_DIR holds config.json (and optionally preprocessor_config.json; a DacFeatureExtractor one is
// derived from config.json when missing). --weight-norm stores every acoustic (DAC) convolution as
// torch's weight_norm(dim=0) parametrization (`parametrizations.weight.original0` g [C_out,1,1], or
// [C_in,1,1] for transposed convs, and `original1` v); v holds the same values as the plain `weight`
// of the same seed and g its per-row norm, so both namings describe the same model up to rounding.
//
// Values are deterministic: every tensor has its own PRNG stream (sfc32 seeded from the seed and the
// tensor's name). The file is streamed: header first (all offsets computed up front), then each tensor
// in chunks, into model.safetensors.tmp, renamed at the end. Plain Node, no dependencies.

import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { endianness } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { safetensorsPrefix } from './safetensors-writer.mjs';

// ------------------------------------------------------------------ PRNG and number formats

/** 32-bit string hash (FNV-1a followed by a murmur3 finaliser). */
function hash32(str, seed) {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32 (Chris Doty-Humphrey's small fast counter PRNG), four 32-bit words of state. */
class Rng {
  constructor(seed, key) {
    this.a = hash32(key, seed);
    this.b = hash32(key, seed ^ 0x9e3779b9);
    this.c = hash32(key, seed ^ 0x7f4a7c15);
    this.d = 1;
    this.spare = NaN;
    for (let i = 0; i < 15; i++) this.next();
  }

  next() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in (0, 1) */
  uniform() {
    return (this.next() + 0.5) * 2.3283064365386963e-10;
  }

  /** standard normal (Box-Muller, both values used) */
  normal() {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const th = 6.283185307179586 * this.uniform();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}

const f32s = new Float32Array(1);
const u32s = new Uint32Array(f32s.buffer);

/** float -> IEEE half bits, round to nearest even */
function toF16(v) {
  f32s[0] = v;
  const x = u32s[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still correct
  return sign | h;
}

function fromF16(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float -> bfloat16 bits, round to nearest even */
function toBF16(v) {
  f32s[0] = v;
  const x = u32s[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function fromBF16(h) {
  u32s[0] = h << 16;
  return f32s[0];
}

const DTYPES = {
  f32: { name: 'F32', bytes: 4, round: (v) => Math.fround(v) },
  f16: { name: 'F16', bytes: 2, round: (v) => fromF16(toF16(v)) },
  bf16: { name: 'BF16', bytes: 2, round: (v) => fromBF16(toBF16(v)) },
};

// ------------------------------------------------------------------ the tensor list

const prod = (s) => s.reduce((p, x) => p * x, 1);

/**
 * Every tensor of transformers' XcodecModel for `cfg`: [{name, shape, init}], sorted by name. The names
 * and shapes of the tensors inference reads come from the loaders themselves (dist/model/tensors.js
 * runs them in a recording weight view); this file adds only how to fill each (the init rules below,
 * the ones ../shared/tools/reference/make_fixtures.py uses) and the tensors a checkpoint holds that
 * inference never reads (unreadTensors). init is one of
 *   {kind: 'normal', std, mean?, key?} / {kind: 'uniform', lo, hi} / {kind: 'const', value} /
 *   {kind: 'rows', norm, key}   (normal rows rescaled to the given norm: codebooks) /
 *   {kind: 'wn_g', of, shape}   (per-row norm of the `of` tensor's values: weight-norm magnitude).
 * `key` names the PRNG stream (defaults to the tensor's name), so two tensors can share values.
 */
export async function tensorSpecs(cfg, { weightNorm = false } = {}) {
  const { tensorsRead } = await import('../dist/model/tensors.js');
  const out = [];
  for (const r of await tensorsRead(cfg)) out.push(...specsFor(r, weightNorm));
  out.push(...unreadTensors(cfg));
  const seen = new Set();
  for (const t of out) {
    if (seen.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isInteger(d) && d > 0))
      throw new Error(`tensor ${t.name}: bad shape [${t.shape}] (check the config's sizes)`);
  }
  return out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

const BIAS = { kind: 'normal', std: 0.05 };
/** A conv weight's init: normal with std 1 / sqrt(fan-in), smaller for a residual unit's last conv. */
const convInit = (name, shape, transposed) => {
  const fanIn = transposed ? shape[0] * 2 : shape[1] * shape[2];
  const residualOut = /res_units?\.?\d+\.conv2\.weight$/.test(name);
  return { kind: 'normal', std: (residualOut ? 0.3 : 1) / Math.sqrt(fanIn) };
};

/** The checkpoint tensor(s) for one tensor the loaders read, with their init. */
function specsFor({ name, shape, kind }, weightNorm) {
  if (kind === 'vector') {
    const n = shape[0];
    if (name.endsWith('.alpha')) return [{ name, shape: [1, n, 1], init: { kind: 'uniform', lo: 0.5, hi: 1.5 } }];
    if (name.endsWith('.gru_rel_pos_const'))
      return [{ name, shape: [1, n, 1, 1], init: { kind: 'uniform', lo: 0.5, hi: 1.5 } }];
    throw new Error(`no checkpoint layout for the vector ${name}`);
  }
  if (kind === 'conv') {
    const prefix = name.slice(0, -'.weight'.length);
    if (name.includes('pos_conv_embed')) {
      // always stored weight-normed over the kernel axis, as transformers' HuBERT and WavLM do
      const [H, , K] = shape;
      const g = { kind: 'uniform', lo: 0.5 * Math.sqrt(H / K), hi: 1.5 * Math.sqrt(H / K) };
      return [
        { name: `${prefix}.parametrizations.weight.original0`, shape: [1, 1, K], init: g },
        { name: `${prefix}.parametrizations.weight.original1`, shape, init: { kind: 'normal', std: 1 } },
      ];
    }
    const init = convInit(name, shape, name.includes('.conv_t1.'));
    if (!weightNorm) return [{ name, shape, init }];
    // torch's weight_norm(dim=0): v the plain weight's values, g their per-row norm
    const v = { ...init, key: name };
    return [
      {
        name: `${prefix}.parametrizations.weight.original0`,
        shape: [shape[0], 1, 1],
        init: { kind: 'wn_g', of: v, shape },
      },
      { name: `${prefix}.parametrizations.weight.original1`, shape, init: v },
    ];
  }
  if (name.endsWith('.bias')) return [{ name, shape, init: BIAS }];
  // X-Codec 2: SnakeBeta's log-scale alpha and beta, and the 1-D norm scales (GroupNorm, RMSNorm, LayerNorm)
  if (shape.length === 1 && /\.act\.(alpha|beta)$/.test(name))
    return [{ name, shape, init: { kind: 'uniform', lo: -0.3, hi: 0.3 } }];
  if (shape.length === 1 && /(norm\d?|layernorm)\.weight$/.test(name))
    return [{ name, shape, init: { kind: 'normal', mean: 1, std: 0.1 } }];
  if (name.endsWith('layer_norm.weight')) return [{ name, shape, init: { kind: 'normal', mean: 1, std: 0.1 } }];
  if (name.endsWith('rel_attn_embed.weight')) return [{ name, shape, init: { kind: 'normal', std: 0.5 } }];
  if (name.endsWith('.codebook.embed')) return [{ name, shape, init: codebookRows(name, shape[0]) }];
  if (shape.length === 2) return [{ name, shape, init: { kind: 'normal', std: 1 / Math.sqrt(shape[1]) } }];
  if (shape.length === 3) return [{ name, shape, init: convInit(name, shape, false) }];
  throw new Error(`no init rule for ${name} [${shape}]`);
}

/**
 * Every codeword a random direction of the same norm, so nearest-code search is decided by direction
 * and the codes spread over the whole codebook. The norm, sqrt(2 ln size), is about the largest
 * projection of a unit-RMS residual on `size` random directions: each stage takes a step of the
 * residual's own scale (the residual shrinks a little, as in a trained RVQ, instead of growing).
 */
const codebookRows = (embedName, size) => ({ kind: 'rows', norm: Math.sqrt(2 * Math.log(size)), key: embedName });

/**
 * The tensors a transformers checkpoint holds that inference never reads: HuBERT's masked_spec_embed,
 * the semantic decoder and fc1 (training only), and each codebook's EMA state.
 */
function unreadTensors(cfg) {
  const out = [];
  if (cfg.model_type === 'xcodec2') {
    // Wav2Vec2-BERT's masked_spec_embed (training only); nothing else is left unread
    const H = cfg.semantic_model_config?.hidden_size ?? 1024;
    out.push({ name: 'semantic_encoder.masked_spec_embed', shape: [H], init: { kind: 'uniform', lo: 0, hi: 1 } });
    return out;
  }
  const conv = (name, shape, { withBias = true, transposed = false } = {}) => {
    out.push({ name: `${name}.weight`, shape, init: convInit(`${name}.weight`, shape, transposed) });
    if (withBias) out.push({ name: `${name}.bias`, shape: [transposed ? shape[1] : shape[0]], init: BIAS });
  };
  const s = cfg.semantic_model_config ?? {};
  const H = s.hidden_size ?? 768;
  if ((s.mask_time_prob ?? 0.05) > 0 || (s.mask_feature_prob ?? 0) > 0) {
    out.push({ name: 'semantic_model.masked_spec_embed', shape: [H], init: { kind: 'uniform', lo: 0, hi: 1 } });
  }
  const k = cfg.kernel_size ?? 3;
  const uk = cfg.unit_kernel_size ?? 3;
  const ratios = cfg.channel_ratios ?? [1, 1];
  const strides = cfg.strides ?? [1, 1];
  const dil = cfg.block_dilations ?? [1, 1];
  conv('decoder_semantic.conv1', [Math.trunc(H * ratios[0]), H, k], { withBias: false });
  strides.forEach((stride, i) => {
    const ci = Math.trunc(H * ratios[i]);
    const co = i < ratios.length - 1 ? Math.trunc(H * ratios[i + 1]) : H;
    const p = `decoder_semantic.conv_blocks.${i}`;
    if (stride === 1) conv(`${p}.conv`, [co, ci, 3]);
    else conv(`${p}.conv`, [ci, co, 2 * stride], { withBias: false, transposed: true });
    dil.forEach((_, j) => {
      conv(`${p}.res_units.${j}.conv1`, [co, co, uk], { withBias: false });
      conv(`${p}.res_units.${j}.conv2`, [co, co, 1], { withBias: false });
    });
  });
  conv('decoder_semantic.conv2', [H, H, k], { withBias: false });
  const hidden = (cfg.acoustic_model_config?.hidden_size ?? 256) + H;
  out.push({ name: 'fc1.weight', shape: [H, hidden], init: { kind: 'normal', std: 1 / Math.sqrt(hidden) } });
  out.push({ name: 'fc1.bias', shape: [H], init: BIAS });
  const higgs = cfg.model_type === 'higgs_audio_v2_tokenizer';
  const size = cfg.codebook_size ?? 1024;
  const dim = cfg.codebook_dim || (higgs ? 64 : hidden);
  const sr = cfg.sample_rate ?? (higgs ? 24000 : 16000);
  const bws = cfg.target_bandwidths ?? [0.5, 1, 1.5, 2, 4];
  const frameRate = Math.ceil(sr / prod(cfg.acoustic_model_config?.downsampling_ratios ?? [8, 5, 4, 2]));
  const nq = Math.floor((1000 * bws[bws.length - 1]) / (frameRate * Math.ceil(Math.log2(size))));
  for (let q = 0; q < nq; q++) {
    const p = `quantizer.quantizers.${q}.codebook`;
    out.push({ name: `${p}.inited`, shape: [1], init: { kind: 'const', value: 1 } });
    out.push({ name: `${p}.cluster_size`, shape: [size], init: { kind: 'const', value: 1 } });
    out.push({ name: `${p}.embed_avg`, shape: [size, dim], init: codebookRows(`${p}.embed`, size) });
  }
  return out;
}

// ------------------------------------------------------------------ value streams

/**
 * A sequential source of a tensor's values: fill(dst, n) writes the next n values (already rounded to
 * the storage dtype) into dst[0..n). Chunks of row-structured tensors are whole rows (see `rowLen`).
 */
function valueStream(init, name, shape, seed, dt) {
  const round = dt.round;
  switch (init.kind) {
    case 'const':
      return { rowLen: 1, fill: (dst, n) => dst.fill(round(init.value), 0, n) };
    case 'uniform': {
      const rng = new Rng(seed, init.key ?? name);
      const { lo, hi } = init;
      return {
        rowLen: 1,
        fill: (dst, n) => {
          for (let i = 0; i < n; i++) dst[i] = round(lo + (hi - lo) * rng.uniform());
        },
      };
    }
    case 'normal': {
      const rng = new Rng(seed, init.key ?? name);
      const mean = init.mean ?? 0;
      const std = init.std;
      return {
        rowLen: 1,
        fill: (dst, n) => {
          for (let i = 0; i < n; i++) dst[i] = round(mean + std * rng.normal());
        },
      };
    }
    case 'rows': {
      const rng = new Rng(seed, init.key ?? name);
      const len = shape[shape.length - 1];
      const row = new Float64Array(len);
      return {
        rowLen: len,
        fill: (dst, n) => {
          for (let r = 0; r < n; r += len) {
            let ss = 0;
            for (let i = 0; i < len; i++) {
              const v = rng.normal();
              row[i] = v;
              ss += v * v;
            }
            const f = init.norm / Math.sqrt(ss);
            for (let i = 0; i < len; i++) dst[r + i] = round(row[i] * f);
          }
        },
      };
    }
    case 'wn_g': {
      // the partner v tensor's values, regenerated from the same stream, and their norm per row (dim 0)
      const rows = init.shape[0];
      const per = prod(init.shape) / rows;
      const v = valueStream(init.of, name, init.shape, seed, dt);
      const buf = new Float32Array(per);
      const norms = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        v.fill(buf, per);
        let ss = 0;
        for (let i = 0; i < per; i++) ss += buf[i] * buf[i];
        norms[r] = Math.sqrt(ss);
      }
      let at = 0;
      return {
        rowLen: 1,
        fill: (dst, n) => {
          for (let i = 0; i < n; i++) dst[i] = round(norms[at++]);
        },
      };
    }
    default:
      throw new Error(`no init rule ${init.kind} for ${name}`);
  }
}

// ------------------------------------------------------------------ the writer

const CHUNK_ELEMENTS = 1 << 20;

/**
 * Generates OUT_DIR/{config.json, preprocessor_config.json, model.safetensors}. Returns
 * {path, bytes, tensors, parameters, seconds}.
 */
export async function generateCheckpoint(
  configDir,
  outDir,
  { seed = 0, dtype = 'f32', weightNorm = false, log = () => {} } = {},
) {
  const dt = DTYPES[dtype];
  if (!dt) throw new Error(`--dtype ${dtype}; accepted: ${Object.keys(DTYPES).join(', ')}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error(`--seed ${seed}; accepted: an integer in [0, 2^32)`);
  const started = Date.now();
  const cfgText = readFileSync(join(configDir, 'config.json'), 'utf8');
  const cfg = JSON.parse(cfgText);
  const specs = await tensorSpecs(cfg, { weightNorm });

  mkdirSync(outDir, { recursive: true });
  if (dtype === 'f32') {
    if (resolve(configDir) !== resolve(outDir)) writeFileSync(join(outDir, 'config.json'), cfgText);
  } else {
    writeFileSync(
      join(outDir, 'config.json'),
      `${JSON.stringify({ ...cfg, torch_dtype: dtype === 'f16' ? 'float16' : 'bfloat16' }, null, 2)}\n`,
    );
  }
  const pre = join(configDir, 'preprocessor_config.json');
  if (existsSync(pre)) {
    if (resolve(configDir) !== resolve(outDir)) copyFileSync(pre, join(outDir, 'preprocessor_config.json'));
  } else {
    const hop = prod(cfg.acoustic_model_config?.downsampling_ratios ?? [8, 5, 4, 2]);
    writeFileSync(
      join(outDir, 'preprocessor_config.json'),
      `${JSON.stringify(
        {
          feature_extractor_type: 'DacFeatureExtractor',
          feature_size: 1,
          hop_length: hop,
          padding_side: 'right',
          padding_value: 0.0,
          return_attention_mask: true,
          sampling_rate: cfg.sample_rate ?? (cfg.model_type === 'higgs_audio_v2_tokenizer' ? 24000 : 16000),
        },
        null,
        2,
      )}\n`,
    );
  }

  // the header first, every offset computed up front (tensors in name order), then the data streamed
  const parameters = specs.reduce((p, t) => p + prod(t.shape), 0);
  const { prefix, dataBytes: offset } = safetensorsPrefix(
    specs.map((t) => ({ name: t.name, dtype: dt.name, shape: t.shape, bytes: prod(t.shape) * dt.bytes })),
  );
  const total = prefix.length + offset;

  const finalPath = join(outDir, 'model.safetensors');
  const tmp = `${finalPath}.tmp`;
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    writeSync(fd, prefix);

    const le = endianness() === 'LE';
    const values = new Float32Array(CHUNK_ELEMENTS + 65536);
    const raw = Buffer.alloc((CHUNK_ELEMENTS + 65536) * 4);
    const f32v = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    const u16v = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    const enc16 = dtype === 'f16' ? toF16 : toBF16;
    let written = 0;
    let nextReport = 0.1;
    for (const t of specs) {
      const n = prod(t.shape);
      const stream = valueStream(t.init, t.name, t.shape, seed, dt);
      const step = Math.max(stream.rowLen, Math.floor(CHUNK_ELEMENTS / stream.rowLen) * stream.rowLen);
      if (step > values.length) throw new Error(`tensor ${t.name}: rows of ${stream.rowLen} values are too long`);
      for (let at = 0; at < n; at += step) {
        const m = Math.min(step, n - at);
        stream.fill(values, m);
        if (dt.bytes === 4) {
          if (le) f32v.set(values.subarray(0, m));
          else for (let i = 0; i < m; i++) raw.writeFloatLE(values[i], 4 * i);
        } else {
          for (let i = 0; i < m; i++) u16v[i] = enc16(values[i]);
          if (!le) for (let i = 0; i < m; i++) raw.writeUInt16LE(u16v[i], 2 * i);
        }
        writeSync(fd, raw, 0, m * dt.bytes);
        written += m * dt.bytes;
        while (offset > 0 && written / offset >= nextReport) {
          log(
            `  ${Math.round(nextReport * 100)}% (${(written / 2 ** 20).toFixed(0)} of ${(offset / 2 ** 20).toFixed(0)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
          );
          nextReport += 0.1;
        }
      }
    }
    if (written !== offset) throw new Error(`internal: wrote ${written} data bytes, header says ${offset}`);
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, finalPath);
  return { path: finalPath, bytes: total, tensors: specs.length, parameters, seconds: (Date.now() - started) / 1000 };
}

/**
 * generateCheckpoint() unless OUT_DIR already holds what it would write: a stamp file
 * (generated.json) records a hash of this generator, the config and the options, so a cache made by an
 * older generator or another config is regenerated. Returns {dir, generated, bytes, seconds}.
 */
export async function ensureCheckpoint(
  configDir,
  outDir,
  { seed = 0, dtype = 'f32', weightNorm = false, log = () => {} } = {},
) {
  const h = createHash('sha256');
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  h.update(readFileSync(join(configDir, 'config.json')));
  const pre = join(configDir, 'preprocessor_config.json');
  if (existsSync(pre)) h.update(readFileSync(pre));
  h.update(JSON.stringify({ seed, dtype, weightNorm }));
  // the loaders decide names and shapes: a change there is a new checkpoint too
  h.update(
    JSON.stringify(await tensorSpecs(JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')), { weightNorm })),
  );
  const key = h.digest('hex');
  const stampPath = join(outDir, 'generated.json');
  const model = join(outDir, 'model.safetensors');
  try {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
    if (stamp.key === key && statSync(model).size === stamp.bytes)
      return { dir: outDir, generated: false, bytes: stamp.bytes, seconds: 0 };
  } catch {
    // no stamp or no model: generate
  }
  rmSync(stampPath, { force: true });
  const r = await generateCheckpoint(configDir, outDir, { seed, dtype, weightNorm, log });
  writeFileSync(
    stampPath,
    `${JSON.stringify({ key, bytes: r.bytes, seed, dtype, weightNorm, parameters: r.parameters })}\n`,
  );
  return { dir: outDir, generated: true, bytes: r.bytes, seconds: r.seconds };
}

// ------------------------------------------------------------------ command line

async function main(argv) {
  const usage =
    'usage: node scripts/generate-weights.mjs CONFIG_DIR OUT_DIR [--seed N] [--dtype f32|f16|bf16] [--weight-norm] [--quiet]';
  const pos = [];
  const opts = { seed: 0, dtype: 'f32', weightNorm: false };
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') opts.seed = Number(argv[++i]);
    else if (a.startsWith('--seed=')) opts.seed = Number(a.slice(7));
    else if (a === '--dtype') opts.dtype = argv[++i];
    else if (a.startsWith('--dtype=')) opts.dtype = a.slice(8);
    else if (a === '--weight-norm') opts.weightNorm = true;
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      return 0;
    } else if (a.startsWith('--')) {
      console.error(`unknown option ${a}\n${usage}`);
      return 2;
    } else pos.push(a);
  }
  if (pos.length !== 2) {
    console.error(usage);
    return 2;
  }
  const [configDir, outDir] = pos;
  const log = quiet ? () => {} : (m) => console.error(m);
  log(
    `generating ${outDir}/model.safetensors from ${configDir}/config.json (seed ${opts.seed}, ${opts.dtype}${opts.weightNorm ? ', weight-normed DAC convs' : ''})`,
  );
  const r = await generateCheckpoint(configDir, outDir, { ...opts, log });
  log(
    `wrote ${r.path}: ${r.tensors} tensors, ${(r.parameters / 1e6).toFixed(2)} M parameters, ${r.bytes} bytes in ${r.seconds.toFixed(1)} s`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    console.error(`generate-weights.mjs: ${e.message}`);
    process.exitCode = 1;
  }
}
