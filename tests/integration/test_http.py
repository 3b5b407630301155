"""HTTP behaviour of the real daemon: keep-alive, pipelining, limits,
timeouts, static files."""
import json
import os
import socket
import time

from assistd_test import Daemon, base_config, raw_exchange, run

FIXTURE = """
  - name: fx
    plugin: fixture
    path: {fixture_dir}/fixture_good.so
"""

LIMITS = """
  max_header_size: 2KB
  max_headers: 20
  max_body_size: 1KB
  header_timeout: 600ms
  body_timeout: 600ms
  idle_timeout: 800ms
  max_connections: 8
  static_dir: {dir}/web
"""


def daemon():
    text = base_config(plugins=FIXTURE).replace(
        "  drain_timeout: 3s\n", "  drain_timeout: 3s\n" + LIMITS)
    d = Daemon(text, expect_start=False)
    web = os.path.join(d.dir, "web")
    os.makedirs(os.path.join(web, "sub"))
    files = {"index.html": "<h1>assistd</h1>", "app.js": "let x = 1;",
             "style.css": "body{}", "sub/index.html": "sub",
             "data.json": "{}"}
    for name, text in files.items():
        with open(os.path.join(web, name), "w") as f:
            f.write(text)
    with open(os.path.join(d.dir, "secret.txt"), "w") as f:
        f.write("TOP SECRET")
    os.symlink(os.path.join(d.dir, "secret.txt"),
               os.path.join(web, "escape.txt"))
    from assistd_test import wait_for
    wait_for(d.healthy, 15, "health")
    return d


def responses(raw):
    """Splits a byte stream into (status, headers, body) tuples."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        raw = rest[n:]
    return out


def test_keep_alive_and_pipelining():
    with daemon() as d:
        reqs = b"".join(b"GET /fixture/ping HTTP/1.1\r\nHost: x\r\n\r\n"
                        for _ in range(3))
        reqs += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        got = responses(raw_exchange(d.port, reqs))
        assert [r[0] for r in got] == [200, 200, 200, 200], got
        assert [r[2] for r in got[:3]] == [b"pong"] * 3
        assert got[3][1]["connection"] == "close"
        ids = {r[1]["x-request-id"] for r in got}
        assert len(ids) == 4


def test_chunked_body_and_body_limits():
    with daemon() as d:
        body = (b"POST /fixture/echo HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        (r,) = responses(raw_exchange(d.port, body))
        assert r[0] == 200 and r[2] == b"hello world", r
        st, _, _ = d.request("POST", "/fixture/echo", body=b"x" * 100)
        assert st == 200
        st, _, b = d.request("POST", "/fixture/echo", body=b"x" * 101)
        assert st == 413 and json.loads(b)["error"]["status"] == 413
        chunk = b"40\r\n" + b"y" * 64 + b"\r\n"
        big = (b"POST /fixture/echo HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2 +
               b"0\r\n\r\n")
        (r,) = responses(raw_exchange(d.port, big))[:1]
        assert r[0] == 413, r


def test_header_limits():
    with daemon() as d:
        big = (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 +
               b"\r\n\r\n")
        (r,) = responses(raw_exchange(d.port, big))[:1]
        assert r[0] == 431, r
        many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: v\r\n" % i for i in range(30)) + b"\r\n"
        (r,) = responses(raw_exchange(d.port, many))[:1]
        assert r[0] == 431, r


def test_malformed_request():
    with daemon() as d:
        (r,) = responses(raw_exchange(d.port, b"GARBAGE\r\n\r\n"))[:1]
        assert r[0] == 400 and json.loads(r[2])["error"]["status"] == 400


def test_timeouts():
    with daemon() as d:
        # Slow headers: 408 then close.
        t0 = time.monotonic()
        raw = raw_exchange(d.port, b"GET /health HTTP/1.1\r\nHost", timeout=5)
        assert responses(raw)[0][0] == 408, raw
        # Slow body: 408 then close.
        raw = raw_exchange(d.port, b"POST /fixture/echo HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 50\r\n\r\nabc", timeout=5)
        assert responses(raw)[0][0] == 408, raw
        # Idle keep-alive: closed without a response.
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
        rest = s.recv(65536)  # blocks until the idle timeout closes it
        assert rest == b""
        s.close()
        assert time.monotonic() - t0 < 30  # a hang would be a bug, not slow


def test_connection_limit():
    with daemon() as d:
        socks = [socket.create_connection(("127.0.0.1", d.port))
                 for _ in range(8)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = extra.recv(65536)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/1.1 200"), data
        for s in socks:
            s.close()
        extra.close()
        from assistd_test import wait_for
        wait_for(lambda: d.request("GET", "/health")[0] == 200, 5, "recovery")


def test_static_files():
    with daemon() as d:
        st, h, body = d.request("GET", "/ui/")
        assert st == 200 and body == b"<h1>assistd</h1>"
        assert h["Content-Type"].startswith("text/html")
        st, h, _ = d.request("GET", "/ui/app.js")
        assert st == 200 and "javascript" in h["Content-Type"]
        st, h, _ = d.request("GET", "/ui/style.css")
        assert st == 200 and h["Content-Type"].startswith("text/css")
        etag = h["ETag"]
        st, _, body = d.request("GET", "/ui/style.css",
                                headers={"If-None-Match": etag})
        assert st == 304 and body == b""
        st, _, body = d.request("GET", "/ui/sub/")
        assert st == 200 and body == b"sub"
        st, h, _ = d.request("GET", "/")
        assert st == 302 and h["Location"] == "/ui/"
        st, h, body = d.request("HEAD", "/ui/app.js")
        assert st == 200 and body == b""


def test_static_traversal_refused():
    with daemon() as d:
        for path in [b"/ui/../secret.txt", b"/ui/%2e%2e/secret.txt",
                     b"/ui/..%2fsecret.txt", b"/ui/sub/../../secret.txt",
                     b"/ui/%2e%2e%2fsecret.txt", b"/ui/escape.txt",
                     b"/ui/..\\secret.txt", b"/ui/index.html%00.js",
                     b"/ui//etc/passwd", b"/ui/%2fetc%2fpasswd"]:
            raw = raw_exchange(d.port, b"GET " + path + b" HTTP/1.1\r\n"
                               b"Host: x\r\nConnection: close\r\n\r\n")
            r = responses(raw)
            assert r and r[0][0] in (400, 403, 404), (path, raw[:200])
            assert b"TOP SECRET" not in raw and b"root:" not in raw, path


if __name__ == "__main__":
    run([test_keep_alive_and_pipelining, test_chunked_body_and_body_limits,
         test_header_limits, test_malformed_request, test_timeouts,
         test_connection_limit, test_static_files,
         test_static_traversal_refused])
