#!/usr/bin/env bash
# The map placed as shards x throughput: a synthetic library of POINTS tracks (200-d
# mixture vectors, bench_scale_fit_sample --write-library), one fit of SAMPLE tracks
# (project --fit-only), then the placement of every other track as T = 1, 2, 4
# `project --place-shard K/T` processes (T = 1: one process with 2 threads; else 1 thread
# each, 2 at a time, as 1-CPU array tasks on a 2-CPU node), each followed by merge-db.
# Wall and CPU time (user + sys of all processes) per run, the median of RUNS; the merged
# map is checked against the single-process `project --fit-sample` map (same bits).
#   bench/scale/place_throughput.sh BUILD_DIR [POINTS=100000] [SAMPLE=10000] [RUNS=3]
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
points=${2:-100000}
sample=${3:-10000}
runs=${4:-3}
tagmap="$build/bin/tagmap"
work=$(mktemp -d /tmp/tagmap-place-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
map=(--method umap --source embedding --dims 2 --fit-sample "$sample")
points_of() {  # the map's points, coordinates as stored, as one digest
  sqlite3 "$1" "SELECT p.track_id, p.placement, quote(p.x), quote(p.y) FROM projection_points p \
    JOIN projections j ON j.id = p.projection_id ORDER BY p.track_id" | sha256sum | cut -c1-16
}
seconds() { date +%s.%N; }
TIMEFORMAT='%R %U %S'

"$build/bin/bench_scale_fit_sample" --write-library "$work/lib.db" "$points"
echo "library: $points tracks ($(du -m "$work/lib.db" | cut -f1) MB); sample $sample;" \
  "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

cp "$work/lib.db" "$work/single.db"
t=$( { time "$tagmap" project --db "$work/single.db" "${map[@]}" --threads 2 >/dev/null; } 2>&1 )
reference=$(points_of "$work/single.db")
echo "single process (fit + placement, 2 threads): wall/user/sys $t s; map $reference"
t=$( { time "$tagmap" project --db "$work/lib.db" "${map[@]}" --fit-only --threads 2 >/dev/null; } 2>&1 )
echo "fit only (2 threads): wall/user/sys $t s"

printf '%-6s %-18s %-18s %-14s %s\n' tasks "placement wall s" "placement cpu s" "merge wall s" "runs (wall s)"
for tasks in 1 2 4; do
  walls=() cpus=() merges=()
  for ((r = 0; r < runs; ++r)); do
    run="$work/run-$tasks-$r"
    mkdir -p "$run"
    cp "$work/lib.db" "$run/lib.db"
    threads=$((tasks == 1 ? 2 : 1))
    t=$( { time (seq 0 $((tasks - 1)) | xargs -P 2 -I K "$tagmap" project --db "$run/lib.db" \
      "${map[@]}" --place-shard K/$tasks --out-db "$run/place-K.db" --threads $threads \
      >/dev/null); } 2>&1 )
    walls+=("$(echo "$t" | cut -d' ' -f1)")
    cpus+=("$(echo "$t" | awk '{print $2 + $3}')")
    m=$( { time "$tagmap" merge-db "$run/lib.db" "$run"/place-*.db >/dev/null; } 2>&1 )
    merges+=("$(echo "$m" | cut -d' ' -f1)")
    got=$(points_of "$run/lib.db")
    [ "$got" = "$reference" ] || { echo "tasks=$tasks run $r: map $got != single $reference" >&2; exit 1; }
    rm -rf "$run"
  done
  med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
  printf '%-6s %-18s %-18s %-14s %s\n' "$tasks" "$(med "${walls[@]}")" "$(med "${cpus[@]}")" \
    "$(med "${merges[@]}")" "${walls[*]}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); every merged map equals the single-process map"
