#!/usr/bin/env python3
"""One sync through the HTTP API, timed as a client sees it (bench/incremental.sh; Python 3
standard library only).

  api_sync.py URL JOB_FILE     (the API token in the environment: BLOCKFERRY_API_TOKEN)

POSTs the job file to URL/jobs, then asks GET URL/jobs/ID every 5 ms, on one keep-alive
connection, until the job says "completed". Prints "SECONDS MODE BYTES" (the first disk's mode,
the job's total bytes). A failed or cancelled job, or a refused POST, exits 1 with the reason on
stderr. Both the time to the POST's answer and every look are inside SECONDS; a look costs this
client well under a millisecond, so the figure is the node's (curl and jq every 20 ms added
about 60 ms: two process starts per look, and up to 20 ms of waiting).
"""
import http.client
import json
import os
import sys
import time
import urllib.parse

POLL = 0.005


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: api_sync.py URL JOB_FILE (token in BLOCKFERRY_API_TOKEN)")
    url = urllib.parse.urlsplit(sys.argv[1])
    token = os.environ.get("BLOCKFERRY_API_TOKEN")
    if not token:
        sys.exit("api_sync.py: BLOCKFERRY_API_TOKEN is not set")
    with open(sys.argv[2], "rb") as f:
        body = f.read()
    job_id = json.loads(body)["job_id"]
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    base = url.path.rstrip("/")

    start = time.monotonic()
    conn.request("POST", base + "/jobs", body=body, headers=headers)
    answer = conn.getresponse()
    text = answer.read()
    if answer.status >= 300:
        sys.exit("api_sync.py: POST of %s refused: %d %s" % (job_id, answer.status, text.decode(errors="replace")))
    while True:
        conn.request("GET", base + "/jobs/" + urllib.parse.quote(job_id), headers=headers)
        answer = conn.getresponse()
        doc = json.loads(answer.read()) if answer.status == 200 else {}
        status = doc.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            sys.exit("api_sync.py: %s %s: %s" % (job_id, status, doc.get("error")))
        time.sleep(POLL)
    seconds = time.monotonic() - start
    print("%.3f %s %s" % (seconds, doc["disks"][0]["mode"], doc["total_bytes"]))


if __name__ == "__main__":
    main()
