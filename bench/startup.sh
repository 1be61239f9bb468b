#!/usr/bin/env bash
# BlockFerry start-up benchmark: whole processes on a 1 MiB disk (512 KiB of data), where the
# fixed cost of a run is all there is. Against issue 16's start-up targets:
#
#   copy       `blockferry copy` of a local 1 MiB raw image to a new file        target <= 0.3 s
#   copy-nbd   `blockferry copy` between two NBD exports (nbdkit, unix sockets)  (no target)
#   replicate  `blockferry replicate` of the same image, fresh H2 data directory  target <= 1.0 s
#
# and, on the same image and targets in the same rounds, the peers: nbdcopy and qemu-img convert
# (local to local) and nbdcopy (NBD to NBD). Every target is compared with its source (cmp).
# Three floors run in the same rounds, on the same jar, JVM options and class-data archive
# (bench/StartupFloor.java): the JVM alone; the configuration, a local actor system and a
# one-element stream (what a `copy` costs before its disks); a one-shot node until it is up
# (what a `replicate` costs before its job). Rounds alternate; medians of RUNS. Not a test: run
# it by hand (see bench/README.md).
#
#   bench/startup.sh             # 7 rounds (under a minute)
#   RUNS=11 bench/startup.sh
set -Eeuo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BF_NAME=bench/startup.sh
# shellcheck source=../scripts/common.sh
source "$HERE/scripts/common.sh"

RUNS="${RUNS:-7}"
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 1 ] || [ "$RUNS" -gt 100 ]; then
  bf_say "RUNS must be a whole number from 1 to 100, not '$RUNS'"
  exit 2
fi
ensure_packages "${BLOCKFERRY_RUNTIME_PACKAGES[@]}"

WORK="$HERE/bench/work/startup"
BF="$HERE/blockferry"
NBD_SERVERS=()
cleanup() {
  local pid
  for pid in "${NBD_SERVERS[@]}"; do nbdkit_stop "$pid"; done
}
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK"
"$BF" --version >/dev/null   # builds the jar and the class-data archive outside the timings
JAR="$HERE/api/target/blockferry.jar"
mapfile -t JVM_COPY < <(BLOCKFERRY_PRINT_JVM_OPTIONS=1 "$BF" copy)
mapfile -t JVM_REPLICATE < <(BLOCKFERRY_PRINT_JVM_OPTIONS=1 "$BF" replicate)
mkdir -p "$WORK/classes"
javac -cp "$JAR" -d "$WORK/classes" "$HERE/bench/StartupFloor.java"
floor() { # MODE JVM_OPTION...
  local mode=$1
  shift
  java "$@" -cp "$JAR:$WORK/classes" StartupFloor "$mode"
}

echo "# BlockFerry start-up benchmark $(date -u +%FT%TZ)"
echo "# machine: $(bench_machine)"
# (sed, not head: a writer cut off by head's exit would fail the pipeline)
echo "# versions: $("$BF" --version), $(nbdkit --version | sed -n 1p), $(nbdcopy --version | sed -n 1p), $(qemu-img --version | sed -n 1p), java $(java -version 2>&1 | sed -n 1p | cut -d'"' -f2)"
echo "# runs: $RUNS rounds, tools alternating; times are whole processes (wall, user + sys CPU)"

# The disk: 1 MiB, its first half random data, its second half a hole.
IMAGE="$WORK/disk.raw"
head -c 524288 /dev/urandom > "$IMAGE"
truncate -s 1M "$IMAGE"

# NBD to NBD: a read-only nbdkit file export of the image, and a fresh memory target per run,
# started before the timing (NBD_SERVERS: stopped at exit).
nbdkit_child "$WORK/src.sock" "$WORK/nbdkit.log" --readonly file "$IMAGE"
NBD_SERVERS+=("$NBDKIT_CHILD")
SRC_NBD="nbd+unix:///?socket=$WORK/src.sock"

# timed NAME LABEL CMD...: runs CMD once, its output to $WORK/NAME.{out,err}, and appends
# "wall cpu" (seconds, to the millisecond: bash's `time`, not /usr/bin/time's 10 ms) to
# $WORK/LABEL.times. A command that fails (an exit status other than EXPECT_RC, 0 unless set)
# ends the benchmark with its last lines.
timed() {
  local name=$1 label=$2 rc=0 TIMEFORMAT='%3R %3U %3S'
  shift 2
  { time "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?; } 2>"$WORK/$name.time"
  if [ "$rc" -ne "${EXPECT_RC:-0}" ]; then
    bf_say "$label failed (exit $rc: $*): $(tail -n 3 "$WORK/$name.err")"
    exit 1
  fi
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$WORK/$name.time" >> "$WORK/$label.times"
}

same_as_image() { # FILE LABEL
  cmp -s "$IMAGE" "$1" || { bf_say "$2: $1 differs from the source image"; exit 1; }
}

# Reads a memory target back into a file and compares it with the image.
nbd_same_as_image() { # SOCKET LABEL
  nbdcopy "nbd+unix:///?socket=$1" "$WORK/readback.raw"
  same_as_image "$WORK/readback.raw" "$2"
  rm -f "$WORK/readback.raw"
}

for r in $(seq "$RUNS"); do
  timed "copy.$r" copy "$BF" copy "$IMAGE" "$WORK/bf-copy.$r.raw"
  same_as_image "$WORK/bf-copy.$r.raw" copy
  timed "nbdcopy.$r" nbdcopy nbdcopy "$IMAGE" "$WORK/nbdcopy.$r.raw"
  same_as_image "$WORK/nbdcopy.$r.raw" nbdcopy
  timed "qemu-img.$r" qemu-img qemu-img convert -f raw -O raw "$IMAGE" "$WORK/qemu-img.$r.raw"
  same_as_image "$WORK/qemu-img.$r.raw" qemu-img

  for tool in copy-nbd nbdcopy-nbd; do
    nbdkit_child "$WORK/dst.sock" "$WORK/nbdkit.log" memory 1M
    NBD_SERVERS+=("$NBDKIT_CHILD")
    if [ "$tool" = copy-nbd ]; then
      timed "$tool.$r" "$tool" "$BF" copy "$SRC_NBD" "nbd+unix:///?socket=$WORK/dst.sock"
    else
      timed "$tool.$r" "$tool" nbdcopy "$SRC_NBD" "nbd+unix:///?socket=$WORK/dst.sock"
    fi
    nbd_same_as_image "$WORK/dst.sock" "$tool"
    nbdkit_stop "$NBDKIT_CHILD"
    unset 'NBD_SERVERS[-1]'
  done

  BLOCKFERRY_DATA_DIR="$WORK/state.$r" timed "replicate.$r" replicate \
    "$BF" replicate --vm startup --source "$IMAGE" --target "$WORK/bf-replicate.$r.raw"
  same_as_image "$WORK/bf-replicate.$r.raw" replicate
  timed "floor-jvm.$r" floor-jvm floor jvm "${JVM_COPY[@]}"
  timed "floor-pekko.$r" floor-pekko floor pekko "${JVM_COPY[@]}"
  # (the node floor kills itself once up: status 137, see bench/StartupFloor.java)
  EXPECT_RC=137 BLOCKFERRY_DATA_DIR="$WORK/floor-state.$r" timed "floor-node.$r" floor-node floor node "${JVM_REPLICATE[@]}"
  rm -rf "$WORK/state.$r" "$WORK/floor-state.$r" "$WORK"/*."$r".raw
done

# column_median COLUMN LABEL: the median of one column of $WORK/LABEL.times (1 wall, 2 CPU).
column_median() {
  cut -d' ' -f "$1" "$WORK/$2.times" | median | awk '{printf "%.3f", $1}'
}
range() { # LABEL: min-max of the wall times
  sort -n -k 1 "$WORK/$1.times" | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'
}

echo
printf '%-12s %10s %14s %10s\n' case "wall (s)" "wall range" "CPU (s)"
for label in copy nbdcopy qemu-img copy-nbd nbdcopy-nbd replicate floor-jvm floor-pekko floor-node; do
  printf '%-12s %10s %14s %10s\n' "$label" "$(column_median 1 "$label")" "$(range "$label")" "$(column_median 2 "$label")"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else printf "n/a"}'; }
echo "RATIO case=copy blockferry/nbdcopy=$(ratio "$(column_median 1 nbdcopy)" "$(column_median 1 copy)") blockferry/qemu-img=$(ratio "$(column_median 1 qemu-img)" "$(column_median 1 copy)") (> 1: blockferry faster)"
echo "RATIO case=copy-nbd blockferry/nbdcopy=$(ratio "$(column_median 1 nbdcopy-nbd)" "$(column_median 1 copy-nbd)")"
target() { # LABEL LIMIT
  local m
  m="$(column_median 1 "$1")"
  echo "TARGET case=$1 median_s=$m target_s=$2 reached=$(awk -v m="$m" -v t="$2" 'BEGIN {print (m <= t) ? "yes" : "no"}')"
}
target copy 0.3
target replicate 1.0
echo "FLOOR jvm_s=$(column_median 1 floor-jvm) pekko_stream_s=$(column_median 1 floor-pekko) node_up_s=$(column_median 1 floor-node) (whole processes doing no command's work: see bench/README.md)"
