#!/usr/bin/env bash
# The demo: tagmap's main job on the shared sample data (../shared, or $TAGMAP_FIXTURES).
# Installs missing Debian packages, builds build/bin/, then
#   1. converts every checkpoint in $TAGMAP_FIXTURES/weights to weights/<name>.tmw
#      (no Python, nothing executed) and lists its tensors;
#   2. tags every clip of $TAGMAP_FIXTURES/audio with MusiCNN (MTAT);
#   3. builds the music library out/demo/library.db: init-db, index-audio, preprocess-all,
#      compute-genre-similarity (labels.csv), project (cached UMAP and t-SNE maps, 2D/3D),
#      export (the .npy layout of `tagmap embed`);
#   4. serves the map of the library at http://127.0.0.1:5000/ (Ctrl-C stops it).
# Usage: tools/demo.sh [--no-serve] [--port N]
set -euo pipefail
cd "$(dirname "$0")/.."
serve=1
port=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --no-serve) serve=0 ;;
    --port) port="$2"; shift ;;
    *) echo "usage: tools/demo.sh [--no-serve] [--port N]" >&2; exit 2 ;;
  esac
  shift
done
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
# madmom's beat ensemble (8 pickles -> one file; CC BY-NC-SA 4.0, docs/models/madmom.md).
if ls "$TAGMAP_FIXTURES"/madmom/models/beats_blstm_[1-8].pkl >/dev/null 2>&1; then
  build/bin/tagmap-convert --model madmom-beats "$TAGMAP_FIXTURES"/madmom/models/beats_blstm_[1-8].pkl \
    weights/madmom-beats.tmw
fi

echo
echo "== 2. Top tags of every clip (MusiCNN trained on MagnaTagATune)"
build/bin/tagmap tag --model musicnn-mtat --weights weights/musicnn-mtat.tmw --top 3 \
  "$TAGMAP_FIXTURES/audio"

echo
echo "== 3. The music library: out/demo/library.db"
rm -rf out/demo
mkdir -p out/demo
db=out/demo/library.db
build/bin/tagmap init-db --db "$db" --audio-dir "$TAGMAP_FIXTURES/audio"
build/bin/tagmap index-audio --db "$db" -q
build/bin/tagmap preprocess-all --db "$db" --weights-dir weights -q
build/bin/tagmap compute-genre-similarity --db "$db" --labels "$TAGMAP_FIXTURES/audio/labels.csv" \
  --json out/demo/genre-similarity.json
build/bin/tagmap project --db "$db"
build/bin/tagmap export --db "$db" --out out/demo/export --per-chunk
echo "Outputs: weights/*.tmw, $db, out/demo/genre-similarity.json, out/demo/export/"

if [ "$serve" = 1 ] && build/bin/tagmap serve --help >/dev/null 2>&1; then
  echo
  echo "== 4. The map of the library: open http://127.0.0.1:$port/ (Ctrl-C stops the server)"
  exec build/bin/tagmap serve --db "$db" --port "$port"
fi
