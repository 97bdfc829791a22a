// YuE's token scheme for X-Codec codes (CodecManipulator("xcodec") in YuE's inference/codecmanipulator.py):
// id = 45334 + k * 1024 + code for codebook k, frame-major.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { XcodecModelSync, YUE_SPECIAL_TOKENS, fromYueTokens, toYueTokens } from '../../dist/node/index.js';
import { fixtures } from '../support/helpers.mjs';

const throwsInput = (fn, pattern) => assert.throws(fn, (e) => e.name === 'XcodecInputError' && pattern.test(e.message));

test('ids computed by hand from the rules: offsets per codebook, frame-major order', () => {
  // 2 codebooks x 3 frames: rows are codebooks
  const codes = { data: BigInt64Array.from([5n, 0n, 1023n, 7n, 8n, 9n]), dims: [1, 2, 3] };
  assert.equal(Array.from(toYueTokens(codes)), [
    45334 + 5,
    45334 + 1024 + 7, // frame 0: codebook 0, codebook 1
    45334 + 0,
    45334 + 1024 + 8, // frame 1
    45334 + 1023,
    45334 + 1024 + 9, // frame 2
  ]);
  // stage 1: only codebook 0
  assert.equal(Array.from(toYueTokens(codes, { numQuantizers: 1 })), [45339, 45334, 46357]);
  // a later codebook alone keeps its absolute offset, as CodecManipulator's quantizer_begin does
  assert.equal(Array.from(toYueTokens(codes, { quantizerBegin: 1, numQuantizers: 1 })), [46365, 46366, 46367]);
  assert.equal(YUE_SPECIAL_TOKENS, { '<SOA>': 32001, '<EOA>': 32002, '<xcodec>': 32016 });
});

test('round trip: real codes (stage 1 at 0.5 kbps, stage 2 at 4 kbps) to ids and back, then decode', async () => {
  const model = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  try {
    const x = Float32Array.from({ length: 16000 }, (_, i) => 0.4 * Math.sin(i * 0.05));
    for (const [bandwidth, nq] of [
      [0.5, 1],
      [4, 8],
    ]) {
      const { audioCodes } = model.encode(x, { bandwidth });
      const ids = toYueTokens(audioCodes, { numQuantizers: nq });
      assert.is(ids.length, nq * 50);
      assert.ok(
        ids.every((id) => id >= 45334 && id < 45334 + nq * 1024),
        'every id in the X-Codec range of its stage',
      );
      const back = fromYueTokens(ids, { numQuantizers: nq });
      assert.equal(back.dims, audioCodes.dims);
      assert.ok(
        back.data.every((c, i) => BigInt(c) === audioCodes.data[i]),
        `${nq} codebooks round trip`,
      );
      const a = model.decode(back).audioValues.data;
      const b = model.decode(audioCodes).audioValues.data;
      assert.ok(
        a.every((v, i) => v === b[i]),
        'decodes like the original codes',
      );
    }
  } finally {
    model.dispose();
  }
});

test('out-of-range ids, codes and options are typed errors', () => {
  throwsInput(
    () => fromYueTokens([45334, 32002], { numQuantizers: 1 }),
    /id 32002 at position 1 .* outside that codebook's ids 45334\.\.46357 \(a special token: strip/,
  );
  throwsInput(
    () => fromYueTokens([45334 + 1024, 45334], { numQuantizers: 2 }),
    /id 46358 at position 0 \(frame 0, codebook 0\)/,
  );
  throwsInput(
    () => fromYueTokens([45334, 45334 + 1024, 45334], { numQuantizers: 2 }),
    /3 ids are not a whole number of frames of 2 codebooks/,
  );
  throwsInput(() => fromYueTokens([45334], {}), /numQuantizers is required/);
  throwsInput(
    () => fromYueTokens([45334], { numQuantizers: 13 }),
    /numQuantizers 13 is not accepted; accepted: an integer from 1 to 12/,
  );
  throwsInput(() => fromYueTokens([45334.5], { numQuantizers: 1 }), /id 45334\.5/);
  throwsInput(
    () => toYueTokens({ data: [1, 2], dims: [2, 1] }, { numQuantizers: 3 }),
    /codebooks 0\.\.2 were asked for, but the codes have 2/,
  );
  throwsInput(
    () => toYueTokens({ data: [1, 2000], dims: [2, 1] }),
    /code 2000 at codebook 1, frame 0 is outside 0\.\.1023/,
  );
  throwsInput(() => toYueTokens({ data: [1, 2, 3], dims: [2, 1] }), /dims \[2,1\] with 3 values/);
  throwsInput(() => toYueTokens({ data: [1], dims: [1, 1] }, { quantizerBegin: 12 }), /quantizerBegin 12/);
  throwsInput(() => toYueTokens(null), /codes must be/);
});

test.run();
