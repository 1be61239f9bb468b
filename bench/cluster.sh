#!/usr/bin/env bash
# BlockFerry cluster benchmark: local `blockferry serve` nodes on the local PostgreSQL. Not a test:
# run it by hand on an otherwise idle machine (see bench/README.md, "Cluster"); it takes the cores,
# so run it alone: flock /tmp/mvn.lock bench/cluster.sh
#
#   failover    3 nodes; a two-disk job whose sources are slowed by nbdkit's rate filter; once it
#               copies, SIGKILL of the node its document names ("node"); failover = the kill -> the
#               first `copy-planned` of one of its disks in a survivor's log. RUNS times (the killed
#               node is started again between runs); median and every run, with the steps between
#               (unreachable, downed, removed, its lease free again, job-owned on a survivor).
#   throughput  JOBS two-disk jobs (two SIZE disks, half data) to new files, on 1 node and on 3
#               nodes (fresh clusters, MAX_RUNNING jobs per node): total time, over the nodes.
#   submit      CLIENTS concurrent clients spread over the 3 nodes, each POSTing PER_CLIENT small
#               one-disk jobs one after another: p50/p95/p99 of the POST latency.
#
# Usage: bench/cluster.sh [--runs N] [--jobs N] [--size SIZE] [--max-running N] [--clients N]
#                         [--per-client N] [--rate BITS] [--phases failover,throughput,submit]
#                         [--dir DIR] [--keep]
#   --runs N          failover runs (default 5)
#   --jobs N          jobs of the throughput runs (default 12)
#   --size SIZE       each throughput disk, half of it data (default 256M)
#   --max-running N   blockferry.jobs.max-running of every node (default 2)
#   --clients N       concurrent submitting clients (default 50) ...
#   --per-client N    ... each POSTing N jobs (default 4)
#   --rate BITS       each failover source's bandwidth, nbdkit's rate= (default 16M: 2 MiB/s)
#   --phases LIST     which measures, comma-separated (default all three)
#   --dir DIR         work directory (default target/bench-cluster; a previous run's is emptied)
#   --keep            keep the database schemas and the disk images (default: dropped at exit)
#   BENCH_NODE_OPTS   (environment) more -D settings for every node, to compare a setting
#
# Every node: a fresh schema of database `test` on 127.0.0.1:5432 per cluster (BLOCKFERRY_DB_URL
# etc. are not used), plain cluster traffic on loopback, the default copy settings. Output: one
# line per measurement, then a table; the same goes to DIR/results.txt. Nothing is written into
# the repository. Exit status: 0 when every phase ran (a failover run that found no survivor
# copying within 120 s counts as a failed run, reported, and gives exit 1).
set -Eeuo pipefail
HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BF_NAME=bench/cluster.sh  # read by scripts/common.sh
# shellcheck source=../scripts/common.sh
source "$HERE/scripts/common.sh"

usage() { sed -n '16,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }
fail() { bf_say "$*"; exit 1; }

RUNS=5
JOBS=12
SIZE=256M
MAX_RUNNING=2
CLIENTS=50
PER_CLIENT=4
RATE=16M
PHASES=failover,throughput,submit
DIR="$HERE/target/bench-cluster"
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs|--jobs|--max-running|--clients|--per-client)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$1 needs a positive number"
      case "$1" in
        --runs) RUNS=$2 ;; --jobs) JOBS=$2 ;; --max-running) MAX_RUNNING=$2 ;;
        --clients) CLIENTS=$2 ;; --per-client) PER_CLIENT=$2 ;;
      esac
      shift 2 ;;
    --size) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*[KMG]$ ]] || fail "--size needs a size such as 256M"; SIZE=$2; shift 2 ;;
    --rate) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*[KMG]?$ ]] || fail "--rate needs bits per second such as 16M"; RATE=$2; shift 2 ;;
    --phases) [ $# -ge 2 ] || fail "--phases needs a list"; PHASES=$2; shift 2 ;;
    --dir) [ $# -ge 2 ] || fail "--dir needs a directory"; DIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage; fail "unknown argument '$1'" ;;
  esac
done
for p in ${PHASES//,/ }; do
  case "$p" in failover|throughput|submit) ;; *) fail "--phases: unknown phase '$p' (failover, throughput, submit)" ;; esac
done
phase() { [[ ",$PHASES," == *",$1,"* ]]; }

for tool in curl jq nbdkit psql pg_isready python3 java; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (apt-get install -y curl jq nbdkit postgresql-client python3 openjdk-17-jdk-headless)"
done
pg_isready -h 127.0.0.1 -p 5432 -q || fail "PostgreSQL does not answer on 127.0.0.1:5432 (database 'test', trust for 127.0.0.1)"
PSQL=(psql -h 127.0.0.1 -U postgres -d test -v ON_ERROR_STOP=1 -qAt)

mkdir -p "$DIR" || fail "cannot create $DIR"
DIR="$(cd "$DIR" && pwd)"
# The directory goes into job specs (JSON) and NBD URIs as it is.
[[ "$DIR" =~ ^[A-Za-z0-9._/-]+$ ]] || fail "--dir: use a path of letters, digits, '.', '_', '-' and '/' only: $DIR"
# Emptied only when it is this script's (marked) or empty: --dir never wipes someone's directory.
if [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/.bench-cluster" ]; then
  fail "--dir $DIR is not empty and not a directory of this script: give an empty or new directory"
fi
rm -rf "${DIR:?}"/*
touch "$DIR/.bench-cluster"
mkdir -p "$DIR/src" "$DIR/disks" "$DIR/logs"
RESULTS="$DIR/results.txt"
CLIENT=(python3 "$HERE/bench/cluster_client.py")
BF="$HERE/blockferry"

say() { echo "$*" | tee -a "$RESULTS"; }
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo "${t:0:${#t}-3}"; }

# ---- everything started here, stopped at exit by pid
NODE_PIDS=()      # index -> pid of the node's JVM (the launcher execs java)
SOURCE_PIDS=()    # nbdkit servers in the foreground, our children
SUPERVISORS=()    # restart loops of the failover sources
SCHEMAS=()
cleanup() {
  local rc=$? pid
  trap - EXIT
  stop_nodes
  touch "$DIR/stop"
  for f in "$DIR"/src/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^nbdkit .*$DIR/"; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${SOURCE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SOURCE_PIDS[@]}" "${SUPERVISORS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$KEEP" = 0 ]; then
    for s in "${SCHEMAS[@]}"; do "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
    rm -rf "$DIR/disks" "$DIR/src"/*.img
  elif [ ${#SCHEMAS[@]} -gt 0 ]; then
    bf_say "kept the schemas ${SCHEMAS[*]} of database test and the images in $DIR"
  fi
  if [ "$rc" -ne 0 ]; then bf_say "stopped everything it started (exit $rc); logs in $DIR/logs"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_nodes: SIGTERM to every node at once (the data is thrown away), SIGKILL after 20 s.
stop_nodes() {
  local i pid waited=0
  for i in "${!NODE_PIDS[@]}"; do kill -TERM "${NODE_PIDS[i]}" 2>/dev/null || true; done
  for i in "${!NODE_PIDS[@]}"; do
    pid=${NODE_PIDS[i]}
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt 200 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NODE_PIDS=()
}

# ---- machine and versions
"$BF" --version >/dev/null   # builds the jar and its class-data archive outside the timings
STAMP="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "# BlockFerry cluster benchmark $STAMP"
say "# machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "# java: $(java -version 2>&1 | head -n 1)"
say "# $(nbdkit --version | head -n 1); PostgreSQL $("${PSQL[@]}" -c 'SHOW server_version')"
say "# blockferry: $("$BF" --version) commit $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$HERE" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
say "# settings: runs=$RUNS jobs=$JOBS size=$SIZE max-running=$MAX_RUNNING clients=$CLIENTS per-client=$PER_CLIENT rate=$RATE phases=$PHASES"

TOKEN_FILE="$DIR/api-token"
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKEN_FILE")
AUTH=(-H "@$DIR/auth.header")   # the token never appears in a process's arguments
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$TOKEN_FILE")" >"$DIR/auth.header")

cat >"$DIR/logback.xml" <<'EOF'
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level %logger{0} %msg%n%ex</pattern></encoder>
  </appender>
  <logger name="org.apache.pekko" level="WARN"/>
  <logger name="org.apache.pekko.cluster" level="INFO"/>
  <logger name="org.blockferry" level="INFO"/>
  <root level="WARN"><appender-ref ref="STDERR"/></root>
</configuration>
EOF

# ---- ports
TAKEN=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    case "$TAKEN" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      TAKEN+="$p "
      REPLY=$p
      return 0
    fi
  done
}

# ---- a cluster: N nodes on a fresh schema
CLUSTER=""           # its name, for logs and data directories
DB_URL=""
declare -a HTTP_PORT CLUSTER_PORT LOG URL
SEEDS=""
INCARNATION=()       # node index -> how often it was started in this cluster

new_schema() {
  local schema
  schema="bf_bench_$(date +%Y%m%d_%H%M%S)_$1"
  "${PSQL[@]}" -c "CREATE SCHEMA $schema" || fail "cannot create schema $schema in database test"
  SCHEMAS+=("$schema")
  DB_URL="jdbc:postgresql://127.0.0.1:5432/test?currentSchema=$schema"
}

start_node() { # index
  local i=$1
  INCARNATION[i]=$(( ${INCARNATION[i]:-0} + 1 ))
  LOG[i]="$DIR/logs/$CLUSTER-node$i.$((INCARNATION[i])).log"
  mkdir -p "$DIR/data/$CLUSTER-node$i"
  env -u BLOCKFERRY_API_TOKEN -u BLOCKFERRY_CLUSTER_TLS -u BLOCKFERRY_DB_PASSWORD -u BLOCKFERRY_DB_PASSWORD_FILE \
    BLOCKFERRY_DATA_DIR="$DIR/data/$CLUSTER-node$i" \
    BLOCKFERRY_DB=postgres BLOCKFERRY_DB_URL="$DB_URL" BLOCKFERRY_DB_USER=postgres \
    BLOCKFERRY_API_TOKEN_FILE="$TOKEN_FILE" \
    BLOCKFERRY_CLUSTER_HOSTNAME=127.0.0.1 BLOCKFERRY_CLUSTER_PORT="${CLUSTER_PORT[i]}" \
    BLOCKFERRY_CLUSTER_SEED_NODES="$SEEDS" \
    BLOCKFERRY_ALLOWED_ROOTS="$DIR/disks" \
    BLOCKFERRY_MAX_RUNNING_JOBS="$MAX_RUNNING" \
    BLOCKFERRY_JAVA_OPTS="-Dlogback.configurationFile=$DIR/logback.xml $NODE_OPTS ${BENCH_NODE_OPTS:-}" \
    "$BF" serve --port "${HTTP_PORT[i]}" </dev/null >"${LOG[i]}" 2>&1 &
  NODE_PIDS[i]=$!
  URL[i]="http://127.0.0.1:${HTTP_PORT[i]}"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" 2>/dev/null || true; }
api() { curl -sf --max-time 30 "${AUTH[@]}" "$@"; }

# await_members UP...: until every node listed sees all of UP as members "up" (GET /api/v1/cluster).
await_members() {
  local deadline=$((SECONDS + 240)) i want=$# ok doc
  while :; do
    ok=1
    for i in "$@"; do
      kill -0 "${NODE_PIDS[i]}" 2>/dev/null || { tail -n 20 "${LOG[i]}" >&2; fail "node$i of $CLUSTER exited (log ${LOG[i]}, its end above)"; }
      if [ "$(http_code "${URL[i]}/ready")" != 200 ]; then ok=0; break; fi
      doc="$(api "${URL[i]}/api/v1/cluster" 2>/dev/null || true)"
      if [ "$(jq -r '[.members[] | select(.status == "up" and .reachable)] | length' <<<"$doc" 2>/dev/null || echo 0)" != "$want" ]; then
        ok=0; break
      fi
    done
    [ $ok = 1 ] && return 0
    [ $SECONDS -lt $deadline ] || fail "$CLUSTER: the nodes do not all see $want members up after 4 minutes (logs in $DIR/logs)"
    sleep 0.5
  done
}

# start_cluster NAME N [OPTS]: N nodes, every one a seed, node1 first (it forms the cluster);
# OPTS: more -D settings of every node.
NODE_OPTS=""
start_cluster() {
  local i t0 n=$2
  CLUSTER=$1
  NODE_OPTS="${3:-}"
  new_schema "$1"
  HTTP_PORT=(); CLUSTER_PORT=(); LOG=(); URL=(); INCARNATION=(); NODE_PIDS=()
  local seeds=()
  for i in $(seq 1 "$n"); do
    free_port; HTTP_PORT[i]=$REPLY
    free_port; CLUSTER_PORT[i]=$REPLY
    seeds+=("pekko://blockferry@127.0.0.1:${CLUSTER_PORT[i]}")
  done
  SEEDS="$(IFS=,; echo "${seeds[*]}")"
  t0=$SECONDS
  start_node 1
  await_members 1
  for i in $(seq 2 "$n"); do start_node "$i"; done
  await_members $(seq 1 "$n")
  say "# cluster $CLUSTER: $n node(s) up in $((SECONDS - t0)) s (cluster ports ${CLUSTER_PORT[*]}, max-running $MAX_RUNNING each${NODE_OPTS:+, $NODE_OPTS}${BENCH_NODE_OPTS:+, $BENCH_NODE_OPTS})"
}

# named TEXT: the cluster addresses in TEXT (127.0.0.1:PORT) as node1, node2, ...
named() {
  local i text=$1
  for i in "${!CLUSTER_PORT[@]}"; do text="${text//127.0.0.1:${CLUSTER_PORT[i]}/node$i}"; done
  echo "$text"
}

node_of() { # "127.0.0.1:PORT" -> node index
  local i
  for i in "${!CLUSTER_PORT[@]}"; do
    if [ "$1" = "127.0.0.1:${CLUSTER_PORT[i]}" ]; then echo "$i"; return 0; fi
  done
  return 1
}

post_job() { # node-index spec
  local reply
  reply="$(curl -s --max-time 30 -w '\n%{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' \
    -X POST -d "$2" "${URL[$1]}/api/v1/jobs")" || fail "POST /api/v1/jobs to node$1 failed (curl)"
  [ "${reply##*$'\n'}" = 202 ] || fail "POST /api/v1/jobs to node$1: ${reply//$'\n'/ (HTTP }) for $2"
}

disk_json() { # id source target
  printf '{"id":"%s","source":"%s","target":"%s"}' "$1" "$2" "$3"
}

# make_source FILE SIZE_MIB EVERY: random data in every EVERY-th MiB (sometimes all), holes elsewhere.
make_source() {
  python3 - "$1" "$2" "$3" <<'EOF'
import os, sys
path, mib, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "wb") as f:
    f.truncate(mib << 20)
    for i in range(mib):
        if i % every == 0:
            f.seek(i << 20)
            f.write(os.urandom(1 << 20))
EOF
}

mib_of() { # 256M, 1G, 512K -> MiB
  local n=${1%[KMG]}
  case "$1" in *K) echo $(( n / 1024 )) ;; *M) echo "$n" ;; *G) echo $(( n * 1024 )) ;; esac
}

# serve_file NAME FILE [nbdkit args...]: nbdkit exporting FILE read-only on DIR/src/NAME.sock (our child).
serve_file() {
  local name=$1 file=$2
  shift 2
  local sock="$DIR/src/$name.sock"
  nbdkit -f --readonly --unix "$sock" --pidfile "$DIR/src/$name.pid" "$@" file "$file" \
    </dev/null >>"$DIR/logs/nbdkit-$name.log" 2>&1 &
  SOURCE_PIDS+=($!)
  for _ in $(seq 200); do [ -S "$sock" ] && [ -s "$DIR/src/$name.pid" ] && return 0; sleep 0.05; done
  fail "nbdkit did not start serving $sock: $(tail -n 3 "$DIR/logs/nbdkit-$name.log")"
}

# serve_slow NAME FILE: FILE at RATE bits/s, under a loop that starts nbdkit again should it end
# (nbdkit 1.32 may abort when a client dies mid-request; --threads=1 avoids it, the loop covers it).
serve_slow() {
  local name=$1 file=$2 sock="$DIR/src/$1.sock"
  (
    while [ ! -f "$DIR/stop" ]; do
      rm -f "$sock" "$DIR/src/$name.pid"
      nbdkit -f --threads=1 --readonly --unix "$sock" --pidfile "$DIR/src/$name.pid" \
        --filter=rate file "$file" "rate=$RATE" </dev/null >>"$DIR/logs/nbdkit-$name.log" 2>&1 || true
      [ -f "$DIR/stop" ] || echo "$(date +%T) restarted" >>"$DIR/logs/nbdkit-$name.restarts"
      sleep 0.1
    done
  ) &
  SUPERVISORS+=($!)
  for _ in $(seq 200); do [ -S "$sock" ] && [ -s "$DIR/src/$name.pid" ] && return 0; sleep 0.05; done
  fail "nbdkit did not start serving $sock: $(tail -n 3 "$DIR/logs/nbdkit-$name.log")"
}
sock_uri() { echo "nbd+unix:///?socket=$DIR/src/$1.sock"; }

# ================================================================ throughput
declare -A TP_WALL TP_DIST TP_GIBS TP_PEAK TP_STATUS
throughput_run() { # label nodes
  local label=$1 n=$2 t0 j i spec out
  rm -rf "$DIR/disks/$label"; mkdir -p "$DIR/disks/$label"
  t0=$(now_ms)
  for j in $(seq -w 1 "$JOBS"); do
    i=$(( (10#$j - 1) % n + 1 ))
    spec="{\"job_id\":\"$label-$j\",\"vm\":\"vm-$label-$j\",\"mode\":\"full\",\"disks\":["
    spec+="$(disk_json "$label-$j-a" "$(sock_uri tp-a)" "$DIR/disks/$label/$j-a.img"),"
    spec+="$(disk_json "$label-$j-b" "$(sock_uri tp-b)" "$DIR/disks/$label/$j-b.img")]}"
    post_job "$i" "$spec"
  done
  local urls
  urls="$(for i in $(seq 1 "$n"); do printf '%s,' "${URL[i]}"; done)"
  out="$("${CLIENT[@]}" await --urls "${urls%,}" --token-file "$TOKEN_FILE" --prefix "$label-" --count "$JOBS" \
    --timeout 900 --out "$DIR/$label.jobs")" || fail "$label: not all $JOBS jobs ended within 15 minutes (logs in $DIR/logs)"
  local summary
  summary="$("${CLIENT[@]}" summary --jobs "$DIR/$label.jobs" --since "$t0" --label "$label")"
  say "$(named "$summary")"
  say "$(named "$out")"
  TP_WALL[$label]="$(sed -n 's/.* wall_s=\([0-9.]*\).*/\1/p' <<<"$summary")"
  TP_GIBS[$label]="$(sed -n 's/.* GiB_per_s=\([0-9.]*\).*/\1/p' <<<"$summary")"
  TP_STATUS[$label]="$(sed -n 's/^JOBS label=[^ ]* jobs=[0-9]* \(.*\) total_bytes=.*/\1/p' <<<"$summary")"
  TP_PEAK[$label]="$(named "${out#PEAK }")"
  # the distribution as node1=.. node2=.. (the jobs' "node" fields name cluster addresses)
  local dist="" count
  for i in $(seq 1 "$n"); do
    count="$(jq -s --arg n "127.0.0.1:${CLUSTER_PORT[i]}" '[.[] | select(.node == $n)] | length' "$DIR/$label.jobs")"
    dist+="node$i=$count "
  done
  TP_DIST[$label]="${dist% }"
  say "RESULT throughput label=$label nodes=$n jobs=$JOBS wall_s=${TP_WALL[$label]} GiB_per_s=${TP_GIBS[$label]} distribution=${TP_DIST[$label]// /,} ${TP_STATUS[$label]}"
  rm -rf "$DIR/disks/$label"
}

# ================================================================ submissions
declare -A SUBMIT_LINE SUBMIT_ENDED
submit_run() { # label nodes
  local label=$1 n=$2 urls out i
  mkdir -p "$DIR/disks/$label"
  urls="$(for i in $(seq 1 "$n"); do printf '%s,' "${URL[i]}"; done)"
  out="$("${CLIENT[@]}" submit --urls "${urls%,}" --token-file "$TOKEN_FILE" --clients "$CLIENTS" \
    --per-client "$PER_CLIENT" --prefix "$label" --source "$(sock_uri sub)" --target-dir "$DIR/disks/$label" \
    --out "$DIR/$label.tsv")" || fail "the submitting client failed"
  say "$out"
  SUBMIT_LINE[$label]="$(grep '^SUBMIT ' <<<"$out")"
  # A request that failed (a timeout) may still have created its job: the await also waits for those it lists.
  local total t0 statuses
  total="$(sed -E 's/.* accepted=([0-9]+).*/\1/' <<<"${SUBMIT_LINE[$label]}")"
  t0=$(now_ms)
  # Not timed: that every accepted job also ran (tiny jobs, MAX_RUNNING per node).
  if out="$("${CLIENT[@]}" await --urls "${urls%,}" --token-file "$TOKEN_FILE" --prefix "$label-" --count "$total" \
      --timeout 300 --out "$DIR/$label.jobs")"; then
    statuses="$(jq -rs 'group_by(.status) | map("\(.[0].status)=\(length)") | join(" ")' "$DIR/$label.jobs")"
    say "# $label: all $total accepted jobs ended $(( ($(now_ms) - t0) / 1000 )) s after the last submission: $statuses"
  else
    statuses="$(jq -rs 'group_by(.status) | map("\(.[0].status)=\(length)") | join(" ")' "$DIR/$label.jobs")"
    say "# $label: not all $total accepted jobs ended within 300 s of the last submission: $statuses"
  fi
  SUBMIT_ENDED[$label]=$statuses
  # A job that did not complete, with its error, as the node reported it.
  local line
  while IFS= read -r line; do say "$(named "$line")"; done < <(jq -rs \
    '[.[] | select(.status != "completed")] | .[:5][] | "# \(.job_id) \(.status) on \(.node): \(.error)"' "$DIR/$label.jobs")
  rm -rf "$DIR/disks/$label"
}

# ================================================================ failover
FAILOVER_MS=()
FAILOVER_FAILED=0
# log_ms SINCE PATTERN FILE...: epoch ms of the first matching line at or after SINCE, or "-".
log_ms() {
  local since=$1 pattern=$2 out
  shift 2
  if out="$("${CLIENT[@]}" logtime --since "$since" --pattern "$pattern" "$@")"; then echo "${out%%$'\t'*}"; else echo -; fi
}
rel() { # ms since the kill, as seconds
  if [ "$1" = - ]; then echo -; else awk -v a="$1" -v k="$2" 'BEGIN {printf "%.2f", (a - k) / 1000}'; fi
}
lease_row() { # job -> "owner|renewed epoch ms"
  "${PSQL[@]}" -c "SELECT owner || '|' || (extract(epoch FROM renewed_at) * 1000)::bigint FROM ${SCHEMAS[-1]}.blockferry_lease WHERE name = 'job:$1'" 2>/dev/null || true
}

failover_run() { # run number
  local r=$1 job="fo-$1" i doc status node bytes victim deadline
  local alive=() survivors_logs=()
  for i in 1 2 3; do
    if kill -0 "${NODE_PIDS[i]}" 2>/dev/null; then alive+=("$i"); fi
  done
  i=${alive[$(( (r - 1) % ${#alive[@]} ))]}
  local spec="{\"job_id\":\"$job\",\"vm\":\"vm-$job\",\"mode\":\"full\",\"disks\":["
  spec+="$(disk_json "$job-a" "$(sock_uri fo-a)" "$DIR/disks/fo/$job-a.img"),"
  spec+="$(disk_json "$job-b" "$(sock_uri fo-b)" "$DIR/disks/fo/$job-b.img")]}"
  post_job "$i" "$spec"
  # It copies, and its document names the node (the read side trails by about a second).
  deadline=$((SECONDS + 120))
  while :; do
    doc="$(api "${URL[$i]}/api/v1/jobs/$job" 2>/dev/null || true)"
    status="$(jq -r '.status // ""' <<<"$doc" 2>/dev/null || true)"
    node="$(jq -r '.node // ""' <<<"$doc" 2>/dev/null || true)"
    bytes="$(jq -r '.bytes_transferred // 0' <<<"$doc" 2>/dev/null || echo 0)"
    if [ "$status" = running ] && [ -n "$node" ] && [ "$bytes" -ge $((40 << 20)) ]; then break; fi
    case "$status" in completed|failed|cancelled) fail "failover run $r: job $job ended ($status) before the kill: $doc" ;; esac
    [ $SECONDS -lt $deadline ] || fail "failover run $r: job $job not copying after 2 minutes (status '$status', node '$node'; logs in $DIR/logs)"
    sleep 0.5
  done
  victim="$(node_of "$node")" || fail "failover run $r: the job's node '$node' is none of this cluster's (${CLUSTER_PORT[*]})"
  local before owner_before killed
  before="$(lease_row "$job")"
  owner_before="${before%|*}"
  killed=$(now_ms)
  kill -KILL "${NODE_PIDS[victim]}"
  wait "${NODE_PIDS[victim]}" 2>/dev/null || true
  # The victim's last renewal is in the table until a survivor takes the lease over.
  local last_renewal="-" row
  row="$(lease_row "$job")"
  if [ -n "$row" ] && [ "${row%|*}" = "$owner_before" ]; then last_renewal="${row#*|}"; fi
  for i in 1 2 3; do [ "$i" = "$victim" ] || survivors_logs+=("${LOG[i]}"); done
  local copying="-"
  deadline=$((SECONDS + 120))
  while [ $SECONDS -lt $deadline ]; do
    if grep -q "event=copy-planned disk=$job-[ab] " "${survivors_logs[@]}"; then
      copying="$(log_ms "$killed" "event=copy-planned disk=$job-[ab] " "${survivors_logs[@]}")"
      [ "$copying" != - ] && break
    fi
    sleep 0.25
  done
  local member="member=127.0.0.1:${CLUSTER_PORT[victim]} "
  local unreachable downed removed owned expired=-
  unreachable="$(log_ms "$killed" "event=member-unreachable $member" "${survivors_logs[@]}")"
  downed="$(log_ms "$killed" "event=member-downed $member" "${survivors_logs[@]}")"
  removed="$(log_ms "$killed" "event=member-removed $member" "${survivors_logs[@]}")"
  owned="$(log_ms "$killed" "event=job-owned job=$job " "${survivors_logs[@]}")"
  [ "$last_renewal" = - ] || expired=$((last_renewal + 14000))   # heartbeat-timeout 12 s + takeover-margin 2 s
  local where="" resumed
  resumed="$(grep -h "event=copy-planned disk=$job-[ab] " "${survivors_logs[@]}" 2>/dev/null \
    | sed -n 's/.* resume_from=\([0-9]*\).*/\1/p' | awk '{printf "%s%d", (NR > 1 ? "," : ""), $1 / 1048576}')" || true
  for i in 1 2 3; do
    if [ "$copying" != - ] && grep -q "event=copy-planned disk=$job-[ab] " "${LOG[i]}" && [ "$i" != "$victim" ]; then where="node$i"; fi
  done
  if [ "$copying" = - ]; then
    FAILOVER_FAILED=$((FAILOVER_FAILED + 1))
    say "FAILOVER run=$r killed=node$victim failover_s=none (no survivor copied within 120 s) unreachable_s=$(rel "$unreachable" "$killed") downed_s=$(rel "$downed" "$killed") removed_s=$(rel "$removed" "$killed") lease_expired_s=$(rel "$expired" "$killed") job_owned_s=$(rel "$owned" "$killed")"
  else
    FAILOVER_MS+=($((copying - killed)))
    say "FAILOVER run=$r killed=node$victim copying_on=$where failover_s=$(rel "$copying" "$killed") resumed_from_MiB=${resumed:--} unreachable_s=$(rel "$unreachable" "$killed") downed_s=$(rel "$downed" "$killed") removed_s=$(rel "$removed" "$killed") lease_expired_s=$(rel "$expired" "$killed") job_owned_s=$(rel "$owned" "$killed")"
  fi
  # Clean slate for the next run: the job cancelled, the killed node back in the cluster.
  local survivor
  for i in 1 2 3; do [ "$i" = "$victim" ] || { survivor=$i; break; }; done
  local reply
  reply="$(curl -s --max-time 30 -w ' (HTTP %{http_code})' "${AUTH[@]}" -H 'Content-Type: application/json' -d '{}' \
    -X POST "${URL[$survivor]}/api/v1/jobs/$job/cancel" || true)"
  case "$reply" in *"(HTTP 20"[02]")") ;; *) bf_say "failover run $r: cancelling $job: $reply" ;; esac
  deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    status="$(api "${URL[$survivor]}/api/v1/jobs/$job" 2>/dev/null | jq -r '.status // ""' 2>/dev/null || true)"
    case "$status" in completed|failed|cancelled) break ;; esac
    sleep 0.5
  done
  if [ "$r" -lt "$RUNS" ]; then
    start_node "$victim"
    await_members 1 2 3
  fi
}

# ================================================================ the runs
if phase throughput; then
  bf_say "making the throughput disks (2 x $SIZE, half data)"
  make_source "$DIR/src/tp-a.img" "$(mib_of "$SIZE")" 2
  make_source "$DIR/src/tp-b.img" "$(mib_of "$SIZE")" 2
  serve_file tp-a "$DIR/src/tp-a.img"
  serve_file tp-b "$DIR/src/tp-b.img"
fi
if phase submit; then
  make_source "$DIR/src/sub.img" 4 2
  serve_file sub "$DIR/src/sub.img"
fi
if phase failover; then
  make_source "$DIR/src/fo-a.img" 64 1
  make_source "$DIR/src/fo-b.img" 64 1
  serve_slow fo-a "$DIR/src/fo-a.img"
  serve_slow fo-b "$DIR/src/fo-b.img"
  mkdir -p "$DIR/disks/fo"
fi

if phase throughput; then
  start_cluster one 1
  bf_say "throughput: $JOBS two-disk jobs on 1 node"
  throughput_run tp1 1
  if phase submit; then
    bf_say "submissions: $CLIENTS clients x $PER_CLIENT jobs, all to the 1 node (for comparison)"
    submit_run sub1 1
  fi
  stop_nodes
fi
if phase throughput || phase submit; then
  start_cluster three 3
fi
if phase throughput; then
  bf_say "throughput: $JOBS two-disk jobs on 3 nodes"
  throughput_run tp3 3
fi
if phase submit; then
  bf_say "submissions: $CLIENTS clients x $PER_CLIENT jobs over 3 nodes"
  submit_run sub3 3
fi
if phase failover; then
  stop_nodes
  # The failover sources are slow (RATE): small chunks so that progress, checkpoints and a cancel
  # come within seconds, not after a 32 MiB chunk read at 2 MiB/s. Failover does not depend on them.
  start_cluster failover 3 "-Dblockferry.copy.chunk-size=4MiB -Dblockferry.copy.checkpoint-interval=16MiB -Dblockferry.copy.progress-interval=1s"
  for r in $(seq 1 "$RUNS"); do
    bf_say "failover run $r of $RUNS"
    failover_run "$r"
  done
  restarts=0
  for f in "$DIR"/logs/nbdkit-fo-*.restarts; do
    if [ -f "$f" ]; then restarts=$((restarts + $(wc -l <"$f"))); fi
  done
  say "# failover sources: nbdkit restarted $restarts times (it may abort when a killed node's request is cut off)"
fi

# ================================================================ the table
say ""
say "| measure | figure |"
say "|---|---|"
if phase failover; then
  if [ ${#FAILOVER_MS[@]} -gt 0 ]; then
    med="$(printf '%s\n' "${FAILOVER_MS[@]}" | awk '{print $1 / 1000}' | "${CLIENT[@]}" percentiles)"
    runs="$(printf '%s\n' "${FAILOVER_MS[@]}" | awk '{printf "%s%.1f", (NR > 1 ? ", " : ""), $1 / 1000}')"
    median="$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' <<<"$med")"
    verdict=$(awk -v m="$median" 'BEGIN {print (m <= 20 ? "within" : "over")}')
    say "| failover, SIGKILL → copying on a survivor (median of ${#FAILOVER_MS[@]}; target ≤ 20 s: $verdict) | $median s (runs: $runs s)$([ "$FAILOVER_FAILED" = 0 ] || echo "; $FAILOVER_FAILED runs without failover within 120 s") |"
  else
    say "| failover | no run failed over within 120 s |"
  fi
fi
if phase throughput; then
  ratio="$(awk -v a="${TP_WALL[tp1]}" -v b="${TP_WALL[tp3]}" 'BEGIN {printf "%.2f", a / b}')"
  say "| $JOBS two-disk jobs ($SIZE disks, half data), 1 node | ${TP_WALL[tp1]} s, ${TP_GIBS[tp1]} GiB/s |"
  say "| $JOBS two-disk jobs, 3 nodes (same 2 cores) | ${TP_WALL[tp3]} s, ${TP_GIBS[tp3]} GiB/s; speed-up ×$ratio |"
  say "| jobs per node, 3 nodes | ${TP_DIST[tp3]} (most at once: ${TP_PEAK[tp3]}) |"
fi
if phase submit; then
  for label in sub3 sub1; do
    [ -n "${SUBMIT_LINE[$label]:-}" ] || continue
    p="$(sed -E 's/.*p50_ms=([0-9.]+) p95_ms=([0-9.]+) p99_ms=([0-9.]+) max_ms=([0-9.]+).*/p50 \1 ms, p95 \2 ms, p99 \3 ms, max \4 ms/' <<<"${SUBMIT_LINE[$label]}")"
    e="$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"${SUBMIT_LINE[$label]}")"
    where="over the 3 nodes"
    [ "$label" = sub3 ] || where="all to 1 node (comparison)"
    say "| POST /api/v1/jobs, $CLIENTS clients × $PER_CLIENT, $where | $p; $e errors; the jobs: ${SUBMIT_ENDED[$label]} |"
  done
fi
[ "$FAILOVER_FAILED" = 0 ] || exit 1
