#!/usr/bin/env bash
# BlockFerry incremental benchmark: the same qcow2 disk (SIZE, 25 % data), a full copy with
# blockferry and with nbdcopy, then ~1 % of the disk changed by qemu-io (data, zero writes,
# discards) and an incremental sync with blockferry (its dirty bitmap). Prints the times and
# ratios. Not a test: run it by hand (see bench/README.md).
#
#   bench/incremental.sh                  # 4 GiB disk, 5 runs of each step (medians)
#   SIZE=8G RUNS=5 bench/incremental.sh
#
# "job" times are the sync itself (the job's started_at to finished_at, from the read side);
# "wall" times are the whole `blockferry replicate` process (JVM and node start included).
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source=../scripts/common.sh
BF_NAME=bench/incremental.sh  # read by scripts/common.sh
source "$HERE/scripts/common.sh"
ensure_packages "${BLOCKFERRY_RUNTIME_PACKAGES[@]}" jq time python3

SIZE="${SIZE:-4G}"
RUNS="${RUNS:-5}"
WORK="$HERE/bench/work/incremental"
SIZE_BYTES="$(numfmt --from=iec "$SIZE")"
# Every timed copy writes its target into pages freed just before (warm_pages; WARM=0: not):
# nbdcopy's second copy used to write right after its first was deleted, blockferry's seconds later.
warm_setup "$SIZE_BYTES" "$WORK/warm" || exit 1
BF="$HERE/blockferry"
rm -rf "$WORK"
mkdir -p "$WORK"
"$BF" --version >/dev/null   # builds the jar outside the timings
export BLOCKFERRY_DATA_DIR="$WORK/state"

cleanup() { pkill -f "nbdkit .*-U $WORK/" 2>/dev/null || true; pkill -f "qemu-nbd .*$WORK/" 2>/dev/null || true; }
trap cleanup EXIT

echo "# BlockFerry incremental benchmark $(date -u +%FT%TZ)"
echo "# machine: $(bench_machine)"
echo "# versions: $("$BF" --version), $(nbdcopy --version | head -1), $(qemu-img --version | head -1), java $(java -version 2>&1 | head -1 | cut -d'"' -f2)"
CHANGE_BYTES=$((SIZE_BYTES / 100))
echo "# disk: $SIZE qcow2, 25 % data; changes: ~1 % ($CHANGE_BYTES bytes) per incremental; runs=$RUNS"

IMAGE="$WORK/disk.qcow2"
page_reporting_line
nbdkit -U "$WORK/gen.sock" sparse-random "$SIZE" percent=25 seed=77
qemu-img convert -q -f raw -O qcow2 "nbd+unix:///?socket=$WORK/gen.sock" "$IMAGE"
pkill -f "nbdkit -U $WORK/gen.sock" || true

job_file() { # id target -> path
  local f="$WORK/$1.json"
  printf '{"job_id": "%s", "vm": "bench", "source": {"kind": "qemu"}, "disks": [{"id": "d0", "source": "%s", "target": "%s"}]}\n' \
    "$1" "$IMAGE" "$2" > "$f"
  echo "$f"
}

sync_job() { # id target -> prints "wall job mode bytes"
  local id="$1" target="$2" f wall json
  f="$(job_file "$id" "$target")"
  warm_pages   # (the process starts its JVM and node first: ~1.5-2 s in which some are handed back)
  /usr/bin/time -f "%e" -o "$WORK/time.txt" "$BF" replicate --json --job-file "$f" > "$WORK/$id.out" 2> "$WORK/$id.err" || {
    echo "bench: $id failed: $(tail -3 "$WORK/$id.err")" >&2; exit 1; }
  wall="$(cat "$WORK/time.txt")"
  json="$("$BF" job "$id" --json)"
  local started finished job
  started="$(date -d "$(jq -r .started_at <<< "$json")" +%s.%N)"
  finished="$(date -d "$(jq -r .finished_at <<< "$json")" +%s.%N)"
  job="$(awk -v a="$started" -v b="$finished" 'BEGIN {printf "%.3f", b - a}')"
  echo "$wall $job $(jq -r '.disks[0].mode' <<< "$json") $(jq -r .total_bytes <<< "$json")"
}

verify() { # target
  local a b
  qemu-nbd -r -f qcow2 -t -k "$WORK/v.sock" "$IMAGE" & local pid=$!
  for _ in $(seq 100); do [ -S "$WORK/v.sock" ] && break; sleep 0.05; done
  a="$(disk_sha256 "nbd+unix:///?socket=$WORK/v.sock")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  b="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$a" = "$b" ] || { echo "bench: $1 differs from the source" >&2; exit 1; }
}

# ~1 % of the disk changed with qemu-io: scattered data writes of 64 KiB..4 MiB, every 7th a zero
# write, some discards. Sets i to the number of writes.
change_one_percent() {
  local args=() written=0 len off
  i=0
  while [ "$written" -lt "$CHANGE_BYTES" ]; do
    len=$(( (RANDOM % 64 + 1) * 65536 )); off=$(( (RANDOM * 32768 + RANDOM) % ((SIZE_BYTES - len) / 65536) * 65536 ))
    case $((i % 7)) in 3) args+=(-c "write -z $off $len") ;; 5) args+=(-c "discard $off $len") ;; *) args+=(-c "write -P $((i % 250 + 1)) $off $len") ;; esac
    written=$((written + len)); i=$((i + 1))
  done
  qemu-io -f qcow2 "${args[@]}" "$IMAGE" > /dev/null
}


: > "$WORK/full-bf.txt"; : > "$WORK/full-bf-wall.txt"; : > "$WORK/full-nbdcopy.txt"; : > "$WORK/full-nbdcopy-flush.txt"
: > "$WORK/inc-bf.txt"; : > "$WORK/inc-bf-wall.txt"
for run in $(seq "$RUNS"); do
  # full copy with nbdcopy from the same image exported by qemu-nbd
  rm -f "$WORK/nbdcopy.img"
  qemu-nbd -r -f qcow2 -t -k "$WORK/src.sock" "$IMAGE" & qpid=$!
  for _ in $(seq 100); do [ -S "$WORK/src.sock" ] && break; sleep 0.05; done
  truncate -s "$SIZE" "$WORK/nbdcopy.img"
  warm_pages
  /usr/bin/time -f "%e" -o "$WORK/time.txt" nbdcopy "nbd+unix:///?socket=$WORK/src.sock" "$WORK/nbdcopy.img"
  t="$(cat "$WORK/time.txt")"; echo "$t" >> "$WORK/full-nbdcopy.txt"
  echo "run $run: nbdcopy full copy: ${t} s"
  # the same with --flush: on disk when it exits, as a blockferry sync is when it completes
  sync; rm -f "$WORK/nbdcopy.img"; truncate -s "$SIZE" "$WORK/nbdcopy.img"
  warm_pages
  /usr/bin/time -f "%e" -o "$WORK/time.txt" nbdcopy --flush "nbd+unix:///?socket=$WORK/src.sock" "$WORK/nbdcopy.img"
  kill "$qpid"; wait "$qpid" 2>/dev/null || true
  t="$(cat "$WORK/time.txt")"; echo "$t" >> "$WORK/full-nbdcopy-flush.txt"
  echo "run $run: nbdcopy --flush full copy: ${t} s"
  rm -f "$WORK/nbdcopy.img"
  sync

  # full sync with blockferry (a new target: no change token for it yet)
  target="$WORK/target-$run.img"
  read -r wall job mode total < <(sync_job "full-$run" "$target")
  [ "$mode" = full ] || { echo "bench: expected a full sync, got $mode" >&2; exit 1; }
  verify "$target"
  echo "$job" >> "$WORK/full-bf.txt"; echo "$wall" >> "$WORK/full-bf-wall.txt"
  echo "run $run: blockferry full sync: job ${job} s, wall ${wall} s, ${total} bytes"

  change_one_percent

  read -r wall job mode total < <(sync_job "inc-$run" "$target")
  [ "$mode" = incremental ] || { echo "bench: expected an incremental sync, got $mode" >&2; exit 1; }
  verify "$target"
  echo "$job" >> "$WORK/inc-bf.txt"; echo "$wall" >> "$WORK/inc-bf-wall.txt"
  echo "run $run: blockferry incremental sync: job ${job} s, wall ${wall} s, ${total} changed bytes (~$i writes)"
  rm -f "$target"
done

# ---- the same on a running node, through the HTTP API (issue 16's measure) ----
# One `blockferry serve`; each sync is a POST /api/v1/jobs, timed on the client from the POST to
# the first GET /api/v1/jobs/ID that says "completed" (bench/api_sync.py, polling every 5 ms on one
# connection: the figure includes the read side's lag, as an operator's client sees it).
TOKEN="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
BLOCKFERRY_API_TOKEN="$TOKEN" BLOCKFERRY_ALLOWED_ROOTS="$WORK" BLOCKFERRY_DATA_DIR="$WORK/node" \
  "$BF" serve --port 0 > "$WORK/serve.log" 2>&1 & SERVE_PID=$!
trap 'kill "$SERVE_PID" 2>/dev/null || true; cleanup' EXIT
URL=""
for _ in $(seq 600); do
  URL="$({ grep -o 'API http://[0-9.:]*/api/v1' "$WORK/serve.log" || true; } | head -1 | cut -d' ' -f2)"
  [ -n "$URL" ] && break
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "bench: blockferry serve exited: $(tail -5 "$WORK/serve.log")" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "bench: blockferry serve did not start in 60 s: $(tail -5 "$WORK/serve.log")" >&2; exit 1; }

api_sync() { # id target -> prints "seconds mode bytes"
  warm_pages
  BLOCKFERRY_API_TOKEN="$TOKEN" python3 "$HERE/bench/api_sync.py" "$URL" "$(job_file "$1" "$2")" || {
    echo "bench: API sync $1 failed" >&2; exit 1; }
}

: > "$WORK/api-full.txt"; : > "$WORK/api-inc.txt"
for run in $(seq "$RUNS"); do
  target="$WORK/api-target-$run.img"
  read -r secs mode total < <(api_sync "api-full-$run" "$target")
  [ "$mode" = full ] || { echo "bench: expected a full sync over the API, got $mode" >&2; exit 1; }
  verify "$target"
  echo "$secs" >> "$WORK/api-full.txt"
  echo "run $run: API full sync: submission to completed ${secs} s, ${total} bytes"
  change_one_percent
  read -r secs mode total < <(api_sync "api-inc-$run" "$target")
  [ "$mode" = incremental ] || { echo "bench: expected an incremental sync over the API, got $mode" >&2; exit 1; }
  verify "$target"
  echo "$secs" >> "$WORK/api-inc.txt"
  echo "run $run: API incremental sync: submission to completed ${secs} s, ${total} changed bytes (~$i writes)"
  rm -f "$target"
done
kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true

fb="$(median < "$WORK/full-bf.txt")"; fbw="$(median < "$WORK/full-bf-wall.txt")"
fn="$(median < "$WORK/full-nbdcopy.txt")"; fnf="$(median < "$WORK/full-nbdcopy-flush.txt")"
ib="$(median < "$WORK/inc-bf.txt")"; ibw="$(median < "$WORK/inc-bf-wall.txt")"
echo
echo "medians: nbdcopy full ${fn} s (--flush ${fnf} s); blockferry full job ${fb} s (wall ${fbw} s); blockferry incremental job ${ib} s (wall ${ibw} s)"
awk -v fb="$fb" -v fn="$fn" -v fnf="$fnf" 'BEGIN {
  printf "RATIO nbdcopy/blockferry-full=%.2f nbdcopy-flush/blockferry-full=%.2f (full sync jobs; > 1: blockferry faster)\n", fn / fb, fnf / fb
}'
awk -v fb="$fb" -v fn="$fn" -v ib="$ib" -v fbw="$fbw" -v ibw="$ibw" 'BEGIN {
  printf "RATIO full-blockferry/incremental=%.1f full-nbdcopy/incremental=%.1f (sync times)\n", fb / ib, fn / ib
  printf "RATIO full-blockferry/incremental=%.1f full-nbdcopy/incremental=%.1f (whole processes)\n", fbw / ibw, fn / ibw
}'
af="$(median < "$WORK/api-full.txt")"; ai="$(median < "$WORK/api-inc.txt")"
echo "API on a running node: full sync ${af} s, incremental ${ai} s from submission to completed (medians)"
awk -v af="$af" -v ai="$ai" 'BEGIN { printf "RATIO api-full/api-incremental=%.1f (target: incremental <= 0.25 s and >= 10x)\n", af / ai }'
