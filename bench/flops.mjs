// Analytic FLOP count of X-Codec (or Higgs Audio v2 tokenizer) encode and decode from a config.json
// (2 FLOPs per multiply-add of every convolution, linear layer, attention product, RVQ distance and
// RVQ projection; elementwise work and Higgs' 24 -> 16 kHz resampling, a few MFLOP, not counted).

const convOut = (t, k, s = 1, p = 0, d = 1) => Math.floor((t + 2 * p - d * (k - 1) - 1) / s) + 1;
const conv = (cin, cout, k, tOut, groups = 1) => 2 * cout * (cin / groups) * k * tOut;

export function xcodecFlops(cfg, samples) {
  const a = cfg.acoustic_model_config;
  const s = cfg.semantic_model_config;
  const hop = a.downsampling_ratios.reduce((p, x) => p * x, 1);
  const H = s.hidden_size;
  const nq = Math.floor(
    (1000 * cfg.target_bandwidths.at(-1)) /
      (Math.ceil(cfg.sample_rate / hop) * Math.ceil(Math.log2(cfg.codebook_size))),
  );
  const D = a.hidden_size + H;
  const higgs = cfg.model_type === 'higgs_audio_v2_tokenizer';
  const semanticRate = higgs ? (cfg.semantic_sample_rate ?? 16000) : cfg.sample_rate;
  const downsample = higgs ? Math.trunc(hop / (cfg.sample_rate / semanticRate) / (cfg.downsample_factor ?? 320)) : 1;
  const dim = higgs ? (cfg.codebook_dim ?? 64) : D;
  let enc = 0;
  // semantic model on the input (Higgs: resampled to 16 kHz) padded by hop/2 (Higgs: 160) each side
  let t = Math.ceil((samples * semanticRate) / cfg.sample_rate) + (higgs ? 320 : hop);
  let cin = 1;
  s.conv_dim.forEach((cout, i) => {
    t = convOut(t, s.conv_kernel[i], s.conv_stride[i]);
    enc += conv(cin, cout, s.conv_kernel[i], t);
    cin = cout;
  });
  const F = t;
  enc += 2 * cin * H * F; // feature projection
  enc += conv(H, H, s.num_conv_pos_embeddings, F + 1, s.num_conv_pos_embedding_groups);
  const I = s.intermediate_size;
  enc += s.num_hidden_layers * (4 * 2 * H * H * F + 2 * 2 * F * F * H + 2 * 2 * H * I * F);
  const T = Math.ceil(F / downsample); // Higgs keeps every downsample-th frame
  // semantic encoder (strides 1 in the published configs)
  const k = cfg.kernel_size;
  enc += conv(H, H, k, T);
  for (let i = 0; i < cfg.strides.length; i++) {
    enc += cfg.block_dilations.length * (conv(H, H, cfg.unit_kernel_size, T) + conv(H, H, 1, T));
    enc += conv(H, H, cfg.strides[i] === 1 ? 3 : 2 * cfg.strides[i], T);
  }
  // DAC encoder
  let ta = samples;
  let ch = a.encoder_hidden_size;
  enc += conv(1, ch, 7, ta);
  for (const st of a.downsampling_ratios) {
    enc += 3 * (conv(ch, ch, 7, ta) + conv(ch, ch, 1, ta));
    ta = convOut(ta, 2 * st, st, Math.ceil(st / 2));
    enc += conv(ch, 2 * ch, 2 * st, ta);
    ch *= 2;
  }
  enc += conv(ch, a.hidden_size, 3, ta);
  enc += 2 * D * D * T; // fc
  enc += nq * 2 * cfg.codebook_size * dim * T; // RVQ distances
  if (higgs) enc += nq * 2 * (2 * D * dim * T); // project_in of each residual, project_out of each codeword
  // decode
  let dec = 2 * D * a.hidden_size * T; // fc2
  if (higgs) dec += nq * 2 * D * dim * T; // project_out of each codeword
  let td = T;
  ch = a.decoder_hidden_size;
  dec += conv(a.hidden_size, ch, 7, td);
  let unitConvs = 0; // the residual units' kernel-7 convs, which Winograd F(4, 7) does in 10 / 28 of the multiplies
  for (const st of a.upsampling_ratios) {
    dec += 2 * ch * (ch / 2) * 2 * st * td; // transposed conv: every input sample meets every tap
    td *= st;
    ch /= 2;
    dec += 3 * (conv(ch, ch, 7, td) + conv(ch, ch, 1, td));
    unitConvs += 3 * conv(ch, ch, 7, td);
  }
  dec += conv(ch, 1, 7, td);
  // decodeWinograd: the multiplies this project's default decode really does (FLOP/s against it is the
  // kernels' true rate; against `decode` the effective one)
  return {
    encode: enc,
    decode: dec,
    decodeWinograd: dec - unitConvs + (unitConvs * 10) / 28,
    decodeUnitConvs: unitConvs,
    frames: T,
    quantizers: nq,
  };
}

/**
 * X-Codec 2 (Xcodec2Model) for input_values of `samples` (a multiple of 320): the Wav2Vec2-BERT layers
 * (feed-forwards, projections, attention with its relative-key table, conv module), the adapter, the
 * acoustic encoder's convolutions, fc_encoder, FSQ projections; decode: fc, embed, ResNet blocks,
 * transformer layers, the head's linear (the FFT and the anti-aliasing filters are not counted).
 */
export function xcodec2Flops(cfg, samples) {
  const s = {
    hidden_size: 1024,
    intermediate_size: 4096,
    num_hidden_layers: 16,
    left_max_position_embeddings: 64,
    right_max_position_embeddings: 8,
    conv_depthwise_kernel_size: 31,
    ...cfg.semantic_model_config,
  };
  const h = cfg.hidden_size ?? 1024;
  const I = cfg.intermediate_size ?? 4096;
  const ratios = cfg.downsampling_ratios ?? [2, 2, 4, 4, 5];
  const e = cfg.encoder_hidden_size ?? 48;
  const T = samples / 320;
  const Hs = s.hidden_size;
  const Q = h + Hs;
  const layer =
    2 * (2 * 2 * Hs * s.intermediate_size) +
    2 * 4 * Hs * Hs +
    2 * 2 * T * Hs +
    2 * (s.left_max_position_embeddings + s.right_max_position_embeddings + 1) * Hs +
    2 * (3 * Hs * Hs + s.conv_depthwise_kernel_size * Hs);
  let enc = T * (2 * 160 * Hs + s.num_hidden_layers * layer + 4 * 2 * 3 * Hs * Hs + 2 * Q * Q + 2 * 2 * 8 * Q);
  let rate = samples;
  enc += conv(1, e, 7, rate);
  ratios.forEach((stride, i) => {
    const d = e * 2 ** (i + 1);
    enc += 3 * (conv(d / 2, d / 2, 7, rate) + conv(d / 2, d / 2, 1, rate));
    rate /= stride;
    enc += conv(d / 2, d, 2 * stride, rate);
  });
  enc += conv(e * 2 ** ratios.length, h, 3, T);
  const n = 4 * 320;
  const dec =
    T *
    (2 * 8 * Q +
      2 * Q * h +
      2 * 7 * h * h +
      4 * 2 * 2 * 3 * h * h +
      (cfg.num_hidden_layers ?? 12) * (2 * 4 * h * h + 2 * 2 * T * h + 2 * 2 * h * I) +
      2 * h * (n + 2));
  return { encode: enc, decode: dec, decodeWinograd: dec, frames: T, quantizers: 1 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFileSync } = await import('node:fs');
  const cfg = JSON.parse(readFileSync(process.argv[2] ?? '../shared/fixtures/full-size/hubert/config.json', 'utf8'));
  const f = xcodecFlops(cfg, cfg.sample_rate ?? 16000);
  console.log(
    `per second of audio: encode ${(f.encode / 1e9).toFixed(1)} GFLOP, decode ${(f.decode / 1e9).toFixed(1)} GFLOP ` +
      `(${(f.decodeUnitConvs / 1e9).toFixed(1)} in the residual units' kernel-7 convs; ${(f.decodeWinograd / 1e9).toFixed(1)} with those as Winograd F(4, 7))`,
  );
}
