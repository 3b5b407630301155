"""The daemon's command line, built-in endpoints and logs."""
import json
import re
import os
import subprocess
import tempfile

from assistd_test import (ASSISTD, PLUGIN_DIR, SOURCE_ROOT, Daemon,
                          base_config, free_port, run)

HELLO = """
  - name: greeter
    plugin: hello
    options:
      greeting: hi
"""


def test_version():
    out = subprocess.run([ASSISTD, "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("assistd ") and "ABI 1." in out, out


def test_usage_errors():
    r = subprocess.run([ASSISTD], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([ASSISTD, "--log-format", "xml", "--config", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2


def write(dir, name, text):
    p = os.path.join(dir, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def test_check_config_ok_and_errors():
    d = tempfile.mkdtemp()
    good = write(d, "good.yaml", base_config(plugins=HELLO).replace(
        "{port}", "8080").replace("{plugin_dir}", os.path.abspath(PLUGIN_DIR)))
    r = subprocess.run([ASSISTD, "--check-config", good], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout
    # Two errors in one file, both reported with file:line:column.
    bad = write(d, "bad.yaml", """server:
  listen: "127.0.0.1:99999"
  bogus: 1
plugin_dir: %s
plugins:
  - name: greeter
    plugin: hello
    options:
      greting: hi
""" % os.path.abspath(PLUGIN_DIR))
    r = subprocess.run([ASSISTD, "--check-config", bad], capture_output=True,
                       text=True)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert any(l.startswith(bad + ":2:") for l in lines), r.stderr
    assert any(l.startswith(bad + ":3:") and "bogus" in l for l in lines), \
        r.stderr
    assert any(l.startswith(bad + ":9:") and "greting" in l for l in lines), \
        r.stderr


def test_check_config_missing_plugin():
    d = tempfile.mkdtemp()
    bad = write(d, "bad.yaml", """plugin_dir: %s
plugins:
  - name: x
    plugin: no-such-plugin
""" % d)
    r = subprocess.run([ASSISTD, "--check-config", bad], capture_output=True,
                       text=True)
    assert r.returncode != 0
    assert r.stderr.startswith(bad + ":3:"), r.stderr
    assert "no-such-plugin" in r.stderr


def test_schema_is_current():
    out = subprocess.run([ASSISTD, "--dump-schema", "--plugin-dir",
                          PLUGIN_DIR], capture_output=True, text=True,
                         check=True).stdout
    schema = json.loads(out)
    assert "plugins" in schema["properties"]
    assert "hello" in out
    with open(os.path.join(SOURCE_ROOT, "schemas", "config.schema.json")) as f:
        committed = f.read()
    assert committed == out, (
        "schemas/config.schema.json is stale: regenerate it with "
        "assistd --dump-schema --plugin-dir build/plugins > "
        "schemas/config.schema.json")


def test_builtin_endpoints():
    with Daemon(base_config(plugins=HELLO)) as d:
        st, h, body = d.request("GET", "/health")
        assert st == 200 and json.loads(body) == {"status": "ok"}
        assert h["Content-Type"].startswith("application/json")
        assert h.get("X-Request-Id")
        st, _, body = d.request("GET", "/ready")
        assert st == 200, body
        p = d.get_json("/api/plugins")
        assert p["abi"] == "1.2"
        (inst,) = p["instances"]
        assert inst["name"] == "greeter" and inst["plugin"] == "hello"
        assert inst["state"] == "running" and inst["version"] == "1.0.0"
        assert inst["options"]["greeting"] == "hi"
        st, _, body = d.request("GET", "/hello/ada")
        assert st == 200 and json.loads(body)["greeting"] == "hi, ada"
        st, h, body = d.request("GET", "/metrics")
        text = body.decode()
        assert st == 200 and h["Content-Type"].startswith("text/plain")
        assert 'assist_http_requests_total{route="/hello/{name}"' in text, text
        assert "assist_http_request_duration_seconds_bucket" in text
        assert "assist_http_connections" in text
        assert "assist_plugin_instances 1" in text
        assert 'assist_reloads_total{outcome="ok"} 0' in text
        st, _, body = d.request("GET", "/nope")
        assert st == 404 and json.loads(body)["error"]["status"] == 404
        st, h, body = d.request("POST", "/health")
        assert st == 405 and "GET" in h.get("Allow", "")
        assert d.stop() == 0


def test_request_id_round_trip_and_access_log():
    with Daemon(base_config(plugins=HELLO)) as d:
        st, h, _ = d.request("GET", "/hello/bob",
                             headers={"X-Request-Id": "abc-123"})
        assert st == 200 and h["X-Request-Id"] == "abc-123"
        d.stop()
        events = d.log_events()
        access = [e for e in events if e.get("component") == "http" and
                  e.get("msg") == "request" and e.get("id") == "abc-123"]
        assert len(access) == 1, d.logs()
        assert access[0]["status"] == 200 and access[0]["method"] == "GET"
        for e in events:
            assert {"time", "level", "component", "msg"} <= set(e), e


def test_secret_options_are_not_logged_or_shown():
    with Daemon(base_config(plugins="""
  - name: fx
    plugin: fixture
    path: {fixture_dir}/fixture_good.so
    options:
      token: "${FIXTURE_TOKEN}"
      count: 99
"""), env={"FIXTURE_TOKEN": "s3cr3t-value"}, expect_start=False) as d:
        # count is out of range: the error names the position, not the token.
        assert d.proc.wait(10) == 1
        assert "s3cr3t-value" not in d.logs()
        assert re.search(re.escape(d.config) + r":\d+:\d+: .*count",
                         d.logs()), d.logs()
    with Daemon(base_config(plugins="""
  - name: fx
    plugin: fixture
    path: {fixture_dir}/fixture_good.so
    options:
      token: "${FIXTURE_TOKEN}"
"""), env={"FIXTURE_TOKEN": "s3cr3t-value"}) as d:
        st, _, body = d.request("GET", "/api/plugins")
        assert st == 200 and b"s3cr3t-value" not in body, body
        opts = json.loads(body)["instances"][0]["options"]
        assert opts["token"] == "***", opts
        d.stop()
        assert "s3cr3t-value" not in d.logs()


def test_listen_override_and_text_logs():
    port = free_port()
    with Daemon(base_config(plugins=HELLO),
                extra_args=["--listen", "127.0.0.1:%d" % port,
                            "--log-format", "text"],
                expect_start=False) as d:
        d.port = port
        from assistd_test import wait_for
        wait_for(d.healthy, 15, "health on override port")
        d.stop()
        first = d.logs().splitlines()[0]
        assert not first.startswith("{") and "[daemon]" in d.logs(), first


def test_bad_config_exits_nonzero():
    with Daemon("server: [1, 2]\n", expect_start=False) as d:
        rc = d.proc.wait(10)
        assert rc == 1
        assert d.config + ":1:" in d.logs(), d.logs()


if __name__ == "__main__":
    run([test_version, test_usage_errors, test_check_config_ok_and_errors,
         test_check_config_missing_plugin, test_schema_is_current,
         test_builtin_endpoints, test_request_id_round_trip_and_access_log,
         test_secret_options_are_not_logged_or_shown,
         test_listen_override_and_text_logs, test_bad_config_exits_nonzero])
