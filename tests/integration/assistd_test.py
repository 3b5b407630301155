"""Helpers for integration tests that run the real assistd binary.

Every test gets a private temp dir, a free loopback port and a generated
YAML file; the daemon's stderr (JSON log lines) is kept in the temp dir and
printed when a test fails. Only the standard library is used.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ASSISTD = os.environ.get("ASSISTD", "build/core/daemon/assistd")
PLUGIN_DIR = os.environ.get("PLUGIN_DIR", "build/plugins")
FIXTURE_DIR = os.environ.get("FIXTURE_DIR", "build/tests/fixtures")
SOURCE_ROOT = os.environ.get("SOURCE_ROOT", ".")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


ADMIN_EMAIL = "admin@test"

# Credentials made by `assistd admin create`, by storage URL: daemons that
# share a database (restarts, several daemons on one database) share its
# admin and token, as an operator's would.
_CREDENTIALS = {}


def admin_create(config, email=ADMIN_EMAIL, token="tests",
                 scopes="read,write,admin", password=None, env=None):
    """Runs `assistd admin create` like an operator. Returns
    (returncode, stdout, stderr, fields) where fields holds "user_id",
    "password" and "token" when printed."""
    args = [ASSISTD, "admin", "create", "--config", config, "--email", email]
    if token:
        args += ["--token", token, "--scopes", scopes]
    if password is not None:
        args.append("--password-stdin")
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, input=(password + "\n") if password else "",
                       capture_output=True, text=True, env=e, timeout=60)
    fields = {}
    m = re.search(r"\(user id (\d+)\)", p.stdout)
    if m:
        fields["user_id"] = int(m.group(1))
    for line in p.stdout.splitlines():
        for key in ("password", "token"):
            if line.startswith(key + ": "):
                fields[key] = line[len(key) + 2:]
    return p.returncode, p.stdout, p.stderr, fields


def storage_of(config_text):
    m = re.search(r'^storage:\s*"?([^"\n]+?)"?\s*$', config_text, re.M)
    return m.group(1) if m else None


class Daemon:
    """One assistd process on a free port, configured by `yaml` text.

    `{port}`, `{plugin_dir}`, `{fixture_dir}` and `{dir}` in the text are
    replaced. Use as a context manager; stop() sends SIGTERM and waits.

    Before starting, it creates the first admin and an API token with
    `assistd admin create` (unless `bootstrap=False`), and request() sends
    `Authorization: Bearer <token>` unless called with auth=False.
    self.token, self.admin_id and self.admin_actor ("user:<id>") say who
    that is.
    """

    def __init__(self, yaml, extra_args=(), env=None, expect_start=True,
                 bootstrap=True):
        self.dir = tempfile.mkdtemp(prefix="assistd-it-")
        self.port = free_port()
        self.yaml_template = yaml
        self.config = os.path.join(self.dir, "assist.yaml")
        self.write_config(yaml)
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        e.update(env or {})
        self.token = None
        self.admin_id = None
        self.admin_actor = None
        if bootstrap:
            self.bootstrap(e, expect_start)
        self.proc = subprocess.Popen(
            [ASSISTD, "--config", self.config, *extra_args],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=e)
        if expect_start:
            wait_for(self.healthy, 15, "assistd /health")

    def bootstrap(self, env, required):
        storage = storage_of(self.fill(self.yaml_template))
        key = storage if storage and "{dir}" not in self.yaml_template \
            else None
        if key in _CREDENTIALS:
            self.token, self.admin_id = _CREDENTIALS[key]
        else:
            rc, out, err, f = admin_create(self.config, env=env)
            if rc != 0:
                if required:
                    raise AssertionError("assistd admin create failed (%s):"
                                         "\n%s%s" % (rc, out, err))
                return
            self.token, self.admin_id = f["token"], f["user_id"]
            if key:
                _CREDENTIALS[key] = (self.token, self.admin_id)
        self.admin_actor = "user:%d" % self.admin_id

    def fill(self, text):
        return (text.replace("{port}", str(self.port))
                .replace("{plugin_dir}", os.path.abspath(PLUGIN_DIR))
                .replace("{fixture_dir}", os.path.abspath(FIXTURE_DIR))
                .replace("{dir}", self.dir))

    def write_config(self, yaml):
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.fill(yaml))
        os.replace(tmp, self.config)

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("assistd exited with %s:\n%s" %
                                 (self.proc.returncode, self.logs()))
        try:
            st, _, _ = self.request("GET", "/health", timeout=1)
            return st == 200
        except OSError:
            return False

    def auth_headers(self):
        """The header an authenticated client sends (for helpers that
        build their own requests)."""
        return {"Authorization": "Bearer " + self.token} if self.token else {}

    def request(self, method, path, body=None, headers=None, timeout=10,
                auth=True):
        h = dict(headers or {})
        if auth and self.token and not any(
                k.lower() == "authorization" for k in h):
            h.update(self.auth_headers())
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def get_json(self, path):
        st, h, body = self.request("GET", path)
        assert st == 200, (path, st, body)
        return json.loads(body)

    def reload(self, yaml=None, expect_ok=True, timeout=10):
        """Rewrites the config (if given), sends SIGHUP, waits for the
        outcome by watching /api/plugins' reload counters."""
        before = self.get_json("/api/plugins")["reloads"]
        if yaml is not None:
            self.write_config(yaml)
        self.proc.send_signal(signal.SIGHUP)

        def done():
            r = self.get_json("/api/plugins")["reloads"]
            return r if r != before else None
        after = wait_for(done, timeout, "reload outcome")
        ok = after["ok"] > before["ok"]
        assert ok == expect_ok, ("reload ok=%s, expected %s\n%s" %
                                 (ok, expect_ok, self.logs()))
        return after

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_events(self):
        out = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("assistd did not stop:\n" + self.logs())
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


def base_config(extra="", plugins=""):
    return """
server:
  listen: "127.0.0.1:{port}"
  drain_timeout: 3s
log:
  level: debug
plugin_dir: {plugin_dir}
%s
plugins:
%s
""" % (extra, plugins or "  []")


def raw_exchange(port, data, timeout=5, read_until_close=True):
    """Sends raw bytes and returns everything read until the server closes
    (or the timeout passes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
        return b"".join(chunks)
    finally:
        s.close()


def run(tests):
    """Runs test functions; prints one line each; exits non-zero on failure."""
    only = sys.argv[1:]
    failed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            t()
            print("ok   %s (%.2fs)" % (t.__name__, time.monotonic() - t0),
                  flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d tests, %d failed" % (len(tests), failed))
    sys.exit(1 if failed else 0)
