// Named-argument calls of the kernels, one helper per family: a call states what it computes (out,
// a, b, M, N, K ...) and always covers the whole range; splitting that range across threads is the
// pool's business (threads/split.ts), so no caller outside backend/ passes a range. Pointers are byte
// offsets into linear memory. The kernels themselves are declared in kernels.ts.

import type { Runtime } from './runtime.js';

/** out [M, N] (row stride ldo) = init + bias[m] + sum_k a[m, k] * B(k)[n], B(k) the row at b + rows[k]. */
export interface GemmCall {
  out: number;
  ldo: number;
  a: number;
  lda: number;
  b: number;
  /** the row-offset table (rowTable, convRowTable) */
  rows: number;
  /** [M], or 0 */
  bias?: number;
  /** 0, out itself (accumulate) or a residual laid out like out */
  init?: number;
  M: number;
  N: number;
  K: number;
}

export function gemm(rt: Runtime, g: GemmCall): void {
  rt.k.gemm(g.out, g.ldo, g.a, g.lda, g.b, g.rows, g.bias ?? 0, g.init ?? 0, g.M, g.N, g.K, 0, g.M, 0, g.N);
}

/** A GEMM row table at `rows` for B = rows of `ldb` floats: K taps of a kernel of `taps` with dilation `dilation`. */
export function convRowTable(
  rt: Runtime,
  t: { rows: number; K: number; taps: number; ldb: number; dilation: number },
): void {
  rt.k.gemm_rows(t.rows, t.K, t.taps, t.ldb, t.dilation);
}

/** The row table of a strided conv over deinterleave's phase rows. */
export function phaseRowTable(
  rt: Runtime,
  t: { rows: number; C: number; stride: number; taps: number; ldb: number },
): void {
  rt.k.gemm_rows_phases(t.rows, t.C, t.stride, t.taps, t.ldb);
}

/** A new row table for B = `count` rows of `ldb` floats, one row per k. */
export function rowTable(rt: Runtime, count: number, ldb: number): number {
  const rows = rt.allocBytes(4 * count);
  rt.k.gemm_rows(rows, count, 1, ldb, 1);
  return rows;
}

// ---- elementwise, over n floats ----

export function unary(
  rt: Runtime,
  op: 'gelu' | 'elu' | 'sigmoid' | 'silu' | 'relu',
  out: number,
  x: number,
  n: number,
): void {
  rt.k[op](out, x, 0, n);
}

export function add(rt: Runtime, out: number, a: number, b: number, n: number): void {
  rt.k.add(out, a, b, 0, n);
}

export function scale(rt: Runtime, out: number, x: number, s: number, n: number): void {
  rt.k.scale(out, x, s, 0, n);
}

/** Snake of x [C, T] into out [C, padLeft + T + padRight] with zero margins. */
export function snake(
  rt: Runtime,
  s: { out: number; x: number; alpha: number; C: number; T: number; padLeft?: number; padRight?: number },
): void {
  rt.k.snake(s.out, s.x, s.alpha, s.T, s.padLeft ?? 0, s.padRight ?? 0, 0, s.C);
}

// ---- norms ----

/** LayerNorm over the C channels of every column of x [C, T]. */
export function layerNormColumns(
  rt: Runtime,
  n: { out: number; x: number; gamma: number; beta: number; C: number; T: number; eps: number },
): void {
  rt.k.layer_norm_cols(n.out, n.x, n.gamma, n.beta, n.C, n.T, n.eps, 0, n.T);
}

/** GroupNorm(C, C): each row of x [C, T] normalised over its T columns. */
export function groupNormRows(
  rt: Runtime,
  n: { out: number; x: number; gamma: number; beta: number; C: number; T: number; eps: number },
): void {
  rt.k.group_norm_rows(n.out, n.x, n.gamma, n.beta, n.T, n.eps, 0, n.C);
}

/** Each row's (mean, 1 / sqrt(var + eps)) of x [C, T] into stats [C, 2]. */
export function groupNormStats(rt: Runtime, n: { stats: number; x: number; C: number; T: number; eps: number }): void {
  rt.k.group_norm_stats(n.stats, n.x, n.T, n.eps, 0, n.C);
}

export function groupNormApply(
  rt: Runtime,
  n: { out: number; x: number; gamma: number; beta: number; stats: number; C: number; T: number },
): void {
  rt.k.group_norm_apply(n.out, n.x, n.gamma, n.beta, n.stats, n.T, 0, n.C);
}

/** GroupNorm(groups, C) of x [C, T], SiLU after it when `silu`. */
export function groupNormGroups(
  rt: Runtime,
  n: {
    out: number;
    x: number;
    gamma: number;
    beta: number;
    C: number;
    T: number;
    groups: number;
    eps: number;
    silu: boolean;
  },
): void {
  rt.k.group_norm_groups(n.out, n.x, n.gamma, n.beta, n.C, n.T, n.groups, n.eps, n.silu ? 1 : 0, 0, n.groups);
}

/** RMSNorm over the C channels of every column of x [C, T], times gamma. */
export function rmsNormColumns(
  rt: Runtime,
  n: { out: number; x: number; gamma: number; C: number; T: number; eps: number },
): void {
  rt.k.rms_norm_cols(n.out, n.x, n.gamma, n.C, n.T, n.eps, 0, n.T);
}

/** out [C, T] = a[:C] * sigmoid(a[C:]) of a [2C, T]. */
export function gluRows(rt: Runtime, g: { out: number; a: number; C: number; T: number }): void {
  rt.k.glu_rows(g.out, g.a, g.C, g.T, 0, g.C);
}

/** Depthwise conv of x (rows of ldx floats, padded) with w [C, K] into out [C, T]. */
export function depthwiseConv(
  rt: Runtime,
  d: { out: number; x: number; w: number; ldx: number; K: number; C: number; T: number },
): void {
  rt.k.depthwise_conv_rows(d.out, d.x, d.w, d.ldx, d.K, d.T, 0, d.C);
}

/** Anti-aliased SnakeBeta of x [C, L] into out [C, L]; a = e^alpha, inv = 1 / (e^beta + 1e-9) per channel. */
export function snakeBetaAntiAliased(
  rt: Runtime,
  s: { out: number; x: number; a: number; inv: number; filter: number; C: number; L: number },
): void {
  rt.k.snake_beta_aa(s.out, s.x, s.a, s.inv, s.filter, s.L, 0, s.C);
}

// ---- inverse STFT, rotary ----

/** frames [T, n] = window * irfft(e^mag e^(i phase)) of spec [n + 2, T]; twiddles: n f64 pairs e^(2 pi i k / n). */
export function istftFrames(
  rt: Runtime,
  f: { frames: number; spec: number; window: number; twiddles: number; n: number; T: number },
): void {
  rt.k.istft_frames(f.frames, f.spec, f.window, f.twiddles, f.n, f.T, 0, f.T);
}

/** out [samples] = the overlap-add of frames [T, n] at hop past pad, over the squared-window envelope. */
export function overlapAdd(
  rt: Runtime,
  o: { out: number; frames: number; window: number; n: number; hop: number; T: number; pad: number; samples: number },
): void {
  rt.k.overlap_add(o.out, o.frames, o.window, o.n, o.hop, o.T, o.pad, 0, o.samples);
}

/** Whether istftFrames takes n points (factors 2, 3, 5 and at most fft_max_points). */
export function fftSupports(rt: Runtime, n: number): boolean {
  return rt.k.fft_supports(n) === 1;
}

/** Llama's rotate_half rotary embedding of x [heads * d, T] into out, with cos, sin [heads * d]. */
export function rotateHalfRows(
  rt: Runtime,
  r: { out: number; x: number; cos: number; sin: number; d: number; T: number },
  rows: number,
): void {
  rt.k.rotate_half_rows(r.out, r.x, r.cos, r.sin, r.d, r.T, 0, rows);
}

// ---- layout ----

/** x [C, T] into out [C, padLeft + T + padRight] with zero margins. */
export function padRows(
  rt: Runtime,
  p: { out: number; x: number; C: number; T: number; padLeft: number; padRight: number },
): void {
  rt.k.pad_rows(p.out, p.x, p.T, p.padLeft, p.padRight, 0, p.C);
}

/** x [C, T] split into `stride` phases: out [C * stride, Tp], row c * stride + r holding x[c, r + i * stride]. */
export function deinterleave(
  rt: Runtime,
  d: { out: number; x: number; C: number; T: number; stride: number; Tp: number },
): void {
  rt.k.deinterleave(d.out, d.x, d.T, d.stride, d.Tp, 0, d.C);
}

/** Phase outputs y [C * stride, Tn] merged into out [C, Tout], output t = n * stride + phase - shift. */
export function interleave(
  rt: Runtime,
  d: { out: number; y: number; C: number; stride: number; Tn: number; shift: number; Tout: number },
): void {
  rt.k.interleave(d.out, d.y, d.stride, d.Tn, d.shift, d.Tout, 0, d.C);
}

/** x [R, C] -> out [C, R]. */
export function transpose(rt: Runtime, out: number, x: number, R: number, C: number): void {
  rt.k.transpose(out, x, R, C, 0, R);
}

// ---- residual VQ ----

/** codes (i32 [T]) = the row of the least score in each column of scores [K, T]. */
export function argminColumns(rt: Runtime, a: { codes: number; scores: number; K: number; T: number }): void {
  rt.k.argmin_cols(a.codes, a.scores, a.K, a.T, 0, a.T);
}

/** x [D, T] += sign * the codewords (embed [K, D]) of codes (i32 [T]); sign -1 subtracts. */
export function addCodewords(
  rt: Runtime,
  c: { x: number; embed: number; codes: number; D: number; T: number; sign: 1 | -1 },
): void {
  if (c.sign < 0) rt.k.subtract_codewords(c.x, c.embed, c.codes, c.D, c.T, 0, c.T);
  else rt.k.add_codewords(c.x, c.embed, c.codes, c.D, c.T, 0, c.T);
}

// ---- attention ----

/** softmax(q^T k + bias) v for every head: q, v [H, T], kT [T, H] -> ctx [H, T]; bias tables 0 for none. */
export function selfAttention(
  rt: Runtime,
  a: {
    ctx: number;
    q: number;
    kT: number;
    v: number;
    rows: number;
    gates: number;
    embed: number;
    buckets: number;
    H: number;
    heads: number;
    T: number;
  },
): void {
  rt.k.self_attention(a.ctx, a.q, a.kT, a.v, a.rows, a.gates, a.embed, a.buckets, a.H, a.heads, a.T, 0, a.T);
}

/** self-attention with relative keys rel [heads, left + right + 1, T] over the first `keys` keys. */
export function selfAttentionRelative(
  rt: Runtime,
  a: {
    ctx: number;
    q: number;
    kT: number;
    v: number;
    rows: number;
    rel: number;
    left: number;
    right: number;
    keys: number;
    H: number;
    heads: number;
    T: number;
  },
): void {
  rt.k.self_attention_rel(a.ctx, a.q, a.kT, a.v, a.rows, a.rel, a.left, a.right, a.keys, a.H, a.heads, a.T, 0, a.T);
}

/** WavLM's gate [T] of one head from its 8 gru_rel_pos outputs g [8, T] and its constant c. */
export function wavlmGate(rt: Runtime, gate: number, g: number, c: number, T: number): void {
  rt.k.wavlm_gate(gate, g, c, T, 0, T);
}

// ---- Winograd ----

/** Winograd F(m, r) convolution of the padded input x (row stride ldx) into out [cout, tout], over `tiles` tile columns. */
export function convWinograd(
  rt: Runtime,
  w: {
    out: number;
    x: number;
    ldx: number;
    u: number;
    bias: number;
    bt: number;
    at: number;
    alpha: number;
    m: number;
    cin: number;
    cout: number;
    tout: number;
    dilation: number;
    shift: number;
    tiles: number;
  },
): void {
  rt.k.conv_winograd(
    w.out,
    w.x,
    w.ldx,
    w.u,
    w.bias,
    w.bt,
    w.at,
    w.alpha,
    w.m,
    w.cin,
    w.cout,
    w.tout,
    w.dilation,
    w.shift,
    0,
    w.tiles,
  );
}

/** Tile columns per chunk of convWinograd for these channels (a multiple of 8), 0 where it cannot run. */
export function winogradChunkTiles(rt: Runtime, alpha: number, cin: number, cout: number): number {
  return rt.k.winograd_chunk_tiles(alpha, cin, cout);
}

// ---- load-time packing ----

/** u [alpha, cout, cin] = G w for PyTorch's w [cout, cin, r]. */
export function winogradWeights(
  rt: Runtime,
  p: { u: number; w: number; g: number; alpha: number; r: number; cout: number; cin: number },
): void {
  rt.k.winograd_weights(p.u, p.w, p.g, p.alpha, p.r, p.cout, p.cin);
}

/** A strided conv's weight [cout, cin, K] regrouped by phase (nn/conv.ts packConv1d). */
export function packConvStrided(
  rt: Runtime,
  p: { out: number; w: number; cout: number; cin: number; K: number; stride: number },
): void {
  rt.k.pack_conv_strided(p.out, p.w, p.cout, p.cin, p.K, p.stride);
}

/** A transposed conv's weight [cin, cout, K] as one GEMM over all output phases. */
export function packConvTranspose(
  rt: Runtime,
  p: { out: number; w: number; cin: number; cout: number; K: number; stride: number; taps: number },
): void {
  rt.k.pack_conv_transpose(p.out, p.w, p.cin, p.cout, p.K, p.stride, p.taps);
}

/** torch.nn.utils.weight_norm folded: out = v * g / ||v||, the norm over every axis but the middle one of [outer, D, inner]. */
export function weightNorm(
  rt: Runtime,
  w: { out: number; v: number; g: number; outer: number; D: number; inner: number },
): void {
  rt.k.weight_norm(w.out, w.v, w.g, w.outer, w.D, w.inner);
}

/** A codebook's distance terms: sq [K] = |e|^2 and neg2 [K, D] = -2 e, of embed [K, D]. */
export function codebookPrepare(
  rt: Runtime,
  c: { sq: number; neg2: number; embed: number; K: number; D: number },
): void {
  rt.k.codebook_prepare(c.sq, c.neg2, c.embed, c.K, c.D);
}
