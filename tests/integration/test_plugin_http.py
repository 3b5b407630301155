"""The SDK's outbound HTTP (ABI 1.2: http_request, http_cancel,
http_header) through the real daemon, against a local Python HTTP server,
with the svcfix fixture's /svcfix/http routes:

- a GET comes back with status, body, headers (ETag through http_header)
  and the plugin's request header reached the server;
- 429 with Retry-After gives retry_after_s; a body over the plugin's cap is
  ERANGE; a refused connection is EIO; a non-http URL is refused at once;
- http_cancel ends a request with "cancelled";
- an instance that goes away (reload without it) has its requests
  cancelled: the callback runs with "cancelled" before destroy, long
  before the slow server would have answered;
- the client is created lazily: no plugin request, no client (libcurl is
  not even loaded).
"""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from assistd_test import Daemon, base_config, free_port, run, wait_for

SLOW_S = 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        Handler.hits.append(self.path)
        if self.path == "/ok":
            body = ("hello x-test=%s" % self.headers.get("X-Test", "")).encode()
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/limited":
            self.send_response(429)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big":
            body = b"x" * 100000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/slow":
            time.sleep(SLOW_S)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


SERVER = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
SERVER.daemon_threads = True
threading.Thread(target=SERVER.serve_forever, daemon=True).start()
BASE = "http://127.0.0.1:%d" % SERVER.server_address[1]

SVCFIX = """  - name: svcfix
    plugin: svcfix
    path: {fixture_dir}/svcfix.so
"""


def config(with_fixture=True):
    return base_config(
        extra="storage: \"sqlite:{dir}/assist.db\"",
        plugins=SVCFIX if with_fixture else "  []")


def http(d, url, **q):
    q["url"] = url
    st, _, body = d.request("GET", "/svcfix/http?" + urllib.parse.urlencode(q),
                            timeout=30)
    return st, json.loads(body)


def ended(d):
    return [e for e in d.log_events()
            if e.get("msg", "").startswith("http request ended")]


def test_get_headers_and_errors():
    with Daemon(config()) as d:
        st, r = http(d, BASE + "/ok", h="X-Test:42")
        assert st == 200, r
        assert r["result"] == "success" and r["status"] == 200, r
        assert r["body"] == "hello x-test=42", r
        assert r["etag"] == '"v1"', r
        assert r["nheaders"] >= 2 and r["has_error"] is False, r

        st, r = http(d, BASE + "/limited")
        assert r["status"] == 429 and r["retry_after_s"] == 7, r

        st, r = http(d, BASE + "/missing")
        assert r["result"] == "success" and r["status"] == 404, r

        st, r = http(d, BASE + "/big", max="1000")
        assert r["result"] == "out of range", r

        st, r = http(d, "http://127.0.0.1:%d/" % free_port(), timeout_ms="3000")
        assert r["result"] == "input/output error" and r["status"] == 0, r
        assert r["has_error"] is True, r

        st, r = http(d, "ftp://127.0.0.1/x")
        assert st == 400 and r["error"] == "invalid argument", r
        st, r = http(d, BASE + "/ok", h="Bad Name:1")
        assert st == 400 and r["error"] == "invalid argument", r
        assert d.stop() == 0


def test_cancel():
    with Daemon(config()) as d:
        st, r = http(d, BASE + "/slow", hold="1")
        assert st == 202, r
        t0 = time.monotonic()
        st, _, body = d.request("POST", "/svcfix/http/cancel?id=%d" % r["id"])
        assert st == 200, body
        wait_for(lambda: ended(d), 10, "the cancelled request's callback")
        assert "cancelled" in ended(d)[0]["msg"], ended(d)
        assert time.monotonic() - t0 < SLOW_S / 2
        st, _, body = d.request("POST", "/svcfix/http/cancel?id=%d" % r["id"])
        assert st == 404, body  # already completed
        assert d.stop() == 0


def test_cancelled_when_instance_goes_away():
    with Daemon(config()) as d:
        st, r = http(d, BASE + "/slow", hold="1")
        assert st == 202, r
        wait_for(lambda: "/slow" in Handler.hits, 5, "the request at the server")
        t0 = time.monotonic()
        d.reload(config(with_fixture=False))
        wait_for(lambda: ended(d), 10, "the callback of the removed instance")
        assert "cancelled" in ended(d)[0]["msg"], ended(d)
        assert time.monotonic() - t0 < SLOW_S / 2
        assert d.stop() == 0


def test_client_is_lazy():
    with Daemon(config()) as d:
        time.sleep(0.3)
        started = [e for e in d.log_events()
                   if e.get("msg") == "outbound HTTP client started for plugins"]
        assert not started, started
        http(d, BASE + "/ok")
        http(d, BASE + "/ok")
        started = [e for e in d.log_events()
                   if e.get("msg") == "outbound HTTP client started for plugins"]
        assert len(started) == 1, started
        assert d.stop() == 0


if __name__ == "__main__":
    run([test_get_headers_and_errors, test_cancel,
         test_cancelled_when_instance_goes_away, test_client_is_lazy])
