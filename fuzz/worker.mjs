// One fuzz worker: builds mutant i of the seed, runs it against the package, reports the outcome:
// ok (returned), typed (an XcodecError), untyped (any other exception), or loaded-different (a
// mutated checkpoint that loaded and gave other codes or audio than the original file).
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XcodecError, XcodecFeatureExtractor, XcodecModelSync } from '../dist/node/index.js';
import { loadAudio, readNpy } from '../dist/audio.js';
import { mutateBytes, mutateJson, mutateJsonText, rngFor } from './mutate.mjs';

console.error = () => {}; // the audio decoders log damaged frames; the outcome is what counts

const fixtures = join(workerData.root, 'test', 'fixtures');
const read = (...p) => new Uint8Array(readFileSync(join(fixtures, ...p)));
const modelDir = join(fixtures, 'tiny-hubert');
const original = {
  config: JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')),
  preprocessor: JSON.parse(readFileSync(join(modelDir, 'preprocessor_config.json'), 'utf8')),
  safetensors: read('tiny-hubert', 'model.safetensors'),
  audio: {
    wav: read('pipeline-tiny-hubert', 'stereo_8000_int16.wav'),
    flac: read('compressed', 'music_48000_stereo_s24.flac'),
    mp3: read('compressed', 'speech_22050_mono.mp3'),
    ogg: read('compressed', 'music_48000_stereo.ogg'),
    opus: read('compressed', 'speech_mono.opus'),
  },
  npy: read('tiny-hubert', 'cases', 'mono_1.0s', 'audio_codes_bw1.npy'),
};
const configBytes = new TextEncoder().encode(JSON.stringify(original.config));
const signal = Float32Array.from({ length: 8000 }, (_, i) => 0.5 * Math.sin(i * 0.03) + 0.1 * Math.sin(i * 0.7));
const model = await XcodecModelSync.fromPretrained(modelDir, { numThreads: 1 });
const reference = (() => {
  const codes = model.encode(signal).audioCodes;
  return { codes: codes.data, audio: model.decode(codes).audioValues.data };
})();

const TARGETS = ['safetensors', 'config', 'preprocessor', 'wav', 'flac', 'mp3', 'ogg', 'opus', 'npy', 'api'];

function headerLength(bytes) {
  return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

/** A checkpoint mutant: the header's bytes, its JSON structure, its length field, or the data's end. */
function safetensorsMutant(r) {
  const bytes = original.safetensors;
  const n = headerLength(bytes);
  switch (r.int(4)) {
    case 0:
      return mutateBytes(bytes, r, { from: 0, to: 8 + n });
    case 1: {
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      const mutated = new TextEncoder().encode(
        r.chance(0.2) ? mutateJsonText(JSON.stringify(header), r) : JSON.stringify(mutateJson(header, r)),
      );
      const out = new Uint8Array(8 + mutated.length + bytes.length - 8 - n);
      new DataView(out.buffer).setBigUint64(0, BigInt(mutated.length), true);
      out.set(mutated, 8);
      out.set(bytes.subarray(8 + n), 8 + mutated.length);
      return out;
    }
    case 2: {
      const out = bytes.slice();
      new DataView(out.buffer).setBigUint64(0, BigInt(n + r.pick([-7, -3, -1, 1, 2, 8, 1000, -n])), true);
      return out;
    }
    default:
      return bytes.slice(0, bytes.length - 1 - r.int(4096));
  }
}

const sameArray = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

async function runSafetensors(bytes) {
  const m = await XcodecModelSync.fromBuffers(
    { 'config.json': configBytes, 'model.safetensors': bytes },
    { numThreads: 1 },
  );
  try {
    const codes = m.encode(signal).audioCodes;
    const audio = m.decode(codes).audioValues.data;
    return sameArray(codes.data, reference.codes) && sameArray(audio, reference.audio) ? 'ok' : 'loaded-different';
  } finally {
    m.dispose();
  }
}

async function runConfig(text) {
  const m = await XcodecModelSync.fromBuffers(
    { 'config.json': new TextEncoder().encode(text), 'model.safetensors': original.safetensors },
    { numThreads: 1 },
  );
  try {
    m.decode(m.encode(signal).audioCodes);
  } finally {
    m.dispose();
  }
  return 'ok';
}

function runPreprocessor(json, length) {
  const fe = XcodecFeatureExtractor.fromConfig(json, 'preprocessor_config.json');
  fe.call(signal.subarray(0, length), { samplingRate: fe.config.samplingRate });
  return 'ok';
}

/** What a caller's onProgress throws to cancel: by design it reaches the caller unchanged (an 'ok' outcome). */
class CallerCancel extends Error {}

const WEIRD = [
  undefined,
  null,
  0,
  -1,
  1,
  2,
  4,
  0.5,
  NaN,
  Infinity,
  -Infinity,
  4n,
  -1n,
  '4',
  '',
  true,
  [],
  [4],
  {},
  { a: 1 },
  () => {},
  () => {
    throw new CallerCancel('cancelled by the caller');
  },
  1e308,
  2 ** 53,
  2 ** 31,
  1e7,
  Symbol('s'),
  new Float32Array(3),
  new Int32Array(2),
];

function weird(r, depth = 0) {
  if (depth < 3 && r.chance(0.1)) return [weird(r, depth + 1)];
  if (depth < 3 && r.chance(0.1)) return { bandwidth: weird(r, depth + 1), windowFrames: weird(r, depth + 1) };
  return r.pick(WEIRD);
}

function audioArg(r) {
  switch (r.int(5)) {
    case 0:
      return signal.subarray(0, r.int(9000));
    case 1:
      return { data: signal.subarray(0, 1 + r.int(8000)), dims: [weird(r), weird(r), weird(r)] };
    case 2: {
      const n = 1 + r.int(8000);
      const b = 1 + r.int(3);
      return { data: new Float32Array(n * b).map(() => r.next() * 2 - 1), dims: [b, 1, n] };
    }
    case 3:
      return { data: new Float32Array(16).fill(r.pick([NaN, Infinity, 1e38, 0])), dims: [1, 1, 16] };
    default:
      return weird(r);
  }
}

function codesArg(r) {
  const nq = 1 + r.int(10);
  const T = 1 + r.int(60);
  const data = Array.from({ length: nq * T }, () => (r.chance(0.02) ? r.pick([-1, 1024, 1e9, NaN, 0.5]) : r.int(1024)));
  switch (r.int(4)) {
    case 0:
      return { data: BigInt64Array.from(data.map((v) => (Number.isInteger(v) ? BigInt(v) : 0n))), dims: [1, nq, T] };
    case 1:
      return { data: Int32Array.from(data), dims: [1, nq, T] };
    case 2:
      return { data, dims: r.chance(0.5) ? [1, nq, T] : [weird(r), nq, T] };
    default:
      return weird(r);
  }
}

function optionsArg(r) {
  if (r.chance(0.2)) return weird(r);
  const o = {};
  if (r.chance(0.6)) o.bandwidth = r.chance(0.5) ? r.pick([0.5, 1, 1.5, 2, 4]) : weird(r);
  if (r.chance(0.3)) o.windowFrames = r.chance(0.5) ? 1 + r.int(60) : weird(r);
  if (r.chance(0.2)) o.onProgress = r.chance(0.5) ? () => {} : weird(r);
  return o;
}

function runApi(r) {
  switch (r.int(6)) {
    case 0:
      model.encode(audioArg(r), optionsArg(r));
      break;
    case 1:
      model.decode(codesArg(r), optionsArg(r));
      break;
    case 2:
      model.forward(audioArg(r), optionsArg(r));
      break;
    case 3:
      model.dequantize(codesArg(r));
      break;
    case 4:
      model.encodeTrace(audioArg(r), weird(r), optionsArg(r));
      break;
    default:
      model.numQuantizersFor(weird(r));
  }
  return 'ok';
}

async function runOne(index) {
  const t0 = performance.now();
  const result = await classify(index);
  return { ...result, ms: performance.now() - t0 };
}

/** --selftest: one mutant of each outcome, so the harness's own classification is tested. */
function selftest(index) {
  switch (index % 5) {
    case 0:
      return null.property; // untyped
    case 1:
      for (;;); // hang
    case 2:
      process.exit(3); // crash: the worker dies
      break;
    case 3:
      return model.encode(signal, { bandwidth: 3 }); // typed
    default:
      return 'ok';
  }
}

async function classify(index) {
  const r = rngFor(workerData.seed, index);
  if (workerData.selftest) {
    try {
      selftest(index);
      return { index, target: 'selftest', outcome: 'ok' };
    } catch (e) {
      return e instanceof XcodecError
        ? { index, target: 'selftest', outcome: 'typed', message: e.message }
        : { index, target: 'selftest', outcome: 'untyped', message: String(e) };
    }
  }
  const target = TARGETS[index % TARGETS.length];
  // The mutant is built first: a fault here is the harness's, not the package's (it crashes the run).
  const act = mutantFor(target, r);
  try {
    return { index, target, outcome: await act() };
  } catch (e) {
    if (e instanceof CallerCancel)
      return { index, target, outcome: 'ok', message: 'the caller cancelled from onProgress' };
    if (e instanceof XcodecError) return { index, target, outcome: 'typed', message: e.message.slice(0, 300) };
    return {
      index,
      target,
      outcome: 'untyped',
      message: `${e?.name}: ${String(e?.message ?? e).slice(0, 300)}`,
      stack: String(e?.stack ?? '').slice(0, 1500),
    };
  }
}

/** The mutant of a target as a call that returns the outcome ('ok' or 'loaded-different') or throws. */
function mutantFor(target, r) {
  switch (target) {
    case 'safetensors': {
      const bytes = safetensorsMutant(r);
      return () => runSafetensors(bytes);
    }
    case 'config': {
      const text = r.chance(0.25)
        ? mutateJsonText(JSON.stringify(original.config), r)
        : JSON.stringify(mutateJson(original.config, r));
      return () => runConfig(text);
    }
    case 'preprocessor': {
      const json = mutateJson(original.preprocessor, r);
      const n = 1000 + r.int(7000);
      return () => runPreprocessor(json, n);
    }
    case 'npy': {
      const bytes = mutateBytes(original.npy, r, { from: 0, to: r.chance(0.8) ? 128 : original.npy.length });
      return () => {
        readNpy(bytes);
        return 'ok';
      };
    }
    case 'api':
      return () => runApi(r);
    default: {
      const bytes = mutateBytes(original.audio[target], r);
      return async () => {
        await loadAudio(bytes, { sampleRate: 16000, fileName: `mutant.${target}` });
        return 'ok';
      };
    }
  }
}

parentPort.on('message', async (index) => {
  if (index === -1) {
    const { heapUsed, external, arrayBuffers } = process.memoryUsage();
    console.log(
      `heap ${(heapUsed / 2 ** 20).toFixed(0)} MiB, external ${(external / 2 ** 20).toFixed(0)} MiB, array buffers ${(arrayBuffers / 2 ** 20).toFixed(0)} MiB`,
    );
    return;
  }
  parentPort.postMessage(await runOne(index));
});
parentPort.postMessage({ ready: true, targets: workerData.selftest ? ['selftest'] : TARGETS });
