// The kernel interface, declared once: every WebAssembly entry point of assembly/index.ts with its
// argument names, what it returns, and how a call splits across threads. The `Kernels` type, the ids
// the workers use (threads/protocol.ts) and the split plans (threads/split.ts) are all derived from
// this table; a test checks it against the module's exports (names and argument counts).
//
// Every pointer argument is a byte offset into linear memory. A split names the argument that begins
// the range a call covers (the end is the next argument), the multiple chunk sizes are rounded to, and
// the estimated ns of work per unit of that range (a row, column or element), measured on one thread
// of the full-size model (Node 20, x86-64). Costs only decide whether a call is worth splitting and
// into how many chunks, never a result: each kernel computes every output element with the same
// instructions whatever range a call covers.

/** A kernel's arguments by name, as a split's cost function reads them. */
type Named<A extends readonly string[]> = { readonly [K in A[number]]: number };

export interface RangeSplit<A extends readonly string[]> {
  /** the argument that begins the range split across threads (the next argument ends it) */
  range: A[number];
  /** chunk sizes are multiples of this (SIMD width, tile, cache line) */
  align: number;
  /** estimated ns per unit of the range */
  cost(a: Named<A>): number;
}

/** A GEMM-shaped call: split by output rows or columns, whichever keeps chunks wide (threads/split.ts). */
export interface MatrixSplit<A extends readonly string[]> {
  rows: A[number];
  cols: A[number];
  /** estimated ns per output element */
  cost(a: Named<A>): number;
}

// biome-ignore lint/suspicious/noConfusingVoidType: R is the type of what the kernel returns, void included
export interface KernelDecl<A extends readonly string[] = readonly string[], R extends number | void = number | void> {
  readonly args: A;
  readonly split?: RangeSplit<A> | MatrixSplit<A>;
  /** a pure query (block sizes, scratch sizes): it still runs in a measuring pass, where kernels are skipped */
  readonly query?: true;
  /** type-level only: what the kernel returns */
  readonly returns?: R;
}

function kernel<const A extends readonly string[]>(
  args: A,
  split?: RangeSplit<A> | MatrixSplit<A>,
): KernelDecl<A, void> {
  return { args, split };
}

function query<const A extends readonly string[]>(args: A): KernelDecl<A, number> {
  return { args, query: true };
}

/**
 * Estimated ns per flop of the GEMM on one thread (20 GFLOP/s, deliberately on the slow side): it only
 * sets how many chunks a call is split into, never a result.
 */
export const GEMM_NS_PER_FLOP = 1 / 20;
/** GEMM tile sizes (assembly/gemm.ts): rows split in whole 4-row tiles. */
export const GEMM_ROW_ALIGN = 4;

const GEMM_ARGS = [
  'out',
  'ldo',
  'a',
  'lda',
  'b',
  'rows',
  'bias',
  'init',
  'M',
  'N',
  'K',
  'mBegin',
  'mEnd',
  'nBegin',
  'nEnd',
] as const;
const gemmElementNs = (K: number) => 2 * Math.max(K, 1) * GEMM_NS_PER_FLOP + 0.5;

export const KERNELS = {
  /**
   * out[m, n] = init[m, n] + bias[m] + sum_k a[m, k] * B(k)[n] for m in [mBegin, mEnd), n in [nBegin,
   * nEnd), where B(k) is the row at byte offset b + rows[k] (a row-offset table). init: 0, out itself
   * (accumulate), or a residual laid out like out.
   */
  gemm: kernel(GEMM_ARGS, { rows: 'mBegin', cols: 'nBegin', cost: (a) => gemmElementNs(a.K) }),
  /** gemm reading B from gemm_pack_b's panels at `packed` (packed for the same nBegin, nEnd); split by rows only */
  gemm_prepacked: kernel([...GEMM_ARGS, 'packed'], {
    range: 'mBegin',
    align: GEMM_ROW_ALIGN,
    cost: (a) => (a.nEnd - a.nBegin) * gemmElementNs(a.K),
  }),
  /** panels [panelBegin, panelEnd) of B's columns [nBegin, nEnd), every K block, at `packed` (K * ceil((nEnd - nBegin) / 8) * 32 bytes) */
  gemm_pack_b: kernel(['packed', 'b', 'rows', 'K', 'nBegin', 'nEnd', 'panelBegin', 'panelEnd'], {
    range: 'panelBegin',
    align: 1,
    cost: (a) => 2.5 * a.K,
  }),
  /** 1 where gemm packs B for slices of enough rows (a row table that is not a k-tap convolution's), else 0 */
  gemm_packs_b: query(['rows', 'K']),
  /**
   * gives the calling instance its private scratch of thread_scratch_bytes() at p: the GEMM's B panels,
   * the attention's score block and the Winograd chunk (0: the GEMM never packs; the others need one)
   */
  thread_scratch: kernel(['p']),
  thread_scratch_bytes: query([]),
  /** row table of a stride-1 conv with kw taps, dilation dil, over rows of ldb floats */
  gemm_rows: kernel(['rows', 'K', 'kw', 'ldb', 'dil']),
  /** row table of a strided conv over deinterleave's phase rows */
  gemm_rows_phases: kernel(['rows', 'C', 's', 'kw', 'ldb']),

  gelu: kernel(['out', 'x', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 7.5 }),
  elu: kernel(['out', 'x', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 4.5 }),
  sigmoid: kernel(['out', 'x', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 4.5 }),
  silu: kernel(['out', 'x', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 4.8 }),
  relu: kernel(['out', 'x', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 0.4 }),
  /** out [C, T] = a[:C] * sigmoid(a[C:]) for a [2C, T] (torch.nn.functional.glu over channels) */
  glu_rows: kernel(['out', 'a', 'C', 'T', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 5 * a.T,
  }),
  add: kernel(['out', 'a', 'b', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 0.7 }),
  scale: kernel(['out', 'x', 's', 'begin', 'end'], { range: 'begin', align: 16, cost: () => 0.3 }),
  /** Snake of x [C, T] into out [C, padLeft + T + padRight] with zero margins */
  snake: kernel(['out', 'x', 'alpha', 'T', 'padLeft', 'padRight', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 1.1 * a.T + 0.3 * (a.padLeft + a.padRight),
  }),

  group_norm_rows: kernel(['out', 'x', 'gamma', 'beta', 'T', 'eps', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 0.7 * a.T,
  }),
  /** each row's (mean, 1 / sqrt(var + eps)) into stats [C, 2] */
  group_norm_stats: kernel(['stats', 'x', 'T', 'eps', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 0.4 * a.T,
  }),
  group_norm_apply: kernel(['out', 'x', 'gamma', 'beta', 'stats', 'T', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 0.3 * a.T,
  }),
  /** GroupNorm(groups, C) of x [C, T], SiLU after it when silu != 0 */
  group_norm_groups: kernel(
    ['out', 'x', 'gamma', 'beta', 'C', 'T', 'groups', 'eps', 'silu', 'groupBegin', 'groupEnd'],
    { range: 'groupBegin', align: 1, cost: (a) => ((a.silu ? 5.5 : 1.4) * a.C * a.T) / a.groups },
  ),
  /** RMSNorm over the C channels of every column of x [C, T] (times gamma) */
  rms_norm_cols: kernel(['out', 'x', 'gamma', 'C', 'T', 'eps', 'colBegin', 'colEnd'], {
    range: 'colBegin',
    align: 16,
    cost: (a) => 0.6 * a.C,
  }),
  layer_norm_cols: kernel(['out', 'x', 'gamma', 'beta', 'C', 'T', 'eps', 'colBegin', 'colEnd'], {
    range: 'colBegin',
    align: 16,
    cost: (a) => 0.9 * a.C,
  }),

  pad_rows: kernel(['out', 'x', 'T', 'padLeft', 'padRight', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 0.3 * (a.T + a.padLeft + a.padRight),
  }),
  deinterleave: kernel(['out', 'x', 'T', 's', 'Tp', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 1.3 * a.s * a.Tp,
  }),
  interleave: kernel(['out', 'y', 's', 'Tn', 'shift', 'Tout', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 2.5 * a.Tout,
  }),
  transpose: kernel(['out', 'x', 'R', 'Cn', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 6 * a.Cn,
  }),

  weight_norm: kernel(['out', 'v', 'g', 'outer', 'D', 'inner']),
  pack_conv_strided: kernel(['out', 'w', 'cout', 'cin', 'K', 's']),
  pack_conv_transpose: kernel(['out', 'w', 'cin', 'cout', 'K', 's', 'taps']),

  argmin_cols: kernel(['codes', 'scores', 'K', 'T', 'colBegin', 'colEnd'], {
    range: 'colBegin',
    align: 16,
    cost: (a) => 1.7 * a.K,
  }),
  subtract_codewords: kernel(['residual', 'embed', 'codes', 'D', 'T', 'colBegin', 'colEnd'], {
    range: 'colBegin',
    align: 16,
    cost: (a) => 1.6 * a.D,
  }),
  add_codewords: kernel(['out', 'embed', 'codes', 'D', 'T', 'colBegin', 'colEnd'], {
    range: 'colBegin',
    align: 16,
    cost: (a) => 1.2 * a.D,
  }),
  codebook_prepare: kernel(['sq', 'neg2', 'embed', 'K', 'D']),

  /**
   * All heads of softmax(q^T k (+ WavLM's gated bias when gates != 0)) v for query columns [colBegin,
   * colEnd), keys in blocks with an online softmax (assembly/attention.ts): per query column both
   * products of every head (4 T H flops) and T exps per head. Needs the calling thread's scratch.
   */
  self_attention: kernel(
    ['ctx', 'q', 'kT', 'v', 'rows', 'gates', 'embed', 'buckets', 'H', 'heads', 'T', 'colBegin', 'colEnd'],
    { range: 'colBegin', align: 16, cost: (a) => 4 * a.T * a.H * GEMM_NS_PER_FLOP + 1.5 * a.heads * a.T },
  ),
  /**
   * self_attention with Wav2Vec2-BERT's relative keys (rel [heads, left + right + 1, T], the scaled
   * queries' products with each distance's embedding) and only the first `keys` keys attended.
   */
  self_attention_rel: kernel(
    ['ctx', 'q', 'kT', 'v', 'rows', 'rel', 'left', 'right', 'keys', 'H', 'heads', 'T', 'colBegin', 'colEnd'],
    {
      range: 'colBegin',
      align: 16,
      cost: (a) => 4 * a.keys * a.H * GEMM_NS_PER_FLOP + 2.5 * a.heads * a.keys,
    },
  ),
  /** one key block of the online softmax over columns of s [R, ld]; state: 4 rows of ld floats (max, sum, rescale, block sum) */
  softmax_online_cols: kernel(['s', 'R', 'ld', 'state', 'first', 'colBegin', 'colEnd']),
  /** x[r, t] *= f[t] for r < R, t in [colBegin, colEnd) */
  scale_cols: kernel(['x', 'ld', 'R', 'f', 'colBegin', 'colEnd']),
  /** the attention's query and key block sizes */
  attention_block_queries: query([]),
  attention_block_keys: query([]),
  wavlm_gate: kernel(['gate', 'g', 'c', 'T', 'colBegin', 'colEnd'], { range: 'colBegin', align: 16, cost: () => 20 }),

  /**
   * Winograd F(4, 7) convolution (assembly/winograd.ts), the outputs of tile columns [tileBegin,
   * tileEnd) (any bounds; whole 8-column panels are computed, so chunks of 8 waste nothing): per column
   * alpha cin cout multiply-adds in the GEMMs plus both transforms. Needs the calling thread's scratch.
   */
  conv_winograd: kernel(
    [
      'out',
      'x',
      'ldx',
      'u',
      'bias',
      'bt',
      'at',
      'alpha',
      'm',
      'cin',
      'cout',
      'tout',
      'dil',
      'shift',
      'tileBegin',
      'tileEnd',
    ],
    {
      range: 'tileBegin',
      align: 8,
      cost: (a) => 2 * a.alpha * a.cin * a.cout * GEMM_NS_PER_FLOP + 1.5 * a.alpha * (a.alpha * a.cin + a.m * a.cout),
    },
  ),
  /** u [alpha, cout, cin] = G w for PyTorch's w [cout, cin, r] (f64 sums rounded once) */
  winograd_weights: kernel(['u', 'w', 'g', 'alpha', 'r', 'cout', 'cin']),
  /** tile columns per chunk of conv_winograd for these channels (a multiple of 8), 0 where it cannot run */
  winograd_chunk_tiles: query(['alpha', 'cin', 'cout']),

  /**
   * frames [T, n] = window * irfft(mag e^(i phase)) of spec [n + 2, T] (log-magnitudes, phases), per
   * frame (assembly/fft.ts). Needs the calling thread's scratch.
   */
  istft_frames: kernel(['frames', 'spec', 'window', 'twiddles', 'n', 'T', 'frameBegin', 'frameEnd'], {
    range: 'frameBegin',
    align: 1,
    cost: (a) => 60 * a.n,
  }),
  /** the overlap-add of frames [T, n] at hop, divided by the squared-window envelope, samples [sBegin, sEnd) past pad */
  overlap_add: kernel(['out', 'frames', 'window', 'n', 'hop', 'T', 'pad', 'sBegin', 'sEnd'], {
    range: 'sBegin',
    align: 16,
    cost: (a) => (2 * a.n) / a.hop,
  }),
  /** depthwise conv: out [C, T] = each row of x (padded rows of ldx) convolved with its K taps of w [C, K] */
  depthwise_conv_rows: kernel(['out', 'x', 'w', 'ldx', 'K', 'T', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 0.5 * a.K * a.T,
  }),
  /** anti-aliased SnakeBeta of x [C, L] (2x up, SnakeBeta, 2x down; assembly/snake_beta.ts). Needs the thread's scratch. */
  snake_beta_aa: kernel(['out', 'x', 'a', 'inv', 'filter', 'L', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 40 * a.L,
  }),
  /** 1 where istft_frames takes n points */
  fft_supports: query(['n']),
  fft_max_points: query([]),
  /** Llama's rotary embedding over rows of x [heads * d, T] with a cos and sin per row */
  rotate_half_rows: kernel(['out', 'x', 'cos', 'sin', 'd', 'T', 'rowBegin', 'rowEnd'], {
    range: 'rowBegin',
    align: 1,
    cost: (a) => 0.8 * a.T,
  }),

  /** the SIMD peak probe (assembly/peak.ts): `iterations` of independent multiply-adds */
  peak_madd: query(['iterations', 'seed']),
  peak_madd_flops_per_iteration: query([]),
} as const;

export type KernelName = keyof typeof KERNELS;

type Fn<D> = D extends KernelDecl<infer A, infer R> ? (...args: { -readonly [I in keyof A]: number }) => R : never;

/** The kernels as the instance exports them (derived from KERNELS). */
export type Kernels = { [K in KernelName]: Fn<(typeof KERNELS)[K]> };

/** Kernels a worker can run, by id (their order in KERNELS): both sides of the pool derive this list. */
export const SPLIT_KERNELS: readonly KernelName[] = (Object.keys(KERNELS) as KernelName[]).filter(
  (n) => KERNELS[n].split !== undefined,
);

/** Argument positions of a kernel by name. */
export function argIndex(name: KernelName): Record<string, number> {
  return Object.fromEntries((KERNELS[name].args as readonly string[]).map((a, i) => [a, i]));
}
