"""csv-analysis through the real daemon: upload, dataset records, analysis
jobs with progress, reports checked against figures computed here, upload
cap, bad input, cancellation, deletion, imports, a restart with a queued
analysis, loop responsiveness during a big analysis, per-user ownership
(another user's records are 404), and the HTML report rendered by headless
Chromium when it is installed."""
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from assistd_test import (Daemon, PLUGIN_DIR, base_config, run, wait_for)

SO = os.path.join(os.path.abspath(PLUGIN_DIR), "csv-analysis",
                  "csv-analysis.so")
BUILD_ROOT = os.environ.get("BUILD_ROOT", ".")
ARTIFACTS = os.path.join(BUILD_ROOT, "meson-logs", "artifacts", "csv")


def csv_config(state, max_upload="64MB", threads=0, extra_opts=""):
    """A config whose storage and data_dir live in `state`, so a second
    daemon on the same state sees the same datasets and jobs."""
    return base_config(
        extra='storage: "sqlite:%s/assistd.db"' % state,
        plugins="""
  - name: csv
    plugin: csv-analysis
    path: %s
    options:
      data_dir: %s/data
      max_upload: %s
      threads: %d
%s""" % (SO, state, max_upload, threads, extra_opts))


def new_state():
    return tempfile.mkdtemp(prefix="assistd-csv-")


def make_csv(rows, seed=7):
    """A CSV with known figures: returns (bytes, expected)."""
    rnd = random.Random(seed)
    out = ["id,amount,score,city,day\n"]
    amounts, scores = [], []
    cities = ["Lyon", "Oslo", "Quito", "Perth", "Accra"]
    for i in range(rows):
        a = round(rnd.gauss(50.0, 12.5), 3)
        s = rnd.randint(-500, 500)
        amounts.append(a)
        scores.append(s)
        out.append("%d,%.3f,%d,%s,2024-%02d-%02d\n" %
                   (i, a, s, rnd.choice(cities), rnd.randint(1, 12),
                    rnd.randint(1, 28)))
    data = "".join(out).encode()
    exp = {
        "rows": rows,
        "amount": {"count": rows, "mean": sum(amounts) / rows,
                   "min": min(amounts), "max": max(amounts)},
        "score": {"count": rows, "mean": sum(scores) / rows,
                  "min": min(scores), "max": max(scores)},
    }
    return data, exp


def big_csv(path, megabytes):
    """Writes about `megabytes` MB quickly by repeating a block."""
    rnd = random.Random(3)
    block = "".join("%d,%.2f,%d,w%d\n" % (i, rnd.uniform(0, 1000),
                                         rnd.randint(0, 99), rnd.randint(0, 9))
                    for i in range(20000)).encode()
    with open(path, "wb") as f:
        f.write(b"n,x,k,w\n")
        for _ in range(megabytes * 1024 * 1024 // len(block)):
            f.write(block)
    return os.path.getsize(path)


def upload(d, data, name="data.csv", timeout=120):
    st, h, body = d.request("POST", "/api/datasets?name=" + name, body=data,
                            headers={"Content-Type": "text/csv"},
                            timeout=timeout)
    return st, h, json.loads(body) if body else None


def upload_file(d, path, name, timeout=300):
    with open(path, "rb") as f:
        st, h, body = d.request("POST", "/api/datasets?name=" + name, body=f,
                                headers={"Content-Length":
                                         str(os.path.getsize(path))},
                                timeout=timeout)
    assert st == 201, (st, body)
    return json.loads(body)


def start_analysis(d, ds):
    st, _, body = d.request("POST", "/api/datasets/%s/analyses" % ds)
    assert st == 202, (st, body)
    a = json.loads(body)
    assert a["state"] in ("queued", "running"), a
    assert a["job"] > 0, a
    return a


def analysis(d, aid):
    return d.get_json("/api/analyses/" + aid)


def wait_final(d, aid, timeout=120):
    def final():
        a = analysis(d, aid)
        return a if a["state"] in ("done", "failed", "cancelled") else None
    return wait_for(final, timeout, "analysis %s to finish" % aid)


def data_files(state):
    d = os.path.join(state, "data")
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if f.endswith(".csv"))


def column(report, name):
    for c in report["column_profiles"]:
        if c["name"] == name:
            return c
    raise AssertionError("no column %s in report" % name)


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def check_with_chromium(html_path):
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        print("SKIP chromium render check: /usr/bin/chromium is not installed "
              "(packaging/install-deps.sh must add 'chromium')", flush=True)
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    png = os.path.join(ARTIFACTS, "report.png")
    if os.path.exists(png):
        os.unlink(png)
    profile = tempfile.mkdtemp(prefix="assistd-chromium-")
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--user-data-dir=" + profile]
    try:
        url = "file://" + os.path.abspath(html_path)
        r = subprocess.run(common + ["--screenshot=" + png,
                                     "--window-size=1200,2000", url],
                           capture_output=True, timeout=120)
        assert os.path.exists(png) and os.path.getsize(png) > 1000, (
            "no screenshot: %s" % r.stderr.decode("utf-8", "replace")[-2000:])
        r = subprocess.run(common + ["--dump-dom", url], capture_output=True,
                           timeout=120)
        dom = r.stdout.decode("utf-8", "replace")
        assert dom.count("<svg") >= 3, "rendered DOM has too few <svg>"
        assert "<rect" in dom, "rendered DOM has no chart bars"
        print("chromium: screenshot at %s, %d svg elements in the DOM" %
              (png, dom.count("<svg")), flush=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------ tests


def test_upload_analyse_report():
    state = new_state()
    data, exp = make_csv(100000)
    assert len(data) > 2 * 1024 * 1024
    with Daemon(csv_config(state)) as d:
        st, h, ds = upload(d, data, "sales.csv")
        assert st == 201, (st, ds)
        assert ds["sha256"] == hashlib.sha256(data).hexdigest(), ds
        assert ds["size"] == len(data) and ds["name"] == "sales.csv", ds
        assert ds["owner"] == str(d.admin_id), ds  # the token's user
        assert h.get("Location") == "/api/datasets/" + ds["id"], h
        assert data_files(state) == [ds["id"] + ".csv"]
        with open(os.path.join(state, "data", ds["id"] + ".csv"), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == ds["sha256"]
        lst = d.get_json("/api/datasets")["datasets"]
        assert [x["id"] for x in lst] == [ds["id"]], lst
        got = d.get_json("/api/datasets/" + ds["id"])
        assert got["sha256"] == ds["sha256"], got
        st, _, _ = d.request("GET", "/api/datasets/ds0000000000000000")
        assert st == 404

        # Report routes answer 404 until the analysis is done.
        a = start_analysis(d, ds["id"])
        seen = set()

        def done():
            x = analysis(d, a["id"])
            seen.add(x["state"])
            p = x["progress"]
            assert p["bytes_done"] <= p["bytes_total"], x
            return x if x["state"] in ("done", "failed", "cancelled") else None
        final = wait_for(done, 120, "analysis done")
        assert final["state"] == "done", final
        assert final["error"] is None, final
        assert final["progress"]["rows"] == exp["rows"], final
        assert final["progress"]["bytes_done"] == \
            final["progress"]["bytes_total"] > 0, final
        links = final["links"]
        st, h, body = d.request("GET", links["report_json"])
        assert st == 200 and h["Content-Type"].startswith("application/json")
        rep = json.loads(body)
        assert rep["rows"] == exp["rows"], rep["rows"]
        assert rep["source"]["name"] == "sales.csv", rep["source"]
        for name in ("amount", "score"):
            c = column(rep, name)
            e = exp[name]
            num = c["numeric"]
            assert num["count"] == e["count"], (name, num)
            assert close(num["mean"], e["mean"]), (name, num["mean"],
                                                    e["mean"])
            assert num["min"] == e["min"] and num["max"] == e["max"], (
                name, num, e)
        assert column(rep, "score")["type"] == "integer"
        assert column(rep, "day")["type"] == "date"
        assert rep["summary"], "empty summary"
        st, h, html = d.request("GET", links["report_html"])
        assert st == 200 and h["Content-Type"].startswith("text/html"), h
        assert b"<svg" in html
        # Self-contained: no external assets.
        for ext in (b'src="http', b"src='http", b'href="http', b"url(http"):
            assert ext not in html, ext
        # Stored once, under data_dir/analyses/<id>/.
        adir = os.path.join(state, "data", "analyses", a["id"])
        assert sorted(os.listdir(adir)) == ["report.html", "report.json"]
        metrics = d.request("GET", "/metrics")[2].decode()
        assert ('assist_csv_analyses_total{instance="csv",state="done"} 1'
                in metrics), metrics
        assert "assist_csv_analysis_bytes_done" in metrics
        lst = d.get_json("/api/analyses")["analyses"]
        assert [x["id"] for x in lst] == [a["id"]], lst
        lst = d.get_json("/api/analyses?dataset=ds0000000000000000")
        assert lst["analyses"] == [], lst
        # A finished analysis cannot be cancelled.
        st, _, _ = d.request("POST", "/api/analyses/%s/cancel" % a["id"])
        assert st == 409, st
        check_with_chromium(os.path.join(adir, "report.html"))
        # Logs name ids, never contents.
        logs = d.logs()
        assert "Quito" not in logs and "Lyon" not in logs
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


def test_upload_limits_and_names():
    state = new_state()
    with Daemon(csv_config(state, max_upload="1MB")) as d:
        st, _, body = upload(d, b"x,y\n" + b"1,2\n" * (600 * 1024))
        assert st == 413, (st, body)
        assert data_files(state) == [], data_files(state)
        assert d.get_json("/api/datasets")["datasets"] == []
        st, _, body = upload(d, b"a\n1\n", name="")
        assert st == 400, body
        st, _, body = d.request("POST", "/api/datasets", body=b"a\n1\n")
        assert st == 400, body
        err = json.loads(body)["error"]
        assert err["status"] == 400 and "name" in err["message"], err
        st, _, body = upload(d, b"a\n1\n", name="..%2Fetc")
        assert st == 400, body
        # An empty dataset is accepted; its analysis finishes with 0 rows.
        st, _, ds = upload(d, b"", name="empty.csv")
        assert st == 201 and ds["size"] == 0, ds
        assert ds["sha256"] == hashlib.sha256(b"").hexdigest()
        a = wait_final(d, start_analysis(d, ds["id"])["id"])
        assert a["state"] in ("done", "failed"), a
        assert d.healthy()
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


def test_bad_input_fails_cleanly():
    state = new_state()
    rnd = random.Random(11)
    garbage = bytes(rnd.getrandbits(8) for _ in range(200000)) + b"\0" * 64
    with Daemon(csv_config(state)) as d:
        st, _, ds = upload(d, garbage, "garbage.csv")
        assert st == 201, ds
        a = wait_final(d, start_analysis(d, ds["id"])["id"])
        assert a["state"] == "failed", a
        assert "binary" in a["error"], a
        st, _, body = d.request("GET", "/api/analyses/%s/report.json" % a["id"])
        assert st == 404, (st, body)
        assert json.loads(body)["error"]["status"] == 404
        # Unknown ids and bad bodies.
        for path in ("/api/analyses/an0000000000000000", "/api/analyses/x",
                     "/api/analyses/an0000000000000000/report.html"):
            st, _, _ = d.request("GET", path)
            assert st == 404, (path, st)
        st, _, _ = d.request("POST", "/api/datasets/ds0000000000000000/"
                             "analyses")
        assert st == 404
        assert d.healthy()
        st, _, _ = d.request("GET", "/health")
        assert st == 200
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


def test_big_analysis_responsive_cancel_delete():
    state = new_state()
    big = os.path.join(state, "big.csv")
    size = big_csv(big, 150)
    with Daemon(csv_config(state, max_upload="1GB")) as d:
        ds = upload_file(d, big, "big.csv")
        assert ds["size"] == size
        os.unlink(big)

        # 1. The loop answers while both cores profile.
        a = start_analysis(d, ds["id"])
        ok = fail = 0
        running_seen = False
        progress_seen = []
        while True:
            st, _, _ = d.request("GET", "/health")
            if st == 200:
                ok += 1
            else:
                fail += 1
            x = analysis(d, a["id"])
            if x["state"] == "running":
                running_seen = True
                progress_seen.append(x["progress"]["bytes_done"])
            if x["state"] in ("done", "failed", "cancelled"):
                break
        assert x["state"] == "done", x
        assert fail == 0 and ok > 0, (ok, fail)
        assert x["progress"]["rows"] > 0
        print("health answered %d times during the analysis; running seen: "
              "%s" % (ok, running_seen), flush=True)

        # 2. A running analysis stops on request. The cancel can race with
        # the last chunk finishing, so try a few times.
        for attempt in range(4):
            b = start_analysis(d, ds["id"])
            # While it is queued or running its dataset cannot be deleted.
            st, _, body = d.request("DELETE", "/api/datasets/" + ds["id"])
            assert st == 409, (st, body)
            wait_for(lambda: analysis(d, b["id"])["state"] != "queued", 60,
                     "analysis to start")
            st, _, body = d.request("POST", "/api/analyses/%s/cancel" % b["id"])
            assert st == 202, (st, body)
            fb = wait_final(d, b["id"])
            if fb["state"] == "cancelled":
                break
            assert fb["state"] == "done", fb
        assert fb["state"] == "cancelled", fb
        assert "cancel" in fb["error"], fb
        st, _, _ = d.request("GET", "/api/analyses/%s/report.json" % b["id"])
        assert st == 404

        # 3. A queued analysis (behind a running one: one at a time) is
        # cancelled at once.
        c1 = start_analysis(d, ds["id"])
        c2 = start_analysis(d, ds["id"])
        st, _, body = d.request("POST", "/api/analyses/%s/cancel" % c2["id"])
        assert st == 202, (st, body)
        assert analysis(d, c2["id"])["state"] in ("cancelled",), body
        d.request("POST", "/api/analyses/%s/cancel" % c1["id"])
        wait_final(d, c1["id"])
        assert analysis(d, c2["id"])["state"] == "cancelled"
        metrics = d.request("GET", "/metrics")[2].decode()
        assert 'state="cancelled"' in metrics

        # 4. DELETE removes the file and the record.
        st, _, body = d.request("DELETE", "/api/datasets/" + ds["id"])
        assert st == 200, (st, body)
        assert data_files(state) == []
        st, _, _ = d.request("GET", "/api/datasets/" + ds["id"])
        assert st == 404
        st, _, _ = d.request("DELETE", "/api/datasets/" + ds["id"])
        assert st == 404
        # The finished analysis keeps its report.
        st, _, _ = d.request("GET", "/api/analyses/%s/report.json" % a["id"])
        assert st == 200
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


def test_import_from_allowed_dirs():
    state = new_state()
    allowed = os.path.join(state, "inbox")
    outside = os.path.join(state, "private")
    os.makedirs(allowed)
    os.makedirs(outside)
    data, exp = make_csv(500)
    with open(os.path.join(allowed, "in.csv"), "wb") as f:
        f.write(data)
    with open(os.path.join(outside, "secret.csv"), "wb") as f:
        f.write(b"a\n1\n")
    os.symlink(os.path.join(outside, "secret.csv"),
               os.path.join(allowed, "link.csv"))
    opts = "      import_dirs: [%s]\n" % allowed

    def imp(d, body):
        st, _, b = d.request("POST", "/api/datasets/import",
                             body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
        return st, json.loads(b)

    with Daemon(csv_config(state, extra_opts=opts)) as d:
        st, ds = imp(d, {"path": os.path.join(allowed, "in.csv")})
        assert st == 201, ds
        assert ds["name"] == "in.csv" and ds["source"] == "import", ds
        assert ds["sha256"] == hashlib.sha256(data).hexdigest()
        st, ds2 = imp(d, {"path": os.path.join(allowed, "in.csv"),
                          "name": "renamed.csv"})
        assert st == 201 and ds2["name"] == "renamed.csv", ds2
        for p in (os.path.join(outside, "secret.csv"),
                  os.path.join(allowed, "link.csv"),
                  os.path.join(allowed, "..", "private", "secret.csv"),
                  "/etc/passwd"):
            st, body = imp(d, {"path": p})
            assert st == 403, (p, st, body)
        st, body = imp(d, {"path": os.path.join(allowed, "missing.csv")})
        assert st == 404, body
        st, body = imp(d, {"path": "relative.csv"})
        assert st == 400, body
        st, body = imp(d, {"nopath": 1})
        assert st == 400, body
        a = wait_final(d, start_analysis(d, ds["id"])["id"])
        assert a["state"] == "done", a
        assert a["progress"]["rows"] == exp["rows"]
    # Imports are off unless import_dirs is set.
    with Daemon(csv_config(state)) as d:
        st, body = imp(d, {"path": os.path.join(allowed, "in.csv")})
        assert st == 403, body
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


def test_queued_analysis_survives_restart():
    state = new_state()
    big = os.path.join(state, "mid.csv")
    big_csv(big, 40)
    with Daemon(csv_config(state, threads=1)) as d:
        ds = upload_file(d, big, "mid.csv")
        a = start_analysis(d, ds["id"])
        d.proc.send_signal(signal.SIGKILL)  # right after the enqueue
        d.proc.wait()
        first_logs = d.logs()
    assert "analysis %s done" % a["id"] not in first_logs
    assert not os.path.exists(os.path.join(state, "data", "analyses", a["id"],
                                           "report.json"))
    with Daemon(csv_config(state, threads=1)) as d:
        # A run interrupted mid-way waits for its lease (30 s) to expire.
        final = wait_final(d, a["id"], timeout=150)
        assert final["state"] == "done", final
        assert ("analysis %s: started" % a["id"]) in d.logs()
        st, _, body = d.request("GET", "/api/analyses/%s/report.json" %
                                a["id"])
        assert st == 200
        rep = json.loads(body)
        with open(big, "rb") as f:
            lines = sum(1 for _ in f) - 1
        assert rep["rows"] == lines, (rep["rows"], lines)
        # A clean stop in the middle of a run hands the job back: the next
        # process runs it again from the start.
        b = start_analysis(d, ds["id"])
        wait_for(lambda: analysis(d, b["id"])["state"] != "queued", 60,
                 "analysis to start")
        assert d.stop() == 0
        logs = d.logs()
    if ("analysis %s done" % b["id"]) not in logs:
        assert ("analysis %s interrupted" % b["id"]) in logs, logs[-3000:]
    with Daemon(csv_config(state, threads=1)) as d:
        final = wait_final(d, b["id"], timeout=150)
        assert final["state"] == "done", final
        assert final["progress"]["rows"] == lines, final
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


def second_user(d, email="bob@test", password="bob-password-1"):
    """Creates a plain user through the accounts API (as the admin), signs
    in as that user and makes a read+write token of theirs. Returns
    (user id, token)."""
    st, _, body = d.request("POST", "/api/users", body=json.dumps(
        {"email": email, "password": password, "role": "user"}),
        headers={"Content-Type": "application/json"})
    assert st == 201, (st, body)
    uid = json.loads(body)["user"]["id"]
    st, h, body = d.request("POST", "/api/auth/login", body=json.dumps(
        {"email": email, "password": password}),
        headers={"Content-Type": "application/json"}, auth=False)
    assert st == 200, (st, body)
    cookie = h["Set-Cookie"].split(";", 1)[0]
    csrf = json.loads(body)["csrf_token"]
    st, _, body = d.request("POST", "/api/tokens", body=json.dumps(
        {"name": "b", "scopes": ["read", "write"]}),
        headers={"Content-Type": "application/json", "Cookie": cookie,
                 "X-CSRF-Token": csrf}, auth=False)
    assert st == 201, (st, body)
    return uid, json.loads(body)["secret"]


def as_user(d, token, method, path, body=None):
    st, _, b = d.request(method, path, body=body,
                         headers={"Authorization": "Bearer " + token})
    return st, json.loads(b) if b else None


def not_found(st, body, what):
    assert st == 404, (what, st, body)
    assert body["error"]["status"] == 404, (what, body)


def test_datasets_and_analyses_are_per_user():
    state = new_state()
    data, exp = make_csv(300)
    with Daemon(csv_config(state)) as d:
        # User A (the admin token): a dataset and a finished analysis.
        st, _, ds = upload(d, data, "a.csv")
        assert st == 201 and ds["owner"] == str(d.admin_id), ds
        a = wait_final(d, start_analysis(d, ds["id"])["id"])
        assert a["state"] == "done", a
        b_id, b = second_user(d)

        # B sees none of it: absent from the lists, 404 by id.
        st, lst = as_user(d, b, "GET", "/api/datasets")
        assert st == 200 and lst["datasets"] == [], lst
        st, lst = as_user(d, b, "GET", "/api/analyses")
        assert st == 200 and lst["analyses"] == [], lst
        st, lst = as_user(d, b, "GET", "/api/analyses?dataset=" + ds["id"])
        assert st == 200 and lst["analyses"] == [], lst
        for method, path in (
                ("GET", "/api/datasets/" + ds["id"]),
                ("POST", "/api/datasets/%s/analyses" % ds["id"]),
                ("DELETE", "/api/datasets/" + ds["id"]),
                ("GET", "/api/analyses/" + a["id"]),
                ("POST", "/api/analyses/%s/cancel" % a["id"]),
                ("GET", "/api/analyses/%s/report.json" % a["id"]),
                ("GET", "/api/analyses/%s/report.html" % a["id"])):
            st, body = as_user(d, b, method, path)
            not_found(st, body, (method, path))
        # Nothing of A's changed: the file, the record, one analysis.
        assert data_files(state) == [ds["id"] + ".csv"]

        # B's own upload and analysis work, and A does not see them.
        st, _, raw = d.request("POST", "/api/datasets?name=b.csv", body=data,
                               headers={"Authorization": "Bearer " + b})
        assert st == 201, (st, raw)
        bds = json.loads(raw)
        assert bds["owner"] == str(b_id), bds
        st, lst = as_user(d, b, "GET", "/api/datasets")
        assert [x["id"] for x in lst["datasets"]] == [bds["id"]], lst
        st, ba = as_user(d, b, "POST", "/api/datasets/%s/analyses" % bds["id"])
        assert st == 202 and ba["owner"] == str(b_id), (st, ba)

        def b_final():
            st, x = as_user(d, b, "GET", "/api/analyses/" + ba["id"])
            assert st == 200, (st, x)
            return x if x["state"] in ("done", "failed", "cancelled") else None
        assert wait_for(b_final, 60, "B's analysis")["state"] == "done"
        st, lst = as_user(d, b, "GET", "/api/analyses")
        assert [x["id"] for x in lst["analyses"]] == [ba["id"]], lst
        st, rep = as_user(d, b, "GET",
                          "/api/analyses/%s/report.json" % ba["id"])
        assert st == 200 and rep["rows"] == exp["rows"], st
        for path in ("/api/datasets/" + bds["id"],
                     "/api/analyses/" + ba["id"],
                     "/api/analyses/%s/report.json" % ba["id"]):
            st, _, body = d.request("GET", path)
            not_found(st, json.loads(body), path)

        # A still has everything of its own.
        lst = d.get_json("/api/datasets")["datasets"]
        assert [x["id"] for x in lst] == [ds["id"]], lst
        lst = d.get_json("/api/analyses")["analyses"]
        assert [x["id"] for x in lst] == [a["id"]], lst
        assert d.get_json("/api/datasets/" + ds["id"])["id"] == ds["id"]
        assert analysis(d, a["id"])["state"] == "done"
        for f in ("report.json", "report.html"):
            st, _, _ = d.request("GET", "/api/analyses/%s/%s" % (a["id"], f))
            assert st == 200, (f, st)
        st, _, body = d.request("POST", "/api/analyses/%s/cancel" % a["id"])
        assert st == 409, (st, body)  # A's, but already done
        st, _, body = d.request("DELETE", "/api/datasets/" + ds["id"])
        assert st == 200, (st, body)
        assert data_files(state) == [bds["id"] + ".csv"]
        assert d.stop() == 0

    # Records from before authentication (owner "local") are visible only
    # to requests without authentication, which plugin routes no longer
    # see: an authenticated caller gets 404 for them.
    db = sqlite3.connect(os.path.join(state, "assistd.db"))
    try:
        rows = db.execute("SELECT plugin, key, value FROM kv WHERE key = ? "
                          "OR key = ?", ("dataset:" + bds["id"],
                                         "analysis:" + ba["id"])).fetchall()
        assert len(rows) == 2, rows
        for plugin, key, value in rows:
            v = bytes(value).replace(b'"owner":"%d"' % b_id, b'"owner":"local"')
            assert b'"owner":"local"' in v, v
            db.execute("UPDATE kv SET value = ? WHERE plugin = ? AND key = ?",
                       (v, plugin, key))
        db.commit()
    finally:
        db.close()
    with Daemon(csv_config(state)) as d:
        st, lst = as_user(d, b, "GET", "/api/datasets")
        assert st == 200 and lst["datasets"] == [], lst
        st, lst = as_user(d, b, "GET", "/api/analyses")
        assert st == 200 and lst["analyses"] == [], lst
        for path in ("/api/datasets/" + bds["id"],
                     "/api/analyses/" + ba["id"],
                     "/api/analyses/%s/report.json" % ba["id"]):
            st, body = as_user(d, b, "GET", path)
            not_found(st, body, path)
        assert d.stop() == 0
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    run([test_upload_analyse_report, test_upload_limits_and_names,
         test_bad_input_fails_cleanly, test_big_analysis_responsive_cancel_delete,
         test_import_from_allowed_dirs, test_queued_analysis_survives_restart,
         test_datasets_and_analyses_are_per_user])
