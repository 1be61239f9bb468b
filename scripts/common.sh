# Shared by ./blockferry, scripts/test, scripts/check-install and the benchmarks in bench/: error
# reporting, the Debian packages BlockFerry needs and a disk checksum.
# Sourced by scripts that run under `set -Eeuo pipefail`.

# Every non-zero exit says why on stderr: the command that failed, where, and its status.
# (set -E makes functions and subshells inherit the trap.)
bf_report_error() {
  local rc=$1 cmd=$2 src=$3 line=$4
  echo "${BF_NAME:-blockferry}: failed (exit $rc) at ${src##*/}:$line: $cmd" >&2
}
trap 'bf_report_error $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" "$LINENO"' ERR

bf_say() {
  echo "${BF_NAME:-blockferry}: $*" >&2
}

# SHA-256 of a whole disk (an NBD URI or a local file), read with nbdcopy: the benchmarks'
# check that a target equals its source, independent of BlockFerry.
disk_sha256() {
  nbdcopy "$1" - | sha256sum | cut -d' ' -f1
}

# The benchmarks' NBD servers: `nbdkit_child SOCKET LOG ARGS...` starts nbdkit in the foreground
# (-f) as the caller's child, serving SOCKET with ARGS, its output appended to LOG, and returns
# once it accepts connections — when it has written its pid file, SOCKET.pid (nbdkit -P; the socket
# file exists a moment before the server listens on it) — up to 60 s: `nbdkit memory` zeroes its
# whole size before it listens, seconds on a VM that hands out fresh pages slowly. NBDKIT_CHILD is
# its pid. A server that exits first
# ends the caller with its last log lines. Never daemonized: a forking nbdkit hands its memory to
# the serving process copy-on-write, and every first write to a page of it then faults (bench/README.md).
# Call it from the shell that will stop it (not in $(...)); `nbdkit_stop PID` ends it and waits.
NBDKIT_CHILD=""
nbdkit_child() {
  local sock="$1" log="$2" state
  shift 2
  rm -f "$sock" "$sock.pid"
  nbdkit -f -P "$sock.pid" -U "$sock" "$@" </dev/null >>"$log" 2>&1 &
  NBDKIT_CHILD=$!
  for _ in $(seq 1200); do
    [ -s "$sock.pid" ] && return 0
    state="$(cut -d' ' -f3 "/proc/$NBDKIT_CHILD/stat" 2>/dev/null || echo gone)"
    case "$state" in Z|gone) break ;; esac
    sleep 0.05
  done
  bf_say "nbdkit $* did not start serving $sock: $(tail -n 3 "$log")"
  exit 1
}
nbdkit_stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The benchmarks' summaries: `median` prints the median of the numbers on stdin, one per line (the
# mean of the middle two for an even count; 0 for none); `bench_machine` the machine line of a
# benchmark's header (cores, memory, CPU model).
median() {
  sort -g | awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
bench_machine() {
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
}

# A VM that hands the pages its kernel frees back to the hypervisor (virtio-balloon free page
# reporting) pays a host fault for every page it takes again: writing 1 GiB into a new file took
# 2.4-4.1 s on such a VM when its pages came from memory handed back, 0.3 s when they had been
# freed a moment before (bench/README.md, "Page reporting"). Which of the two a timed copy got
# depended on what the benchmark did just before it. A benchmark calls `warm_setup BYTES FILE` with
# its other checks (WARM: 1, the default, or 0), then `warm_pages` right before each timed copy that
# writes a file: it writes and deletes 30 % of BYTES at FILE (a benchmark's disks are at most a
# quarter data), so that every tool writes into pages freed just before. `page_reporting_line` is
# the header line that says so.
warm_setup() { # BYTES FILE
  WARM="${WARM:-1}"
  case "$WARM" in 0|1) ;; *) bf_say "WARM must be 0 or 1, got '$WARM'"; return 1 ;; esac
  WARM_MIB=$(( $1 * 3 / 10 / 1048576 ))
  WARM_FILE="$2"
}
warm_pages() {
  [ "$WARM" = 1 ] || return 0
  # A file on the disk the copies write to, not tmpfs: 512 MiB written after 600 MiB on /dev/shm
  # had been deleted took 2.4-3.2 s, as without it; after 600 MiB of a file, 0.36-0.51 s.
  dd if=/dev/zero of="$WARM_FILE" bs=1M count="$WARM_MIB" status=none
  rm -f "$WARM_FILE"
}
page_reporting_line() {
  local p=/sys/module/page_reporting/parameters
  if [ -r "$p/reported_kib" ]; then
    echo "# free page reporting: on (order $(cat "$p/page_reporting_order"), $(( $(cat "$p/reported_kib") / 1048576 )) GiB handed back so far); warm-up before each timed copy that writes a file: $([ "$WARM" = 1 ] && echo "$WARM_MIB MiB" || echo "off (WARM=0)")"
  else
    echo "# free page reporting: not on this kernel"
  fi
}

# A process's CPU so far (user + system) in clock ticks, TICKS_PER_S a second; 0 once it is gone.
# /proc counts in USER_HZ, 100 on Linux (`getconf CLK_TCK`); a constant, so sourcing this file
# (the launcher does, at every start) runs no process for it.
TICKS_PER_S=100
process_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Prints the named packages that are not installed, one per line.
missing_packages() {
  local pkg installed
  # One dpkg-query for all of them (the launcher runs this at every start). It says nothing on
  # stdout for a package it has never seen, and fails then: that is "missing", not an error.
  installed=" $({ dpkg-query -W -f='${Package}:${Status}\n' "$@" 2>/dev/null || true; } \
    | sed -n 's/^\([^:]*\):install ok installed$/\1/p' | tr '\n' ' ') "
  for pkg in "$@"; do
    [[ "$installed" == *" $pkg "* ]] || echo "$pkg"
  done
}

# ensure_packages PKG...: installs the missing ones (as root, saying which), otherwise prints the
# exact apt-get line and fails. Runs `apt-get update` once when an install fails for want of lists.
ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    bf_say "this is not a Debian-like system (no dpkg-query); install by hand: $*"
    return 1
  fi
  local missing=()
  mapfile -t missing < <(missing_packages "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    bf_say "missing Debian packages: ${missing[*]}"
    bf_say "install them with: sudo apt-get install -y ${missing[*]}"
    return 1
  fi
  bf_say "installing Debian packages: ${missing[*]}"
  local log
  log="$(mktemp)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${missing[@]}" >"$log" 2>&1; then
    bf_say "apt-get install failed; refreshing the package lists (apt-get update) and trying again"
    if ! apt-get update -q >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      bf_say "apt-get update failed (see above); install by hand: apt-get install -y ${missing[*]}"
      return 1
    fi
    if ! apt-get install -y -q "${missing[@]}" >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      rm -f "$log"
      bf_say "could not install ${missing[*]} (see above); install by hand: apt-get install -y ${missing[*]}"
      return 1
    fi
  fi
  rm -f "$log"
  mapfile -t missing < <(missing_packages "$@")
  if [ ${#missing[@]} -ne 0 ]; then
    bf_say "apt-get reported success but these are still not installed: ${missing[*]}"
    return 1
  fi
  bf_say "installed"
}

# ensure_packages_cached STAMP PKG...: ensure_packages, skipped while STAMP (written after a check
# that passed, naming the packages) is newer than dpkg's database — installing or removing any
# package rewrites that file. The launcher runs this at every start: no dpkg-query then (~25 ms).
ensure_packages_cached() {
  local stamp=$1
  shift
  if [ -f "$stamp" ] && [ "$stamp" -nt /var/lib/dpkg/status ] && [ "$(<"$stamp")" = "$*" ]; then
    return 0
  fi
  ensure_packages "$@" || return 1
  if [ -d "${stamp%/*}" ]; then
    printf '%s' "$*" 2>/dev/null >"$stamp" || true
  fi
}

# run_maven LOG ARGS...: runs Maven quietly into LOG, but not silently: one line per module it
# builds, and a line every 25 artifacts while the first build fills the local repository.
run_maven() {
  local log=$1
  shift
  local rc=0
  # pipefail: the status is Maven's when tee and awk succeed.
  mvn -B "$@" 2>&1 | tee "$log" | awk -v name="${BF_NAME:-blockferry}" '
    /^\[INFO\] Building .*\[[0-9]+\/[0-9]+\]$/ {
      sub(/^\[INFO\] /, ""); gsub(/ +/, " "); print name ": maven: " $0 > "/dev/stderr"; fflush("/dev/stderr") }
    /^Downloaded from / {
      if (++n % 25 == 0) { print name ": maven: " n " artifacts downloaded so far" > "/dev/stderr"; fflush("/dev/stderr") } }
  ' || rc=$?
  return "$rc"
}

# The packages every BlockFerry run needs: the JDK and Maven to build, libnbd and the NBD servers to run.
BLOCKFERRY_RUNTIME_PACKAGES=(openjdk-17-jdk-headless maven unzip nbdkit libnbd0 libnbd-bin qemu-utils)
# What the test suite needs on top: gnutls (TLS tests), a browser (the web page), Go and govmomi (vcsim),
# docker-compose (validates docker-compose.yml; no Docker engine needed); guest conversion (cutover's
# options.convert, which a node needs only when jobs ask for it): virt-v2v and libguestfs-tools (plus a
# kernel for the libguestfs appliance), and for its test a Debian guest built by debootstrap, read with
# debugfs and lsinitramfs, partitioned by sfdisk and booted by qemu-system-x86.
BLOCKFERRY_TEST_PACKAGES=(gnutls-bin chromium chromium-driver golang-go golang-github-vmware-govmomi-dev docker-compose
  virt-v2v libguestfs-tools linux-image-amd64 debootstrap qemu-system-x86 e2fsprogs fdisk initramfs-tools-core)
