#!/usr/bin/env bash
# The demo: tagmap's main job on the shared sample data (../shared, or $TAGMAP_FIXTURES).
# Installs missing Debian packages, builds build/bin/, then
#   1. converts every checkpoint in $TAGMAP_FIXTURES/weights to weights/<name>.tmw
#      (no Python, nothing executed) and lists its tensors;
#   2. tags every clip of $TAGMAP_FIXTURES/audio with MusiCNN (MTAT);
#   3. embeds every clip per 3 s chunk into out/demo/musicnn-mtat/;
#   4. maps all chunk embeddings to 2D with UMAP and with t-SNE (out/demo/map-*.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
export TAGMAP_FIXTURES="${TAGMAP_FIXTURES:-$(cd .. && pwd)/shared}"
jobs="${TAGMAP_JOBS:-$(nproc)}"
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs" --target tagmap-convert tagmap_cli

echo
echo "== 1. Convert the PyTorch checkpoints to .tmw (no Python, nothing executed)"
mkdir -p weights
for pth in "$TAGMAP_FIXTURES"/weights/*.pth; do
  name=$(basename "$pth" .pth)
  build/bin/tagmap-convert "$pth" "weights/$name.tmw"
  build/bin/tagmap-convert --list "weights/$name.tmw"
done
build/bin/tagmap-convert --list weights/musicnn-mtat.tmw --model musicnn-mtat 2>&1 | grep "fit model"

echo
echo "== 2. Top tags of every clip (MusiCNN trained on MagnaTagATune)"
build/bin/tagmap tag --model musicnn-mtat --weights weights/musicnn-mtat.tmw --top 3 \
  "$TAGMAP_FIXTURES/audio"

echo
echo "== 3. Per-chunk embeddings and taggrams (.npy) of every clip"
rm -rf out/demo
build/bin/tagmap embed --model musicnn-mtat --weights weights/musicnn-mtat.tmw --per-chunk \
  --out out/demo "$TAGMAP_FIXTURES/audio"

echo
echo "== 4. Maps of all chunks: UMAP and t-SNE, 2D, seed 42"
build/bin/tagmap project --method umap --dims 2 --quiet \
  --in out/demo/musicnn-mtat --out out/demo/map-umap.npy
build/bin/tagmap project --method tsne --dims 2 --perplexity 10 --quiet \
  --in out/demo/musicnn-mtat --out out/demo/map-tsne.npy
echo
echo "First rows of out/demo/map-umap.npy.csv (clip#chunk, x, y):"
head -n 8 out/demo/map-umap.npy.csv
echo "..."
echo "Outputs: weights/*.tmw, out/demo/musicnn-mtat/*.npy, out/demo/map-{umap,tsne}.npy[.csv]"
