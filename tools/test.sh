#!/usr/bin/env bash
# The test command: installs missing Debian packages, builds everything in build/
# (binaries in build/bin/) and runs the whole test suite with ctest.
#   tools/test.sh              release build + all tests
#   tools/test.sh --sanitize   ASan+UBSan build in build-asan/, tests not labelled "slow"
set -euo pipefail
cd "$(dirname "$0")/.."
export TAGMAP_FIXTURES="${TAGMAP_FIXTURES:-$(cd .. && pwd)/shared}"
jobs="${TAGMAP_JOBS:-$(nproc)}"
# One compile more than cores: a core would otherwise idle while a job links or waits on I/O.
build_jobs="${TAGMAP_BUILD_JOBS:-$((jobs + 1))}"
tools/deps.sh

if [ "${1:-}" = "--sanitize" ]; then
  # -Og -g1: line numbers in the reports, and 40 % less compile time than -O1 under
  # UBSan's instrumentation at the same test speed (a MusiCNN test file: 31 s of CPU
  # against 52 s; its run 8.7 s against 8.5 s).
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAGMAP_SANITIZE=ON \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-Og -g1" \
        -DTAGMAP_BUILD_EXAMPLES=ON -DTAGMAP_BUILD_TOOLS=ON
  cmake --build build-asan -j "$build_jobs"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE slow
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "$build_jobs"
  ctest --test-dir build --output-on-failure -j "$jobs"
fi
