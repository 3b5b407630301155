"""Storage and durable jobs through the real daemon, on SQLite and on a
PostgreSQL started here (tests/harness/pg-start.sh):

- crash safety: 10,000 jobs whose handler (the svcfix fixture) records a
  side effect under the job id; the daemon is SIGKILLed mid-run and
  restarted; every job ends succeeded exactly once, with exactly one
  side-effect key each, none lost; then the same with three daemons on
  one PostgreSQL, one of them SIGKILLed;
- the database going away and coming back (PostgreSQL): /ready 503 with
  the reason, /health 200 and HTTP still served, then /ready 200 and the
  jobs resume and finish;
- plugin kv data survives a restart.
"""
import json
import signal
import sys

from assistd_test import Daemon, run, wait_for
from test_storage_backends import (PgBackend, PgServer, SqliteBackend,
                                   all_jobs, metric, pg_available, scalar,
                                   skip_pg, svc_config, wait_sql)

N = 10000
PG = None


def pg():
    global PG
    if PG is None:
        PG = PgServer()
    return PG


def backends():
    yield SqliteBackend()
    if pg_available():
        yield PgBackend(pg())
    else:
        skip_pg("the PostgreSQL half of this test")


def done_count(b):
    return scalar(b, "SELECT count(*) FROM kv WHERE plugin = 'svcfix/work' "
                     "AND key LIKE 'done:%'")


def check_exactly_once(b, n):
    """n jobs of work.mark, all succeeded, one side-effect key each, no
    stray key; returns how many ran more than once (at-least-once delivery
    made idempotent by the key)."""
    jobs = scalar(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark'")
    ok = scalar(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark' AND "
                   "state = 'succeeded'")
    keys = done_count(b)
    missing = scalar(b, "SELECT count(*) FROM jobs j WHERE j.kind = "
                        "'work.mark' AND NOT EXISTS (SELECT 1 FROM kv WHERE "
                        "plugin = 'svcfix/work' AND key = 'done:' || j.id)")
    stray = scalar(b, "SELECT count(*) FROM kv WHERE plugin = 'svcfix/work' "
                      "AND key LIKE 'done:%' AND NOT EXISTS (SELECT 1 FROM "
                      "jobs j WHERE j.kind = 'work.mark' AND "
                      "'done:' || j.id = kv.key)")
    assert (jobs, ok, keys, missing, stray) == (n, n, n, 0, 0), \
        dict(jobs=jobs, succeeded=ok, keys=keys, missing=missing, stray=stray)
    text = "CAST(value AS TEXT)" if b.name == "sqlite" else \
        "convert_from(value, 'UTF8')"
    return scalar(b, "SELECT count(*) FROM kv WHERE plugin = 'svcfix/work' "
                     "AND key LIKE 'done:%%' AND %s <> '1'" % text)


def enqueue(d, n):
    st, _, body = d.request("POST", "/svcfix/enqueue?n=%d" % n, timeout=120)
    assert st == 200, body
    r = json.loads(body)
    assert r["enqueued"] == n and r["last"] - r["first"] == n - 1, r
    return r


def succeeded_metric(d):
    return metric(d, "assist_jobs_total", 'kind="work.mark",state="succeeded"')


def crash_once(b):
    cfg = svc_config(b, delay_ms=5, concurrency=8)
    with Daemon(cfg) as d:
        enqueue(d, N)
        wait_for(lambda: succeeded_metric(d) >= 1000, 120, "1000 jobs done")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
    at_kill = scalar(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark' "
                        "AND state = 'succeeded'")
    running = scalar(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark' "
                        "AND state = 'running'")
    assert 0 < at_kill < N, "the kill did not land mid-run (%d done)" % at_kill
    with Daemon(cfg) as d:
        wait_sql(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark' AND "
                    "state = 'succeeded'", N, 180, "all jobs succeeded")
        reruns = check_exactly_once(b, N)
        # The same through the REST API.
        done = all_jobs(d, state="succeeded", kind="work.mark")
        assert len(done) == N and len({j["id"] for j in done}) == N
        assert all_jobs(d, kind="work.mark", state="queued") == []
        d.stop()
    print("     %s: %d done at SIGKILL (%d running), %d/%d after restart, "
          "%d ran twice (same key)" % (b.name, at_kill, running, N, N, reruns),
          flush=True)


def test_crash_mid_run_restart():
    for b in backends():
        try:
            crash_once(b)
        finally:
            b.close()


def test_crash_three_daemons_one_postgresql():
    if not pg_available():
        skip_pg("three daemons on one PostgreSQL")
        return
    b = PgBackend(pg())
    cfg = svc_config(b, delay_ms=10, concurrency=8)
    ds = [Daemon(cfg) for _ in range(3)]
    try:
        enqueue(ds[0], N)
        wait_for(lambda: sum(succeeded_metric(d) for d in ds) >= 1500, 120,
                 "1500 jobs done")
        # Every daemon takes part (NOTIFY wakes the others).
        per = [succeeded_metric(d) for d in ds]
        victim = ds[1]
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        at_kill = scalar(b, "SELECT count(*) FROM jobs WHERE state = "
                            "'succeeded'")
        assert at_kill < N, "the kill did not land mid-run"
        wait_sql(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark' AND "
                    "state = 'succeeded'", N, 180, "all jobs succeeded")
        reruns = check_exactly_once(b, N)
        for d in (ds[0], ds[2]):
            assert d.stop() == 0
        print("     per daemon before the kill: %s; %d done at SIGKILL; "
              "%d ran twice (same key)" % (per, at_kill, reruns), flush=True)
        assert all(p > 0 for p in per), per
    finally:
        for d in ds:
            d.__exit__()
        b.close()


def test_database_away_and_back():
    if not pg_available():
        skip_pg("database away and back")
        return
    b = PgBackend(pg())
    srv = pg()
    n = 3000
    with Daemon(svc_config(b, delay_ms=20, concurrency=8)) as d:
        assert d.request("GET", "/ready")[0] == 200
        enqueue(d, n)
        wait_for(lambda: succeeded_metric(d) >= 300, 60, "300 jobs done")
        srv.stop(keep=True)
        try:
            def not_ready():
                st, _, body = d.request("GET", "/ready")
                return (st, json.loads(body)) if st == 503 else None
            st, body = wait_for(not_ready, 30, "/ready 503")
            reason = body["checks"]["database"]
            assert reason != "ok" and reason, body
            assert d.request("GET", "/health")[0] == 200
            # /api routes need the database to check the caller's token.
            assert d.request("GET", "/metrics")[0] == 200
            assert d.request("GET", "/api/plugins")[0] == 503
            st, _, _ = d.request("POST", "/svcfix/enqueue?n=1")
            assert st == 503, st
            st, _, _ = d.request("GET", "/api/jobs")
            assert st == 503, st
        finally:
            srv.start()
        wait_for(lambda: d.request("GET", "/ready")[0] == 200, 60,
                 "/ready 200 again")
        try:
            wait_sql(b, "SELECT count(*) FROM jobs WHERE kind = 'work.mark' "
                        "AND state = 'succeeded'", n, 180,
                     "jobs resumed and finished")
        except AssertionError:
            # Say where the missing jobs are (state, attempts, error).
            for row in b.query("SELECT state, attempts, run_at, "
                               "lease_until, last_error FROM jobs WHERE "
                               "kind = 'work.mark' AND state <> 'succeeded' "
                               "LIMIT 20"):
                print("     unfinished:", row, flush=True)
            raise
        reruns = check_exactly_once(b, n)
        assert d.stop() == 0
    print("     not ready: %r; %d/%d done after the restart, %d ran twice" %
          (reason, n, n, reruns), flush=True)
    b.close()


def test_kv_survives_restart():
    for b in backends():
        try:
            cfg = svc_config(b)
            with Daemon(cfg) as d:
                st, _, _ = d.request("PUT", "/svcfix/secret/k1?context=c",
                                     body=b"kept across restarts")
                assert st == 204
                assert d.stop() == 0
            with Daemon(cfg) as d:
                st, _, body = d.request("GET", "/svcfix/secret/k1?context=c")
                assert (st, body) == (200, b"kept across restarts"), (st, body)
                assert d.stop() == 0
        finally:
            b.close()


if __name__ == "__main__":
    try:
        run([test_kv_survives_restart, test_crash_mid_run_restart,
             test_crash_three_daemons_one_postgresql,
             test_database_away_and_back])
    finally:
        if PG is not None:
            PG.close()
