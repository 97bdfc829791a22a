#!/usr/bin/env bash
# Makes test/fixtures/compressed: small MP3 / Ogg Vorbis / Ogg Opus / FLAC files cut from the X-Codec
# authors' audio (../shared/audio), and ffmpeg's own decode of each (float32 .npy, shape
# (samples, channels), as ffmpeg interleaves them) for test/parity/compressed.test.mjs to compare against.
# Needs Debian's ffmpeg (apt-get install -y ffmpeg); the .npy headers are written here by hand.
# Run from the repository root (made with ffmpeg 5.1.9, Debian 12); the outputs are committed.
set -euo pipefail
src=${1:-../shared/audio}
out=test/fixtures/compressed
mkdir -p "$out"
ff() { ffmpeg -nostdin -v error -y "$@"; }
ff -i "$src/music.wav" -t 1.5 -ac 2 -ar 44100 -c:a libmp3lame -b:a 96k "$out/music_44100_stereo.mp3"
ff -i "$src/speech_cn.wav" -t 2 -ac 1 -ar 22050 -c:a libmp3lame -b:a 32k "$out/speech_22050_mono.mp3"
ff -i "$src/music.wav" -t 1.5 -ac 2 -ar 48000 -c:a libvorbis -q:a 3 "$out/music_48000_stereo.ogg"
ff -i "$src/speech_cn.wav" -t 2 -ac 1 -c:a libopus -b:a 24k "$out/speech_mono.opus"
ff -i "$src/music.wav" -t 1.5 -ac 2 -ar 48000 -sample_fmt s32 -c:a flac "$out/music_48000_stereo_s24.flac"
# ffmpeg's decodes. Opus: ffmpeg's libopus decoder (the reference decoder, which ogg-opus-decoder
# compiles); ffmpeg's native Opus decoder is a separate implementation (see the test for its spread).
npyf32() { # $1 in, $2 out, $3 channels, [$4 decoder]
  local raw; raw=$(mktemp)
  if [ -n "${4:-}" ]; then ff -c:a "$4" -i "$1" -f f32le -c:a pcm_f32le "$raw"; else ff -i "$1" -f f32le -c:a pcm_f32le "$raw"; fi
  local bytes; bytes=$(stat -c %s "$raw")
  local header="{'descr': '<f4', 'fortran_order': False, 'shape': ($(( bytes / 4 / $3 )), $3), }"
  local pad=$(( 64 - (10 + ${#header} + 1) % 64 )); [ "$pad" = 64 ] && pad=0
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#header} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#header} + pad + 1) / 256 )))";
    printf '%s%*s\n' "$header" "$pad" ''; cat "$raw"; } > "$2"
  rm -f "$raw"
}
npyf32 "$out/music_44100_stereo.mp3" "$out/music_44100_stereo.mp3.ffmpeg.npy" 2
npyf32 "$out/speech_22050_mono.mp3" "$out/speech_22050_mono.mp3.ffmpeg.npy" 1
npyf32 "$out/music_48000_stereo.ogg" "$out/music_48000_stereo.ogg.ffmpeg.npy" 2
npyf32 "$out/speech_mono.opus" "$out/speech_mono.opus.ffmpeg.npy" 1 libopus
npyf32 "$out/speech_mono.opus" "$out/speech_mono.opus.ffmpeg-native.npy" 1 opus
npyf32 "$out/music_48000_stereo_s24.flac" "$out/music_48000_stereo_s24.flac.ffmpeg.npy" 2
ls -l "$out"
