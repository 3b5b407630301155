"""The audit log through the real daemon:

- plugins append through the SDK (actor = the instance name); details
  about a person are encrypted per person;
- GET /api/audit filters (subject, action, actor, after, limit);
- GDPR export returns the person's entries with decrypted details, and is
  itself audited; erasure via the API (audited) leaves the chain
  verifiable and the details unreadable;
- config reloads are audited with their outcome;
- `assistd audit verify` reports a modified row, a deleted row and two
  swapped rows, each with the first bad seq, exiting 1;
- the same chain on PostgreSQL (three entries, erase, verify, tamper).
"""
import json
import os
import shutil
import sqlite3

from assistd_test import Daemon, run, wait_for
from test_storage_backends import (PgBackend, PgServer, SqliteBackend,
                                   assistd_cli, pg_available, skip_pg,
                                   svc_config)

PG = None
EMAIL = "alice.martin@example.org"


def req(d, method, path, body=None, want=200):
    st, _, raw = d.request(method, path, body=body)
    assert st == want, (method, path, st, raw)
    return json.loads(raw) if raw else None


def plugin_audit(d, action, subject=None, details=None, target="x"):
    q = "action=%s&target=%s" % (action, target)
    if subject:
        q += "&subject=" + subject
    return req(d, "POST", "/svcfix/audit?" + q,
               body=details.encode() if details else None)["seq"]


def populate(d):
    s1 = plugin_audit(d, "contact.update", "p1",
                      json.dumps({"email": EMAIL}))
    plugin_audit(d, "contact.update", "p2", json.dumps({"email": "b@x.org"}))
    plugin_audit(d, "reminder.send", "p1", json.dumps({"when": "09:00"}))
    plugin_audit(d, "inbox.sync", None, '{"messages":3}')
    plugin_audit(d, "contact.view", "p1", json.dumps({"email": EMAIL}))
    return s1


def verify(cfg):
    return assistd_cli("audit", "verify", "--config", cfg)


def test_audit_sqlite():
    b = SqliteBackend()
    try:
        cfg = svc_config(b)
        with Daemon(cfg) as d:
            first = populate(d)
            # Reload outcomes are audited.
            d.reload()
            d.write_config("server: [not, a, map]\n")
            d.reload(expect_ok=False)
            d.write_config(d.yaml_template)

            a = req(d, "GET", "/api/audit?subject=p1")["entries"]
            assert [e["action"] for e in a] == ["contact.update",
                                                "reminder.send",
                                                "contact.view"]
            assert all(e["actor"] == "work" for e in a), a
            assert json.loads(a[0]["details"]) == {"email": EMAIL}
            a = req(d, "GET", "/api/audit?action=contact.update")["entries"]
            assert [e["subject"] for e in a] == ["p1", "p2"]
            a = req(d, "GET", "/api/audit?actor=system:daemon&"
                              "action=config.reload")["entries"]
            assert [e["outcome"] for e in a] == ["ok", "error"], a
            page = req(d, "GET", "/api/audit?actor=work&limit=2&after=%d"
                       % first)
            assert [e["seq"] for e in page["entries"]] == [first + 1,
                                                          first + 2]
            assert page["next_after"] == first + 2
            req(d, "GET", "/api/audit?limit=5000", want=400)

            ex = req(d, "GET", "/api/audit/subjects/p1/export")
            assert ex["subject"] == "p1" and not ex["erased"]
            assert [e["details"] for e in ex["entries"]] == [
                {"email": EMAIL}, {"when": "09:00"}, {"email": EMAIL}]
            # Stored encrypted: the address is nowhere in clear.
            c = sqlite3.connect(b.path)
            rows = c.execute("SELECT details FROM audit_log WHERE subject = "
                             "'p1'").fetchall()
            c.close()
            assert rows and all(r[0].startswith("e1:") for r in rows)

            r = req(d, "POST", "/api/audit/subjects/p1/erase")
            assert r == {"subject": "p1", "erased": True}
            req(d, "POST", "/api/audit/subjects/p1/erase", want=404)
            ex = req(d, "GET", "/api/audit/subjects/p1/export")
            assert ex["erased"] and len(ex["entries"]) == 3
            assert all(e["details"] is None and e["details_error"] == "erased"
                       for e in ex["entries"]), ex
            a = req(d, "GET", "/api/audit?subject=p1")["entries"]
            assert all(e["details"] is None for e in a)
            # p2 is untouched.
            assert req(d, "GET", "/api/audit/subjects/p2/export")[
                "entries"][0]["details"] == {"email": "b@x.org"}
            # Export and erase are themselves in the log.
            acts = [(e["action"], e["target"], e["outcome"]) for e in
                    req(d, "GET", "/api/audit?actor=" + d.admin_actor)["entries"]]
            assert ("audit.export_subject", "p1", "ok") in acts
            assert ("audit.erase_subject", "p1", "ok") in acts
            assert ("audit.erase_subject", "p1", "not_found") in acts
            assert d.stop() == 0
        rc, out = verify(d.config)
        assert rc == 0 and out.startswith("audit log OK"), out
        nrows = int(out.split(":")[1].split()[0])
        with open(b.path, "rb") as f:
            assert EMAIL.encode() not in f.read()

        # Tampering, each on a copy of the database.
        def tampered(name, sql):
            p = os.path.join(b.dir, name + ".db")
            shutil.copy(b.path, p)
            c = sqlite3.connect(p)
            c.executescript("DROP TRIGGER audit_log_no_update;"
                            "DROP TRIGGER audit_log_no_delete;" + sql)
            c.commit()
            c.close()
            y = os.path.join(b.dir, name + ".yaml")
            with open(y, "w") as f:
                f.write('storage: "sqlite:%s"\nsecrets: {key_file: %s}\n'
                        % (p, b.key_file))
            return verify(y)
        rc, out = tampered("modified", "UPDATE audit_log SET outcome = "
                                       "'denied' WHERE seq = 3;")
        assert rc == 1 and "BROKEN at seq 3: modified" in out, out
        rc, out = tampered("deleted", "DELETE FROM audit_log WHERE seq = 4;")
        assert rc == 1 and "at seq 4: gap" in out, out
        rc, out = tampered("reordered", """
            CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (2, 3);
            UPDATE audit_log SET ts_ms = (SELECT ts_ms FROM t WHERE seq = 3),
              actor = (SELECT actor FROM t WHERE seq = 3),
              action = (SELECT action FROM t WHERE seq = 3),
              target = (SELECT target FROM t WHERE seq = 3),
              outcome = (SELECT outcome FROM t WHERE seq = 3),
              subject = (SELECT subject FROM t WHERE seq = 3),
              details = (SELECT details FROM t WHERE seq = 3),
              prev_hash = (SELECT prev_hash FROM t WHERE seq = 3),
              hash = (SELECT hash FROM t WHERE seq = 3) WHERE seq = 2;
            UPDATE audit_log SET ts_ms = (SELECT ts_ms FROM t WHERE seq = 2),
              actor = (SELECT actor FROM t WHERE seq = 2),
              action = (SELECT action FROM t WHERE seq = 2),
              target = (SELECT target FROM t WHERE seq = 2),
              outcome = (SELECT outcome FROM t WHERE seq = 2),
              subject = (SELECT subject FROM t WHERE seq = 2),
              details = (SELECT details FROM t WHERE seq = 2),
              prev_hash = (SELECT prev_hash FROM t WHERE seq = 2),
              hash = (SELECT hash FROM t WHERE seq = 2) WHERE seq = 3;""")
        assert rc == 1 and "BROKEN at seq 2: reordered" in out, out
        rc, out = tampered("truncated", "DELETE FROM audit_log WHERE seq = %d;"
                           % nrows)
        assert rc == 1 and "truncated" in out, out
        print("     %d entries verified; modified, gap, reordered and "
              "truncated each reported" % nrows, flush=True)
    finally:
        b.close()


def test_audit_postgresql():
    global PG
    if not pg_available():
        skip_pg("the audit log on PostgreSQL")
        return
    PG = PG or PgServer()
    b = PgBackend(PG)
    try:
        cfg = svc_config(b)
        ds = [Daemon(cfg), Daemon(cfg)]
        try:
            # Two daemons append to one chain concurrently.
            for i in range(10):
                plugin_audit(ds[i % 2], "contact.update", "p%d" % (i % 3),
                             json.dumps({"n": i}))
            req(ds[0], "POST", "/api/audit/subjects/p1/erase")
            ex = req(ds[1], "GET", "/api/audit/subjects/p1/export")
            assert ex["erased"] and all(e["details"] is None
                                        for e in ex["entries"])
            ex = req(ds[1], "GET", "/api/audit/subjects/p2/export")
            assert [e["details"]["n"] for e in ex["entries"]] == [2, 5, 8]
            for d in ds:
                assert d.stop() == 0
        finally:
            for d in ds:
                d.__exit__()
        rc, out = verify(ds[0].config)
        assert rc == 0 and out.startswith("audit log OK"), out
        PG.psql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;"
                "UPDATE audit_log SET target = 'y' WHERE seq = 5", db=b.db)
        rc, out = verify(ds[0].config)
        assert rc == 1 and "BROKEN at seq 5: modified" in out, out
    finally:
        b.close()


if __name__ == "__main__":
    try:
        run([test_audit_sqlite, test_audit_postgresql])
    finally:
        if PG is not None:
            PG.close()
