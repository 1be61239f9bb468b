#!/usr/bin/env bash
# BlockFerry crash-resume demonstration: a two-disk `blockferry replicate` (nbdkit sources,
# targets slowed with nbdkit's delay filter) is killed with SIGKILL mid-copy, started again,
# resumes the job from each disk's checkpoint, and completes. Both targets are then compared
# with their sources (nbdcopy + sha256sum, independent of BlockFerry), and the bytes each disk
# copied again after the restart are printed next to the checkpoint interval.
#
#   bench/crash-resume.sh                         # 2 GiB disks, 256 MiB checkpoint interval
#   SIZE=4G CHECKPOINT=512MiB bench/crash-resume.sh
#
# Exit 0 only when both targets equal their sources. Scratch files go to bench/work/crash-resume
# (a fresh H2 database there too, so the run leaves ~/.blockferry alone).
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source=../scripts/common.sh
source "$HERE/scripts/common.sh"
ensure_packages "${BLOCKFERRY_RUNTIME_PACKAGES[@]}" jq

SIZE="${SIZE:-2G}"
CHECKPOINT="${CHECKPOINT:-256MiB}"
WDELAY="${WDELAY:-10ms}"            # per write request on the targets: slow enough to kill mid-copy
WORK="$HERE/bench/work/crash-resume"
BF="$HERE/blockferry"
JOB_ID="crash-resume-$(date -u +%Y%m%dT%H%M%SZ)"

rm -rf "$WORK"
mkdir -p "$WORK"
"$BF" --version >/dev/null   # builds the jar outside the run

export BLOCKFERRY_DATA_DIR="$WORK"
export BLOCKFERRY_DB=h2
export BLOCKFERRY_JAVA_OPTS="-Dblockferry.copy.checkpoint-interval=$CHECKPOINT -Dblockferry.copy.progress-interval=500ms ${BLOCKFERRY_JAVA_OPTS:-}"

SUPERVISORS=()
cleanup() {
  touch "$WORK/stop"
  pkill -9 -f "blockferry.jar replicate --job-file $WORK/" 2>/dev/null || true
  pkill -f "nbdkit -f -U $WORK/" 2>/dev/null || true
  for pid in "${SUPERVISORS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# nbdkit 1.32 can abort when its client vanishes in the middle of a request (which is what a
# SIGKILL does); each server runs under a loop that restarts it on the same socket, as a service
# manager would. sparse-random with a fixed seed serves the same bytes after a restart.
serve() { # name args...
  local name="$1"; shift
  local sock="$WORK/$name.sock"
  (
    while [ ! -f "$WORK/stop" ]; do
      rm -f "$sock"
      nbdkit -f -U "$sock" "$@" >> "$WORK/$name.nbdkit.log" 2>&1 || true
      [ -f "$WORK/stop" ] || echo "restart" >> "$WORK/$name.restarts"
      sleep 0.1
    done
  ) 2>> "$WORK/$name.nbdkit.log" &
  SUPERVISORS+=($!)
  for _ in $(seq 200); do [ -S "$sock" ] && return 0; sleep 0.05; done
  echo "crash-resume: nbdkit $* did not start: $(tail -3 "$WORK/$name.nbdkit.log")" >&2
  exit 1
}
uri() { echo "nbd+unix:///?socket=$WORK/$1.sock"; }

serve src1 -r sparse-random "$SIZE" percent=40 seed=21
serve src2 -r sparse-random "$SIZE" percent=30 seed=22
truncate -s "$SIZE" "$WORK/t1.img" "$WORK/t2.img"
serve dst1 --filter=delay file "$WORK/t1.img" wdelay="$WDELAY"
serve dst2 --filter=delay file "$WORK/t2.img" wdelay="$WDELAY"

cat > "$WORK/job.json" <<EOF
{"job_id": "$JOB_ID", "vm": "crash-resume-vm", "mode": "full",
 "disks": [{"id": "disk1", "source": "$(uri src1)", "target": "$(uri dst1)"},
           {"id": "disk2", "source": "$(uri src2)", "target": "$(uri dst2)"}]}
EOF

echo "# BlockFerry crash-resume $(date -u +%FT%TZ)"
echo "# machine: $(nproc) cores; $("$BF" --version); $(nbdkit --version | head -1)"
echo "# 2 disks of $SIZE (sparse-random 40 % and 30 % data), targets with wdelay=$WDELAY, checkpoint interval $CHECKPOINT"

job_json() { "$BF" job "$JOB_ID" --json 2>/dev/null || true; }

"$BF" replicate --job-file "$WORK/job.json" > "$WORK/first.log" 2>&1 &
FIRST=$!
CHECKPOINT_BYTES="$(numfmt --from=iec "${CHECKPOINT%B}" 2>/dev/null || numfmt --from=iec-i "${CHECKPOINT%B}")"

# Kill once both disks passed a checkpoint and neither is near its end.
killed=""
for _ in $(seq 600); do
  kill -0 "$FIRST" 2>/dev/null || { echo "crash-resume: replicate ended before the kill:" >&2; tail -5 "$WORK/first.log" >&2; exit 1; }
  state="$(job_json)"
  if [ -n "$state" ] && jq -e --argjson cp "$CHECKPOINT_BYTES" \
      '(.disks | length) == 2 and all(.disks[]; .checkpoint >= $cp and .bytes_transferred < .total_bytes * 0.8)' \
      <<< "$state" > /dev/null; then
    kill -9 "$FIRST"
    wait "$FIRST" 2>/dev/null || true
    killed=yes
    break
  fi
  sleep 0.5
done
[ -n "$killed" ] || { echo "crash-resume: the job never got mid-copy; lower WDELAY or raise SIZE" >&2; exit 1; }
echo
echo "killed replicate (pid $FIRST) with SIGKILL at:"
jq -r '.disks[] | "  \(.id): \(.bytes_transferred) of \(.total_bytes) planned bytes done, checkpoint at offset \(.checkpoint)"' <<< "$state"

echo
echo "starting the same command again: the job resumes by itself"
start=$(date +%s.%N)
if ! "$BF" replicate --job-file "$WORK/job.json" > "$WORK/second.log" 2>&1; then
  echo "crash-resume: the resumed job did not complete:" >&2; tail -20 "$WORK/second.log" >&2; exit 1
fi
end=$(date +%s.%N)
final="$(job_json)"
echo "resumed job finished: $(jq -r .status <<< "$final") in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s after the restart"

echo
echo "verifying the targets against their sources (nbdcopy | sha256sum):"
equal=yes
for i in 1 2; do
  want="$(disk_sha256 "$(uri "src$i")")"
  got="$(sha256sum "$WORK/t$i.img" | cut -d' ' -f1)"
  if [ "$want" = "$got" ]; then
    echo "  disk$i: equal ($got)"
  else
    echo "  disk$i: DIFFERENT (source $want, target $got)"
    equal=""
  fi
done

echo
echo "bytes copied again after the restart (from the DiskResumed events, read side vm_disks.bytes_recopied):"
jq -r --argjson cp "$CHECKPOINT_BYTES" '.disks[] |
  "  \(.id): resumed \(.resumes)x, copied again \(.bytes_recopied) bytes (\(.bytes_recopied / 1048576 | floor) MiB); checkpoint interval \($cp) bytes (\($cp / 1048576 | floor) MiB)"' <<< "$final"
restarts="$(cat "$WORK"/*.restarts 2>/dev/null | wc -l)"
[ "$restarts" -gt 0 ] && echo "  (nbdkit servers restarted after the kill: $restarts)"

if [ -n "$equal" ] && [ "$(jq -r .status <<< "$final")" = completed ]; then
  echo "RESULT equal=yes"
  exit 0
fi
echo "RESULT equal=no"
exit 1
