#!/usr/bin/env python3
"""The HTTP client and log reader of bench/cluster.sh (Python 3 standard library only).

  submit    CLIENTS concurrent clients, spread over the nodes, each POSTing PER_CLIENT jobs one
            after another on its own keep-alive connection; every request timed
  await     polls the jobs with an id prefix until COUNT of them have ended; samples
            GET /api/v1/cluster meanwhile (the most jobs each node ran at once); prints the jobs
  summary   total time and distribution over the nodes of the jobs `await` printed
  logtime   the first log line at or after a time that matches a pattern, as epoch milliseconds
  percentiles  p50/p95/p99/max of numbers on stdin
"""
import argparse
import http.client
import json
import re
import statistics
import sys
import threading
import time
import urllib.parse
from datetime import datetime

TERMINAL = {"completed", "failed", "cancelled"}


def token(path):
    with open(path) as f:
        return f.read().strip()


def connection(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def request(conn, tok, method, path, body=None):
    headers = {"Authorization": "Bearer " + tok}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def get_json(url, tok, path):
    conn = connection(url)
    try:
        status, body = request(conn, tok, "GET", path)
    finally:
        conn.close()
    if status != 200:
        raise IOError(f"GET {url}{path}: {status} {body[:200]!r}")
    return json.loads(body)


def nearest_rank(sorted_values, p):
    """The p-th percentile by nearest rank (the value at or below which p % of the samples lie)."""
    if not sorted_values:
        return float("nan")
    k = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(k) - 1]


def pct_line(values):
    v = sorted(values)
    return (f"p50_ms={nearest_rank(v, 50):.1f} p95_ms={nearest_rank(v, 95):.1f} "
            f"p99_ms={nearest_rank(v, 99):.1f} max_ms={v[-1]:.1f}") if v else "p50_ms=nan p95_ms=nan p99_ms=nan max_ms=nan"


def submit(a):
    tok = token(a.token_file)
    urls = a.urls.split(",")
    barrier = threading.Barrier(a.clients)
    results = []  # (node index, milliseconds, HTTP status or error text, start in ms from the first)
    lock = threading.Lock()

    def client(c):
        node = c % len(urls)
        conn = connection(urls[node])
        barrier.wait()
        for k in range(a.per_client):
            job = f"{a.prefix}-{c:03d}-{k}"
            body = json.dumps({"job_id": job, "vm": "vm-" + job, "mode": "full", "disks": [
                {"id": job + "-a", "source": a.source, "target": f"{a.target_dir}/{job}-a.img"}]})
            t0 = time.perf_counter()
            try:
                status, reply = request(conn, tok, "POST", "/api/v1/jobs", body)
                outcome = status if status == 202 else f"{status}:{reply[:120]!r}"
            except (OSError, http.client.HTTPException) as e:
                outcome = f"error:{e}"
                conn.close()
                conn = connection(urls[node])
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                results.append((node, ms, outcome, (t0 - started) * 1000))
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
    started = time.perf_counter()  # (the clients wait at the barrier for the last one to start)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    with open(a.out, "w") as f:
        f.write("node\tstart_ms\tlatency_ms\toutcome\n")
        for node, ms, outcome, start in sorted(results, key=lambda r: r[3]):
            f.write(f"{node + 1}\t{start:.1f}\t{ms:.1f}\t{outcome}\n")
    errors = [o for _, _, o, _ in results if o != 202]
    for e in errors[:5]:
        print(f"# submit error: {e}", file=sys.stderr)
    print(f"SUBMIT requests={len(results)} clients={a.clients} nodes={len(urls)} accepted={len(results) - len(errors)} "
          f"errors={len(errors)} {pct_line([ms for _, ms, _, _ in results])} seconds={seconds:.2f} "
          f"rate_per_s={len(results) / seconds:.1f}")
    for n in range(len(urls)):
        mine = [ms for node, ms, _, _ in results if node == n]
        print(f"SUBMIT_NODE node={n + 1} requests={len(mine)} {pct_line(mine)}")


def all_jobs(url, tok):
    """Every job the node lists, page by page (the API gives at most 1000 per page)."""
    jobs, offset = [], 0
    while True:
        page = get_json(url, tok, f"/api/v1/jobs?limit=1000&offset={offset}")
        items = page.get("jobs", [])
        jobs.extend(items)
        if len(items) < 1000:
            return jobs
        offset += len(items)


def await_jobs(a):
    tok = token(a.token_file)
    urls = a.urls.split(",")
    deadline = time.monotonic() + a.timeout
    peak = {}  # node -> most running_jobs seen at once
    jobs = {}
    while True:
        for url in urls:  # any node that answers
            try:
                listing = all_jobs(url, tok)
                cluster = get_json(url, tok, "/api/v1/cluster")
                break
            except (OSError, ValueError, http.client.HTTPException):
                continue
        else:
            listing, cluster = None, None
        if cluster:
            for m in cluster.get("members", []):
                peak[m["node"]] = max(peak.get(m["node"], 0), m.get("running_jobs", 0))
        if listing is not None:
            jobs = {j["job_id"]: j for j in listing if j["job_id"].startswith(a.prefix)}
            ended = [j for j in jobs.values() if j.get("status") in TERMINAL]
            if len(ended) >= a.count and len(ended) == len(jobs):
                break  # (and any job a failed request created has ended too)
        if time.monotonic() > deadline:
            print(f"# await: {len([j for j in jobs.values() if j.get('status') in TERMINAL])} of {a.count} "
                  f"jobs {a.prefix}* ended within {a.timeout} s", file=sys.stderr)
            break
        time.sleep(a.interval)
    with open(a.out, "w") as f:
        for j in sorted(jobs.values(), key=lambda j: j["job_id"]):
            f.write(json.dumps(j) + "\n")
    print("PEAK " + " ".join(f"{n}={v}" for n, v in sorted(peak.items())))
    return 0 if len([j for j in jobs.values() if j.get("status") in TERMINAL]) >= a.count else 1


def epoch_ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def summary(a):
    jobs = [json.loads(line) for line in open(a.jobs) if line.strip()]
    by_node = {}
    statuses = {}
    for j in jobs:
        by_node[j.get("node") or "-"] = by_node.get(j.get("node") or "-", 0) + 1
        statuses[j["status"]] = statuses.get(j["status"], 0) + 1
    finished = [epoch_ms(j["finished_at"]) for j in jobs if j.get("finished_at")]
    started = [epoch_ms(j["started_at"]) for j in jobs if j.get("started_at")]
    total = sum(j.get("total_bytes", 0) for j in jobs)
    wall = (max(finished) - a.since) / 1000 if finished else float("nan")
    runs = sorted((epoch_ms(j["finished_at"]) - epoch_ms(j["started_at"])) / 1000
                  for j in jobs if j.get("finished_at") and j.get("started_at"))
    print(f"JOBS label={a.label} jobs={len(jobs)} "
          + " ".join(f"{s}={n}" for s, n in sorted(statuses.items()))
          + f" total_bytes={total} wall_s={wall:.2f}"
          + f" first_start_s={(min(started) - a.since) / 1000 if started else float('nan'):.2f}"
          + f" job_run_s_median={statistics.median(runs) if runs else float('nan'):.2f}"
          + f" GiB_per_s={total / 2**30 / wall if finished and wall > 0 else float('nan'):.3f}")
    print(f"DISTRIBUTION label={a.label} " + " ".join(f"{n}={c}" for n, c in sorted(by_node.items())))


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|[+-]\d\d:?\d\d)) ")


def logtime(a):
    pattern = re.compile(a.pattern)
    first = None
    for path in a.files:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    m = LOG_TIME.match(line)
                    if not m or not pattern.search(line):
                        continue
                    t = epoch_ms(m.group(1))
                    if t >= a.since and (first is None or t < first[0]):
                        first = (t, path)
        except FileNotFoundError:
            continue
    if first is None:
        return 1
    print(f"{first[0]}\t{first[1]}")
    return 0


def percentiles(_a):
    values = [float(x) for x in sys.stdin.read().split()]
    v = sorted(values)
    if not v:
        print("n=0")
        return 1
    print(f"n={len(v)} median={statistics.median(v):.2f} min={v[0]:.2f} max={v[-1]:.2f}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit")
    s.add_argument("--urls", required=True, help="the nodes' base URLs, comma-separated")
    s.add_argument("--token-file", required=True)
    s.add_argument("--clients", type=int, default=50)
    s.add_argument("--per-client", type=int, default=4)
    s.add_argument("--prefix", required=True)
    s.add_argument("--source", required=True, help="every job's one disk: this source ...")
    s.add_argument("--target-dir", required=True, help="... to a new file here")
    s.add_argument("--out", required=True, help="one line per request: node, ms, outcome")
    w = sub.add_parser("await")
    w.add_argument("--urls", required=True)
    w.add_argument("--token-file", required=True)
    w.add_argument("--prefix", required=True)
    w.add_argument("--count", type=int, required=True)
    w.add_argument("--timeout", type=float, default=600)
    w.add_argument("--interval", type=float, default=0.5)
    w.add_argument("--out", required=True, help="the jobs' documents, one JSON a line")
    m = sub.add_parser("summary")
    m.add_argument("--jobs", required=True)
    m.add_argument("--since", type=int, required=True, help="epoch ms of the first submission")
    m.add_argument("--label", required=True)
    t = sub.add_parser("logtime")
    t.add_argument("--since", type=int, required=True)
    t.add_argument("--pattern", required=True)
    t.add_argument("files", nargs="+")
    sub.add_parser("percentiles")
    a = p.parse_args()
    rc = {"submit": submit, "await": await_jobs, "summary": summary, "logtime": logtime,
          "percentiles": percentiles}[a.command](a)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
