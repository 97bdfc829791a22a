// Each thread's private scratch, one region per instance: the GEMM's B panels, the attention's score
// block, the Winograd convolution's chunk, the inverse FFT's buffers, then the anti-aliased SnakeBeta's chunk. Set once per instance (each thread's instance has its own globals).

import { gemm_panel, gemm_panel_bytes } from './gemm';
import { attention_scratch, attention_scratch_bytes } from './attention';
import { winograd_scratch, winograd_scratch_bytes } from './winograd';
import { fft_scratch, fft_scratch_bytes } from './fft';
import { snake_beta_scratch, snake_beta_scratch_bytes } from './snake_beta';

export function thread_scratch_bytes(): i32 {
  return (
    gemm_panel_bytes() +
    attention_scratch_bytes() +
    winograd_scratch_bytes() +
    fft_scratch_bytes() +
    snake_beta_scratch_bytes()
  );
}

export function thread_scratch(p: usize): void {
  gemm_panel(p);
  attention_scratch(p + <usize>gemm_panel_bytes());
  winograd_scratch(p + <usize>gemm_panel_bytes() + <usize>attention_scratch_bytes());
  const fft = p + <usize>gemm_panel_bytes() + <usize>attention_scratch_bytes() + <usize>winograd_scratch_bytes();
  fft_scratch(fft);
  snake_beta_scratch(fft + <usize>fft_scratch_bytes());
}
