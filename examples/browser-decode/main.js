// Codes to audio in a browser page: fetch a checkpoint's decoder half and a codes.npy, decode in the
// model's worker (threads where the page is cross-origin isolated), play with Web Audio.
// ?model=URL/ picks the checkpoint folder (default: the demo server's /model/), ?codes=URL the codes.
import { XcodecModel } from 'xcodec-wasm';
import { readNpy } from 'xcodec-wasm/audio';

const params = new URLSearchParams(location.search);
const base = params.get('model') ?? '/model/';
const status = document.getElementById('status');
const get = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
};

const model = await XcodecModel.fromBuffers(
  { 'config.json': await get(`${base}config.json`), 'model.safetensors': await get(`${base}model.safetensors`) },
  { components: 'decoder' }, // codes to audio needs only the quantizer and the acoustic decoder
);
const codes = readNpy(await get(params.get('codes') ?? './codes.npy')); // int64 [1, nq, frames]
const { audioValues } = await model.decode({ data: codes.data, dims: codes.shape });
const rate = model.config.sampleRate;
status.textContent = `decoded ${codes.shape.join(' x ')} codes to ${(audioValues.data.length / rate).toFixed(2)} s on ${model.numThreads} thread(s)`;
window.decoded = { samples: audioValues.data, rate, threads: model.numThreads };

const play = document.getElementById('play');
play.disabled = false;
play.onclick = () => {
  const ctx = new AudioContext({ sampleRate: rate });
  const buffer = ctx.createBuffer(1, audioValues.data.length, rate);
  buffer.copyToChannel(audioValues.data, 0);
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(ctx.destination);
  source.start();
};
