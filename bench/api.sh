#!/usr/bin/env bash
# BlockFerry HTTP API under load. Not a test: run it by hand (see bench/README.md).
#
#   bench/api.sh                                         # the full run (about 10 minutes on 2 cores)
#   SUBSCRIBERS=20 SUBMISSIONS=50 RUNS=1 SIZE=1G bench/api.sh   # a quick check
#   DB=postgres RUNS=0 bench/api.sh                      # submissions only, on PostgreSQL
#
# One `blockferry serve` on a fresh H2 database under bench/work/api (DB=postgres: a fresh
# database on the local PostgreSQL, PGHOST/PGPORT/PGUSER as for psql, dropped at the end), nbdkit sources and targets
# on unix sockets there, and bench/ApiLoad.java (JDK only) as the client:
#
#   throughput  a big sparse-random disk (SIZE, PERCENT % data) copied to a fresh nbdkit memory
#               target, RUNS times without subscribers and RUNS times with SUBSCRIBERS SSE streams
#               on the running job (interleaved, order alternating); copy throughput of each run =
#               total_bytes / (finished_at - started_at); the medians give the cost of the streams.
#   submissions SUBMISSIONS jobs of one SMALL disk, CONCURRENCY requests in flight, with
#               SUBSCRIBERS streams spread over them (opened as each job is accepted, so most watch
#               a queued job through running to completed): submission latency, errors, whether
#               every stream saw every state change, until every job has completed.
#
# Prints ApiLoad's SUBMIT/SSE/JOBS/THROUGHPUT/RESULT lines per phase, then
#   COST subscribers=N runs=R without_MiB_per_s=.. with_MiB_per_s=.. ratio=.. cost_percent=.. within=yes|no|unjudged
#   CPU subscribers=N server_s_without=.. server_s_with=.. nbdkit_s_without=.. nbdkit_s_with=.. extra_server_cpu_percent_of_copy=..
# (medians over the runs; CPU seconds of the server and of the nbdkit source+target per run: on a
# shared machine the CPU figures are steadier than the throughput).
# Exit 1 on any error (a submission not accepted, a stream that missed a state change or ended
# early, a job not completed) or when the streams cost more than MAX_COST_PERCENT of throughput
# (judged from RUNS >= 3 only: one or two runs each way differ by more than that on a shared
# machine, so with fewer the cost is printed as within=unjudged and does not fail the run).
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BF_NAME=bench/api.sh  # read by scripts/common.sh
# shellcheck source=../scripts/common.sh
source "$HERE/scripts/common.sh"
ensure_packages "${BLOCKFERRY_RUNTIME_PACKAGES[@]}"

SIZE="${SIZE:-4G}"                 # the throughput disk
PERCENT="${PERCENT:-50}"           # % of it that is data
RUNS="${RUNS:-5}"                  # throughput runs per condition (0: the submission phase only)
DB="${DB:-h2}"                     # h2 or postgres
SMALL="${SMALL:-16M}"              # the disk of each submitted job
SUBMISSIONS="${SUBMISSIONS:-1000}"
CONCURRENCY="${CONCURRENCY:-50}"
SUBSCRIBERS="${SUBSCRIBERS:-500}"
MAX_COST_PERCENT="${MAX_COST_PERCENT:-5}"
TIMEOUT="${TIMEOUT:-1200}"         # seconds for the submission phase to finish
STALL="${STALL:-180}"              # ... and it gives up when no job has ended for this long
WORK="$HERE/bench/work/api"
RESULTS="$HERE/bench/results"
BF="$HERE/blockferry"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOG="$RESULTS/api-$STAMP.txt"

rm -rf "$WORK"
mkdir -p "$WORK" "$RESULTS"
"$BF" --version >/dev/null   # builds the jar outside the run
javac -d "$WORK/classes" "$HERE/bench/ApiLoad.java"

PIDS=()          # nbdkit servers, by pid
SERVE_PID=""
cleanup() {
  local rc=$?
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$WORK"/*.sock "$WORK"/*.sock.pid
  if [ -n "${PG_DB:-}" ]; then psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT

say() { echo "$@" | tee -a "$LOG"; }

# nbdkit in the foreground as our child, so it is stopped by its pid.
LAST_PID=""
serve_nbd() { # name args...   -> LAST_PID
  nbdkit_child "$WORK/$1.sock" "$WORK/nbdkit.log" "${@:2}"
  LAST_PID="$NBDKIT_CHILD"
  PIDS+=("$LAST_PID")
}
stop_nbd() { nbdkit_stop "$1"; } # pid
uri() { echo "nbd+unix:///?socket=$WORK/$1.sock"; }


say "# BlockFerry HTTP API benchmark $STAMP"
say "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "# kernel: $(uname -r)"
say "# versions: $("$BF" --version), $(nbdkit --version | head -1), java $(java -version 2>&1 | head -1 | cut -d'"' -f2)"
say "# throughput: $SIZE sparse-random percent=$PERCENT -> fresh nbdkit memory, $RUNS runs without and $RUNS with $SUBSCRIBERS subscribers"
say "# database: $DB"
say "# submissions: $SUBMISSIONS jobs of $SMALL (sparse-random percent=50 runlength=262144 -> nbdkit memory), concurrency $CONCURRENCY, $SUBSCRIBERS subscribers"

serve_nbd big-src -r sparse-random "$SIZE" percent="$PERCENT" seed=7
BIG_SRC_PID="$LAST_PID"
serve_nbd small-src -r sparse-random "$SMALL" percent=50 runlength=262144 seed=8
serve_nbd small-dst memory "$SMALL"

export BLOCKFERRY_DATA_DIR="$WORK/data"
case "$DB" in
  h2) export BLOCKFERRY_DB=h2 ;;
  postgres)
    export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
    command -v psql >/dev/null || { echo "api: DB=postgres needs psql (apt-get install postgresql-client)" >&2; exit 1; }
    PG_DB="bfbench_api_$$"
    psql -q -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null || {
      echo "api: cannot create database $PG_DB on $PGHOST:$PGPORT as $PGUSER" >&2; exit 1; }
    export BLOCKFERRY_DB=postgres BLOCKFERRY_DB_URL="jdbc:postgresql://$PGHOST:$PGPORT/$PG_DB" BLOCKFERRY_DB_USER="$PGUSER" ;;
  *) echo "api: DB must be h2 or postgres, got '$DB'" >&2; exit 1 ;;
esac
unset BLOCKFERRY_API_TOKEN   # serve generates one into $BLOCKFERRY_DATA_DIR/api-token; ApiLoad reads it there
# room for every submission and subscriber of the run (the node's defaults: 1000 unfinished jobs, 1000 streams)
SSE_MAX=$(( SUBSCRIBERS + 64 > 1000 ? SUBSCRIBERS + 64 : 1000 ))
LIMITS="-Dblockferry.jobs.max-queued=$(( SUBMISSIONS + 100 )) -Dblockferry.http.sse.max-connections=$SSE_MAX"
export BLOCKFERRY_JAVA_OPTS="${BLOCKFERRY_JAVA_OPTS:-} $LIMITS -Dblockferry.http.max-connections=$(( SSE_MAX + 1024 ))"
"$BF" serve --port 0 > "$WORK/serve.log" 2>&1 &
SERVE_PID=$!
URL=""
for _ in $(seq 600); do
  URL="$(grep -oE 'serving on http://[^ ]+' "$WORK/serve.log" | head -1 | cut -d' ' -f3)" || true
  [ -n "$URL" ] && break
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "api: blockferry serve exited: $(tail -5 "$WORK/serve.log")" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "api: blockferry serve did not start: $(tail -5 "$WORK/serve.log")" >&2; exit 1; }
say "# server: $URL (pid $SERVE_PID, data dir $BLOCKFERRY_DATA_DIR, max running jobs ${BLOCKFERRY_MAX_RUNNING_JOBS:-4})"

FAILED=0
load() { # label args...  (ApiLoad's output goes to the log; its exit status is remembered)
  local label="$1"; shift
  local rc=0
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx512m -cp "$WORK/classes" ApiLoad --url "$URL" --label "$label" \
      --token-file "$BLOCKFERRY_DATA_DIR/api-token" --prefix "$label-" "$@" > "$WORK/$label.out" 2>&1 || rc=$?
  tee -a "$LOG" < "$WORK/$label.out"
  if [ "$rc" -ne 0 ]; then FAILED=1; say "# $label: ApiLoad exited $rc"; fi
}

# ---- throughput without and with subscribers
RAW="$WORK/throughput.tsv"
: > "$RAW"
big_run() { # label subscribers   (label warmup: not counted)
  local label="$1" subs="$2" srv0 src0 srv nbd mibs
  serve_nbd "dst-$label" memory "$SIZE"
  local dst_pid="$LAST_PID"
  srv0="$(process_ticks "$SERVE_PID")"; src0="$(process_ticks "$BIG_SRC_PID")"
  load "$label" --source "$(uri big-src)" --target "$(uri "dst-$label")" --subscribers "$subs" \
      --connect-concurrency 64 --timeout 600
  srv=$(($(process_ticks "$SERVE_PID") - srv0))
  nbd=$(($(process_ticks "$BIG_SRC_PID") - src0 + $(process_ticks "$dst_pid")))
  stop_nbd "$dst_pid"
  mibs="$(grep -oE 'MiB_per_s=[0-9.]+' "$WORK/$label.out" | cut -d= -f2)" || true
  say "# $label: CPU seconds: server $(awk -v t="$srv" -v hz="$TICKS_PER_S" 'BEGIN {printf "%.2f", t/hz}'), nbdkit source+target $(awk -v t="$nbd" -v hz="$TICKS_PER_S" 'BEGIN {printf "%.2f", t/hz}')"
  if [ "$label" != warmup ] && [ -n "$mibs" ]; then
    printf '%s\t%s\t%s\t%s\n' "$subs" "$mibs" "$srv" "$nbd" >> "$RAW"
  fi
  return 0
}

say ""
say "## warm-up (not counted)"
big_run warmup 0
for r in $(seq 1 "$RUNS"); do
  say ""
  say "## throughput run $r"
  if [ $((r % 2)) -eq 1 ]; then
    big_run "t$r-plain" 0; big_run "t$r-sse" "$SUBSCRIBERS"
  else
    big_run "t$r-sse" "$SUBSCRIBERS"; big_run "t$r-plain" 0
  fi
done

# ---- submissions
say ""
say "## $SUBMISSIONS submissions"
load submit --jobs "$SUBMISSIONS" --concurrency "$CONCURRENCY" --subscribers "$SUBSCRIBERS" \
    --connect-concurrency 64 --source "$(uri small-src)" --target "$(uri small-dst)" --timeout "$TIMEOUT" \
    --stall "$STALL"

say ""
say "# server peak RSS $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$SERVE_PID/status"), CPU $(awk -v t="$(process_ticks "$SERVE_PID")" -v hz="$TICKS_PER_S" 'BEGIN {printf "%.1f s", t/hz}') in all"
grep -iE ' (ERROR|WARN) ' "$WORK/serve.log" | head -5 | sed 's/^/# server log: /' | tee -a "$LOG" || true

plain="$(awk -F'\t' '$1 == 0 {print $2}' "$RAW" | median)"
with="$(awk -F'\t' -v s="$SUBSCRIBERS" '$1 == s && s > 0 {print $2}' "$RAW" | median)"
cost_line="$(awk -v p="$plain" -v w="$with" -v s="$SUBSCRIBERS" -v m="$MAX_COST_PERCENT" -v n="$RUNS" 'BEGIN {
  if (p <= 0 || w <= 0) { printf "COST subscribers=%d runs=%d without_MiB_per_s=%s with_MiB_per_s=%s ratio=- cost_percent=- within=no\n", s, n, p, w; exit }
  r = w / p; c = (1 - r) * 100
  printf "COST subscribers=%d runs=%d without_MiB_per_s=%.1f with_MiB_per_s=%.1f ratio=%.3f cost_percent=%.1f within=%s\n",
    s, n, p, w, r, c, (n < 3 ? "unjudged" : (c <= m ? "yes" : "no")) }')"
col() { awk -F'\t' -v s="$1" -v k="$2" '$1 == s {print $k}' "$RAW" | median; }
cpu_line="$(awk -v hz="$TICKS_PER_S" -v s="$SUBSCRIBERS" -v a="$(col 0 3)" -v b="$(col "$SUBSCRIBERS" 3)" -v c="$(col 0 4)" -v d="$(col "$SUBSCRIBERS" 4)" 'BEGIN {
  printf "CPU subscribers=%d server_s_without=%.2f server_s_with=%.2f nbdkit_s_without=%.2f nbdkit_s_with=%.2f extra_server_cpu_percent_of_copy=%.1f\n",
    s, a/hz, b/hz, c/hz, d/hz, (a + c > 0 ? (b - a) / (a + c) * 100 : 0) }')"
say ""
say "# throughput runs (subscribers, MiB/s, server CPU and nbdkit CPU in clock ticks, $TICKS_PER_S a second):"
while IFS=$'\t' read -r a b c d; do say "#   $a $b $c $d"; done < "$RAW"
say "$cost_line"
say "$cpu_line"
say "# full log: $LOG"

if [ "$FAILED" -ne 0 ]; then
  echo "api: errors (see the ERROR lines above)" >&2; exit 1
fi
if [ "$RUNS" -ge 3 ] && ! grep -q 'within=yes' <<< "$cost_line"; then
  echo "api: the subscribers cost more than $MAX_COST_PERCENT % of the copy throughput" >&2; exit 1
fi
