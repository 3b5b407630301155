"""jobs_daemon.py ASSISTD FIXTURE_DIR N [sqlite|PG_URI]: end-to-end job
throughput through the real daemon.

Starts assistd with the svcfix fixture plugin (tests/fixtures), enqueues N
jobs through its HTTP route (POST /svcfix/enqueue?n=N: one request, the
SDK's job_enqueue per job, answered once all are durable), and stops the
clock when the database shows all N succeeded. Each job's handler writes
its side effect to the plugin's key-value area (kv_put keyed by job id)
before completing, so this is more than a no-op: two durable writes per
job. Prints "jobs_per_s=X seconds=Y enqueue_s=Z".
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    assistd, fixture_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    storage = sys.argv[4] if len(sys.argv) > 4 else "sqlite"
    d = tempfile.mkdtemp(prefix="assist-bench-daemon-")
    port = free_port()
    secrets = ""
    if storage == "sqlite":
        db = os.path.join(d, "bench.db")
        storage = "sqlite:" + db
    else:
        secrets = "secrets: {key_file: %s/k.key, create: true}\n" % d
    cfg = os.path.join(d, "assist.yaml")
    with open(cfg, "w") as f:
        f.write("""server: {listen: "127.0.0.1:%d"}
log: {level: warn}
storage: "%s"
%splugins:
  - name: work
    plugin: svcfix
    path: %s/svcfix.so
    options: {concurrency: 512}
""" % (port, storage, secrets, os.path.abspath(fixture_dir)))
    log = open(os.path.join(d, "log"), "wb")
    p = subprocess.Popen([assistd, "--config", cfg], stdout=log, stderr=log)
    base = "http://127.0.0.1:%d" % port
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.05)

        def succeeded():
            with urllib.request.urlopen(base + "/metrics") as r:
                for line in r.read().decode().splitlines():
                    if line.startswith('assist_jobs_total{kind="work.mark",'
                                       'state="succeeded"}'):
                        return int(float(line.split()[-1]))
            return 0
        t0 = time.monotonic()
        req = urllib.request.Request(base + "/svcfix/enqueue?n=%d" % n,
                                     method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=600) as r:
            json.loads(r.read())
        t_enq = time.monotonic() - t0
        # The counter moves only once a completion has committed.
        while succeeded() < n:
            time.sleep(0.02)
        dt = time.monotonic() - t0
        print("jobs_per_s=%d seconds=%.2f enqueue_s=%.2f" % (n / dt, dt, t_enq))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
