// The demo page: the package's own entries (mapped in index.html), nothing else. The model runs in a
// worker (XcodecModel), so the page stays responsive while it encodes; with COOP/COEP from the demo
// server the worker also gets kernel threads.
import { Xcodec2FeatureExtractor, XcodecFeatureExtractor, XcodecModel } from 'xcodec-wasm';
import { encodeWav, loadAudio, writeNpy } from 'xcodec-wasm/audio';

const $ = (id) => document.getElementById(id);
const state = {
  model: null,
  fe: null,
  samples: null,
  name: '',
  codes: null,
  reconstruction: null,
  streamed: null,
  firstAudioMs: null,
  busy: false,
};
window.demo = state; // read by the page's test

function status(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

function fail(e) {
  status(`${e.name ?? 'Error'}: ${e.message ?? e}`, true);
  console.error(e);
}

const progress = (done, total) => {
  $('progress').max = total || 1;
  $('progress').value = done;
};

function refreshButtons() {
  $('encode').disabled = state.busy || !state.model || !state.samples;
  $('decode').disabled = state.busy || !state.model || !state.codes;
  // X-Codec 2's decoder attends over the whole sequence: it has no exact stream
  $('stream').disabled = state.busy || !state.model || !state.codes || state.model.config.modelType === 'xcodec2';
  $('download-codes').disabled = !state.codes;
  $('download-wav').disabled = !state.reconstruction;
  $('ab').disabled = !state.reconstruction;
}

async function busy(what, fn) {
  state.busy = true;
  refreshButtons();
  status(`${what} ...`);
  try {
    await fn();
  } catch (e) {
    fail(e);
  } finally {
    state.busy = false;
    refreshButtons();
  }
}

// ---- model ----------------------------------------------------------------------------------

/** A checkpoint as save_pretrained writes it, from any `get(name) -> bytes | null`. */
async function checkpointFiles(get) {
  const files = { 'config.json': await get('config.json') };
  if (!files['config.json']) throw new Error('no config.json there');
  const single = await get('model.safetensors');
  if (single) files['model.safetensors'] = single;
  else {
    const index = await get('model.safetensors.index.json');
    if (!index) throw new Error('neither model.safetensors nor model.safetensors.index.json there');
    files['model.safetensors.index.json'] = index;
    for (const shard of new Set(Object.values(JSON.parse(new TextDecoder().decode(index)).weight_map ?? {}))) {
      const bytes = await get(shard);
      if (!bytes) throw new Error(`the index names ${shard}, which is missing`);
      files[shard] = bytes;
    }
  }
  return { files, preprocessor: await get('preprocessor_config.json') };
}

async function useCheckpoint(label, get) {
  await busy(`loading ${label}`, async () => {
    const { files, preprocessor } = await checkpointFiles(get);
    await state.model?.dispose();
    state.model = null;
    state.codes = null;
    state.reconstruction = null;
    const model = await XcodecModel.fromBuffers(files, {
      numThreads: navigator.hardwareConcurrency || 1,
      onProgress: progress,
    });
    const cfg = model.config;
    const pre = preprocessor ? JSON.parse(new TextDecoder().decode(preprocessor)) : null;
    // X-Codec 2 takes its own feature extractor's input (one zero appended, padded to the hop)
    state.fe =
      cfg.modelType === 'xcodec2'
        ? Xcodec2FeatureExtractor.fromConfig(pre ?? {})
        : pre
          ? XcodecFeatureExtractor.fromConfig(pre)
          : new XcodecFeatureExtractor({
              featureSize: 1,
              samplingRate: cfg.sampleRate,
              paddingValue: 0,
              hopLength: cfg.hopLength,
              paddingSide: 'right',
            });
    state.model = model;
    $('bandwidth').replaceChildren(...cfg.targetBandwidths.map((b) => new Option(String(b), String(b))));
    $('bandwidth').value = String(Math.max(...cfg.targetBandwidths));
    $('model-info').textContent =
      `${label}: ${cfg.modelType}, ${cfg.xcodec2 ? 'wav2vec2-bert' : cfg.semantic.modelType}, ${cfg.sampleRate} Hz, ${cfg.frameRate} frames/s, ` +
      `${cfg.numQuantizers} quantizers; runs in ${model.runsOn === 'worker' ? 'a worker' : 'this page (no worker)'} on ${model.numThreads} thread(s), ` +
      `${model.simdFlavour} SIMD${model.threadsFallbackReason ? ` (${model.threadsFallbackReason})` : ''}`;
    if (state.samples) await setAudio(state.sourceBytes, state.name); // again at this model's rate
    status(`model loaded${model.workerFallbackReason ? `; ${model.workerFallbackReason}` : ''}`);
  });
}

const fromUrl = (base) => async (name) => {
  const r = await fetch(new URL(name, base));
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`GET ${new URL(name, base)}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
};

$('load-default').onclick = () =>
  useCheckpoint('embedded default model (random weights: noise out)', fromUrl(new URL('/model/', location.href)));
$('load-xcodec2').onclick = () =>
  useCheckpoint(
    'embedded X-Codec 2 test model (random weights: noise out)',
    fromUrl(new URL('/model-xcodec2/', location.href)),
  );
$('load-url').onclick = () => {
  const base = $('model-url').value.trim();
  if (base) useCheckpoint(base, fromUrl(base.endsWith('/') ? base : `${base}/`));
};
$('model-folder').onchange = () => {
  const byName = new Map([...$('model-folder').files].map((f) => [f.name, f]));
  useCheckpoint('local folder', async (name) =>
    byName.has(name) ? new Uint8Array(await byName.get(name).arrayBuffer()) : null,
  );
};

// ---- audio in ---------------------------------------------------------------------------------

async function setAudio(bytes, name) {
  if (!state.model) throw new Error('load a model first');
  const rate = state.model.config.sampleRate;
  state.sourceBytes = bytes;
  state.name = name;
  state.samples = await loadAudio(bytes, { sampleRate: rate, fileName: name });
  state.codes = null;
  state.reconstruction = null;
  drawWave($('wave-original'), state.samples);
  drawWave($('wave-reconstruction'), new Float32Array(0));
  $('heatmap').width = 1;
  $('heatmap').height = 1;
  $('codes-shape').textContent = '';
  setPlayer($('audio-original'), state.samples, rate);
  $('audio-reconstruction').removeAttribute('src');
  status(`${name}: ${(state.samples.length / rate).toFixed(2)} s at ${rate} Hz`);
}

$('file').onchange = () => {
  const f = $('file').files[0];
  if (f) busy(`reading ${f.name}`, async () => setAudio(new Uint8Array(await f.arrayBuffer()), f.name));
};

// Raw samples from the microphone (a ScriptProcessor: MediaRecorder gives WebM, which the package does not read).
let recording = null;
$('record').onclick = async () => {
  if (recording) {
    const { ctx, stream, chunks, node } = recording;
    recording = null;
    node.disconnect();
    stream.getTracks().forEach((t) => t.stop());
    await ctx.close();
    $('record').textContent = 'record';
    const n = chunks.reduce((a, c) => a + c.length, 0);
    const x = new Float32Array(n);
    let at = 0;
    for (const c of chunks) {
      x.set(c, at);
      at += c.length;
    }
    busy('reading the recording', () => setAudio(encodeWav(x, ctx.sampleRate), 'recording.wav'));
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const ctx = new AudioContext();
    const node = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    ctx.createMediaStreamSource(stream).connect(node);
    node.connect(ctx.destination);
    recording = { ctx, stream, chunks, node };
    $('record').textContent = 'stop';
    status('recording ...');
  } catch (e) {
    fail(e);
  }
};

// ---- encode, decode -------------------------------------------------------------------------

$('encode').onclick = () =>
  busy('encoding', async () => {
    const rate = state.model.config.sampleRate;
    const { inputValues } = state.fe.call(state.samples, { samplingRate: rate });
    const t = performance.now();
    const { audioCodes } = await state.model.encode(inputValues, {
      bandwidth: Number($('bandwidth').value),
      onProgress: progress,
    });
    state.codes = audioCodes;
    state.reconstruction = null;
    const [, nq, T] = audioCodes.dims;
    $('codes-shape').textContent = `(${audioCodes.dims.join(', ')}): ${nq} quantizers x ${T} frames`;
    drawHeatmap($('heatmap'), audioCodes, state.model.config.codebookSize);
    status(`encoded ${(state.samples.length / rate).toFixed(2)} s in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  });

$('decode').onclick = () =>
  busy('decoding', async () => {
    const rate = state.model.config.sampleRate;
    const t = performance.now();
    const { audioValues } = await state.model.decode({ audioCodes: state.codes }, { onProgress: progress });
    state.reconstruction = audioValues.data.subarray(0, Math.min(audioValues.data.length, state.samples.length));
    drawWave($('wave-reconstruction'), state.reconstruction);
    setPlayer($('audio-reconstruction'), state.reconstruction, rate);
    status(`decoded ${state.codes.dims[2]} frames in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  });

// Stream: the codes go in one frame at a time, as a TTS model would emit them, and each piece of audio
// plays through Web Audio as soon as it is final (the whole equals decode(), bit for bit).
$('stream').onclick = () =>
  busy('streaming', async () => {
    const rate = state.model.config.sampleRate;
    const ctx = new AudioContext({ sampleRate: rate });
    const [, nq, T] = state.codes.dims;
    function* frames() {
      for (let t = 0; t < T; t++) {
        const data = new BigInt64Array(nq);
        for (let q = 0; q < nq; q++) data[q] = state.codes.data[q * T + t];
        yield { data, dims: [1, nq, 1] };
      }
    }
    const parts = [];
    let playAt = 0;
    let got = 0;
    const t = performance.now();
    state.firstAudioMs = null;
    for await (const chunk of state.model.streamDecode(frames())) {
      state.firstAudioMs ??= performance.now() - t;
      parts.push(chunk);
      got += chunk.length;
      const buffer = ctx.createBuffer(1, chunk.length, rate);
      buffer.copyToChannel(chunk, 0);
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(ctx.destination);
      playAt = Math.max(playAt, ctx.currentTime + 0.02);
      source.start(playAt);
      playAt += chunk.length / rate;
      progress(got, T * state.model.config.hopLength);
    }
    const all = new Float32Array(got);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    state.streamed = all;
    state.reconstruction = all.subarray(0, Math.min(all.length, state.samples.length));
    drawWave($('wave-reconstruction'), state.reconstruction);
    setPlayer($('audio-reconstruction'), state.reconstruction, rate);
    const took = (performance.now() - t) / 1000;
    status(
      `streamed ${T} frames one at a time: first audio after ${state.firstAudioMs.toFixed(0)} ms ` +
        `(lookahead ${state.model.streamLookaheadFrames} frames), all in ${took.toFixed(2)} s ` +
        `(${(all.length / rate / took).toFixed(1)}x real time)`,
    );
  });

// ---- views ------------------------------------------------------------------------------------

/** One pixel per code: rows are quantizers, columns frames; the canvas is scaled by CSS. */
function drawHeatmap(canvas, codes, codebookSize) {
  const [, nq, T] = codes.dims;
  canvas.width = T;
  canvas.height = nq;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(T, nq);
  for (let q = 0; q < nq; q++) {
    for (let t = 0; t < T; t++) {
      const v = Number(codes.data[q * T + t]) / Math.max(1, codebookSize - 1);
      const p = 4 * (q * T + t);
      // a blue-green-yellow ramp: close codes look alike, distant ones apart
      img.data[p] = Math.round(255 * Math.min(1, Math.max(0, 1.8 * v - 0.6)));
      img.data[p + 1] = Math.round(255 * Math.min(1, 0.15 + 0.95 * v));
      img.data[p + 2] = Math.round(255 * Math.max(0, 0.85 - 0.9 * v));
      img.data[p + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawWave(canvas, x) {
  const w = (canvas.width = canvas.clientWidth * devicePixelRatio || 600);
  const h = (canvas.height = canvas.clientHeight * devicePixelRatio || 80);
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#3a5bd9';
  const per = x.length / w;
  for (let i = 0; i < w && x.length; i++) {
    let lo = 1;
    let hi = -1;
    for (
      let j = Math.floor(i * per);
      j < Math.max(Math.floor((i + 1) * per), Math.floor(i * per) + 1) && j < x.length;
      j++
    ) {
      lo = Math.min(lo, x[j]);
      hi = Math.max(hi, x[j]);
    }
    const y0 = ((1 - Math.min(1, hi)) * h) / 2;
    const y1 = ((1 - Math.max(-1, lo)) * h) / 2;
    ctx.fillRect(i, y0, 1, Math.max(1, y1 - y0));
  }
}

function setPlayer(audio, samples, rate) {
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(new Blob([encodeWav(samples, rate)], { type: 'audio/wav' }));
}

// A/B: the other one carries on from the same moment.
$('ab').onclick = () => {
  const a = $('audio-original');
  const b = $('audio-reconstruction');
  const [from, to] = a.paused ? [b, a] : [a, b];
  const at = from.currentTime;
  from.pause();
  to.currentTime = Math.min(at, to.duration || at);
  void to.play();
  $('ab').textContent = to === a ? 'A/B: play reconstruction' : 'A/B: play original';
};

function download(bytes, name, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const stem = () => state.name.replace(/\.[^.]+$/, '') || 'audio';
$('download-codes').onclick = () => {
  const [, nq, T] = state.codes.dims;
  download(writeNpy(state.codes.data, [1, nq, T]), `${stem()}.codes.npy`, 'application/octet-stream');
};
$('download-wav').onclick = () =>
  download(encodeWav(state.reconstruction, state.model.config.sampleRate), `${stem()}.reconstruction.wav`, 'audio/wav');

refreshButtons();
$('load-default').click();
