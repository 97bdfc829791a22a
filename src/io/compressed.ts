// MP3, Ogg Vorbis and Ogg Opus through the @wasm-audio-decoders family (mpg123, libvorbis and
// libopus compiled to WebAssembly; they run in every runtime this package does). Each decoder is
// imported on first use, so a WAV/FLAC-only user never loads or bundles-in-the-hot-path its code.
// Input is fed in slices and every slice's PCM is handed on at once, so a long file is never held
// decoded in full: the caller downmixes and resamples as it goes.

import { XcodecError, XcodecInputError, XcodecRuntimeError, describe } from '../errors.js';

export type CompressedFormat = 'mp3' | 'ogg-vorbis' | 'ogg-opus';

export const COMPRESSED_FORMAT_NAMES: Record<CompressedFormat, string> = {
  mp3: 'MP3 (MPEG-1/2 Layer III, also I/II)',
  'ogg-vorbis': 'Ogg Vorbis',
  'ogg-opus': 'Ogg Opus',
};

/** Compressed bytes fed to the decoder per call. */
const FEED_BYTES = 1 << 18;

interface DecodedSlice {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string; frameNumber?: number; inputBytes?: number }[];
}

interface StreamingDecoder {
  ready: Promise<void>;
  decode(data: Uint8Array): DecodedSlice | Promise<DecodedSlice>;
  flush?(): Promise<DecodedSlice>;
  free(): void;
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/** Length of an ID3v2 tag at `at` (0 when there is none): 10 header bytes + a syncsafe size (+ 10 footer). */
function id3Length(bytes: Uint8Array, at: number): number {
  if (bytes.length < at + 10 || ascii(bytes, at, 3) !== 'ID3') return 0;
  const size =
    ((bytes[at + 6] & 0x7f) << 21) |
    ((bytes[at + 7] & 0x7f) << 14) |
    ((bytes[at + 8] & 0x7f) << 7) |
    (bytes[at + 9] & 0x7f);
  return 10 + size + (bytes[at + 5] & 0x10 ? 10 : 0);
}

/** Bitrates in kbps by version (3: MPEG-1, 2: MPEG-2/2.5) and layer (3: I, 2: II, 1: III; MPEG-2 II and III share one). */
const MPEG_KBPS: Record<string, number[]> = {
  '3-3': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '3-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '3-1': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-3': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};

/** The header fields of an MPEG audio frame at `at`, or null when those 4 bytes are not a valid one. */
function mpegHeader(bytes: Uint8Array, at: number): { channels: number; length: number } | null {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1] & 0xe0) !== 0xe0) return null;
  const version = (bytes[at + 1] >> 3) & 3; // 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1
  const layer = (bytes[at + 1] >> 1) & 3; // 1: III, 2: II, 3: I
  const bitrateIndex = bytes[at + 2] >> 4;
  const rateIndex = (bytes[at + 2] >> 2) & 3;
  if (version === 1 || layer === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const kbps = MPEG_KBPS[`${version === 3 ? 3 : 2}-${version === 3 ? layer : layer === 3 ? 3 : 2}`][bitrateIndex];
  const rate = [44100, 48000, 32000][rateIndex] / (version === 3 ? 1 : version === 2 ? 2 : 4);
  const padding = (bytes[at + 2] >> 1) & 1;
  const length =
    layer === 3
      ? Math.floor((12 * kbps * 1000) / rate + padding) * 4
      : Math.floor(((layer === 1 && version !== 3 ? 72 : 144) * kbps * 1000) / rate) + padding;
  return { channels: bytes[at + 3] >> 6 === 3 ? 1 : 2, length };
}

/**
 * The compressed format of `bytes` by its magic numbers, or null. An MP3 is taken as one when,
 * after any ID3v2 tag, two consecutive valid frame headers follow (one alone is too easily faked
 * by noise).
 */
export function sniffCompressed(bytes: Uint8Array): CompressedFormat | null {
  if (bytes.length >= 36 && ascii(bytes, 0, 4) === 'OggS') {
    // The first page holds the codec's identification header right after its segment table.
    const body = 27 + bytes[26];
    if (ascii(bytes, body, 8) === 'OpusHead') return 'ogg-opus';
    if (bytes[body] === 1 && ascii(bytes, body + 1, 6) === 'vorbis') return 'ogg-vorbis';
    return null;
  }
  const start = id3Length(bytes, 0);
  const first = mpegHeader(bytes, start);
  if (first && mpegHeader(bytes, start + first.length)) return 'mp3';
  return null;
}

/** The number of channels the first MPEG frame declares (mpg123 always outputs two). */
function mpegChannels(bytes: Uint8Array): number {
  return mpegHeader(bytes, id3Length(bytes, 0))?.channels ?? 2;
}

const decoderModules: Partial<Record<CompressedFormat, Promise<new () => StreamingDecoder>>> = {};

const PACKAGES: Record<CompressedFormat, string> = {
  mp3: 'mpg123-decoder',
  'ogg-vorbis': '@wasm-audio-decoders/ogg-vorbis',
  'ogg-opus': 'ogg-opus-decoder',
};

/** The decoder class for a format, imported once on first use. */
function decoderClass(format: CompressedFormat): Promise<new () => StreamingDecoder> {
  decoderModules[format] ??= (async () => {
    try {
      switch (format) {
        case 'mp3':
          return (await import('mpg123-decoder')).MPEGDecoder as unknown as new () => StreamingDecoder;
        case 'ogg-vorbis':
          return (await import('@wasm-audio-decoders/ogg-vorbis'))
            .OggVorbisDecoder as unknown as new () => StreamingDecoder;
        case 'ogg-opus':
          return (await import('ogg-opus-decoder')).OggOpusDecoder as unknown as new () => StreamingDecoder;
      }
    } catch (err) {
      delete decoderModules[format];
      throw new XcodecRuntimeError(
        `${COMPRESSED_FORMAT_NAMES[format]} input needs the package "${PACKAGES[format]}" (a dependency of xcodec-wasm), ` +
          `which could not be imported: ${(err as Error).message}. In a browser without a bundler, map it in an import map.`,
      );
    }
  })();
  return decoderModules[format]!;
}

export interface StreamInfo {
  sampleRate: number;
  channels: number;
  /** Samples per channel delivered. */
  samples: number;
}

/**
 * Decodes `bytes` slice by slice, calling `onPcm(channels, sampleRate)` with each slice's PCM (one
 * Float32Array per channel, valid only during the call). Any decode error is an XcodecInputError:
 * a damaged frame would shift or drop audio, and tokens must not silently differ.
 */
export async function streamCompressed(
  bytes: Uint8Array,
  format: CompressedFormat,
  onPcm: (channels: Float32Array[], sampleRate: number) => void,
): Promise<StreamInfo> {
  const Decoder = await decoderClass(format);
  const decoder = new Decoder();
  const info: StreamInfo = { sampleRate: 0, channels: 0, samples: 0 };
  const channelsOut = format === 'mp3' ? mpegChannels(bytes) : 0;
  const take = (slice: DecodedSlice) => {
    if (slice.errors.length > 0) {
      const e = slice.errors[0];
      throw new XcodecInputError(
        `${COMPRESSED_FORMAT_NAMES[format]}: the stream is damaged (${e.message}` +
          `${e.inputBytes !== undefined ? ` near byte ${e.inputBytes}` : ''}); accepted: streams that decode without errors`,
      );
    }
    if (slice.samplesDecoded === 0) return;
    if (info.sampleRate !== 0 && slice.sampleRate !== info.sampleRate) {
      throw new XcodecInputError(
        `${COMPRESSED_FORMAT_NAMES[format]}: the sample rate changes mid-stream (${info.sampleRate} -> ${slice.sampleRate} Hz); accepted: one rate per file`,
      );
    }
    const channels = channelsOut > 0 ? slice.channelData.slice(0, channelsOut) : slice.channelData;
    if (info.channels !== 0 && channels.length !== info.channels) {
      throw new XcodecInputError(
        `${COMPRESSED_FORMAT_NAMES[format]}: the channel count changes mid-stream (${info.channels} -> ${channels.length}); accepted: one layout per file`,
      );
    }
    info.sampleRate = slice.sampleRate;
    info.channels = channels.length;
    info.samples += slice.samplesDecoded;
    onPcm(
      channels.map((c) => c.subarray(0, slice.samplesDecoded)),
      slice.sampleRate,
    );
  };
  // The decoder packages (and the Ogg demuxer under them) throw plain TypeErrors and the like on some
  // damaged streams: those are faults of the input, reported as such.
  const decoding = async <T>(step: () => T | Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (e) {
      if (e instanceof XcodecError) throw e;
      throw new XcodecInputError(
        `${COMPRESSED_FORMAT_NAMES[format]}: the stream is damaged (the decoder failed: ${describe((e as Error)?.message ?? e)}); ` +
          'accepted: streams that decode without errors',
      );
    }
  };
  try {
    await decoding(() => decoder.ready);
    for (let at = 0; at < bytes.length; at += FEED_BYTES)
      take(await decoding(() => decoder.decode(bytes.subarray(at, at + FEED_BYTES))));
    if (decoder.flush) take(await decoding(() => decoder.flush!()));
  } finally {
    try {
      decoder.free();
    } catch {
      // a decoder that failed half-way may not free cleanly; it is discarded either way
    }
  }
  if (info.samples === 0) {
    throw new XcodecInputError(
      `${COMPRESSED_FORMAT_NAMES[format]}: no audio could be decoded from ${bytes.length} bytes; accepted: a complete ${COMPRESSED_FORMAT_NAMES[format]} file`,
    );
  }
  return info;
}
