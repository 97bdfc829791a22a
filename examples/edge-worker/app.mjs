// The edge-function template (Cloudflare Workers / workerd, Deno Deploy, any `fetch(request)` host):
// web-standard APIs only, no file system, no import.meta.url, no workers. The host hands over the
// checkpoint's bytes (and, where compiling WebAssembly from bytes is forbidden, the kernels as
// precompiled modules). POST WAV bytes (any rate) to get the codes as an int64 .npy [1, quantizers,
// frames]; `?bandwidth=KBPS` picks the bandwidth. The audio goes through the feature extractor like the
// CLI's, so the codes equal `xcodec encode`'s for the same file.
// POST /decode?nq=N with codes as they come (an LM's output: frames of N little-endian int32 codes,
// frame after frame, in a streaming request body) answers a WAV stream whose audio leaves while the
// codes still arrive (streamDecode: the same samples as one decode of them all). An X-Codec 2
// checkpoint (Llasa's codec) takes its own feature extractor and has no stream decode: its /decode
// answers once every code is in, as ?whole=1 does.
import {
  Xcodec2FeatureExtractor,
  XcodecError,
  XcodecFeatureExtractor,
  XcodecInputError,
  XcodecModel,
} from 'xcodec-wasm';
import { encodeWav, encodeWavStream, readAudio, toMono, writeNpy } from 'xcodec-wasm/audio';

const WAV = { 'content-type': 'audio/wav' };

/** /decode?whole=1: every code first, then one decode() (what the stream equals, bit for bit). */
async function decodeWhole(model, chunks) {
  const parts = [];
  for await (const c of chunks) parts.push(c);
  const nq = parts[0]?.dims[1] ?? 1;
  const T = parts.reduce((n, c) => n + c.dims[2], 0);
  if (T === 0) throw new XcodecInputError('/decode: no codes in the body');
  const data = new Int32Array(nq * T);
  let t0 = 0;
  for (const c of parts) {
    const t = c.dims[2];
    for (let q = 0; q < nq; q++) data.set(c.data.subarray(q * t, (q + 1) * t), q * T + t0);
    t0 += t;
  }
  const { audioValues } = await model.decode({ data, dims: [1, nq, T] });
  return encodeWav(audioValues.data, model.config.sampleRate);
}

/** The request body's bytes as code chunks [1, nq, t]: whole frames as they arrive. */
async function* codeChunks(body, nq) {
  const frameBytes = 4 * nq;
  let pending = new Uint8Array(0);
  const reader = body.getReader();
  for (;;) {
    const { done, value: bytes } = await reader.read();
    if (done) break;
    const all = new Uint8Array(pending.length + bytes.length);
    all.set(pending);
    all.set(bytes, pending.length);
    const t = Math.floor(all.length / frameBytes);
    pending = all.slice(t * frameBytes);
    if (t === 0) continue;
    const view = new DataView(all.buffer, 0, t * frameBytes);
    const data = new Int32Array(nq * t); // [nq, t] from frame-major bytes
    for (let f = 0; f < t; f++) for (let q = 0; q < nq; q++) data[q * t + f] = view.getInt32(4 * (f * nq + q), true);
    yield { data, dims: [1, nq, t] };
  }
  if (pending.length)
    throw new XcodecInputError(`the codes ended mid-frame: ${pending.length} bytes of a ${frameBytes}-byte frame`);
}

/** `getModel()` resolves to { files: { 'config.json', 'model.safetensors' }, preprocessor?, wasmModules? }. */
export function createEdgeApp(getModel) {
  let loading = null;
  const load = () => {
    loading ??= (async () => {
      const { files, preprocessor, wasmModules } = await getModel();
      // No numThreads: the default (available cores) falls back to one thread where workers are
      // forbidden, and the Promise API to this thread (runsOn 'caller').
      const model = await XcodecModel.fromBuffers(files, { wasmModules });
      const c = model.config;
      const json = preprocessor ? JSON.parse(new TextDecoder().decode(preprocessor)) : null;
      let fe;
      if (c.modelType === 'xcodec2') fe = Xcodec2FeatureExtractor.fromConfig(json ?? {});
      else if (json) fe = XcodecFeatureExtractor.fromConfig(json);
      else
        fe = new XcodecFeatureExtractor({
          featureSize: 1,
          samplingRate: c.sampleRate,
          paddingValue: 0,
          hopLength: c.hopLength,
          paddingSide: 'right',
        });
      return { model, fe };
    })();
    loading.catch(() => {
      loading = null;
    }); // a failed load is retried by the next request
    return loading;
  };
  return {
    async fetch(request) {
      if (request.method !== 'POST')
        return new Response('POST WAV bytes to encode them, or codes to /decode?nq=N\n', { status: 405 });
      try {
        const { model, fe } = await load();
        const url = new URL(request.url);
        if (url.pathname === '/decode') {
          const nq = Number(url.searchParams.get('nq'));
          if (!Number.isInteger(nq) || nq < 1 || nq > model.config.numQuantizers || !request.body)
            throw new XcodecInputError(`/decode needs ?nq=1..${model.config.numQuantizers} and the codes as the body`);
          const chunks = codeChunks(request.body, nq);
          if (url.searchParams.has('whole') || model.config.modelType === 'xcodec2')
            return new Response(await decodeWhole(model, chunks), { headers: WAV });
          const audio = encodeWavStream(model.streamDecode(chunks), model.config.sampleRate);
          return new Response(audio, { headers: WAV });
        }
        const rate = model.config.sampleRate;
        const samples = toMono(readAudio(new Uint8Array(await request.arrayBuffer()), 'request body'), rate);
        const { inputValues } = fe.call(samples, { samplingRate: rate });
        const bw = new URL(request.url).searchParams.get('bandwidth');
        const { audioCodes } = await model.encode(inputValues, bw === null ? {} : { bandwidth: Number(bw) });
        return new Response(writeNpy(audioCodes.data, audioCodes.dims), {
          headers: {
            'content-type': 'application/octet-stream',
            'x-xcodec-threads': String(model.numThreads),
            'x-xcodec-runs-on': model.runsOn,
            'x-xcodec-simd': model.simdFlavour,
            'x-xcodec-wasm-bytes': String(model.wasmMemoryBytes),
          },
        });
      } catch (e) {
        const status = e instanceof XcodecInputError ? 400 : 500;
        return new Response(`${e instanceof XcodecError ? e.name : 'Error'}: ${e?.message ?? e}\n`, { status });
      }
    },
  };
}
