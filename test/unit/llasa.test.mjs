// Llasa's speech tokens (src/tokens/llasa.ts): <|s_N|> per frame as Llasa's ids_to_speech_tokens writes
// them, read back from the generated text or token list; anything else is a typed error naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LLASA_CODEBOOK_SIZE, fromLlasaTokens, toLlasaTokens } from '../../dist/index.js';

const codes = { data: BigInt64Array.from([0n, 12n, 65535n, 9040n]), dims: [1, 1, 4] };

test('codes to tokens and back, as text and as a list', () => {
  assert.is(LLASA_CODEBOOK_SIZE, 65536);
  const tokens = toLlasaTokens(codes);
  assert.equal(tokens, ['<|s_0|>', '<|s_12|>', '<|s_65535|>', '<|s_9040|>']);
  assert.equal(toLlasaTokens({ audioCodes: codes }), tokens, "encode's output as it is");
  assert.equal(toLlasaTokens({ data: [5, 6], dims: [2] }), ['<|s_5|>', '<|s_6|>'], '[T]');
  for (const back of [fromLlasaTokens(tokens.join('')), fromLlasaTokens(tokens)]) {
    assert.equal(back.dims, [1, 1, 4]);
    assert.ok(back.data instanceof Int32Array);
    assert.equal([...back.data], [0, 12, 65535, 9040]);
  }
  assert.equal([...fromLlasaTokens('<|s_007|>').data], [7], "leading zeros read as Python's int() reads them");
});

test('anything else is a typed error naming what and where', () => {
  const bad = (fn, ...fragments) => {
    try {
      fn();
    } catch (e) {
      assert.is(e.name, 'XcodecInputError', e.message);
      for (const f of fragments) assert.ok(e.message.includes(f), `${e.message} lacks ${f}`);
      return;
    }
    assert.unreachable('no error');
  };
  bad(() => toLlasaTokens({ data: [1, 2, 3, 4], dims: [1, 2, 2] }), 'one item, one codebook');
  bad(() => toLlasaTokens({ data: [1, 65536], dims: [1, 1, 2] }), 'code 65536 at frame 1', '0..65535');
  bad(() => toLlasaTokens({ data: [1.5], dims: [1, 1, 1] }), 'at frame 0');
  bad(() => toLlasaTokens(null), '[1, 1, T]');
  bad(() => fromLlasaTokens('<|s_1|><|SPEECH_GENERATION_END|>'), 'at character 7', 'not a speech token');
  bad(() => fromLlasaTokens('<|s_1|> <|s_2|>'), 'at character 7');
  bad(() => fromLlasaTokens('<|s_65536|>'), '<|s_65536|> at character 0 is past');
  bad(() => fromLlasaTokens(['<|s_1|>', 'hello']), 'token 1 "hello"');
  bad(() => fromLlasaTokens(['<|s_99999999|>']), 'past');
  bad(() => fromLlasaTokens(''), 'no speech tokens');
  bad(() => fromLlasaTokens([]), 'no speech tokens');
  bad(() => fromLlasaTokens(42), 'not accepted');
});

test.run();
