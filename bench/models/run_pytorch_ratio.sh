#!/bin/sh
# tagmap vs PyTorch on MusiCNN-MTAT: the same chunks, 1 and 2 threads, side by side
# (--kernel bf16: the bf16 model against PyTorch fp32).
#   bench/models/run_pytorch_ratio.sh [BUILD_DIR] [torch_ratio.py options]
# BUILD_DIR (default build/) must be configured with -DTAGMAP_BUILD_BENCH=ON; the
# bench_models target is built if missing. Needs python3-torch, python3-soundfile and
# the shared data (TAGMAP_FIXTURES, default ../shared).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$repo/build"}
[ $# -gt 0 ] && shift
: "${TAGMAP_FIXTURES:=$repo/../shared}"
export TAGMAP_FIXTURES
if [ ! -x "$build/bin/bench_models" ]; then
    cmake --build "$build" --target bench_models -j"$(nproc)"
fi
exec /usr/bin/python3 "$repo/bench/models/torch_ratio.py" --bench "$build/bin/bench_models" "$@"
