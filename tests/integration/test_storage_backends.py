"""Helpers shared by test_storage*.py, test_jobs.py and test_audit.py (not
a test itself): the two storage backends, a throw-away PostgreSQL started
with tests/harness/pg-start.sh, direct SQL for checking what the daemon
stored, and configurations with the svcfix fixture plugin.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time

from assistd_test import SOURCE_ROOT, base_config, wait_for

PG_BIN = os.environ.get("ASSIST_PG_BIN", "/usr/lib/postgresql/15/bin")
HARNESS = os.path.join(SOURCE_ROOT, "tests", "harness")


def pg_available():
    return os.path.exists(os.path.join(PG_BIN, "initdb"))


def skip_pg(what):
    print("SKIP %s: PostgreSQL binaries not found in %s (install postgresql "
          "or set ASSIST_PG_BIN)" % (what, PG_BIN), flush=True)


class PgServer:
    """One PostgreSQL cluster in a temp dir; a fresh database per use."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="assist-it-pg-")
        self.start()
        self.ndb = 0

    def start(self):
        out = subprocess.run([os.path.join(HARNESS, "pg-start.sh"), self.dir],
                             check=True, capture_output=True, text=True).stdout
        vals = dict(line.split("=", 1) for line in out.split() if "=" in line)
        self.port = vals["PG_PORT"]
        self.sock = os.path.join(self.dir, "pg", "sock")

    def stop(self, keep=True):
        subprocess.run([os.path.join(HARNESS, "pg-stop.sh"), self.dir] +
                       (["--keep"] if keep else []), check=True)

    def close(self):
        self.stop(keep=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, sql, db="postgres", user="postgres"):
        r = subprocess.run(
            [os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v",
             "ON_ERROR_STOP=1", "-h", self.sock, "-p", self.port, "-U", user,
             "-d", db, "-c", sql],
            capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("psql failed: %s" % r.stderr)
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def new_db(self):
        self.ndb += 1
        name = "t%d" % self.ndb
        self.psql("CREATE DATABASE %s OWNER test" % name)
        return name

    def uri(self, db):
        return "postgresql://test:test@127.0.0.1:%s/%s" % (self.port, db)


class SqliteBackend:
    name = "sqlite"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="assist-it-db-")
        self.path = os.path.join(self.dir, "assist.db")
        self.storage = "sqlite:" + self.path
        self.key_file = self.path + ".key"  # the default, made on first run

    def config(self, secrets=None):
        return 'storage: "%s"\n%s' % (self.storage, secrets or "")

    def query(self, sql):
        c = sqlite3.connect(self.path, timeout=10)
        try:
            rows = [list(r) for r in c.execute(sql).fetchall()]
            c.commit()
            return rows
        finally:
            c.close()

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class PgBackend:
    name = "postgresql"

    def __init__(self, server):
        self.server = server
        self.db = server.new_db()
        self.storage = server.uri(self.db)
        self.dir = tempfile.mkdtemp(prefix="assist-it-key-")
        self.key_file = os.path.join(self.dir, "master.key")

    def config(self, secrets=None):
        return 'storage: "%s"\n%s' % (self.storage, secrets or (
            "secrets:\n  key_file: %s\n  create: true\n" % self.key_file))

    def query(self, sql):
        rows = self.server.psql(sql, db=self.db)
        return [[int(v) if re.fullmatch(r"-?\d+", v) else v for v in r]
                for r in rows]

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def scalar(backend, sql):
    return backend.query(sql)[0][0]


def svc_config(backend, instance="work", delay_ms=0, concurrency=16,
               lease="2s", extra="", more_plugins="", secrets=None):
    return base_config(
        extra=backend.config(secrets) + "jobs:\n  lease: %s\n  poll: 500ms\n%s"
        % (lease, extra),
        plugins="""  - name: %s
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
    options:
      delay_ms: %d
      concurrency: %d
      prefix: /svcfix
%s""" % (instance, delay_ms, concurrency, more_plugins))


def metric(d, name, labels):
    """The value of one series in /metrics (0 when absent)."""
    st, _, body = d.request("GET", "/metrics")
    assert st == 200
    want = "%s{%s}" % (name, labels)
    for line in body.decode().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def all_jobs(d, **filters):
    """Every job through GET /api/jobs, following next_after_id."""
    out, after = [], 0
    while True:
        q = "&".join("%s=%s" % kv for kv in filters.items())
        st, _, body = d.request(
            "GET", "/api/jobs?limit=1000&after_id=%d%s" %
            (after, "&" + q if q else ""))
        assert st == 200, body
        import json
        page = json.loads(body)
        out += page["jobs"]
        if page["next_after_id"] is None:
            return out
        after = page["next_after_id"]


def wait_sql(backend, sql, want, timeout=120, what=None):
    """Polls a scalar query until it equals want."""
    last = [None]

    def ok():
        last[0] = scalar(backend, sql)
        return last[0] == want
    try:
        wait_for(ok, timeout, what or sql)
    except AssertionError:
        raise AssertionError("%s: %r, expected %r" % (what or sql, last[0],
                                                      want))


def sleep(s):
    time.sleep(s)


def new_key_file(path):
    """A fresh master key file (64 hex characters, mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    return path


def assistd_cli(*args):
    """Runs `assistd ARGS...`; returns (exit status, stdout + stderr)."""
    from assistd_test import ASSISTD
    r = subprocess.run([ASSISTD] + list(args), capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout + r.stderr
