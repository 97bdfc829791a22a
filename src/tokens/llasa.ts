// Speech tokens of the Llasa TTS models (HKUSTAudio/Llasa-*, X-Codec 2's one codebook of 65,536
// codes): frame t's code c is the text token `<|s_c|>`, written frame after frame with nothing
// between them, as Llasa's published inference code writes them (ids_to_speech_tokens) and reads them
// back from the model's output (extract_speech_ids, which keeps the tokens <|s_N|> of the generated
// span). Here anything else in the span is refused rather than skipped.

import { XcodecInputError, describe } from '../errors.js';

/** X-Codec 2's codebook: FSQ levels 4 x 8 (4^8 codes). */
export const LLASA_CODEBOOK_SIZE = 65536;

type CodesLike = { data: ArrayLike<number | bigint>; dims: number[] };

const TOKEN = /<\|s_(\d+)\|>/y;

/** codes [1, 1, T] (or [1, T], [T]) -> Llasa's speech tokens, one `<|s_N|>` per frame (join('') for the text). */
export function toLlasaTokens(codes: CodesLike | { audioCodes: CodesLike }): string[] {
  const c = (
    typeof codes === 'object' && codes !== null && 'audioCodes' in codes ? codes.audioCodes : codes
  ) as CodesLike;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.dims) || c.data?.length === undefined) {
    throw new XcodecInputError(
      "toLlasaTokens: codes must be { data, dims: [1, 1, T] } (X-Codec 2 encode's audioCodes)",
    );
  }
  const T = c.dims[c.dims.length - 1];
  if (!c.dims.slice(0, -1).every((d) => d === 1) || !Number.isInteger(T) || T < 1 || c.data.length !== T) {
    throw new XcodecInputError(
      `toLlasaTokens: codes dims ${describe(c.dims)} with ${c.data.length} values are not accepted; accepted: [1, 1, T] ([1, T] or [T]): one item, one codebook`,
    );
  }
  const out = new Array<string>(T);
  for (let t = 0; t < T; t++) {
    const raw: unknown = c.data[t];
    const v = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : NaN;
    if (!Number.isInteger(v) || v < 0 || v >= LLASA_CODEBOOK_SIZE) {
      throw new XcodecInputError(
        `toLlasaTokens: code ${describe(raw)} at frame ${t} is outside X-Codec 2's codebook; accepted: integers 0..${LLASA_CODEBOOK_SIZE - 1}`,
      );
    }
    out[t] = `<|s_${v}|>`;
  }
  return out;
}

/**
 * Llasa's speech tokens -> codes { data: Int32Array, dims: [1, 1, T] }, ready for decode: the text of
 * the generated span (`<|s_12|><|s_9040|>...`) or its tokens one by one. Anything that is not a
 * speech token (text, <|SPEECH_GENERATION_END|>, an id past the codebook) is an XcodecInputError
 * naming it and where it is: cut the span between the generation markers first.
 */
export function fromLlasaTokens(tokens: string | readonly string[]): { data: Int32Array; dims: [1, 1, number] } {
  const ids: number[] = [];
  const take = (digits: string, where: string, token: string) => {
    const v = digits.length <= 6 ? Number(digits) : NaN;
    if (!(v < LLASA_CODEBOOK_SIZE)) {
      throw new XcodecInputError(
        `fromLlasaTokens: ${token} ${where} is past X-Codec 2's codebook; accepted: <|s_0|> .. <|s_${LLASA_CODEBOOK_SIZE - 1}|>`,
      );
    }
    ids.push(v);
  };
  if (typeof tokens === 'string') {
    for (let at = 0; at < tokens.length; ) {
      TOKEN.lastIndex = at;
      const m = TOKEN.exec(tokens);
      if (!m) {
        throw new XcodecInputError(
          `fromLlasaTokens: ${describe(tokens.slice(at, at + 40))} at character ${at} is not a speech token <|s_N|>; accepted: speech tokens only, one after another`,
        );
      }
      take(m[1], `at character ${at}`, m[0]);
      at = TOKEN.lastIndex;
    }
  } else if (Array.isArray(tokens)) {
    tokens.forEach((token, i) => {
      const m = typeof token === 'string' ? /^<\|s_(\d+)\|>$/.exec(token) : null;
      if (!m) {
        throw new XcodecInputError(
          `fromLlasaTokens: token ${i} ${describe(token)} is not a speech token <|s_N|>; accepted: speech tokens only`,
        );
      }
      take(m[1], `(token ${i})`, token);
    });
  } else {
    throw new XcodecInputError(
      `fromLlasaTokens: ${describe(tokens)} is not accepted; accepted: the generated text or an array of tokens`,
    );
  }
  if (ids.length === 0) throw new XcodecInputError('fromLlasaTokens: no speech tokens; accepted: at least one <|s_N|>');
  return { data: Int32Array.from(ids), dims: [1, 1, ids.length] };
}
