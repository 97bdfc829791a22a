// Each thread's private scratch, one region per instance: the GEMM's B panels, then the attention's
// score block. Set once per instance (each thread's instance has its own globals).

import { gemm_panel, gemm_panel_bytes } from './gemm';
import { attention_scratch, attention_scratch_bytes } from './attention';

export function thread_scratch_bytes(): i32 {
  return gemm_panel_bytes() + attention_scratch_bytes();
}

export function thread_scratch(p: usize): void {
  gemm_panel(p);
  attention_scratch(p + <usize>gemm_panel_bytes());
}
