"""OAuth2 connections through the real daemon, against the Google emulator
(@inbox-zero/emulate from tests/harness/node, started on a free loopback
port by tests/harness/emulate-start.sh):

- a signed-in user (cookie session with CSRF) asks
  POST /api/connections/google/authorize for the provider URL, consents at
  the emulator, and the browser's redirect to the daemon's public callback
  route stores the connection: GET /api/connections lists it active;
- a plugin (the svcfix fixture) gets a valid access token through the SDK's
  oauth_token, without ever showing it; unknown connections are 404;
- another user neither sees nor deletes the connection (empty list, 404);
- `assistd secrets rotate` re-encrypts the stored tokens: the daemon then
  runs with the new key only and the plugin still gets its token;
- DELETE /api/connections/{id} revokes at the provider, after which the
  plugin's token request is 404; the audit log has oauth.connected and
  oauth.disconnected by actor "oauth"; the client secret is never logged.

Skipped (exit 77, with a message) only when node or npm are missing.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from assistd_test import Daemon, SOURCE_ROOT, base_config, run
from test_storage_backends import assistd_cli, new_key_file

HARNESS = os.path.join(SOURCE_ROOT, "tests", "harness")
REDIRECT_BASE = "http://assist.test"
CLIENT_ID = "assist-it.apps.googleusercontent.com"
CLIENT_SECRET = "google-it-secret-5d1e0b"
ALICE = "alice@example.com"
GOOGLE = None  # the emulator's base URL
EMU_DIR = None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def start_emulator():
    global GOOGLE, EMU_DIR
    rc = subprocess.run([os.path.join(HARNESS, "oauth-npm.sh")]).returncode
    if rc == 77:
        print("SKIPPED: node/npm are not installed; OAuth integration test "
              "not run", flush=True)
        sys.exit(77)
    assert rc == 0, "tests/harness/oauth-npm.sh failed (%d)" % rc
    EMU_DIR = tempfile.mkdtemp(prefix="assist-it-oauth-")
    seed = os.path.join(EMU_DIR, "google.yaml")
    with open(seed, "w") as f:
        f.write("""google:
  users:
    - email: %s
      name: Alice Example
  oauth_clients:
    - client_id: %s
      client_secret: %s
      redirect_uris:
        - %s/api/connections/google/callback
""" % (ALICE, CLIENT_ID, CLIENT_SECRET, REDIRECT_BASE))
    out = subprocess.run([os.path.join(HARNESS, "emulate-start.sh"), EMU_DIR,
                          "google", seed], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, "emulator did not start:\n" + out.stderr
    for line in out.stdout.splitlines():
        if line.startswith("EMULATE_URL="):
            GOOGLE = line[len("EMULATE_URL="):]
    assert GOOGLE, out.stdout


def stop_emulator():
    if EMU_DIR:
        subprocess.run([os.path.join(HARNESS, "oauth-stop.sh"),
                        os.path.join(EMU_DIR, "emulate-google.pid")])


def config(db_dir, secrets):
    return base_config(extra="""storage: "sqlite:%s/assist.db"
%s
oauth:
  redirect_base: %s
  state_ttl: 5m
  providers:
    google:
      client_id: %s
      client_secret: ${OAUTH_IT_GOOGLE_SECRET}
      authorize_url: %s/o/oauth2/v2/auth
      token_url: %s/oauth2/token
      revoke_url: %s/oauth2/revoke
      scopes: [openid, email, "https://www.googleapis.com/auth/gmail.modify"]
""" % (db_dir, secrets, REDIRECT_BASE, CLIENT_ID, GOOGLE, GOOGLE, GOOGLE),
        plugins="""  - name: work
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
""")


ENV = {"OAUTH_IT_GOOGLE_SECRET": CLIENT_SECRET}


def call(d, method, path, body=None, session=None, auth=True):
    """A request as the admin (API token), or as a cookie session
    (session = (cookie, csrf)), or unauthenticated (auth=False)."""
    h = {}
    if session:
        h["Cookie"] = session[0]
        if method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = session[1]
        auth = False
    if isinstance(body, dict):
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    return d.request(method, path, body=body, headers=h, auth=auth)


def make_user(d, email, password):
    st, _, body = call(d, "POST", "/api/users",
                       {"email": email, "password": password, "role": "user"})
    assert st == 201, (st, body)
    st, h, body = call(d, "POST", "/api/auth/login",
                       {"email": email, "password": password}, auth=False)
    assert st == 200, (st, body)
    return h["Set-Cookie"].split(";", 1)[0], json.loads(body)["csrf_token"]


def consent(url):
    """What the person's browser does at the emulator: accept as Alice.
    Returns the path + query of the redirect back to assistd."""
    q = urllib.parse.urlsplit(url).query
    form = (q + "&email=" + urllib.parse.quote(ALICE)).encode()
    req = urllib.request.Request(GOOGLE + "/o/oauth2/v2/auth/callback",
                                 data=form, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        r = opener.open(req, timeout=10)
        raise AssertionError("consent answered %d, not a redirect: %s" %
                             (r.status, r.read()[:300]))
    except urllib.error.HTTPError as e:
        assert e.code == 302, (e.code, e.read()[:300])
        loc = e.headers["Location"]
    assert loc.startswith(REDIRECT_BASE + "/api/connections/google/callback?"), \
        loc
    return loc[len(REDIRECT_BASE):]


def connections(d, session=None):
    st, _, body = call(d, "GET", "/api/connections", session=session)
    assert st == 200, (st, body)
    return json.loads(body)["connections"]


def plugin_token(d, conn_id):
    st, _, body = call(d, "GET", "/svcfix/oauth/%d" % conn_id)
    return st, json.loads(body)


def connect(d, bob):
    st, _, body = call(d, "POST", "/api/connections/google/authorize",
                       session=bob)
    assert st == 200, (st, body)
    url = json.loads(body)["url"]
    assert url.startswith(GOOGLE + "/o/oauth2/v2/auth?"), url
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert q["client_id"] == [CLIENT_ID], q
    assert q["code_challenge_method"] == ["S256"], q
    assert q["redirect_uri"] == [REDIRECT_BASE +
                                 "/api/connections/google/callback"], q
    target = consent(url)
    # The callback is public: the signed state names the user.
    st, _, body = call(d, "GET", target, auth=False)
    assert st == 200, (st, body)
    res = json.loads(body)
    assert res["state"] == "active", res
    # A replayed or tampered state is refused.
    st, _, _ = call(d, "GET", target.replace("state=", "state=x"), auth=False)
    assert st == 400, st
    return res["id"]


def test_connect_token_rotate_disconnect():
    db_dir = tempfile.mkdtemp(prefix="assist-it-oauth-db-")
    old = new_key_file(os.path.join(db_dir, "old.key"))
    new = os.path.join(db_dir, "new.key")
    with Daemon(config(db_dir, "secrets:\n  key_file: %s\n" % old),
                env=ENV) as d:
        # The API is behind the gate; the write routes want CSRF.
        st, _, _ = call(d, "GET", "/api/connections", auth=False)
        assert st == 401, st
        bob = make_user(d, "bob@test", "bob-password-1")
        st, _, _ = call(d, "POST", "/api/connections/google/authorize",
                        session=(bob[0], "wrong"))
        assert st == 403, st
        st, _, _ = call(d, "POST", "/api/connections/nope/authorize",
                        session=bob)
        assert st == 404, st
        assert connections(d, bob) == []

        conn_id = connect(d, bob)
        mine = connections(d, bob)
        assert len(mine) == 1, mine
        c = mine[0]
        assert (c["id"], c["provider"], c["state"], c["email"]) == \
            (conn_id, "google", "active", ALICE), c
        assert "gmail.modify" in c["scopes"], c
        assert c["access_expires_at"] > time.time() * 1000, c

        # Another user (the admin) sees nothing and cannot delete it.
        assert connections(d) == []
        st, _, _ = call(d, "DELETE", "/api/connections/%d" % conn_id)
        assert st == 404, st
        assert connections(d, bob)[0]["state"] == "active"

        # A reload builds a new router: the connections API is on it too.
        d.reload()
        assert [c["id"] for c in connections(d, bob)] == [conn_id]

        # A plugin gets the access token through the SDK.
        st, j = plugin_token(d, conn_id)
        assert st == 200 and j["has_token"] and j["token_len"] > 0, (st, j)
        assert j["expires_at_ms"] > time.time() * 1000, j
        st, j = plugin_token(d, conn_id + 1000)
        assert st == 404 and not j["has_token"], (st, j)
        assert d.stop() == 0
        logs = d.logs()
        assert CLIENT_SECRET not in logs
        assert "oauth" in logs

    # Rotation: the tokens are re-encrypted under the new key.
    new_key_file(new)
    rotating = os.path.join(db_dir, "rotate.yaml")
    with open(rotating, "w") as f:
        f.write('storage: "sqlite:%s/assist.db"\nsecrets:\n  key_file: %s\n'
                '  previous_key_files: [%s]\nplugins: []\n' %
                (db_dir, new, old))
    rc, out = assistd_cli("secrets", "rotate", "--config", rotating)
    assert rc == 0, out
    assert "oauth tokens: 2 re-encrypted" in out, out
    rc, out = assistd_cli("secrets", "rotate", "--config", rotating)
    assert rc == 0 and "oauth tokens: 0 re-encrypted, 2 already" in out, out

    with Daemon(config(db_dir, "secrets:\n  key_file: %s\n" % new),
                env=ENV) as d:
        st, j = plugin_token(d, conn_id)
        assert st == 200 and j["has_token"], (st, j)
        st, h, body = call(d, "POST", "/api/auth/login",
                           {"email": "bob@test", "password": "bob-password-1"},
                           auth=False)
        assert st == 200, (st, body)
        bob = (h["Set-Cookie"].split(";", 1)[0],
               json.loads(body)["csrf_token"])
        # Disconnect: revoked at the provider, tokens gone.
        st, _, body = call(d, "DELETE", "/api/connections/%d" % conn_id,
                           session=bob)
        assert st == 200, (st, body)
        assert json.loads(body) == {"state": "revoked",
                                    "revoked_at_provider": True}, body
        assert connections(d, bob)[0]["state"] == "revoked"
        st, j = plugin_token(d, conn_id)
        assert st == 404 and not j["has_token"], (st, j)
        audit = d.get_json("/api/audit?actor=oauth&limit=100")
        text = json.dumps(audit)
        assert "oauth.connected" in text and "oauth.disconnected" in text, \
            text
        assert d.stop() == 0
        assert CLIENT_SECRET not in d.logs()


def test_without_providers_oauth_is_off():
    """No oauth section: no connections API, and the SDK call says so."""
    with Daemon(base_config(plugins="""  - name: work
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
""")) as d:
        st, _, _ = call(d, "GET", "/api/connections")
        assert st == 404, st
        st, j = plugin_token(d, 1)
        assert st == 501 and not j["has_token"], (st, j)
        assert d.stop() == 0


def test_bad_oauth_config_refused():
    yaml = base_config(extra="""oauth:
  providers:
    corp:
      client_id: x
""")
    with Daemon(yaml, expect_start=False, bootstrap=False) as d:
        d.proc.wait(30)
        assert d.proc.returncode != 0
        logs = d.logs()
        assert "oauth.providers.corp: missing required key 'kind'" in logs, \
            logs
        assert "redirect_base (or server.public_url) is required" in logs, \
            logs


if __name__ == "__main__":
    start_emulator()
    try:
        run([test_connect_token_rotate_disconnect,
             test_without_providers_oauth_is_off, test_bad_oauth_config_refused])
    finally:
        stop_emulator()
