#!/usr/bin/env bash
# Installs the Debian packages tagmap needs to build and test, if any are missing.
# Usage: tools/deps.sh [extra-package ...]
set -euo pipefail
packages=(
  build-essential cmake pkg-config git lld  # lld: the build links with it when present
  libeigen3-dev libfftw3-dev libsndfile1-dev libsoxr-dev libopenblas-dev
  libhnswlib-dev libspectra-dev libxtensor-dev nlohmann-json3-dev libcli11-dev
  libsqlite3-dev libcpp-httplib-dev libtag1-dev libssl-dev
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev ffmpeg
  libcairo2-dev fonts-dejavu-core chromium nodejs sqlite3  # sqlite3: tests/web large_library.mjs
  libgtest-dev libbenchmark-dev
  slurm-wlm munge  # tests/scale: a one-node Slurm cluster (own daemons, own config)
  bc  # bench/scale/shard_throughput.sh
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tagmap: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
