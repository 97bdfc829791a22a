// Kernel entry points. Every pointer is a byte offset into the imported linear memory; no managed
// objects are created, so the stub runtime never allocates. src/kernels.ts declares each export's
// arguments and thread split for the TypeScript side (a test checks the two agree).
export { gemm, gemm_prepacked, gemm_pack_b, gemm_packs_b, gemm_rows, gemm_rows_phases } from './gemm';
export { thread_scratch, thread_scratch_bytes } from './scratch';
export { gelu, elu, sigmoid, silu, relu, glu_rows, add, scale, snake } from './activations';
export {
  group_norm_rows,
  group_norm_stats,
  group_norm_apply,
  group_norm_groups,
  layer_norm_cols,
  rms_norm_cols,
} from './norms';
export { softmax_online_cols } from './softmax';
export { pad_rows, deinterleave, interleave, transpose } from './layout';
export { weight_norm, pack_conv_strided, pack_conv_transpose } from './packing';
export { argmin_cols, subtract_codewords, add_codewords, codebook_prepare } from './rvq';
export {
  self_attention,
  self_attention_rel,
  scale_cols,
  attention_block_queries,
  attention_block_keys,
  wavlm_gate,
} from './attention';
export { conv_winograd, winograd_weights, winograd_chunk_tiles } from './winograd';
export { istft_frames, overlap_add, fft_supports, fft_max_points, rotate_half_rows } from './fft';
export { depthwise_conv_rows } from './depthwise';
export { snake_beta_aa } from './snake_beta';
export { peak_madd, peak_madd_flops_per_iteration } from './peak';
