"""Secrets through the real daemon and the SDK (svcfix fixture), on SQLite
and on PostgreSQL:

- a value stored through secret_encrypt + kv_put is not readable in the
  database (SQLite: not in the file's bytes; both: the stored value is a
  ciphertext);
- a tampered ciphertext, another context, another instance, an expired or
  forged token are each rejected;
- key rotation (`assistd secrets rotate`) re-encrypts plugin values and
  re-wraps audit keys: afterwards the daemon runs with the new key only and
  everything still decrypts, and the audit chain verifies.
"""
import json
import os
import time
import urllib.parse

from assistd_test import Daemon, run
from test_storage_backends import (PgBackend, PgServer, SqliteBackend,
                                   assistd_cli, new_key_file, pg_available,
                                   scalar, skip_pg, svc_config)

PG = None
PLAIN = b"super-secret-refresh-token-4f1c9a"


def backends():
    global PG
    yield SqliteBackend()
    if pg_available():
        if PG is None:
            PG = PgServer()
        yield PgBackend(PG)
    else:
        skip_pg("the PostgreSQL half of this test")


OTHER = """  - name: other
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
    options: {prefix: /other}
"""


def stored(b, scope="svcfix/work", key="secret:tok"):
    v = b.query("SELECT value FROM kv WHERE plugin = '%s' AND key = '%s'" %
                (scope, key))[0][0]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, str) and v.startswith("\\x"):  # psql bytea hex
        return bytes.fromhex(v[2:]).decode()
    return str(v)


def set_stored(b, value, scope="svcfix/work", key="secret:tok"):
    lit = ("CAST('%s' AS BLOB)" if b.name == "sqlite" else
           "convert_to('%s', 'UTF8')") % value
    b.query("UPDATE kv SET value = %s WHERE plugin = '%s' AND key = '%s'"
            % (lit, scope, key))


def check_backend(b):
    cfg = svc_config(b, more_plugins=OTHER)
    with Daemon(cfg) as d:
        st, _, _ = d.request("PUT", "/svcfix/secret/tok?context=oauth:refresh",
                             body=PLAIN)
        assert st == 204
        st, _, body = d.request("GET",
                                "/svcfix/secret/tok?context=oauth:refresh")
        assert (st, body) == (200, PLAIN), (st, body)
        # Not readable in the database.
        ct = stored(b)
        assert ct.startswith("ps1:") and PLAIN.decode() not in ct, ct
        if b.name == "sqlite":
            for suffix in ("", "-wal"):
                p = b.path + suffix
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        assert PLAIN not in f.read(), "plaintext in " + p
        # Another context, another instance: refused.
        st, _, body = d.request("GET", "/svcfix/secret/tok?context=other")
        assert st == 400 and b"bad message" in body, (st, body)
        b.query("INSERT INTO kv (plugin, key, value, updated_at) SELECT "
                "'svcfix/other', key, value, updated_at FROM kv WHERE "
                "plugin = 'svcfix/work' AND key = 'secret:tok'")
        st, _, body = d.request("GET",
                                "/other/secret/tok?context=oauth:refresh")
        assert st == 400, (st, body)
        b.query("DELETE FROM kv WHERE plugin = 'svcfix/other'")
        st, _, _ = d.request("PUT", "/other/secret/o1?context=c", body=b"o1")
        assert st == 204
        # Tampered: one character of the ciphertext changed.
        i = len(ct) - 10
        bad = ct[:i] + ("A" if ct[i] != "A" else "B") + ct[i + 1:]
        set_stored(b, bad)
        st, _, body = d.request("GET",
                                "/svcfix/secret/tok?context=oauth:refresh")
        assert st == 400 and b"bad message" in body, (st, body)
        set_stored(b, ct)
        assert d.request("GET", "/svcfix/secret/tok?context=oauth:refresh"
                         )[2] == PLAIN

        # Tokens: valid, wrong purpose, other instance, forged, expired.
        st, _, tok = d.request("POST", "/svcfix/token?purpose=rsvp&ttl=1",
                               body=b"event:42")
        assert st == 200, tok
        tok = tok.decode()

        def verify(prefix, purpose, t):
            st, _, body = d.request("GET", "%s/verify?purpose=%s&token=%s" % (
                prefix, purpose, urllib.parse.quote(t)))
            return st, body
        assert verify("/svcfix", "rsvp", tok) == (200, b"event:42")
        assert verify("/svcfix", "login", tok) == (401, b"bad")
        assert verify("/other", "rsvp", tok) == (401, b"bad")
        forged = tok[:-3] + ("x" if tok[-3] != "x" else "y") + tok[-2:]
        assert verify("/svcfix", "rsvp", forged) == (401, b"bad")
        time.sleep(2.2)
        assert verify("/svcfix", "rsvp", tok) == (401, b"expired")

        # An audit entry about a person, for the rotation below.
        st, _, body = d.request(
            "POST", "/svcfix/audit?action=contact.update&subject=p7&target=c:7",
            body=b'{"phone":"+33 6 12 34 56 78"}')
        assert st == 200, body
        assert d.stop() == 0

    # ---- rotation ----
    old = b.key_file
    new = new_key_file(os.path.join(os.path.dirname(old), "new.key"))
    rotating = "secrets:\n  key_file: %s\n  previous_key_files: [%s]\n" % (
        new, old)
    only_new = "secrets:\n  key_file: %s\n" % new
    # With only the new key, nothing old can be read: the rotation matters.
    with Daemon(svc_config(b, more_plugins=OTHER, secrets=only_new)) as d:
        st, _, _ = d.request("GET", "/svcfix/secret/tok?context=oauth:refresh")
        assert st == 400, st
        assert d.stop() == 0
    cfgfile = os.path.join(os.path.dirname(new), "rotate.yaml")
    with open(cfgfile, "w") as f:
        f.write(b.config(rotating) + "plugins: []\n")
    rc, out = assistd_cli("secrets", "rotate", "--config", cfgfile)
    assert rc == 0, out
    assert "plugin values: 2 re-encrypted" in out, out  # work's and other's
    assert "audit subject keys: 1 re-wrapped" in out, out
    new_id = stored(b).split(":")[3]
    assert stored(b) != ct and new_id != ct.split(":")[3]
    rc, out2 = assistd_cli("secrets", "rotate", "--config", cfgfile)
    assert rc == 0 and "0 re-encrypted, 2 already under key" in out2, out2
    with open(cfgfile, "w") as f:
        f.write(b.config(only_new) + "plugins: []\n")
    rc, vout = assistd_cli("audit", "verify", "--config", cfgfile)
    assert rc == 0 and vout.startswith("audit log OK"), vout
    with Daemon(svc_config(b, more_plugins=OTHER, secrets=only_new)) as d:
        st, _, body = d.request("GET",
                                "/svcfix/secret/tok?context=oauth:refresh")
        assert (st, body) == (200, PLAIN), (st, body)
        st, _, body = d.request("GET", "/other/secret/o1?context=c")
        assert (st, body) == (200, b"o1"), (st, body)
        ex = json.loads(d.request("GET", "/api/audit/subjects/p7/export")[2])
        assert ex["entries"][0]["details"] == {"phone": "+33 6 12 34 56 78"}
        assert d.stop() == 0
    print("     %s: %s" % (b.name, out.strip().splitlines()[0]), flush=True)


def test_secrets_both_backends():
    for b in backends():
        try:
            check_backend(b)
        finally:
            b.close()


if __name__ == "__main__":
    try:
        run([test_secrets_both_backends])
    finally:
        if PG is not None:
            PG.close()
