#!/usr/bin/env bash
# The demo: the main job of tagmap on the shared sample data (../shared, or
# $TAGMAP_FIXTURES). Installs missing Debian packages, builds build/bin/, then
#   1. converts every checkpoint in $TAGMAP_FIXTURES/weights to weights/<name>.tmw
#      and lists its tensors.
set -euo pipefail
cd "$(dirname "$0")/.."
export TAGMAP_FIXTURES="${TAGMAP_FIXTURES:-$(cd .. && pwd)/shared}"
jobs="${TAGMAP_JOBS:-$(nproc)}"
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs" --target tagmap-convert tagmap_cli

echo
echo "== 1. Convert the PyTorch checkpoints (no Python, nothing executed)"
mkdir -p weights
for pth in "$TAGMAP_FIXTURES"/weights/*.pth; do
  name=$(basename "$pth" .pth)
  build/bin/tagmap-convert "$pth" "weights/$name.tmw"
  build/bin/tagmap-convert --list "weights/$name.tmw"
done
