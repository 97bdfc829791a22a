// XcodecModel: transformers' XcodecModel API with Promises, so the caller's thread stays free. The model
// (XcodecModelSync, its weights and its kernel threads) lives in a dedicated worker: a Web Worker in
// browsers, Deno and Bun, a worker_threads Worker in Node. Calls on one model run one at a time in call
// order; tensors go in by copy (the caller keeps its arrays; `transfer: true` moves the input's buffer
// instead) and come back by transfer (no copy).
// Where no worker can start (an edge runtime without Worker, a bundle that left model_worker.js
// behind), 'auto' runs the same model on this thread and says why in workerFallbackReason.
//   const model = await XcodecModel.fromPretrained(dir);                 // xcodec-wasm/node
//   const { audioCodes } = await model.encode(inputValues, { bandwidth: 2 });
//   const { audioValues } = await model.decode({ audioCodes });

import { type XcodecConfig, numQuantizersForBandwidth } from '../checkpoint/config.js';
import { XcodecError, XcodecInputError, XcodecRuntimeError, describe, describeError } from '../errors.js';
import { fileAccess, nodeFileAccess } from '../checkpoint/file_access.js';
import { buffersOf } from './transferables.js';
import { workerEnv } from '../backend/worker.js';
import type { Components, ConvAlgorithms } from '../model/network.js';
import type { Tuning } from '../backend/runtime.js';
import type { CheckpointSource } from '../checkpoint/weights.js';
import { type LoadRequest, METHODS, type Method } from './contract.js';
import { checkFiles, checkModelSource, splitOptions } from './checks.js';
import { type StreamOp, decodeTransform, stepsOf, streamDecode } from './decode_stream.js';
import type {
  CodeSource,
  StreamDecodeOptions,
  CodesArgument,
  CodesTensor,
  DecodeOptions,
  EncodeOptions,
  FloatTensor,
  LoadOptions,
  ModelLoadOptions,
  TransferOption,
} from './options.js';
import { XcodecModelSync } from './xcodec_model_sync.js';
import { type Backend, LocalBackend, WorkerBackend } from './model_backend.js';

export class XcodecModel {
  /** The last call queued: each call starts when the one before it has settled (call order). */
  private tail: Promise<unknown> = Promise.resolve();
  /** While > 0 the model is inside a caller's onProgress: a call on it from there is refused. */
  private inProgressCallback = 0;
  private disposed = false;

  private constructor(
    private backend: Backend,
    readonly runsOn: 'worker' | 'caller',
    readonly workerFallbackReason: string | null,
  ) {}

  /** A checkpoint directory or a Hub repository id (needs `xcodec-wasm/node`, like XcodecModelSync). */
  static async fromPretrained(dir: string, options: ModelLoadOptions = {}): Promise<XcodecModel> {
    checkModelSource(dir);
    fileAccess(`XcodecModel.fromPretrained(${describe(dir)})`); // the same error as XcodecModelSync's where file access is missing
    const nodeEntry = nodeFileAccess() ? nodeEntryUrl() : undefined; // else the worker fetches, as here
    return XcodecModel.start({ type: 'load', how: 'pretrained', dir, nodeEntry }, options, () =>
      XcodecModelSync.fromPretrained(dir, options),
    );
  }

  /** Checkpoint files in memory (browsers, edge runtimes): as XcodecModelSync.fromBuffers; the bytes are copied to the worker. */
  static async fromBuffers(
    files: Record<string, Uint8Array>,
    options: ModelLoadOptions & { config?: unknown } = {},
  ): Promise<XcodecModel> {
    checkFiles(files);
    return XcodecModel.start({ type: 'load', how: 'buffers', files, config: options.config }, options, () =>
      XcodecModelSync.fromBuffers(files, options),
    );
  }

  /** A parsed config and a tensor source: a source is functions, which cannot cross to a worker, so this model runs on the calling thread. */
  static async fromCheckpoint(
    config: XcodecConfig | unknown,
    source: CheckpointSource,
    options: LoadOptions = {},
  ): Promise<XcodecModel> {
    return new XcodecModel(
      new LocalBackend(await XcodecModelSync.fromCheckpoint(config, source, options)),
      'caller',
      'fromCheckpoint: a tensor source cannot be sent to a worker',
    );
  }

  private static async start(
    load: LoadRequest,
    options: ModelLoadOptions,
    local: () => Promise<XcodecModelSync>,
  ): Promise<XcodecModel> {
    if (typeof options !== 'object' || options === null) throw new XcodecInputError('load options must be an object');
    const mode = options.worker ?? 'auto';
    if (mode !== 'auto' && mode !== true && mode !== false)
      throw new XcodecInputError(`worker ${describe(mode)} is not accepted; accepted: 'auto', true, false`);
    const onThisThread = async (why: string) => new XcodecModel(new LocalBackend(await local()), 'caller', why);
    if (mode === false) return onThisThread('worker: false');
    const { onProgress, hub, worker: _w, workerUrl, ...plain } = options;
    if (onProgress !== undefined && typeof onProgress !== 'function')
      throw new XcodecInputError(`onProgress is ${describe(onProgress)}; accepted: a function (loaded, total) => void`);
    const { onProgress: hubProgress, ...hubPlain } = hub ?? {};
    const request: LoadRequest = {
      ...load,
      options: { ...plain, ...(hub ? { hub: hubPlain } : {}) },
      wantsProgress: onProgress !== undefined,
      wantsHubProgress: hubProgress !== undefined,
    };
    let url: URL;
    try {
      url =
        workerUrl !== undefined
          ? new URL(String(workerUrl), (globalThis as { location?: { href: string } }).location?.href)
          : new URL('./model_worker.js', import.meta.url);
    } catch {
      if (workerUrl !== undefined) throw new XcodecInputError(`workerUrl ${describe(workerUrl)} is not a URL`);
      // import.meta.url is undefined where the host bundles modules its own way (workerd): no worker script to find
      if (mode === true)
        throw new XcodecRuntimeError(
          'no worker: this module has no URL (import.meta.url) to find model_worker.js beside; pass { workerUrl }',
        );
      return onThisThread('no worker: this module has no URL (import.meta.url) to find model_worker.js beside');
    }
    if (workerEnv() === null) {
      if (mode === true)
        throw new XcodecRuntimeError('no worker: this runtime offers none (Web Workers or node:worker_threads)');
      return onThisThread('no worker: this runtime offers none (Web Workers or node:worker_threads)');
    }
    try {
      return new XcodecModel(await WorkerBackend.start(url, request, onProgress, hubProgress), 'worker', null);
    } catch (e) {
      const beforeStart = !(e instanceof XcodecError) || (e as { beforeStart?: boolean }).beforeStart === true;
      if (!beforeStart) throw e; // a load that failed in the worker fails the same here
      const why = e instanceof XcodecError ? e.message : `the model's worker did not start: ${describeError(e)}`;
      if (mode === true) throw e instanceof XcodecError ? e : new XcodecRuntimeError(why);
      return onThisThread(`no worker: ${why}`);
    }
  }

  get config(): XcodecConfig {
    return this.backend.info.config;
  }
  /** Threads running the kernels (in the worker, when there is one). */
  get numThreads(): number {
    return this.backend.info.numThreads;
  }
  get threadsFallbackReason(): string | null {
    return this.backend.info.threadsFallbackReason;
  }
  /** The knobs the model was loaded with (a copy where it runs in a worker: set them with LoadOptions.tuning). */
  get tuning(): Tuning {
    return this.backend.info.tuning;
  }
  get simdFlavour(): 'simd' | 'relaxed' {
    return this.backend.info.simdFlavour;
  }
  get components(): Components {
    return this.backend.info.components;
  }
  /** How each half's residual-unit convolutions run (LoadOptions.convAlgorithm). */
  get convAlgorithm(): ConvAlgorithms {
    return { ...this.backend.info.convAlgorithm };
  }
  get unusedTensors(): string[] {
    return this.backend.info.unusedTensors;
  }
  /** WebAssembly memory at the high-water mark, as of the last finished call. */
  get wasmMemoryBytes(): number {
    return this.backend.info.wasmMemoryBytes;
  }

  numQuantizersFor(bandwidth?: number): number {
    return numQuantizersForBandwidth(this.config, bandwidth);
  }

  /** Frames after a frame that streamDecode waits for before emitting its audio exactly (see XcodecModelSync). */
  get streamLookaheadFrames(): number {
    const n = this.backend.info.streamLookaheadFrames;
    if (n === null && this.config.xcodec2)
      throw new XcodecInputError("X-Codec 2's decoder attends over the whole sequence, so it has no exact stream");
    if (n === null) throw new XcodecInputError("this model was loaded with components: 'encoder', so it cannot decode");
    return n;
  }

  /** Code chunks -> audio chunks as each sample is final, the state kept in the worker; see XcodecModelSync.streamDecode. */
  streamDecode(source: CodeSource, options: StreamDecodeOptions = {}): AsyncGenerator<Float32Array, void, undefined> {
    const c = this.config;
    const shape = { hopLength: c.hopLength, codebookSize: c.codebookSize, numQuantizers: c.numQuantizers };
    return streamDecode(stepsOf(this.streamStep), source, options, shape);
  }

  /** streamDecode as a TransformStream of code chunks to audio chunks (for pipeThrough). */
  decodeTransform(options: StreamDecodeOptions = {}): TransformStream<CodesArgument, Float32Array> {
    return decodeTransform(stepsOf(this.streamStep), options);
  }

  private streamStep = (op: StreamOp, id: number, arg?: unknown): Promise<unknown> =>
    this.run('streamStep', arg === undefined ? [op, id] : [op, id, arg]);

  /** input_values [B, 1, N] (or a mono Float32Array) -> { audioCodes [B, nq, T] int64 }; see XcodecModelSync.encode. */
  encode(
    inputValues: FloatTensor | Float32Array,
    options: EncodeOptions & TransferOption = {},
  ): Promise<{ audioCodes: CodesTensor; audioCodesMask?: CodesTensor }> {
    return this.run('encode', [inputValues, options]) as Promise<{
      audioCodes: CodesTensor;
      audioCodesMask?: CodesTensor;
    }>;
  }

  /** audio_codes [B, nq, T] (or encode's output) -> { audioValues [B, 1, T * hop] }. */
  decode(
    audioCodes: CodesArgument,
    options: DecodeOptions & TransferOption = {},
  ): Promise<{ audioValues: FloatTensor }> {
    return this.run('decode', [audioCodes, options]) as Promise<{ audioValues: FloatTensor }>;
  }

  /** encode then decode, audio trimmed to the input (transformers' forward). */
  forward(
    inputValues: FloatTensor | Float32Array,
    options: Omit<EncodeOptions, 'onProgress'> & TransferOption = {},
  ): Promise<{ audioCodes: CodesTensor; audioValues: FloatTensor }> {
    return this.run('forward', [inputValues, options]) as Promise<{
      audioCodes: CodesTensor;
      audioValues: FloatTensor;
    }>;
  }

  dequantize(audioCodes: CodesArgument): Promise<FloatTensor> {
    return this.run('dequantize', [audioCodes]) as Promise<FloatTensor>;
  }

  /** Advanced: the memory one encode of `samples` samples holds above the model; see XcodecModelSync.encodeMemoryBytes. */
  encodeMemoryBytes(samples: number, options: { windowFrames?: number } = {}): Promise<number> {
    return this.run('encodeMemoryBytes', [samples, options]) as Promise<number>;
  }

  encodeTrace(
    inputValues: FloatTensor | Float32Array,
    item = 0,
    options: { windowFrames?: number; paddingMask?: EncodeOptions['paddingMask'] } & TransferOption = {},
  ): Promise<Record<string, FloatTensor>> {
    return this.run('encodeTrace', [inputValues, item, options]) as Promise<Record<string, FloatTensor>>;
  }

  /** Every intermediate of decode for one batch item; see XcodecModelSync.decodeTrace. */
  decodeTrace(audioCodes: CodesArgument, item = 0): Promise<Record<string, FloatTensor>> {
    return this.run('decodeTrace', [audioCodes, item]) as Promise<Record<string, FloatTensor>>;
  }

  /** Frees the worker (or this thread's model) after the calls already made have finished. */
  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.disposed = true;
    const done = this.tail.then(() => this.backend.dispose());
    this.tail = done;
    return done;
  }

  private run(method: Method, args: unknown[]): Promise<unknown> {
    if (this.inProgressCallback > 0) {
      return Promise.reject(
        new XcodecRuntimeError(
          `${method} was called from inside onProgress of a call running on the same model; ` +
            'accepted: one call at a time per model: await that call, then call again, or use a second model',
        ),
      );
    }
    if (this.disposed) return Promise.reject(new XcodecRuntimeError(`${method}: the model was disposed`));
    const optionsAt = METHODS[method] ?? args.length;
    let split: ReturnType<typeof splitOptions>;
    try {
      split = splitOptions(args[optionsAt]);
    } catch (e) {
      return Promise.reject(e);
    }
    const posted = [...args];
    if (args.length > optionsAt) posted[optionsAt] = split.options;
    const user = split.onProgress;
    const onProgress =
      user &&
      ((done: number, total: number) => {
        this.inProgressCallback++;
        try {
          user(done, total);
        } finally {
          this.inProgressCallback--;
        }
      });
    const result = this.tail.then(() =>
      this.backend.call(method, posted, onProgress, split.transfer ? buffersOf(args[0]) : []),
    );
    this.tail = result.catch(() => {}); // a failed call does not hold up the next one
    return result;
  }
}

/** Where `xcodec-wasm/node` is, for a worker loading from a directory (it installs file access there). */
function nodeEntryUrl(): string {
  return new URL('../node/index.js', import.meta.url).href;
}
