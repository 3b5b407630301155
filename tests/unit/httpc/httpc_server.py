#!/usr/bin/python3
"""Test server for tests/unit/httpc.

Real providers cannot be made to delay, drop a connection mid-response,
close without answering, or answer 429/503 on demand, so the httpc tests
start this server on a free loopback port. Standard library only.

Usage: httpc_server.py [--cert CERT --key KEY]
Prints "PORT <n>" on stdout once listening; exits when stdin closes.

Every request is counted per "key" (the `key` query parameter, else the
path); GET /stats?key=K answers "count=N max=M" where M is the most
requests of that key that were in progress at once.

Endpoints (query parameters in brackets):
  /ok                 200 "hello"
  /delay [ms]         sleep ms, then 200 "slept"
  /slow [ms]          200 with 10 body chunks spread over ms
  /drop               headers with Content-Length 1000, 10 bytes, close
  /close              read the request, close without answering
  /seq [codes, ra, ram, date]
                      the n-th request of a key answers the n-th code of
                      codes (comma list; the last repeats); non-2xx answers
                      carry Retry-After: ra, retry-after-ms: ram, or (date=S)
                      Retry-After as an HTTP-date S seconds ahead
  /big [n, chunked]   n bytes of 'x' (chunked=1: without Content-Length)
  /echo               200 "METHOD len=<n> idem=<Idempotency-Key> <body>"
  /redir [to, code]   a redirect (302 by default) to `to`
  /stats [key]        see above
"""
import email.utils
import http.server
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
counts = {}
current = {}
maxconc = {}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/stats":
            key = q.get("key", "")
            with lock:
                text = "count=%d max=%d" % (counts.get(key, 0),
                                            maxconc.get(key, 0))
            return self.send_body(200, text.encode())
        key = q.get("key", path)
        with lock:
            counts[key] = counts.get(key, 0) + 1
            n = counts[key]
            current[key] = current.get(key, 0) + 1
            maxconc[key] = max(maxconc.get(key, 0), current[key])
        try:
            self.route(path, q, n, body)
        finally:
            with lock:
                current[key] -= 1

    def route(self, path, q, n, body):
        if path == "/ok":
            self.send_body(200, b"hello", [("X-Test", "yes")])
        elif path == "/delay":
            time.sleep(int(q.get("ms", "100")) / 1000.0)
            self.send_body(200, b"slept")
        elif path == "/slow":
            ms = int(q.get("ms", "1000"))
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"s")
                self.wfile.flush()
                time.sleep(ms / 10000.0)
        elif path == "/drop":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_now()
        elif path == "/close":
            self.close_now()
        elif path == "/seq":
            codes = [int(c) for c in q.get("codes", "200").split(",")]
            code = codes[min(n, len(codes)) - 1]
            extra = []
            if code >= 300:
                if "ra" in q:
                    extra.append(("Retry-After", q["ra"]))
                if "ram" in q:
                    extra.append(("retry-after-ms", q["ram"]))
                if "date" in q:
                    when = time.time() + int(q["date"])
                    extra.append(("Retry-After",
                                  email.utils.formatdate(when, usegmt=True)))
            self.send_body(code, ("attempt %d" % n).encode(), extra)
        elif path == "/big":
            size = int(q.get("n", "1000"))
            self.send_response(200)
            if q.get("chunked") == "1":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                left = size
                while left > 0:
                    k = min(left, 16384)
                    self.wfile.write(b"%x\r\n" % k + b"x" * k + b"\r\n")
                    left -= k
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(size))
                self.end_headers()
                left = size
                while left > 0:
                    k = min(left, 16384)
                    self.wfile.write(b"x" * k)
                    left -= k
        elif path == "/echo":
            idem = self.headers.get("Idempotency-Key", "-")
            text = "%s len=%d idem=%s " % (self.command, len(body), idem)
            self.send_body(200, text.encode() + body)
        elif path == "/redir":
            self.send_body(int(q.get("code", "302")), b"moved",
                           [("Location", q.get("to", "/ok"))])
        else:
            self.send_body(404, b"not found")

    def close_now(self):
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any
    do_HEAD = do_OPTIONS = handle_any

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, OSError):
            pass


def main():
    args = sys.argv[1:]
    srv = Server(("127.0.0.1", 0), Handler)
    if args and args[0] == "--cert":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[1], args[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    sys.stdin.read()  # until the test closes our stdin (or dies)
    srv.shutdown()


if __name__ == "__main__":
    main()
