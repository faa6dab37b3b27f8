#!/usr/bin/env bash
# Trains the shipped text-generation model (train.py beside this file) and
# writes kjv-byte-lm.onnx and its report kjv-byte-lm.json into
# relay/node/models/artifacts/, where the model build picks them up, then
# exports the ONNX file to GGUF for llama.cpp (export-gguf.ts beside this
# file: kjv-byte-lm.gguf, same weights; `npm run text-model-gguf` does that
# step alone).
# Installs what it needs from Debian first: python3-torch (the only thing in
# the project that needs torch), OpenBLAS (without it Debian's torch trains
# about 15x slower) and the King James Bible (bible-kjv-text, bible-kjv).
#
#   npm run train-text-model -- [--steps N] [--seed N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/../../.."

missing=()
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
[ -e /usr/lib/x86_64-linux-gnu/openblas-pthread ] || missing+=(libopenblas0-pthread)
command -v bible >/dev/null 2>&1 || missing+=(bible-kjv)
dpkg -s bible-kjv-text >/dev/null 2>&1 || missing+=(bible-kjv-text)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

corpus="$(mktemp -t kjv-XXXXXX.txt)"
trap 'rm -f "$corpus"' EXIT
bible 'Gen1:1-Rev22:21' >"$corpus"
# The matrix products run on OpenBLAS's threads, one per core.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$(nproc)}"
# Debian's python3, which sees Debian's dist-packages (another python3 may be first on PATH).
/usr/bin/python3 relay/model-tools/text-model/train.py --corpus "$corpus" --out relay/node/models/artifacts "$@"
# The same weights as GGUF, read from the ONNX file just written (no torch needed).
node relay/model-tools/text-model/export-gguf.ts
