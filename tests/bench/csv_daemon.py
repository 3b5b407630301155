"""csv_daemon.py PORT FILE: the client side of tests/bench/csv.sh.

Waits for assistd on 127.0.0.1:PORT, uploads FILE (POST /api/datasets,
streamed from disk), starts an analysis and polls it every 10 ms until it is
done, then prints one line:
    UPLOAD_SECONDS ANALYSIS_SECONDS SERVER_SECONDS ROWS
where ANALYSIS_SECONDS is the wall time from the POST that starts the
analysis to the first poll that sees it done, and SERVER_SECONDS the
plugin's own measure of the run. Standard library only.

/api routes need an API token: ASSISTD_TOKEN if set, else one made like an
operator would, with `assistd admin create --token` on csv.sh's
configuration (the assist.yaml next to FILE; the binary is $ASSISTD or
csv.sh's $CSV_BENCH_BUILD/core/daemon/assistd).
"""
import http.client
import json
import os
import subprocess
import sys
import time

TOKEN = None


def make_token(path):
    tok = os.environ.get("ASSISTD_TOKEN")
    if tok:
        return tok
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    build = os.environ.get("CSV_BENCH_BUILD", os.path.join(root, "build-bench"))
    exe = os.environ.get("ASSISTD",
                         os.path.join(build, "core", "daemon", "assistd"))
    config = os.path.join(os.path.dirname(os.path.abspath(path)),
                          "assist.yaml")
    out = subprocess.run([exe, "admin", "create", "--config", config,
                          "--email", "bench@localhost", "--token", "bench",
                          "--scopes", "read,write"],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("token: "):
            return line[len("token: "):]
    sys.exit("assistd admin create failed: %s" % out.stderr)


def req(port, method, url, body=None, headers=None, timeout=600):
    h = dict(headers or {})
    if TOKEN:
        h["Authorization"] = "Bearer " + TOKEN
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, url, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def main():
    global TOKEN
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
    TOKEN = make_token(path)
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
