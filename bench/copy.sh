#!/usr/bin/env bash
# BlockFerry copy benchmark: blockferry vs nbdcopy vs qemu-img convert, same sources, fresh
# targets, interleaved runs, medians. Not a test: run it by hand (see bench/README.md).
#
#   bench/copy.sh                 # 8 GiB disks, 3 runs per tool and case
#   SIZE=4G RUNS=5 bench/copy.sh  # other size / more runs
#   CASES="dense sparse25" bench/copy.sh
#
# Prints one line per run, a median table, and per case:
#   RATIO case=<name> blockferry/nbdcopy=<x.xx> ...
# (ratios of throughput, whole process including JVM start; >1 means blockferry is faster).
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
SIZE="${SIZE:-8G}"
RUNS="${RUNS:-3}"
CASES="${CASES:-dense sparse25 sparse25-file noextents25 local-file}"
WORK="${WORK:-$HERE/bench/work}"
RESULTS="$HERE/bench/results"
mkdir -p "$WORK" "$RESULTS"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$RESULTS/copy-$STAMP.txt"
RAW="$WORK/runs.tsv"
: > "$RAW"

for tool in nbdkit nbdcopy qemu-img /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install nbdkit libnbd-bin qemu-utils time)" >&2; exit 1; }
done

BF="$HERE/blockferry"
"$BF" --version >/dev/null   # builds the jar and the class-data archive outside the timings

cleanup() {
  pkill -f "nbdkit .*-U $WORK/" 2>/dev/null || true
  rm -f "$WORK"/*.sock "$WORK"/target.img
}
trap cleanup EXIT

say() { echo "$@" | tee -a "$LOG"; }

bytes_of() { numfmt --from=iec "$1"; }
SIZE_BYTES="$(bytes_of "$SIZE")"

say "# BlockFerry copy benchmark $STAMP"
say "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "# kernel: $(uname -r)"
say "# versions: $("$BF" --version), $(nbdkit --version | head -1), $(nbdcopy --version | head -1), $(qemu-img --version | head -1), java $(java -version 2>&1 | head -1 | cut -d'"' -f2)"
say "# size=$SIZE runs=$RUNS cases=$CASES"

start_nbdkit() { # socket args...
  local sock="$1"; shift
  rm -f "$sock"
  nbdkit -U "$sock" "$@"
  for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
  echo "bench: nbdkit $* did not start" >&2; exit 1
}
stop_socket() { pkill -f "nbdkit -U $1" 2>/dev/null || true; sleep 0.2; rm -f "$1"; }

SRC_SOCK="$WORK/src.sock"
DST_SOCK="$WORK/dst.sock"
SRC_URI="nbd+unix:///?socket=$SRC_SOCK"
DST_URI="nbd+unix:///?socket=$DST_SOCK"
LOCAL_SRC="$WORK/source.img"
LOCAL_DST="$WORK/target.img"

source_for() { # case
  case "$1" in
    dense) start_nbdkit "$SRC_SOCK" -r sparse-random "$SIZE" percent=100 seed=1 ;;
    sparse25|sparse25-file) start_nbdkit "$SRC_SOCK" -r sparse-random "$SIZE" percent=25 seed=2 ;;
    noextents25) start_nbdkit "$SRC_SOCK" -r --filter=noextents sparse-random "$SIZE" percent=25 seed=3 ;;
    local-file)
      if [ ! -f "$LOCAL_SRC" ] || [ "$(stat -c %s "$LOCAL_SRC")" != "$SIZE_BYTES" ]; then
        rm -f "$LOCAL_SRC"
        start_nbdkit "$SRC_SOCK" -r sparse-random "$SIZE" percent=25 seed=4
        nbdcopy "$SRC_URI" "$LOCAL_SRC"
        stop_socket "$SRC_SOCK"
      fi ;;
  esac
}

fresh_target() { # case -> prints the target for the tools
  case "$1" in
    local-file)
      rm -f "$LOCAL_DST"; truncate -s "$SIZE" "$LOCAL_DST"; sync
      echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
      echo "$LOCAL_DST" ;;
    sparse25-file)
      stop_socket "$DST_SOCK"; rm -f "$LOCAL_DST"; truncate -s "$SIZE" "$LOCAL_DST"; sync
      start_nbdkit "$DST_SOCK" file "$LOCAL_DST"
      echo "$DST_URI" ;;
    *)
      stop_socket "$DST_SOCK"
      start_nbdkit "$DST_SOCK" memory "$SIZE" allocator=malloc
      echo "$DST_URI" ;;
  esac
}

src_for() { [ "$1" = local-file ] && echo "$LOCAL_SRC" || echo "$SRC_URI"; }

run_tool() { # case tool
  local c="$1" tool="$2" src dst out err wall rss copy=""
  src="$(src_for "$c")"
  dst="$(fresh_target "$c")"
  out="$WORK/out.txt"; err="$WORK/err.txt"
  case "$tool" in
    blockferry) cmd=("$BF" copy --json "$src" "$dst") ;;
    nbdcopy)    cmd=(nbdcopy "$src" "$dst") ;;
    nbdcopy-dz) cmd=(nbdcopy --destination-is-zero "$src" "$dst") ;;
    qemu-img)   cmd=(qemu-img convert -n -W -f raw -O raw "$src" "$dst") ;;
  esac
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "${cmd[@]}" > "$out" 2> "$err" || {
    echo "bench: $tool failed on $c: $(tail -3 "$err")" >&2; exit 1; }
  read -r wall rss < "$WORK/time.txt"
  [ "$tool" = blockferry ] && copy="$(grep -oE '"seconds":[0-9.]+' "$out" | cut -d: -f2)"
  printf '%s\t%s\t%s\t%s\t%s\n' "$c" "$tool" "$wall" "$rss" "${copy:--}" >> "$RAW"
  say "run case=$c tool=$tool wall_s=$wall peak_rss_kib=$rss${copy:+ copy_s=$copy}"
}

for c in $CASES; do
  source_for "$c"
  for _ in $(seq "$RUNS"); do
    for tool in blockferry nbdcopy nbdcopy-dz qemu-img; do
      run_tool "$c" "$tool"
    done
  done
  stop_socket "$SRC_SOCK"; stop_socket "$DST_SOCK"
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -F'\t' -v c="$1" -v t="$2" -v k="$3" '$1==c && $2==t {print $k}' "$RAW"; }

say ""
say "# medians over $RUNS runs: GiB/s = disk size / wall time (whole process); copy_s from blockferry --json"
say "$(printf '%-14s %-11s %8s %8s %10s %8s' case tool wall_s GiB/s rss_MiB copy_s)"
for c in $CASES; do
  for tool in blockferry nbdcopy nbdcopy-dz qemu-img; do
    wall="$(col "$c" "$tool" 3 | median)"
    rss="$(col "$c" "$tool" 4 | sort -g | tail -1)"
    copy="-"; [ "$tool" = blockferry ] && copy="$(col "$c" "$tool" 5 | median)"
    gibs="$(awk -v b="$SIZE_BYTES" -v w="$wall" 'BEGIN {printf "%.2f", b/1073741824/w}')"
    say "$(printf '%-14s %-11s %8s %8s %10s %8s' "$c" "$tool" "$wall" "$gibs" "$((rss / 1024))" "$copy")"
  done
done
say ""
for c in $CASES; do
  bf="$(col "$c" blockferry 3 | median)"; nc="$(col "$c" nbdcopy 3 | median)"
  dz="$(col "$c" nbdcopy-dz 3 | median)"; qi="$(col "$c" qemu-img 3 | median)"
  cp="$(col "$c" blockferry 5 | median)"
  say "$(awk -v c="$c" -v bf="$bf" -v nc="$nc" -v dz="$dz" -v qi="$qi" -v cp="$cp" 'BEGIN {
    printf "RATIO case=%s blockferry/nbdcopy=%.2f blockferry/nbdcopy-dz=%.2f blockferry/qemu-img=%.2f copy-only/nbdcopy=%.2f\n",
      c, nc/bf, dz/bf, qi/bf, nc/cp }')"
done
say "# full log: $LOG"
