#!/usr/bin/env bash
# What the tests need besides Node 22.18+: Debian's Chromium (browser tests),
# Debian's Fashion-MNIST (the clothing classifier's accuracy test) and the npm
# dependencies. Installs whatever is missing; `npm test` runs this first.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! command -v apt-get >/dev/null 2>&1 || { [ ${#sudo[@]} -gt 0 ] && ! command -v sudo >/dev/null 2>&1; }; then
    echo "The tests need these Debian packages: ${missing[*]}. Install them (or set CHROMIUM_PATH to a Chromium binary) and run npm test again." >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -d node_modules/vitest ] || npm ci --no-audit --no-fund
