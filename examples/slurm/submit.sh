#!/usr/bin/env bash
# Submits a whole tagmap run to Slurm: index once, N array tasks, a dependent merge.
#   TAGMAP_DB=/data/lib.db TAGMAP_AUDIO=/data/music TAGMAP_WEIGHTS=/data/weights \
#   TAGMAP_SHARD_DIR=/scratch/shards TAGMAP_SHARDS=64 examples/slurm/submit.sh
# Optional: TAGMAP (binary, default `tagmap` on PATH), TAGMAP_FIT_SAMPLE (the merge job
# also draws the map, fitting on that many tracks), TAGMAP_SKIP_INDEX=1 (library already
# indexed), TAGMAP_SBATCH_ARGS (e.g. "--partition=cpu --time=04:00:00"), TAGMAP_SHARD_CPUS.
# Prints the merge job's id (wait with: squeue -j ID, or sacct -j ID).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${TAGMAP_DB:?}" "${TAGMAP_SHARD_DIR:?}" "${TAGMAP_WEIGHTS:?}" "${TAGMAP_SHARDS:?}"
export TAGMAP="${TAGMAP:-tagmap}" TAGMAP_DB TAGMAP_SHARD_DIR TAGMAP_WEIGHTS TAGMAP_SHARDS
export TAGMAP_AUDIO="${TAGMAP_AUDIO:-}" TAGMAP_FIT_SAMPLE="${TAGMAP_FIT_SAMPLE:-}"
logs="${TAGMAP_LOG_DIR:-$TAGMAP_SHARD_DIR}"
mkdir -p "$TAGMAP_SHARD_DIR" "$logs"
common=(--parsable --export=ALL ${TAGMAP_SBATCH_ARGS:-})
dep=()
if [ "${TAGMAP_SKIP_INDEX:-0}" != 1 ]; then
  index=$(sbatch "${common[@]}" --output="$logs/index-%j.out" "$here/tagmap-index.sbatch")
  dep=(--dependency="afterok:${index%%;*}")
fi
array=$(sbatch "${common[@]}" "${dep[@]}" --array="0-$((TAGMAP_SHARDS - 1))" \
  --cpus-per-task="${TAGMAP_SHARD_CPUS:-2}" --output="$logs/shard-%A_%a.out" \
  "$here/tagmap-shard.sbatch")
merge=$(sbatch "${common[@]}" --dependency="afterany:${array%%;*}" \
  --output="$logs/merge-%j.out" "$here/tagmap-merge.sbatch")
echo "${merge%%;*}"
