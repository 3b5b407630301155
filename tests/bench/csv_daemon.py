"""csv_daemon.py PORT FILE: the client side of tests/bench/csv.sh.

Waits for assistd on 127.0.0.1:PORT, uploads FILE (POST /api/datasets,
streamed from disk), starts an analysis and polls it every 10 ms until it is
done, then prints one line:
    UPLOAD_SECONDS ANALYSIS_SECONDS SERVER_SECONDS ROWS
where ANALYSIS_SECONDS is the wall time from the POST that starts the
analysis to the first poll that sees it done, and SERVER_SECONDS the
plugin's own measure of the run. Standard library only.
"""
import http.client
import json
import os
import sys
import time


def req(port, method, url, body=None, headers=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, url, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    end = time.monotonic() + 30
    while True:
        try:
            if req(port, "GET", "/health", timeout=1)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > end:
            sys.exit("assistd did not start")
        time.sleep(0.05)
    t0 = time.monotonic()
    with open(path, "rb") as f:
        st, body = req(port, "POST", "/api/datasets?name=bench.csv", body=f,
                       headers={"Content-Length": str(os.path.getsize(path))})
    t1 = time.monotonic()
    if st != 201:
        sys.exit("upload: %d %r" % (st, body[:300]))
    ds = json.loads(body)
    t2 = time.monotonic()
    st, body = req(port, "POST", "/api/datasets/%s/analyses" % ds["id"])
    if st != 202:
        sys.exit("analysis: %d %r" % (st, body[:300]))
    aid = json.loads(body)["id"]
    while True:
        st, body = req(port, "GET", "/api/analyses/" + aid)
        a = json.loads(body)
        if a["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.01)
    t3 = time.monotonic()
    if a["state"] != "done":
        sys.exit("analysis %s: %s" % (a["state"], a["error"]))
    st, body = req(port, "GET", "/api/analyses/%s/report.json" % aid)
    if st != 200:
        sys.exit("report.json: %d" % st)
    rows = json.loads(body)["rows"]
    print("%.3f %.3f %.3f %d" % (t1 - t0, t3 - t2, a["seconds"], rows))


if __name__ == "__main__":
    main()
