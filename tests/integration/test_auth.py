"""Authentication end to end against the real daemon: every /api route is
gated (core/api, /api/plugins, the accounts API and plugin routes), tokens
and their scopes, cookie sign-in with CSRF, the public routes, per-user
ownership in a plugin (req_user), and the first admin's password shown once
(`assistd admin create` and auth.bootstrap_admin)."""
import json
import os
import signal
import subprocess
import tempfile

from assistd_test import (ASSISTD, PLUGIN_DIR, Daemon, admin_create,
                          base_config, free_port, run, wait_for)

SO = os.path.join(os.path.abspath(PLUGIN_DIR), "csv-analysis",
                  "csv-analysis.so")
CSV = b"id,amount\n1,2.5\n2,3.5\n3,4\n"


def config(extra=""):
    return base_config(extra='storage: "sqlite:{dir}/var/assistd.db"\n' + extra,
                       plugins="""
  - name: csv
    plugin: csv-analysis
    path: %s
    options:
      data_dir: {dir}/data
""" % SO)


def err_json(st, body, status):
    assert st == status, (st, body)
    e = json.loads(body)["error"]
    assert e["status"] == status and e["message"], e
    return e["message"]


def call(d, method, path, body=None, headers=None, auth=True, token=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    return d.request(method, path, body=body, headers=h, auth=auth)


def make_token(d, scopes, name="t"):
    st, _, body = call(d, "POST", "/api/tokens",
                       {"name": name, "scopes": scopes})
    assert st == 201, (st, body)
    j = json.loads(body)
    return j["token"]["id"], j["secret"]


def login(d, email, password):
    st, h, body = call(d, "POST", "/api/auth/login",
                       {"email": email, "password": password}, auth=False)
    assert st == 200, (st, body)
    cookie = h["Set-Cookie"].split(";", 1)[0]
    assert cookie.startswith("assistd_session="), cookie
    return cookie, json.loads(body)["csrf_token"]


GATED = [("GET", "/api/plugins"), ("GET", "/api/jobs"),
         ("GET", "/api/schedules"), ("GET", "/api/audit"),
         ("GET", "/api/auth/me"), ("GET", "/api/users"),
         ("GET", "/api/tokens"), ("POST", "/api/tokens"),
         ("GET", "/api/datasets"), ("GET", "/api/datasets/ds1"),
         ("POST", "/api/datasets/import"), ("GET", "/api/analyses")]


def test_api_needs_credentials():
    with Daemon(config()) as d:
        for method, path in GATED:
            st, h, body = call(d, method, path, auth=False)
            err_json(st, body, 401)
            assert h.get("WWW-Authenticate", "").startswith("Bearer"), h
        # The operator's token opens them (admin, read+write+admin).
        for path in ("/api/plugins", "/api/jobs", "/api/audit",
                     "/api/datasets", "/api/auth/me", "/api/users"):
            st, _, body = call(d, "GET", path)
            assert st == 200, (path, st, body)
        me = json.loads(call(d, "GET", "/api/auth/me")[2])
        assert me["user"]["id"] == d.admin_id and me["via"] == "token", me
        # Wrong and malformed credentials.
        bad = "asd_" + "A" * 43
        for tok in (bad, d.token + "x", "nonsense"):
            st, _, body = call(d, "GET", "/api/plugins", token=tok)
            err_json(st, body, 401)
        st, _, body = call(d, "GET", "/api/plugins",
                           headers={"Authorization": "Basic YTpi"})
        err_json(st, body, 401)
        assert d.stop() == 0


def test_public_routes_stay_public():
    web = tempfile.mkdtemp(prefix="assistd-it-web-")
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<html>ui</html>")
    cfg = config().replace("server:\n", "server:\n  static_dir: %s\n" % web, 1)
    with Daemon(cfg) as d:
        for path in ("/health", "/ready", "/metrics", "/ui/index.html"):
            st, _, body = call(d, "GET", path, auth=False)
            assert st == 200, (path, st, body)
        # Sign-in is public: a wrong password is 401 from the handler.
        st, _, body = call(d, "POST", "/api/auth/login",
                           {"email": "admin@test", "password": "x" * 12},
                           auth=False)
        assert "invalid email or password" in err_json(st, body, 401)
        assert d.stop() == 0


def test_token_scopes_and_revocation():
    with Daemon(config()) as d:
        rid, ro = make_token(d, ["read"], "ro")
        # Read-only: GET a plugin route works, a POST does not.
        st, _, body = call(d, "GET", "/api/datasets", token=ro)
        assert st == 200, (st, body)
        st, _, body = call(d, "POST", "/api/datasets/import",
                           {"path": "/nonexistent.csv", "name": "x"}, token=ro)
        assert "write" in err_json(st, body, 403)
        st, _, body = call(d, "POST", "/api/datasets?name=a.csv", body=CSV,
                           token=ro)
        err_json(st, body, 403)
        # core/api routes and /api/plugins are for the admin scope.
        for path in ("/api/jobs", "/api/audit", "/api/plugins"):
            st, _, body = call(d, "GET", path, token=ro)
            assert "admin" in err_json(st, body, 403), path
        _, rw = make_token(d, ["read", "write"], "rw")
        st, _, body = call(d, "POST", "/api/datasets?name=a.csv", body=CSV,
                           token=rw)
        assert st == 201, (st, body)
        st, _, body = call(d, "GET", "/api/jobs", token=rw)
        err_json(st, body, 403)
        # Revoked: 401 from then on.
        st, _, _ = call(d, "DELETE", "/api/tokens/%d" % rid)
        assert st == 204
        st, _, body = call(d, "GET", "/api/datasets", token=ro)
        err_json(st, body, 401)
        assert d.stop() == 0


def test_cookie_sign_in_and_csrf():
    with Daemon(config()) as d:
        st, _, body = call(d, "POST", "/api/users",
                           {"email": "bob@test", "password": "bob-password-1",
                            "role": "user"})
        assert st == 201, (st, body)
        cookie, csrf = login(d, "bob@test", "bob-password-1")
        h = {"Cookie": cookie}
        st, _, body = call(d, "GET", "/api/auth/me", headers=h, auth=False)
        assert st == 200 and json.loads(body)["via"] == "session", body
        # A state change without (or with a wrong) X-CSRF-Token: 403.
        st, _, body = call(d, "POST", "/api/datasets?name=b.csv", body=CSV,
                           headers=h, auth=False)
        assert "CSRF" in err_json(st, body, 403)
        st, _, body = call(d, "POST", "/api/tokens", {"name": "x"},
                           headers=dict(h, **{"X-CSRF-Token": csrf + "x"}),
                           auth=False)
        err_json(st, body, 403)
        # With it: OK.
        hc = dict(h, **{"X-CSRF-Token": csrf})
        st, _, body = call(d, "POST", "/api/datasets?name=b.csv", body=CSV,
                           headers=hc, auth=False)
        assert st == 201, (st, body)
        st, _, body = call(d, "POST", "/api/tokens", {"name": "x"},
                           headers=hc, auth=False)
        assert st == 201, (st, body)
        # A user is not an admin: jobs, audit and plugins stay closed.
        for path in ("/api/jobs", "/api/audit", "/api/plugins"):
            st, _, body = call(d, "GET", path, headers=h, auth=False)
            err_json(st, body, 403)
        # Signed out: the cookie no longer works.
        st, _, _ = call(d, "POST", "/api/auth/logout", headers=hc, auth=False)
        assert st == 204
        st, _, body = call(d, "GET", "/api/datasets", headers=h, auth=False)
        err_json(st, body, 401)
        assert d.stop() == 0


def test_failed_sign_ins_lock_the_address():
    # Direct connections: the TCP peer is the address the limit keys on.
    with Daemon(config(extra="auth:\n  max_failures_addr: 3\n")) as d:
        st, _, body = call(d, "POST", "/api/users",
                           {"email": "carol@test",
                            "password": "carol-password-1", "role": "user"})
        assert st == 201, (st, body)
        for i in range(3):  # three different accounts, one address
            st, _, body = call(d, "POST", "/api/auth/login",
                               {"email": "nobody%d@test" % i,
                                "password": "wrong-password-x"}, auth=False)
            err_json(st, body, 401)
        # Now even the right password is refused from this address.
        st, _, body = call(d, "POST", "/api/auth/login",
                           {"email": "carol@test",
                            "password": "carol-password-1"}, auth=False)
        err_json(st, body, 429)
        assert d.stop() == 0


def test_plugin_sees_the_caller():
    """req_user: the csv-analysis plugin records who uploaded a dataset."""
    with Daemon(config()) as d:
        st, _, body = call(d, "POST", "/api/users",
                           {"email": "carol@test", "password": "carol-pass-12",
                            "role": "user"})
        assert st == 201, (st, body)
        carol = json.loads(body)["user"]["id"]
        cookie, csrf = login(d, "carol@test", "carol-pass-12")
        st, _, body = call(d, "POST", "/api/datasets?name=c.csv", body=CSV,
                           headers={"Cookie": cookie, "X-CSRF-Token": csrf},
                           auth=False)
        assert st == 201, (st, body)
        assert json.loads(body)["owner"] == str(carol), body
        st, _, body = call(d, "POST", "/api/datasets?name=a.csv", body=CSV)
        assert st == 201, (st, body)
        assert json.loads(body)["owner"] == str(d.admin_id), body
        # Another user's account record is a 404, as if it did not exist.
        st, _, body = call(d, "GET", "/api/users/%d" % d.admin_id,
                           headers={"Cookie": cookie}, auth=False)
        err_json(st, body, 404)
        assert d.stop() == 0


class Plain(Daemon):
    """A daemon directory and configuration, started (and restarted) by
    hand with stdout and stderr kept apart; no admin made beforehand."""

    def __init__(self, yaml):
        self.dir = tempfile.mkdtemp(prefix="assistd-it-")
        self.port = free_port()
        self.yaml_template = yaml
        self.config = os.path.join(self.dir, "assist.yaml")
        self.write_config(yaml)
        self.token = None
        self.proc = None
        self.out_path = os.path.join(self.dir, "stdout.txt")
        self.log_path = os.path.join(self.dir, "stderr.txt")
        open(self.log_path, "wb").close()

    def start(self):
        with open(self.out_path, "wb") as o, open(self.log_path, "ab") as e:
            self.proc = subprocess.Popen([ASSISTD, "--config", self.config],
                                         stdout=o, stderr=e,
                                         stdin=subprocess.DEVNULL)
        wait_for(self.healthy, 15, "assistd /health")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_admin_create_prints_password_once():
    with Plain(config()) as d:
        rc, out, err, f = admin_create(d.config, email="root@test", token=None)
        assert rc == 0, (out, err)
        pw = f["password"]
        assert len(pw) >= 20 and out.count(pw) == 1 and pw not in err, out
        # Again for the same email: refused, and no password is printed.
        rc2, out2, err2, f2 = admin_create(d.config, email="root@test",
                                           token=None)
        assert rc2 == 3 and "password" not in f2 and "exists" in err2, out2
        # A password of one's own (standard input) is never printed.
        own = "my-own-password-1"
        rc3, out3, _, f3 = admin_create(d.config, email="own@test", token="t",
                                        scopes="read", password=own)
        assert rc3 == 0 and "password" not in f3 and own not in out3, out3
        assert f3["token"].startswith("asd_")
        # The daemon on that storage: both sign-ins work.
        d.start()
        login(d, "root@test", pw)
        login(d, "own@test", own)
        st, _, body = call(d, "GET", "/api/auth/me", token=f3["token"])
        assert st == 200 and json.loads(body)["scopes"] == ["read"], body
        assert d.stop() == 0
        log = d.logs() + d.stdout()
        for secret in (pw, own, f3["token"]):
            assert secret not in log


def test_bootstrap_admin_prints_password_once():
    with Plain(config("auth:\n  bootstrap_admin: boot@test\n")) as d:
        d.start()
        out = wait_for(lambda: "password: " in d.stdout() and d.stdout(), 15,
                       "the bootstrap password")
        pw = out.split("password: ", 1)[1].split()[0]
        login(d, "boot@test", pw)
        assert d.stop() == 0
        assert d.stdout().count(pw) == 1, d.stdout()
        assert pw not in d.logs()
        # A second start finds the admin: nothing printed.
        d.start()
        assert d.stop() == 0
        assert "password" not in d.stdout(), d.stdout()
        assert pw not in d.logs()


if __name__ == "__main__":
    run([test_api_needs_credentials, test_public_routes_stay_public,
         test_token_scopes_and_revocation, test_cookie_sign_in_and_csrf,
         test_failed_sign_ins_lock_the_address,
         test_plugin_sees_the_caller, test_admin_create_prints_password_once,
         test_bootstrap_admin_prints_password_once])
