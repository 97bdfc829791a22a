#!/bin/sh
# A folder of audio (any format the package reads, any rate) to codes: one codes .npy and one .json per
# file under OUT_DIR, a manifest.jsonl, resumable (run it again and finished files are skipped).
#   sh examples/tokenize-folder.sh AUDIO_DIR OUT_DIR [checkpoint dir or Hub repo id]
set -eu
in=${1:?usage: tokenize-folder.sh AUDIO_DIR OUT_DIR [MODEL]}
out=${2:?usage: tokenize-folder.sh AUDIO_DIR OUT_DIR [MODEL]}
model=${3:-$(dirname "$0")/../weights/default}
npx --no-install xcodec tokenize "$in" -o "$out" --model "$model" --bandwidth 2 --jobs 2 -q
echo "$(wc -l < "$out/manifest.jsonl" | tr -d " ") files in $out/manifest.jsonl"
