#!/usr/bin/env bash
# Submits a whole tagmap run to Slurm: index once, N array tasks, a dependent merge; with
# TAGMAP_FIT_SAMPLE and TAGMAP_PLACE_TASKS=P also the map as array tasks: a fit job, P
# placement tasks, a final merge (docs/scale.md).
#   TAGMAP_DB=/data/lib.db TAGMAP_AUDIO=/data/music TAGMAP_WEIGHTS=/data/weights \
#   TAGMAP_SHARD_DIR=/scratch/shards TAGMAP_SHARDS=64 examples/slurm/submit.sh
# Optional: TAGMAP (binary, default `tagmap` on PATH), TAGMAP_FIT_SAMPLE (the merge job
# also draws the map, fitting on that many tracks), TAGMAP_PLACE_TASKS (instead, the map's
# placement as that many array tasks), TAGMAP_MAP_ARGS (more project options, e.g.
# "--source embedding --dims 2"), TAGMAP_SKIP_INDEX=1 (library already indexed),
# TAGMAP_SBATCH_ARGS (e.g. "--partition=cpu --time=04:00:00"), TAGMAP_SHARD_CPUS,
# TAGMAP_PLACE_CPUS. Prints the id of the run's last job (wait with: squeue -j ID, or
# sacct -j ID).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${TAGMAP_DB:?}" "${TAGMAP_SHARD_DIR:?}" "${TAGMAP_WEIGHTS:?}" "${TAGMAP_SHARDS:?}"
export TAGMAP="${TAGMAP:-tagmap}" TAGMAP_DB TAGMAP_SHARD_DIR TAGMAP_WEIGHTS TAGMAP_SHARDS
export TAGMAP_AUDIO="${TAGMAP_AUDIO:-}" TAGMAP_FIT_SAMPLE="${TAGMAP_FIT_SAMPLE:-}"
export TAGMAP_PLACE_TASKS="${TAGMAP_PLACE_TASKS:-}" TAGMAP_MAP_ARGS="${TAGMAP_MAP_ARGS:-}"
if [ -n "$TAGMAP_PLACE_TASKS" ] && [ -z "$TAGMAP_FIT_SAMPLE" ]; then
  echo "submit.sh: TAGMAP_PLACE_TASKS needs TAGMAP_FIT_SAMPLE (the sample the map is fitted on)" >&2
  exit 2
fi
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
if [ -z "$TAGMAP_PLACE_TASKS" ]; then
  echo "${merge%%;*}"
  exit 0
fi
# The map as array tasks: fit after a successful merge, placement after the fit, then the
# final merge after every placement task ended (merge-db judges the shards' markers).
fit=$(sbatch "${common[@]}" --dependency="afterok:${merge%%;*}" \
  --output="$logs/fit-%j.out" "$here/tagmap-fit.sbatch")
place=$(sbatch "${common[@]}" --dependency="afterok:${fit%%;*}" \
  --array="0-$((TAGMAP_PLACE_TASKS - 1))" --cpus-per-task="${TAGMAP_PLACE_CPUS:-2}" \
  --output="$logs/place-%A_%a.out" "$here/tagmap-place.sbatch")
final=$(sbatch "${common[@]}" --dependency="afterany:${place%%;*}" \
  --output="$logs/place-merge-%j.out" "$here/tagmap-place-merge.sbatch")
echo "${final%%;*}"
