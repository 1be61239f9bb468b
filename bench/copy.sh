#!/usr/bin/env bash
# BlockFerry copy benchmark: blockferry vs nbdcopy vs qemu-img convert, same sources, fresh
# targets, interleaved runs, medians. Not a test: run it by hand (see bench/README.md).
#
#   bench/copy.sh                 # 8 GiB disks, 3 runs per tool and case
#   SIZE=4G RUNS=5 bench/copy.sh  # other size / more runs
#   CASES="dense sparse25" bench/copy.sh
#   CASES="tls-psk tls-x509" bench/copy.sh   # NBD over TLS on both sides (TLS_SIZE, default 4G)
#   WARM=0 bench/copy.sh          # no page warm-up before the file cases (scripts/common.sh warm_pages)
#   VERIFY=all bench/copy.sh      # compare every blockferry target with its source (default: the
#                                 # first run of each case and tool; VERIFY=none: no comparison)
#
# Prints one line per run, a median table, and per case:
#   RATIO case=<name> blockferry/nbdcopy=<x.xx> ...
# (ratios of throughput, whole process including JVM start; >1 means blockferry is faster).
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BF_NAME=bench/copy.sh  # read by scripts/common.sh
# shellcheck source=../scripts/common.sh
source "$HERE/scripts/common.sh"
SIZE="${SIZE:-8G}"
RUNS="${RUNS:-3}"
KNOWN_CASES="dense sparse25 sparse25-file noextents25 local-file tls-psk tls-x509"
CASES="${CASES:-$KNOWN_CASES}"
TLS_SIZE="${TLS_SIZE:-4G}"
VERIFY="${VERIFY:-first}"
case "$VERIFY" in first|all|none) ;; *) bf_say "VERIFY must be first, all or none, got '$VERIFY'"; exit 1 ;; esac
for c in $CASES; do
  if [[ " $KNOWN_CASES " != *" $c "* ]]; then
    bf_say "CASES: unknown case '$c' (known: $KNOWN_CASES)"
    exit 1
  fi
done
case "$RUNS" in ''|*[!0-9]*|0) bf_say "RUNS must be a whole number of at least 1, got '$RUNS'"; exit 1 ;; esac
bytes_of() { numfmt --from=iec "$1"; }
SIZE_BYTES="$(bytes_of "$SIZE")"
WORK="${WORK:-$HERE/bench/work}"
warm_setup "$SIZE_BYTES" "$WORK/warm" || exit 1   # WARM=0: no page warm-up before the file cases
RESULTS="$HERE/bench/results"
mkdir -p "$WORK" "$RESULTS"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$RESULTS/copy-$STAMP.txt"
RAW="$WORK/runs.tsv"
: > "$RAW"

for tool in nbdkit nbdcopy qemu-img /usr/bin/time psktool certtool; do
  command -v "$tool" >/dev/null || { bf_say "$tool is missing (apt-get install nbdkit libnbd-bin qemu-utils time gnutls-bin)"; exit 1; }
done

BF="$HERE/blockferry"
"$BF" --version >/dev/null   # builds the jar and the class-data archive outside the timings

declare -A NBDKIT_PID=()   # socket -> pid of the nbdkit serving it (our child)
cleanup() {
  local pid
  for pid in "${NBDKIT_PID[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$WORK"/*.sock "$WORK"/*.sock.pid "$WORK"/target.img
}
trap cleanup EXIT

say() { echo "$@" | tee -a "$LOG"; }

say "# BlockFerry copy benchmark $STAMP"
say "# machine: $(bench_machine)"
say "# kernel: $(uname -r)"
say "# versions: $("$BF" --version), $(nbdkit --version | head -1), $(nbdcopy --version | head -1), $(qemu-img --version | head -1), java $(java -version 2>&1 | head -1 | cut -d'"' -f2)"
say "# size=$SIZE tls_size=$TLS_SIZE runs=$RUNS cases=$CASES"
say "$(page_reporting_line)"
say "# cpu: $(grep -m1 -ow aes /proc/cpuinfo >/dev/null && echo 'AES instructions' || echo 'no AES instructions'), gnutls $(dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null || echo '?')"

# TLS material: a pre-shared key, and a CA with a server certificate for localhost. The
# blockferry runs find them through blockferry.nbd.key-dir; nbdcopy-aes runs nbdcopy with a
# GnuTLS policy that drops CHACHA20-POLY1305 (what blockferry's tls-ciphers=aes-gcm does).
TLS="$WORK/tls"
rm -rf "$TLS"; mkdir -p "$TLS/x509-server" "$TLS/x509-client"
psktool -u bench -p "$TLS/keys.psk" >/dev/null
certtool --generate-privkey --outfile "$TLS/ca-key.pem" 2>/dev/null
printf 'cn = BlockFerry bench CA\nca\ncert_signing_key\nexpiration_days = 2\n' > "$TLS/ca.info"
certtool --generate-self-signed --load-privkey "$TLS/ca-key.pem" --template "$TLS/ca.info" \
  --outfile "$TLS/x509-server/ca-cert.pem" 2>/dev/null
cp "$TLS/x509-server/ca-cert.pem" "$TLS/x509-client/"
certtool --generate-privkey --outfile "$TLS/x509-server/server-key.pem" 2>/dev/null
printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n' > "$TLS/server.info"
certtool --generate-certificate --load-privkey "$TLS/x509-server/server-key.pem" \
  --load-ca-certificate "$TLS/x509-server/ca-cert.pem" --load-ca-privkey "$TLS/ca-key.pem" \
  --template "$TLS/server.info" --outfile "$TLS/x509-server/server-cert.pem" 2>/dev/null
printf '[overrides]\ntls-disabled-cipher = CHACHA20-POLY1305\n' > "$TLS/no-chacha.conf"
export BLOCKFERRY_NBD_KEY_DIR="$TLS"

# The servers are this script's children (nbdkit_child, scripts/common.sh): until 2026-12-07 they
# daemonized, and `nbdkit memory allocator=malloc`'s pages, zeroed before the fork, reached the
# server copy-on-write — ~3 s of the target's kernel time per 8 GiB, ~1.5 s added to every tool's
# sparse run. A stopped server is waited for: freeing 8 GiB takes ~1.7 s, outside the timings.
: > "$WORK/nbdkit.log"
start_nbdkit() { # socket args...
  local sock="$1"; shift
  nbdkit_child "$sock" "$WORK/nbdkit.log" "$@"
  NBDKIT_PID[$sock]="$NBDKIT_CHILD"
}
stop_socket() {
  local pid="${NBDKIT_PID[$1]:-}"
  if [ -n "$pid" ]; then
    nbdkit_stop "$pid"
    unset 'NBDKIT_PID[$1]'
  fi
  rm -f "$1" "$1.pid"
}

# The CPU (clock ticks) the benchmark's nbdkit servers have used so far: read before and after
# each timed run, it gives what serving that run cost them. On two cores the tool and both servers
# share the CPU, so a run's wall time is at least the three processes' CPU over two.
servers_ticks() {
  local pid total=0
  for pid in "${NBDKIT_PID[@]}"; do total=$((total + $(process_ticks "$pid"))); done
  echo "$total"
}

SRC_SOCK="$WORK/src.sock"
DST_SOCK="$WORK/dst.sock"
tls_server_args() { # case
  case "$1" in
    tls-psk) echo "--tls=require --tls-psk=$TLS/keys.psk" ;;
    tls-x509) echo "--tls=require --tls-certificates=$TLS/x509-server" ;;
  esac
}
uri_for() { # case socket
  case "$1" in
    tls-psk) echo "nbds+unix://bench@/?socket=$2&tls-psk-file=$TLS/keys.psk" ;;
    tls-x509) echo "nbds+unix:///?socket=$2&tls-certificates=$TLS/x509-client" ;;
    *) echo "nbd+unix:///?socket=$2" ;;
  esac
}
SRC_URI="nbd+unix:///?socket=$SRC_SOCK"
DST_URI="nbd+unix:///?socket=$DST_SOCK"
LOCAL_SRC="$WORK/source.img"
LOCAL_DST="$WORK/target.img"

source_for() { # case
  case "$1" in
    dense) start_nbdkit "$SRC_SOCK" -r sparse-random "$SIZE" percent=100 seed=1 ;;
    sparse25|sparse25-file) start_nbdkit "$SRC_SOCK" -r sparse-random "$SIZE" percent=25 seed=2 ;;
    noextents25) start_nbdkit "$SRC_SOCK" -r --filter=noextents sparse-random "$SIZE" percent=25 seed=3 ;;
    # shellcheck disable=SC2046
    tls-*) start_nbdkit "$SRC_SOCK" $(tls_server_args "$1") -r sparse-random "$TLS_SIZE" percent=100 seed=5 ;;
    local-file)
      if [ ! -f "$LOCAL_SRC" ] || [ "$(stat -c %s "$LOCAL_SRC")" != "$SIZE_BYTES" ]; then
        rm -f "$LOCAL_SRC"
        start_nbdkit "$SRC_SOCK" -r sparse-random "$SIZE" percent=25 seed=4
        nbdcopy "$SRC_URI" "$LOCAL_SRC"
        stop_socket "$SRC_SOCK"
      fi ;;
  esac
}

fresh_target() { # case -> sets DST, the target for the tools (not in a subshell: the server is our child)
  case "$1" in
    local-file)
      rm -f "$LOCAL_DST"; truncate -s "$SIZE" "$LOCAL_DST"; sync
      echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
      DST="$LOCAL_DST" ;;
    sparse25-file)
      stop_socket "$DST_SOCK"; rm -f "$LOCAL_DST"; truncate -s "$SIZE" "$LOCAL_DST"; sync
      start_nbdkit "$DST_SOCK" file "$LOCAL_DST"
      DST="$DST_URI" ;;
    tls-*)
      stop_socket "$DST_SOCK"
      # shellcheck disable=SC2046
      start_nbdkit "$DST_SOCK" $(tls_server_args "$1") memory "$TLS_SIZE" allocator=malloc
      DST="$(uri_for "$1" "$DST_SOCK")" ;;
    *)
      stop_socket "$DST_SOCK"
      start_nbdkit "$DST_SOCK" memory "$SIZE" allocator=malloc
      DST="$DST_URI" ;;
  esac
}

# The cases whose target is a new file: each tool's run is preceded by warm_pages, and nbdcopy is
# also timed with --flush (blockferry flushes its target at the end; nbdcopy only when told, which
# costs it ~1 s per 2 GiB written here).
writes_file() { case "$1" in sparse25-file|local-file) return 0 ;; *) return 1 ;; esac; }
src_for() { case "$1" in local-file) echo "$LOCAL_SRC" ;; *) uri_for "$1" "$SRC_SOCK" ;; esac; }
# TLS cases: each tool on its defaults, and each on the other's cipher (chacha = GnuTLS's choice here).
tools_for() {
  case "$1" in
    tls-*) echo "blockferry blockferry-chacha nbdcopy nbdcopy-aes" ;;
    *) echo "blockferry nbdcopy$(writes_file "$1" && echo " nbdcopy-flush") nbdcopy-dz qemu-img" ;;
  esac
}
size_of_case() { case "$1" in tls-*) bytes_of "$TLS_SIZE" ;; *) echo "$SIZE_BYTES" ;; esac; }

# A timed copy counts only if it copied: blockferry's targets are compared with their source
# (SHA-256 of everything read back through nbdcopy), the source's sum taken once per case.
declare -A SOURCE_SUM=()
verify_target() { # case tool src dst
  local c="$1" tool="$2" want got
  [ -n "${SOURCE_SUM[$c]:-}" ] || SOURCE_SUM[$c]="$(disk_sha256 "$3")"
  want="${SOURCE_SUM[$c]}"
  got="$(disk_sha256 "$4")"
  if [ "$got" != "$want" ]; then
    bf_say "$tool on $c left a target that differs from its source (sha256 $got, source $want)"
    exit 1
  fi
  say "verify case=$c tool=$tool sha256=${got:0:16}... equal to the source"
}

run_tool() { # case tool run
  local c="$1" tool="$2" run="$3" src dst out err wall rss user sys copy=""
  src="$(src_for "$c")"
  fresh_target "$c"; dst="$DST"
  if writes_file "$c"; then warm_pages; fi
  out="$WORK/out.txt"; err="$WORK/err.txt"
  case "$tool" in
    blockferry) cmd=("$BF" copy --json "$src" "$dst") ;;
    blockferry-chacha) cmd=(env BLOCKFERRY_NBD_TLS_CIPHERS=gnutls-default "$BF" copy --json "$src" "$dst") ;;
    nbdcopy)    cmd=(nbdcopy "$src" "$dst") ;;
    nbdcopy-aes) cmd=(env GNUTLS_SYSTEM_PRIORITY_FILE="$TLS/no-chacha.conf" nbdcopy "$src" "$dst") ;;
    nbdcopy-dz) cmd=(nbdcopy --destination-is-zero "$src" "$dst") ;;
    nbdcopy-flush) cmd=(nbdcopy --flush "$src" "$dst") ;;
    qemu-img)   cmd=(qemu-img convert -n -W -f raw -O raw "$src" "$dst") ;;
  esac
  local before after
  before="$(servers_ticks)"
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "${cmd[@]}" > "$out" 2> "$err" || {
    bf_say "$tool failed on $c: $(tail -3 "$err")"; exit 1; }
  after="$(servers_ticks)"
  read -r wall rss user sys < "$WORK/time.txt"
  case "$tool" in blockferry*) copy="$(grep -oE '"seconds":[0-9.]+' "$out" | cut -d: -f2)" ;; esac
  local cpu servers
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u+s}')"
  servers="$(awk -v a="$after" -v b="$before" -v hz="$TICKS_PER_S" 'BEGIN {printf "%.2f", (a-b)/hz}')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$tool" "$wall" "$rss" "${copy:--}" "$cpu" "$servers" >> "$RAW"
  say "run case=$c tool=$tool wall_s=$wall peak_rss_kib=$rss cpu_s=$cpu servers_cpu_s=$servers${copy:+ copy_s=$copy}"
  case "$tool:$VERIFY" in
    blockferry*:all) verify_target "$c" "$tool" "$src" "$dst" ;;
    blockferry*:first) [ "$run" -ne 1 ] || verify_target "$c" "$tool" "$src" "$dst" ;;
  esac
}

for c in $CASES; do
  source_for "$c"
  for r in $(seq "$RUNS"); do
    for tool in $(tools_for "$c"); do
      run_tool "$c" "$tool" "$r"
    done
  done
  stop_socket "$SRC_SOCK"; stop_socket "$DST_SOCK"
done

col() { awk -F'\t' -v c="$1" -v t="$2" -v k="$3" '$1==c && $2==t {print $k}' "$RAW"; }

say ""
say "# medians over $RUNS runs: GiB/s = disk size / wall time (whole process); copy_s from blockferry --json;"
say "# cpu = user + sys of the tool's process (not the nbdkit servers), cpu/GiB per GiB of disk;"
say "# servers = user + sys the nbdkit servers spent during the tool's run; (cpu+servers)/cores = the"
say "# shortest wall time the three processes' CPU allows"
say "$(printf '%-14s %-17s %8s %8s %10s %8s %8s %8s %8s %8s' case tool wall_s GiB/s rss_MiB copy_s cpu_s cpu/GiB servers cpu_floor)"
for c in $CASES; do
  bytes="$(size_of_case "$c")"
  for tool in $(tools_for "$c"); do
    wall="$(col "$c" "$tool" 3 | median)"
    rss="$(col "$c" "$tool" 4 | sort -g | tail -1)"
    copy="-"; case "$tool" in blockferry*) copy="$(col "$c" "$tool" 5 | median)" ;; esac
    cpu="$(col "$c" "$tool" 6 | median)"
    gibs="$(awk -v b="$bytes" -v w="$wall" 'BEGIN {printf "%.2f", b/1073741824/w}')"
    cpg="$(awk -v b="$bytes" -v c="$cpu" 'BEGIN {printf "%.3f", c/(b/1073741824)}')"
    srv="$(col "$c" "$tool" 7 | median)"
    floor="$(awk -v c="$cpu" -v s="$srv" -v n="$(nproc)" 'BEGIN {printf "%.2f", (c+s)/n}')"
    say "$(printf '%-14s %-17s %8s %8s %10s %8s %8s %8s %8s %8s' "$c" "$tool" "$wall" "$gibs" "$((rss / 1024))" "$copy" "$cpu" "$cpg" "$srv" "$floor")"
  done
done
say ""
for c in $CASES; do
  bf="$(col "$c" blockferry 3 | median)"; nc="$(col "$c" nbdcopy 3 | median)"
  bcpu="$(col "$c" blockferry 6 | median)"; ncpu="$(col "$c" nbdcopy 6 | median)"
  case "$c" in tls-*)
    bch="$(col "$c" blockferry-chacha 3 | median)"; na="$(col "$c" nbdcopy-aes 3 | median)"
    acpu="$(col "$c" nbdcopy-aes 6 | median)"; cp="$(col "$c" blockferry 5 | median)"
    say "$(awk -v c="$c" -v bf="$bf" -v nc="$nc" -v bch="$bch" -v na="$na" -v cp="$cp" -v bcpu="$bcpu" -v acpu="$acpu" 'BEGIN {
      printf "RATIO case=%s blockferry/nbdcopy=%.2f same-cipher-aes=%.2f same-cipher-chacha=%.2f copy-only/nbdcopy-aes=%.2f cpu-blockferry/nbdcopy-aes=%.2f\n",
        c, nc/bf, na/bf, nc/bch, na/cp, bcpu/acpu }')"
    continue ;;
  esac
  dz="$(col "$c" nbdcopy-dz 3 | median)"; qi="$(col "$c" qemu-img 3 | median)"
  cp="$(col "$c" blockferry 5 | median)"
  fl=""; if writes_file "$c"; then fl="$(col "$c" nbdcopy-flush 3 | median)"; fi
  say "$(awk -v c="$c" -v bf="$bf" -v nc="$nc" -v dz="$dz" -v qi="$qi" -v cp="$cp" -v bcpu="$bcpu" -v ncpu="$ncpu" -v fl="$fl" 'BEGIN {
    printf "RATIO case=%s blockferry/nbdcopy=%.2f blockferry/nbdcopy-dz=%.2f blockferry/qemu-img=%.2f copy-only/nbdcopy=%.2f cpu-blockferry/nbdcopy=%.2f",
      c, nc/bf, dz/bf, qi/bf, nc/cp, bcpu/ncpu
    if (fl != "") printf " blockferry/nbdcopy-flush=%.2f copy-only/nbdcopy-flush=%.2f", fl/bf, fl/cp
    printf "\n" }')"
done
say "# full log: $LOG"
