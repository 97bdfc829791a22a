// The edge-function template (Cloudflare Workers / workerd, Deno Deploy, any `fetch(request)` host):
// web-standard APIs only, no file system, no import.meta.url, no workers. The host hands over the
// checkpoint's bytes (and, where compiling WebAssembly from bytes is forbidden, the kernels as
// precompiled modules). POST WAV bytes (any rate) to get the codes as an int64 .npy [1, quantizers,
// frames]; `?bandwidth=KBPS` picks the bandwidth. The audio goes through the feature extractor like the
// CLI's, so the codes equal `xcodec encode`'s for the same file.
import { XcodecError, XcodecFeatureExtractor, XcodecInputError, XcodecModel } from 'xcodec-wasm';
import { readAudio, toMono, writeNpy } from 'xcodec-wasm/audio';

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
      const fe = preprocessor
        ? XcodecFeatureExtractor.fromConfig(JSON.parse(new TextDecoder().decode(preprocessor)))
        : new XcodecFeatureExtractor({
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
      if (request.method !== 'POST') return new Response('POST WAV bytes to encode them\n', { status: 405 });
      try {
        const { model, fe } = await load();
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
