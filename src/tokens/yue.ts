// Audio tokens for audio LMs in YuE's scheme (multimodal-art-projection/YuE, inference/
// codecmanipulator.py, CodecManipulator("xcodec")): codebook k's code c is the vocabulary id
// 45334 + k * 1024 + c, and a [K, T] code array is flattened frame-major ('K T -> (T K)': frame 0's
// K ids, then frame 1's, ...). YuE's stage 1 uses 1 quantizer (0.5 kbps), stage 2 uses 8 (4 kbps).

import { XcodecInputError, describe } from '../errors.js';

/** First id of YuE's X-Codec range; 12 codebooks of 1024 ids follow (45334..57621). */
export const YUE_XCODEC_OFFSET = 45334;
export const YUE_CODEBOOK_SIZE = 1024;
export const YUE_NUM_CODEBOOKS = 12;
/** YuE's special ids around audio: start and end of audio, and the X-Codec separator. */
export const YUE_SPECIAL_TOKENS = { '<SOA>': 32001, '<EOA>': 32002, '<xcodec>': 32016 } as const;

export interface YueOptions {
  /** The first codebook the ids cover (default 0). */
  quantizerBegin?: number;
  /** How many codebooks per frame (default: all rows of the codes from quantizerBegin on; required by fromYueTokens). */
  numQuantizers?: number;
}

type CodesLike = { data: ArrayLike<number | bigint>; dims: number[] };

function range(options: YueOptions, rows: number | null, what: string): { begin: number; count: number } {
  if (typeof options !== 'object' || options === null)
    throw new XcodecInputError(`${what}: options must be an object { quantizerBegin?, numQuantizers? }`);
  const begin = options.quantizerBegin ?? 0;
  if (!Number.isInteger(begin) || begin < 0 || begin >= YUE_NUM_CODEBOOKS) {
    throw new XcodecInputError(
      `${what}: quantizerBegin ${describe(options.quantizerBegin)} is not accepted; accepted: an integer from 0 to ${YUE_NUM_CODEBOOKS - 1}`,
    );
  }
  const count = options.numQuantizers ?? (rows === null ? NaN : rows - begin);
  if (!Number.isInteger(count) || count < 1 || begin + count > YUE_NUM_CODEBOOKS) {
    throw new XcodecInputError(
      `${what}: numQuantizers ${describe(options.numQuantizers ?? count)} is not accepted; accepted: an integer from 1 to ` +
        `${YUE_NUM_CODEBOOKS - begin} (YuE's X-Codec vocabulary has ${YUE_NUM_CODEBOOKS} codebooks, from quantizerBegin ${begin})`,
    );
  }
  return { begin, count };
}

/**
 * codes [K, T] (or [1, K, T], as encode returns them) -> YuE vocabulary ids (Int32Array, frame-major)
 * for codebooks quantizerBegin .. quantizerBegin + numQuantizers - 1, which must be rows of the codes.
 */
export function toYueTokens(codes: CodesLike, options: YueOptions = {}): Int32Array {
  if (typeof codes !== 'object' || codes === null || !Array.isArray(codes.dims) || codes.data === undefined) {
    throw new XcodecInputError("toYueTokens: codes must be { data, dims: [K, T] or [1, K, T] } (encode's audioCodes)");
  }
  const dims = codes.dims.length === 3 && codes.dims[0] === 1 ? codes.dims.slice(1) : codes.dims;
  if (
    dims.length !== 2 ||
    !dims.every((d) => Number.isInteger(d) && d >= 1) ||
    codes.data.length !== dims[0] * dims[1]
  ) {
    throw new XcodecInputError(
      `toYueTokens: codes dims ${describe(codes.dims)} with ${codes.data.length} values are not accepted; accepted: [K, T] or [1, K, T] holding K * T codes`,
    );
  }
  const [K, T] = dims;
  const { begin, count } = range(options, K, 'toYueTokens');
  if (begin + count > K) {
    throw new XcodecInputError(
      `toYueTokens: codebooks ${begin}..${begin + count - 1} were asked for, but the codes have ${K} (encode at a higher bandwidth)`,
    );
  }
  const ids = new Int32Array(T * count);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < count; j++) {
      const k = begin + j;
      const raw: unknown = codes.data[k * T + t];
      const c = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : NaN;
      if (!Number.isInteger(c) || c < 0 || c >= YUE_CODEBOOK_SIZE) {
        throw new XcodecInputError(
          `toYueTokens: code ${describe(codes.data[k * T + t])} at codebook ${k}, frame ${t} is outside 0..${YUE_CODEBOOK_SIZE - 1}`,
        );
      }
      ids[t * count + j] = YUE_XCODEC_OFFSET + k * YUE_CODEBOOK_SIZE + c;
    }
  }
  return ids;
}

/**
 * YuE vocabulary ids (frame-major, numQuantizers per frame, starting with codebook quantizerBegin)
 * -> codes { data: Int32Array, dims: [1, numQuantizers, T] }, ready for decode when quantizerBegin is 0.
 * Any id outside its codebook's range is an XcodecInputError naming it (strip <SOA>/<EOA> first).
 */
export function fromYueTokens(
  ids: ArrayLike<number | bigint>,
  options: YueOptions,
): { data: Int32Array; dims: number[] } {
  if (ids === null || typeof ids !== 'object' || typeof (ids as ArrayLike<number>).length !== 'number') {
    throw new XcodecInputError('fromYueTokens: ids must be an array or typed array of vocabulary ids');
  }
  if (options?.numQuantizers === undefined)
    throw new XcodecInputError('fromYueTokens: numQuantizers is required (1 for YuE stage 1, 8 for stage 2)');
  const { begin, count } = range(options, null, 'fromYueTokens');
  if (ids.length === 0 || ids.length % count !== 0) {
    throw new XcodecInputError(
      `fromYueTokens: ${ids.length} ids are not a whole number of frames of ${count} codebooks`,
    );
  }
  const T = ids.length / count;
  const data = new Int32Array(count * T);
  for (let i = 0; i < ids.length; i++) {
    const j = i % count;
    const k = begin + j;
    const base = YUE_XCODEC_OFFSET + k * YUE_CODEBOOK_SIZE;
    const raw: unknown = ids[i];
    const id = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : NaN;
    if (!Number.isInteger(id) || id < base || id >= base + YUE_CODEBOOK_SIZE) {
      throw new XcodecInputError(
        `fromYueTokens: id ${describe(ids[i])} at position ${i} (frame ${Math.floor(i / count)}, codebook ${k}) is outside that codebook's ids ` +
          `${base}..${base + YUE_CODEBOOK_SIZE - 1}${id === 32001 || id === 32002 || id === 32016 ? ' (a special token: strip <SOA>, <EOA> and <xcodec> first)' : ''}`,
      );
    }
    data[j * T + Math.floor(i / count)] = id - base;
  }
  return { data, dims: [1, count, T] };
}
