// `xcodec decode codes.npy -o -`: a WAV streamed to stdout while the codes decode (streamDecode), so
// `| ffplay -` or `| aplay` plays from the first chunk on. The header says the length is unknown, as
// streaming WAV writers do; a reader that goes away (EPIPE) ends the decode quietly. X-Codec 2 cannot
// stream (its decoder attends over the whole sequence): its codes decode whole, then go out the same way.

import type { Writable } from 'node:stream';
import { encodeWavStream } from '../io/wav.js';
import { type CodesInput, XcodecInputError, type XcodecModelSync } from './index.js';

/** Frames per decode step: the first audio leaves after about this many frames and the decoder's lookahead. */
const STREAM_CHUNK_FRAMES = 5;

export async function decodeToStream(
  model: XcodecModelSync,
  codes: CodesInput,
  out: Writable,
  options: { rescale: boolean },
): Promise<number> {
  if (options.rescale) {
    throw new XcodecInputError(
      "--rescale scales by the whole signal's peak, which a stream (-o -) does not know before its end; accepted: -o - without --rescale, or -o FILE.wav with it",
    );
  }
  const [B, nq, T] = codes.dims;
  if (B !== 1) {
    throw new XcodecInputError(
      `-o - streams one signal but the codes hold a batch of ${B}; accepted: codes (1, nq, T), or -o FILE.npy for a batch`,
    );
  }
  function* chunks(): Generator<CodesInput> {
    for (let t = 0; t < T; t += STREAM_CHUNK_FRAMES) {
      const n = Math.min(STREAM_CHUNK_FRAMES, T - t);
      const data = codes.data instanceof BigInt64Array ? new BigInt64Array(nq * n) : new Int32Array(nq * n);
      for (let q = 0; q < nq; q++)
        (data as Int32Array).set((codes.data as Int32Array).subarray(q * T + t, q * T + t + n), q * n);
      yield { data, dims: [1, nq, n] };
    }
  }
  async function* whole(): AsyncGenerator<Float32Array> {
    yield model.decode(codes).audioValues.data;
  }
  const audio = model.config.modelType === 'xcodec2' ? whole() : model.streamDecode(chunks());
  const reader = encodeWavStream(audio, model.config.sampleRate).getReader();
  let gone = false;
  let failure: Error | null = null;
  const onError = (e: NodeJS.ErrnoException) => {
    gone = true;
    if (e.code !== 'EPIPE') failure = e;
  };
  out.on('error', onError);
  try {
    while (!gone) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!out.write(value))
        await new Promise<void>((resolve) => {
          const go = () => {
            out.off('drain', go);
            out.off('close', go);
            resolve();
          };
          out.on('drain', go);
          out.on('close', go);
        });
    }
  } finally {
    if (gone) await reader.cancel();
    out.off('error', onError);
  }
  if (failure) throw failure;
  return 0;
}
