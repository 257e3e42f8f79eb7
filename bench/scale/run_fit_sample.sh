#!/usr/bin/env bash
# Runs each case of bench_scale_fit_sample in its own process (so that peak_rss_MB is that
# case's), printing one line per case. bench/scale/run_fit_sample.sh BUILD_DIR [FILTER]
set -euo pipefail
bin="${1:?build dir}/bin/bench_scale_fit_sample"
filter=${2:-.}
for case in $("$bin" --benchmark_list_tests | grep -E "$filter"); do
  "$bin" --benchmark_filter="^${case}\$" --benchmark_format=console 2>&1 | grep BM_
done
