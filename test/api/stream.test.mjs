// Streaming decode: random chunkings of codes through streamDecode and decodeTransform concatenate to
// decode() bit for bit, on both families (16 kHz X-Codec, 24 kHz Higgs), both conv algorithms, 1 and 2
// threads (every splittable call split), on this thread and in XcodecModel's worker; a lookahead below
// the exact one emits sooner and still ends with every sample; Higgs' delay pattern reverted whole and
// streamed; bad chunks are typed errors naming the chunk, with the audio before them kept; a consumer
// that stops releases the stream; a long stream keeps memory flat.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { XcodecModel, XcodecModelSync, revertDelayPattern, revertDelayPatternStream } from '../../dist/node/index.js';
import { fixtures, rejectsWith } from '../support/helpers.mjs';

/** A seeded generator (mulberry32), so a failing chunking can be replayed. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCodes(model, T, seed, nq = model.numQuantizersFor()) {
  const r = random(seed);
  const data = new Int32Array(nq * T);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * model.config.codebookSize);
  return { data, dims: [1, nq, T] };
}

/** Frames [from, to) of codes [1, nq, T] as a chunk. */
function slice(codes, from, to) {
  const [, nq, T] = codes.dims;
  const data = new Int32Array(nq * (to - from));
  for (let q = 0; q < nq; q++) data.set(codes.data.subarray(q * T + from, q * T + to), q * (to - from));
  return { data, dims: [1, nq, to - from] };
}

/** The codes cut at random (sizes 1..maxSize; seeded), or in chunks of `size`. */
function chunked(codes, { seed, size, maxSize = 9 }) {
  const T = codes.dims[2];
  const r = random(seed ?? 1);
  const out = [];
  for (let t = 0; t < T; ) {
    const n = Math.min(T - t, size ?? 1 + Math.floor(r() * maxSize));
    out.push(slice(codes, t, t + n));
    t += n;
  }
  return out;
}

async function collect(iterable) {
  const parts = [];
  for await (const a of iterable) {
    assert.ok(a instanceof Float32Array && a.length > 0, 'every chunk is a non-empty Float32Array');
    parts.push(a);
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { audio: out, chunks: parts.length };
}

function assertBitIdentical(got, want, what) {
  assert.is(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < w.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: sample ${i} is ${got[i]}, decode() gives ${want[i]}`);
  }
}

/** The chunks one at a time, each after a turn of the event loop: no two wait together. */
async function* slowly(chunks) {
  for await (const c of chunks) {
    await new Promise((r) => setTimeout(r, 0));
    yield c;
  }
}

for (const name of ['tiny-hubert', 'tiny-higgs']) {
  for (const decoder of ['direct', 'winograd']) {
    test(`${name}, ${decoder} decoder: random chunkings at 1 and 2 threads equal decode() bit for bit`, async () => {
      for (const numThreads of [1, 2]) {
        const model = await XcodecModelSync.fromPretrained(join(fixtures, name), {
          numThreads,
          convAlgorithm: { decoder },
        });
        try {
          if (numThreads > 1) Object.assign(model.tuning.split, { minChunkNs: 0, align: 1 }); // every splittable call split
          const exact = model.streamLookaheadFrames;
          assert.ok(exact > 0 && exact <= 20, `lookahead ${exact} frames`);
          for (const [seed, T] of [
            [1, 1],
            [2, 23],
            [3, 61],
          ]) {
            const codes = randomCodes(model, T, seed);
            const want = model.decode(codes).audioValues.data;
            for (const cut of [{ size: 1 }, { seed }, { seed: seed + 100, maxSize: 30 }, { size: T }]) {
              // all there at once (waiting chunks go through together), and one by one (each its own step)
              const what = `${name} ${decoder} ${numThreads}t T=${T} ${JSON.stringify(cut)}`;
              assertBitIdentical((await collect(model.streamDecode(chunked(codes, cut)))).audio, want, what);
              const one = await collect(model.streamDecode(slowly(chunked(codes, cut))));
              assertBitIdentical(one.audio, want, `${what}, paced`);
            }
          }
          // an async source, fewer quantizers, int64 codes; and the TransformStream form
          const codes = randomCodes(model, 37, 9, 1);
          const want = model.decode(codes).audioValues.data;
          const big = chunked(codes, { seed: 5 }).map((c) => ({
            data: BigInt64Array.from(c.data, BigInt),
            dims: c.dims,
          }));
          assertBitIdentical((await collect(model.streamDecode(slowly(big)))).audio, want, 'async int64 source');
          const piped = ReadableStream.from(chunked(codes, { seed: 6 })).pipeThrough(model.decodeTransform());
          assertBitIdentical((await collect(piped)).audio, want, 'decodeTransform');
          assert.is(model.streams.size, 0, 'no stream is left open');
        } finally {
          model.dispose();
        }
      }
    });
  }
}

test('waiting chunks go through together (25 frames in the first step, then up to 100); a chunk that comes alone goes alone', async () => {
  const model = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  try {
    const codes = randomCodes(model, 100, 71);
    const want = model.decode(codes).audioValues.data;
    const steps = [];
    model.streamStep('open', 0, {}); // creates the model's streams, so their push can be watched
    const streams = model.streams;
    const original = streams.push.bind(streams);
    streams.push = (id, chunk) => {
      steps.push(chunk.dims[2]);
      return original(id, chunk);
    };
    assertBitIdentical((await collect(model.streamDecode(chunked(codes, { size: 1 })))).audio, want, 'coalesced');
    assert.equal(
      steps,
      [25, 75],
      'an array of one-frame chunks: 25 frames first (the first audio soon), then up to 100',
    );
    steps.length = 0;
    assertBitIdentical((await collect(model.streamDecode(slowly(chunked(codes, { size: 10 }))))).audio, want, 'paced');
    assert.equal(steps, Array(10).fill(10), 'paced chunks: a step each');
  } finally {
    model.dispose();
  }
});

test('XcodecModel: the stream runs in the worker, bit-identical, and interleaves with other calls', async () => {
  const model = await XcodecModel.fromPretrained(join(fixtures, 'tiny-higgs'), { numThreads: 2 });
  try {
    assert.is(model.runsOn, 'worker');
    assert.is(model.streamLookaheadFrames, model.convAlgorithm.decoder === 'winograd' ? 17 : 10);
    const a = randomCodes(model, 41, 11);
    const b = randomCodes(model, 29, 12);
    const wantA = (await model.decode(a)).audioValues.data;
    const wantB = (await model.decode(b)).audioValues.data;
    // two streams and a decode, all at once
    const [gotA, gotB, again] = await Promise.all([
      collect(model.streamDecode(slowly(chunked(a, { seed: 3 })))),
      collect(model.streamDecode(chunked(b, { size: 1 }))),
      model.decode(a),
    ]);
    assertBitIdentical(gotA.audio, wantA, 'stream A');
    assertBitIdentical(gotB.audio, wantB, 'stream B');
    assertBitIdentical(again.audioValues.data, wantA, 'a decode between the stream steps');
    const piped = ReadableStream.from(chunked(a, { size: 4 })).pipeThrough(model.decodeTransform());
    assertBitIdentical((await collect(piped)).audio, wantA, 'decodeTransform in the worker');
  } finally {
    await model.dispose();
  }
});

test('lookaheadFrames below the exact one: audio comes sooner, approximate, and the stream still ends exact in length', async () => {
  const model = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  try {
    const hop = model.config.hopLength;
    const codes = randomCodes(model, 40, 21);
    const want = model.decode(codes).audioValues.data;
    for (const lookaheadFrames of [0, 2, 5]) {
      let pushed = 0;
      async function* counted() {
        for (const c of chunked(codes, { size: 1 })) {
          pushed++;
          yield c;
        }
      }
      let emitted = 0;
      const parts = [];
      for await (const a of model.streamDecode(counted(), { lookaheadFrames })) {
        parts.push(...a);
        emitted += a.length;
        if (pushed < 40)
          assert.ok(emitted >= (pushed - lookaheadFrames) * hop, `lookahead ${lookaheadFrames}: after frame ${pushed}`);
      }
      assert.is(parts.length, want.length, `${lookaheadFrames}: every sample`);
      // the approximation differs near the chunk edges, but is the same audio
      let err = 0;
      let power = 0;
      for (let i = 0; i < want.length; i++) {
        err += (parts[i] - want[i]) ** 2;
        power += want[i] ** 2;
      }
      assert.ok(err > 0, `${lookaheadFrames}: an approximation`);
      assert.ok(err < power, `${lookaheadFrames}: SNR ${(10 * Math.log10(power / err)).toFixed(1)} dB > 0`);
    }
    // at or above the exact lookahead: exact
    const exact = await collect(
      model.streamDecode(chunked(codes, { size: 1 }), { lookaheadFrames: model.streamLookaheadFrames + 3 }),
    );
    assertBitIdentical(exact.audio, want, 'lookahead above the exact one');
    for (const bad of [-1, 1.5, '3', null]) {
      await rejectsWith(
        'XcodecInputError',
        collect(model.streamDecode([], { lookaheadFrames: bad })),
        'lookaheadFrames',
      );
    }
  } finally {
    model.dispose();
  }
});

test('bad chunks: typed errors naming the chunk; the audio before them stays valid; the stream is released', async () => {
  const model = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  try {
    const codes = randomCodes(model, 30, 31);
    const want = model.decode(codes).audioValues.data;
    const good = chunked(codes, { size: 10 });
    const nq = codes.dims[1];
    const cases = [
      [
        { data: new Int32Array(10), dims: [1, 1, 10] },
        'XcodecInputError',
        'code chunk 2 has 1 quantizers',
        `first chunk ${nq}`,
      ],
      [
        { data: new Int32Array(nq * 3).fill(model.config.codebookSize), dims: [1, nq, 3] },
        'XcodecInputError',
        'code chunk 2',
        'outside the codebook',
      ],
      [{ data: Array(nq).fill(1.5), dims: [1, nq, 1] }, 'XcodecInputError', 'code chunk 2', 'outside the codebook'],
      [{ data: [], dims: [1, nq, 0] }, 'XcodecInputError', 'code chunk 2', 'every size >= 1'],
      [{ data: new Int32Array(nq * 2), dims: [2, nq, 1] }, 'XcodecInputError', 'code chunk 2 has batch 2'],
      [{ data: new Int32Array(5), dims: [1, nq, 3] }, 'XcodecInputError', 'code chunk 2', 'need'],
      ['codes', 'XcodecInputError', 'code chunk 2'],
    ];
    for (const [bad, error, ...fragments] of cases) {
      const emitted = [];
      const run = (async () => {
        for await (const a of model.streamDecode([good[0], good[1], bad, good[2]])) emitted.push(...a);
      })();
      await rejectsWith(error, run, ...fragments);
      assert.ok(emitted.length > 0, 'audio came before the bad chunk');
      assertBitIdentical(
        Float32Array.from(emitted),
        want.subarray(0, emitted.length),
        'the audio before the bad chunk',
      );
      assert.is(model.streams.size, 0, 'the failed stream is released');
    }
    // a source that throws
    async function* failing() {
      yield good[0];
      throw new Error('the LM crashed');
    }
    const emitted = [];
    const run = (async () => {
      for await (const a of model.streamDecode(failing())) emitted.push(...a);
    })();
    const e = await rejectsWith('XcodecInputError', run, 'failed before chunk 1', 'the LM crashed');
    assert.is(e.cause?.message, 'the LM crashed');
    assertBitIdentical(Float32Array.from(emitted), want.subarray(0, emitted.length), 'audio before the failure');
    await rejectsWith('XcodecInputError', collect(model.streamDecode(42)), 'source 42 is not accepted', 'Iterable');
    // a consumer that stops early releases the stream
    for await (const _ of model.streamDecode(chunked(codes, { size: 1 }))) break;
    assert.is(model.streams.size, 0, 'break released the stream');
    const reader = ReadableStream.from(chunked(codes, { size: 1 }))
      .pipeThrough(model.decodeTransform())
      .getReader();
    await reader.read();
    await reader.cancel('enough');
    await new Promise((r) => setTimeout(r, 10));
    assert.is(model.streams.size, 0, 'a cancelled decodeTransform released the stream');
    // and the model still decodes the same
    assertBitIdentical((await collect(model.streamDecode(good))).audio, want, 'after the failures');
  } finally {
    model.dispose();
  }
});

test('a consumer that stops releases the stream in the worker too', async () => {
  const model = await XcodecModel.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  try {
    const codes = randomCodes(model, 20, 41);
    for await (const _ of model.streamDecode(chunked(codes, { size: 1 }))) break;
    // stream 1 was opened and closed: a step on it is refused
    await rejectsWith(
      'XcodecRuntimeError',
      model.streamStep('push', 1, slice(codes, 0, 1)),
      'decode stream 1 is not open',
    );
    await rejectsWith('XcodecInputError', collect(model.streamDecode([{ data: [1], dims: [1, 1] }])), 'code chunk 0');
  } finally {
    await model.dispose();
  }
});

test('memory stays flat over a long stream of one-frame chunks', async () => {
  const model = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-hubert'), { numThreads: 1 });
  try {
    const codes = randomCodes(model, 50, 51);
    async function* endless(n) {
      for (let i = 0; i < n; i++) yield slice(codes, i % 50, (i % 50) + 1);
    }
    let samples = 0;
    const memory = [];
    for await (const a of model.streamDecode(slowly(endless(2000)))) {
      samples += a.length;
      memory.push(model.wasmMemoryBytes);
    }
    assert.is(samples, 2000 * model.config.hopLength);
    memory.pop(); // the end of the stream flushes the decoder's tail at once
    assert.ok(memory.length > 400, `${memory.length} audio chunks: one a step`);
    assert.is(
      memory[memory.length - 1],
      memory[200],
      'no growth of the WebAssembly memory after the first 200 audio chunks',
    );
  } finally {
    model.dispose();
  }
});

test("Higgs' delay pattern: reverted whole as boson-ai's revert_delay_pattern, and streamed frame by frame", async () => {
  // 3 codebooks, 4 frames: row k holds k BOS (-1 here) columns before its codes and 2 - k padding after
  const delayed = {
    data: Int32Array.from([10, 11, 12, 13, 90, 90, -1, 20, 21, 22, 23, 90, -1, -1, 30, 31, 32, 33]),
    dims: [3, 6],
  };
  const whole = revertDelayPattern(delayed);
  assert.equal(whole.dims, [1, 3, 4]);
  assert.equal([...whole.data], [10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33]);
  const big = revertDelayPattern({ data: BigInt64Array.from(delayed.data, BigInt), dims: [1, 3, 6] });
  assert.ok(big.data instanceof BigInt64Array);
  assert.equal([...big.data].map(Number), [...whole.data]);
  // streaming: each frame as soon as its last codebook has come, for any chunking
  const asChunks = (sizes) => {
    const out = [];
    for (let t = 0, k = 0; t < 6; ) {
      const n = Math.min(6 - t, sizes[k++ % sizes.length]);
      out.push(slice({ data: delayed.data, dims: [1, 3, 6] }, t, t + n));
      t += n;
    }
    return out;
  };
  for (const sizes of [[1], [2, 1], [6]]) {
    const got = [];
    let columns = 0;
    const chunks = asChunks(sizes);
    async function* counted() {
      for (const c of chunks) {
        columns += c.dims[2];
        yield c;
      }
    }
    for await (const c of revertDelayPatternStream(counted())) {
      const frames = got.length + c.dims[2];
      assert.is(frames, Math.max(0, columns - 2), `${sizes}: frames out as soon as complete`);
      for (let t = 0; t < c.dims[2]; t++) got.push([0, 1, 2].map((k) => c.data[k * c.dims[2] + t]));
    }
    assert.equal(
      got,
      [0, 1, 2, 3].map((t) => [10 + t, 20 + t, 30 + t]),
      `${sizes}`,
    );
  }
  // composed with streamDecode on a Higgs model: equal to decode() of the reverted codes
  const model = await XcodecModelSync.fromPretrained(join(fixtures, 'tiny-higgs'), { numThreads: 1 });
  try {
    const nq = model.numQuantizersFor();
    const aligned = randomCodes(model, 33, 61);
    const S = 33 + nq - 1;
    const d = new Int32Array(nq * S).fill(model.config.codebookSize); // BOS/padding outside the codebook
    for (let k = 0; k < nq; k++) d.set(aligned.data.subarray(k * 33, (k + 1) * 33), k * S + k);
    const want = model.decode(aligned).audioValues.data;
    const stream = model.streamDecode(revertDelayPatternStream(chunked({ data: d, dims: [1, nq, S] }, { size: 1 })));
    assertBitIdentical((await collect(stream)).audio, want, 'delayed stream -> streamDecode');
    assert.equal([...revertDelayPattern({ data: d, dims: [1, nq, S] }).data], [...aligned.data]);
  } finally {
    model.dispose();
  }
  // bad input
  assert.throws(() => revertDelayPattern({ data: [1, 2], dims: [2, 1] }), /no whole frame/);
  assert.throws(() => revertDelayPattern({ data: [1, 2, 3], dims: [2, 1] }), /need 2/);
  assert.throws(() => revertDelayPattern({ data: [1.5, 2], dims: [1, 2] }), /32-bit integers/);
  const run = async (chunks) => {
    for await (const _ of revertDelayPatternStream(chunks));
  };
  await rejectsWith(
    'XcodecInputError',
    run([{ data: [1, 2], dims: [1, 2, 1] }]),
    'ended mid-frame',
    '1 columns for 2 codebooks',
  );
  await rejectsWith(
    'XcodecInputError',
    run([
      { data: [1, 2], dims: [1, 2, 1] },
      { data: [1], dims: [1, 1, 1] },
    ]),
    'delayed code chunk 1 has 1 codebooks',
  );
  await rejectsWith('XcodecInputError', run(7), 'source 7 is not accepted');
});

test.run();
