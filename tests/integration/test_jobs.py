"""The jobs REST API and job metrics through the real daemon, on SQLite and
on PostgreSQL: GET /api/jobs (filters, paging), GET /api/jobs/{id}, cancel
and retry (audited), schedules (PUT/GET/DELETE, firing), JSON errors, and
the job series in /metrics.
"""
import json

from assistd_test import Daemon, base_config, run, wait_for
from test_storage_backends import (PgBackend, PgServer, SqliteBackend,
                                   all_jobs, metric, pg_available, skip_pg)

PG = None


def backends():
    global PG
    yield SqliteBackend()
    if pg_available():
        if PG is None:
            PG = PgServer()
        yield PgBackend(PG)
    else:
        skip_pg("the PostgreSQL half of this test")


def config(b):
    return base_config(
        extra=b.config() + "jobs:\n  lease: 5s\n  poll: 500ms\n",
        plugins="""  - name: work
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
  - name: slow
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
    options: {delay_ms: 60000, concurrency: 1, prefix: /slow}
""")


def req_json(d, method, path, body=None, want=200):
    st, _, raw = d.request(method, path, body=body)
    assert st == want, (method, path, st, raw)
    return json.loads(raw) if raw else None


def err(d, method, path, want, body=None):
    r = req_json(d, method, path, body, want)
    assert r["error"]["status"] == want and r["error"]["message"], r
    return r["error"]["message"]


def check_api(d, b):
    # 20 jobs that succeed (instance "work").
    r = req_json(d, "POST", "/svcfix/enqueue?n=20")
    wait_for(lambda: len(all_jobs(d, kind="work.mark", state="succeeded"))
             == 20, 30, "20 jobs done")
    # Paging: 7 + 7 + 6, in id order, next_after_id null at the end.
    ids, after = [], 0
    sizes = []
    while after is not None:
        page = req_json(d, "GET", "/api/jobs?kind=work.mark&limit=7&after_id=%d"
                        % after)
        sizes.append(len(page["jobs"]))
        ids += [j["id"] for j in page["jobs"]]
        after = page["next_after_id"]
    assert sizes[:3] == [7, 7, 6] and ids == sorted(ids), (sizes, ids)
    assert ids == list(range(r["first"], r["last"] + 1))
    j = req_json(d, "GET", "/api/jobs/%d" % r["first"])
    assert j["kind"] == "work.mark" and j["state"] == "succeeded"
    assert j["payload"] == {"i": 0} and j["attempts"] == 1 and j["finished_at"]
    assert all_jobs(d, kind="work.mark", state="dead") == []
    # Errors are JSON like the rest of the server.
    err(d, "GET", "/api/jobs/999999", 404)
    err(d, "GET", "/api/jobs/abc", 400)
    err(d, "GET", "/api/jobs?state=bogus", 400)
    err(d, "GET", "/api/jobs?limit=0", 400)
    err(d, "GET", "/api/jobs?after_id=-3", 400)

    # A job that fails on purpose with max_attempts 1: dead, then retried.
    f = req_json(d, "POST", "/svcfix/enqueue?n=1&fail=1&max_attempts=1")
    fid = f["first"]
    wait_for(lambda: req_json(d, "GET", "/api/jobs/%d" % fid)["state"] ==
             "dead", 30, "job dead")
    j = req_json(d, "GET", "/api/jobs/%d" % fid)
    assert j["last_error"] == "failing on purpose", j
    msg = err(d, "POST", "/api/jobs/%d/cancel" % fid, 409)
    assert "dead" in msg, msg
    j = req_json(d, "POST", "/api/jobs/%d/retry" % fid)
    assert j["state"] in ("queued", "running", "dead"), j
    wait_for(lambda: req_json(d, "GET", "/api/jobs/%d" % fid)["attempts"] >= 1
             and req_json(d, "GET", "/api/jobs/%d" % fid)["state"] == "dead",
             30, "dead again")
    err(d, "POST", "/api/jobs/999999/retry", 404)
    err(d, "POST", "/api/jobs/%d/retry" % r["first"], 409)  # succeeded

    # Schedules: the slow kind every second; the first fire runs (for a
    # minute, concurrency 1), the next ones queue up and can be cancelled.
    s = req_json(d, "PUT", "/api/schedules/tick",
                 body=json.dumps({"kind": "slow.mark", "interval_s": 1,
                                  "payload": {"from": "schedule"}}))
    assert s == {"name": "tick", "saved": True}
    req_json(d, "PUT", "/api/schedules/nightly",
             body=json.dumps({"kind": "work.mark", "cron": "30 2 * * *",
                              "tz": "Europe/Paris"}))
    lst = req_json(d, "GET", "/api/schedules")["schedules"]
    names = {x["name"]: x for x in lst}
    assert names["tick"]["interval_s"] == 1 and names["tick"]["payload"] == \
        {"from": "schedule"}
    assert names["nightly"]["cron"] == "30 2 * * *" and \
        names["nightly"]["tz"] == "Europe/Paris"
    err(d, "PUT", "/api/schedules/bad", 400,
        body=json.dumps({"kind": "x", "cron": "61 * * * *"}))
    err(d, "PUT", "/api/schedules/bad", 400,
        body=json.dumps({"kind": "x", "cron": "* * * * *", "tz": "Mars/Base"}))
    err(d, "PUT", "/api/schedules/bad", 400, body=b"{not json")
    err(d, "PUT", "/api/schedules/bad", 400,
        body=json.dumps({"kind": "x", "interval_s": 5, "cron": "* * * * *"}))
    wait_for(lambda: len(all_jobs(d, kind="slow.mark", state="queued")) >= 1
             and all_jobs(d, kind="slow.mark", state="running"), 30,
             "one slow job running, one queued")
    # Queue depth (refreshed every poll) sees the waiting one.
    wait_for(lambda: metric(d, "assist_jobs_queue_depth", 'kind="slow.mark"')
             >= 1, 10, "queue depth of slow.mark")
    slow = all_jobs(d, kind="slow.mark")
    assert any(j["state"] == "queued" for j in slow), slow
    queued = all_jobs(d, kind="slow.mark", state="queued")[0]
    running = all_jobs(d, kind="slow.mark", state="running")[0]
    assert running["lease_owner"]
    j = req_json(d, "POST", "/api/jobs/%d/cancel" % queued["id"])
    assert j["state"] == "cancelled", j
    msg = err(d, "POST", "/api/jobs/%d/cancel" % queued["id"], 409)
    assert "cancelled" in msg
    j = req_json(d, "POST", "/api/jobs/%d/retry" % queued["id"])
    assert j["state"] == "queued", j
    j = req_json(d, "POST", "/api/jobs/%d/cancel" % running["id"])
    assert j["state"] == "cancelled", j
    assert d.request("DELETE", "/api/schedules/tick")[0] == 204
    err(d, "DELETE", "/api/schedules/tick", 404)
    assert "tick" not in {x["name"] for x in
                          req_json(d, "GET", "/api/schedules")["schedules"]}

    # Every cancel and retry through the API is in the audit log.
    a = req_json(d, "GET", "/api/audit?action=job.cancel&limit=100")
    outcomes = [(e["target"], e["outcome"], e["actor"]) for e in a["entries"]]
    assert ("job:%d" % queued["id"], "ok", d.admin_actor) in outcomes
    assert ("job:%d" % queued["id"], "conflict", d.admin_actor) in outcomes
    assert ("job:%d" % fid, "conflict", d.admin_actor) in outcomes
    a = req_json(d, "GET", "/api/audit?action=job.retry")
    assert ("job:%d" % fid, "ok") in [(e["target"], e["outcome"])
                                      for e in a["entries"]]
    a = req_json(d, "GET", "/api/audit?action=schedule.put")
    assert {e["target"] for e in a["entries"]} >= {"schedule:tick",
                                                   "schedule:nightly"}

    # Job metrics, by kind and state, through the daemon.
    assert metric(d, "assist_jobs_total",
                  'kind="work.mark",state="succeeded"') >= 20
    assert metric(d, "assist_jobs_total",
                  'kind="work.mark",state="dead"') >= 2
    assert metric(d, "assist_job_failures_total", 'kind="work.mark"') >= 2
    assert metric(d, "assist_job_run_seconds_count", 'kind="work.mark"') >= 22
    assert metric(d, "assist_job_run_seconds_bucket",
                  'kind="work.mark",le="+Inf"') >= 22
    assert metric(d, "assist_jobs_total",
                  'kind="slow.mark",state="cancelled"') == 2
    st, _, body = d.request("GET", "/metrics")
    text = body.decode()
    for fam in ("assist_jobs_total", "assist_job_run_seconds",
                "assist_jobs_queue_depth", "assist_job_failures_total"):
        assert "# TYPE %s " % fam in text, fam


def test_jobs_api_both_backends():
    for b in backends():
        try:
            with Daemon(config(b)) as d:
                check_api(d, b)
                assert d.stop() == 0
            print("     %s: ok" % b.name, flush=True)
        finally:
            b.close()


if __name__ == "__main__":
    try:
        run([test_jobs_api_both_backends])
    finally:
        if PG is not None:
            PG.close()
