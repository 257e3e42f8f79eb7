#!/usr/bin/env bash
# Builds the libFuzzer targets of the weight readers with clang (ASan + UBSan) in
# build-fuzz/ and runs them from the committed seed corpus (fuzz/corpus/).
#   tools/fuzz.sh --smoke        8 s per target, ~40 s in all (what CI runs); non-zero on any finding
#   tools/fuzz.sh --seconds N    N seconds per target
# New inputs go to build-fuzz/corpus/<target>/, crash reproducers to build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=15
case "${1:-}" in
  --smoke) seconds=8 ;;
  --seconds) seconds="${2:?--seconds needs a number}" ;;
  *) echo "usage: tools/fuzz.sh --smoke | --seconds N" >&2; exit 2 ;;
esac
jobs="${TAGMAP_JOBS:-$(nproc)}"
tools/deps.sh clang libclang-rt-14-dev   # libFuzzer and the sanitizer runtimes
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DTAGMAP_BUILD_FUZZ=ON -DTAGMAP_BUILD_TESTS=OFF -DTAGMAP_BUILD_EXAMPLES=OFF \
      -DTAGMAP_BUILD_TOOLS=OFF -DTAGMAP_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_pth fuzz_pickle fuzz_tmw fuzz_madmom_pickle
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for pair in fuzz_pth:pth fuzz_pickle:pickle fuzz_tmw:tmw fuzz_madmom_pickle:madmom; do
  target=${pair%%:*}; seeds=${pair##*:}
  mkdir -p "build-fuzz/corpus/$target"
  echo "=== $target for ${seconds} s"
  log="build-fuzz/$target.log"
  set +e
  "build-fuzz/bin/$target" "build-fuzz/corpus/$target" "fuzz/corpus/$seeds" \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="build-fuzz/artifacts/$target-" -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  # Show the summary, not libFuzzer's progress chatter (the full log stays in $log).
  grep -E "^(Done|stat::number_of_executed_units|SUMMARY|==[0-9]+==ERROR)|runtime error|deadly signal" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "tools/fuzz.sh: $target found a problem (exit $status); reproducer in build-fuzz/artifacts/" >&2
    exit 1
  fi
done
echo "tools/fuzz.sh: no findings"
