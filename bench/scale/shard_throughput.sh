#!/usr/bin/env bash
# Shards x throughput on this machine: the Slurm workflow of examples/slurm (index job,
# array of T preprocess-all --shard tasks, dependent merge-db) on a one-node cluster of
# 2 CPUs started here (tests/scale/one_node_slurm.sh), for T = 1 (2 CPUs, --jobs 2),
# 2 and 4 (1 CPU each); wall time from submission to the merge job's end, median of R runs.
#   bench/scale/shard_throughput.sh BUILD_DIR [COPIES=2] [RUNS=3]
# The corpus: COPIES copies of the shared clips under distinct paths. Needs root.
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
copies=${2:-2}
runs=${3:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=${TAGMAP_FIXTURES:-$src/../shared}
work=$(mktemp -d /tmp/tagmap-shard-bench.XXXXXX)
trap '"$src/tests/scale/one_node_slurm.sh" stop "$work/slurm"; rm -rf "$work"' EXIT
tagmap="$build/bin/tagmap"
mkdir -p "$work/clips" "$work/weights"
"$build/bin/tagmap-convert" "$fixtures/weights/musicnn-mtat.pth" "$work/weights/musicnn-mtat.tmw" >/dev/null
for ((c = 0; c < copies; ++c)); do
  mkdir -p "$work/clips/copy$c"
  for f in "$fixtures"/audio/*; do
    case "$f" in *.md|*.csv) continue ;; esac
    cp "$f" "$work/clips/copy$c/"
  done
done
conf=$("$src/tests/scale/one_node_slurm.sh" start "$work/slurm")
export "${conf?}"
"$tagmap" init-db --db "$work/indexed.db" --audio-dir "$work/clips" >/dev/null
"$tagmap" index-audio --db "$work/indexed.db" -q >/dev/null
files=$(find "$work/clips" -type f | wc -l)
echo "corpus: $files files; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
audio=""
printf '%-6s %-10s %-12s %s\n' tasks cpus/task median_s "runs (s); audio s per wall s at the median"
for tasks in 1 2 4; do
  cpus=$((tasks == 1 ? 2 : 1))
  times=()
  for ((r = 0; r < runs; ++r)); do
    run="$work/run-$tasks-$r"
    mkdir -p "$run"
    cp "$work/indexed.db" "$run/lib.db"
    start=$(date +%s.%N)
    job=$(TAGMAP="$tagmap" TAGMAP_DB="$run/lib.db" TAGMAP_WEIGHTS="$work/weights" \
      TAGMAP_SHARD_DIR="$run/shards" TAGMAP_SHARDS=$tasks TAGMAP_SHARD_CPUS=$cpus \
      TAGMAP_SKIP_INDEX=1 "$src/examples/slurm/submit.sh")
    while :; do
      state=$(scontrol show job "$job" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
      case "$state" in COMPLETED) break ;; FAILED|CANCELLED|TIMEOUT) echo "merge job $state" >&2; exit 1 ;; esac
      sleep 0.2
    done
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  if [ -z "$audio" ]; then  # from the shard logs of the first run
    audio=$(cat "$work/run-$tasks-0/shards"/shard-*.out |
      sed -n 's/.*track(s), \([0-9.]*\) s of audio.*/\1/p' | paste -sd+ | bc)
    echo "audio: $audio s"
  fi
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  printf '%-6s %-10s %-12.1f %s; %.1f\n' "$tasks" "$cpus" "$median" "${times[*]}" \
    "$(echo "$audio / $median" | bc -l)"
done
