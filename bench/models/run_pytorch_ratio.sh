#!/bin/sh
# tagmap vs PyTorch on MusiCNN-MTAT (or, with --model vgg-msd / vgg-mtat --weights DIR,
# VGG): the same chunks, 1 and 2 threads, side by side (--kernel bf16: the bf16 model
# against PyTorch fp32).
#   bench/models/run_pytorch_ratio.sh [BUILD_DIR] [torch_ratio.py options]
# BUILD_DIR (default build/) must be configured with -DTAGMAP_BUILD_BENCH=ON; the
# bench_models (bench_vgg for VGG) target is built if missing. Needs python3-torch,
# python3-soundfile and the shared data (TAGMAP_FIXTURES, default ../shared).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$repo/build"}
[ $# -gt 0 ] && shift
: "${TAGMAP_FIXTURES:=$repo/../shared}"
export TAGMAP_FIXTURES
target=bench_models
case " $* " in *" vgg-"*) target=bench_vgg ;; esac
if [ ! -x "$build/bin/$target" ]; then
    cmake --build "$build" --target "$target" -j"$(nproc)"
fi
exec /usr/bin/python3 "$repo/bench/models/torch_ratio.py" --bench "$build/bin/$target" "$@"
