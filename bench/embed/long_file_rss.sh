#!/bin/sh
# Peak memory (and time) of `tagmap embed` and `tagmap preprocess-all` on one long file
# (run by hand; not a test). The file is the shared music clips (not the near-silent
# one) concatenated by ffmpeg into a 44.1 kHz stereo 16-bit WAV and looped to MINUTES;
# it is written to a temporary folder and deleted, never committed.
#
#   bench/embed/long_file_rss.sh BUILD/bin/tagmap WEIGHTS_DIR [MINUTES] [JOBS] [MODELS]
#
# WEIGHTS_DIR holds <model id>.tmw or .pth (musicnn-mtat, crepe-tiny, madmom-beats: see
# docs/models/madmom.md for converting madmom's pickles). Defaults: 60 minutes, --jobs 2,
# musicnn-mtat,crepe-tiny,madmom-beats. Prints max RSS, wall, user and system time of each
# run, and the load average before it (the machine is shared: see the user+sys times).
# EMBED_ONLY=1 skips the preprocess-all run.
set -eu
tagmap=$(realpath "$1")
weights=$(realpath "$2")
minutes=${3:-60}
jobs=${4:-2}
models=${5:-musicnn-mtat,crepe-tiny,madmom-beats}
shared=${TAGMAP_FIXTURES:-/work/shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One pass over the clips at 44.1 kHz stereo, then looped to the length asked for.
inputs="" n=0
for f in "$shared"/audio/*.wav "$shared"/audio/*.flac "$shared"/audio/*.ogg \
         "$shared"/audio/*.mp3 "$shared"/audio/*.opus; do
    case "$f" in *silence*) continue ;; esac
    inputs="$inputs -i $f"
    n=$((n + 1))
done
filter=""
i=0
while [ $i -lt $n ]; do
    filter="$filter[$i:a]aresample=44100,aformat=sample_fmts=s16:channel_layouts=stereo[a$i];"
    i=$((i + 1))
done
i=0
while [ $i -lt $n ]; do filter="$filter[a$i]"; i=$((i + 1)); done
# shellcheck disable=SC2086
ffmpeg -v error $inputs -filter_complex "${filter}concat=n=$n:v=0:a=1[out]" -map '[out]' \
    -c:a pcm_s16le "$tmp/pass.wav"
mkdir -p "$tmp/music"
ffmpeg -v error -stream_loop -1 -i "$tmp/pass.wav" -t "$((minutes * 60))" -c:a pcm_s16le \
    "$tmp/music/long.wav"
size=$(du -m "$tmp/music/long.wav" | cut -f1)
echo "input: $minutes min, 44.1 kHz stereo 16-bit WAV, $size MB (from $n clips)"

measure() {  # label, command...
    label=$1
    shift
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v "$@" > "$tmp/out.txt" 2> "$tmp/time.txt" || {
        echo "$label: FAILED"
        tail -5 "$tmp/time.txt"
        return
    }
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt")
    user=$(sed -n 's/.*User time (seconds): //p' "$tmp/time.txt")
    sys=$(sed -n 's/.*System time (seconds): //p' "$tmp/time.txt")
    echo "$label: max RSS $((rss / 1024)) MB, wall $wall, user $user s, sys $sys s (load $load)"
}

measure "embed --models $models --jobs $jobs" \
    "$tagmap" embed --models "$models" --weights-dir "$weights" --jobs "$jobs" --per-chunk -q \
    --out "$tmp/out" "$tmp/music/long.wav"
[ "${EMBED_ONLY:-0}" = 1 ] && exit 0
"$tagmap" init-db --db "$tmp/lib.db" --audio-dir "$tmp/music" > /dev/null
"$tagmap" index-audio --db "$tmp/lib.db" -q "$tmp/music" > /dev/null
measure "preprocess-all --models $models --jobs $jobs" \
    "$tagmap" preprocess-all --db "$tmp/lib.db" --models "$models" --weights-dir "$weights" \
    --jobs "$jobs" -q
