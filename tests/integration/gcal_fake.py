"""A SMALL FAKE of Google Calendar API v3, for test_google_calendar.py only.

It exists ONLY for behaviour that the real emulator
(@inbox-zero/emulate@0.4.5, which the rest of the test uses) cannot
produce: that emulator returns no nextSyncToken and ignores syncToken (so
there are no incremental syncs and no 410 Gone), has no events.get, no
PATCH (so neither "move" nor an RSVP write), no events.watch and no
channels.stop. Everything here follows ../shared/CONNECTORS.md section 2:

- GET  /calendar/v3/calendars/{cal}/events: a full listing (timeMin,
  timeMax and singleEvents=true required; cancelled events left out; pages
  of maxResults with nextPageToken; only the last page carries
  nextSyncToken) or, with syncToken, the changes since that token
  (cancelled events included as {"id","status":"cancelled"}); an expired
  token answers 410 with reason fullSyncRequired; syncToken combined with
  timeMin/timeMax is a 400 as at Google.
- GET/PATCH /calendar/v3/calendars/{cal}/events/{id} (PATCH honours
  If-Match: 412 on a stale etag).
- POST /calendar/v3/calendars/{cal}/events/watch (the channel expires
  after params.ttl seconds, 604800 when absent) and
  POST /calendar/v3/channels/stop.
- Every request needs "Authorization: Bearer <non-empty>" (401 otherwise);
  fail_next holds canned answers (status, headers) for the next requests.
"""
import http.server
import json
import threading
import time
import urllib.parse


class FakeCalendar:
    def __init__(self, time_zone="Europe/Berlin"):
        self.lock = threading.Lock()
        self.events = {}      # id -> event dict (with "status")
        self.changed = {}     # id -> version of its last change
        self.version = 0
        self.expired = set()  # sync tokens answered with 410
        self.time_zone = time_zone
        self.requests = []    # (method, path, query dict, headers, body)
        self.watches = []     # watch request bodies
        self.stops = []       # channels.stop bodies
        self.patches = []     # (event id, body, If-Match)
        self.fail_next = []   # [(status, headers)] answered first
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                       self._handler())
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- state changes made by the test ----
    def put(self, ev):
        with self.lock:
            self.version += 1
            ev = dict(ev)
            ev.setdefault("status", "confirmed")
            ev["etag"] = '"%d"' % self.version
            self.events[ev["id"]] = ev
            self.changed[ev["id"]] = self.version

    def cancel(self, ev_id):
        with self.lock:
            self.version += 1
            self.events[ev_id]["status"] = "cancelled"
            self.events[ev_id]["etag"] = '"%d"' % self.version
            self.changed[ev_id] = self.version

    def forget(self, ev_id):
        """Gone without a trace (what a full resync must notice)."""
        with self.lock:
            self.events.pop(ev_id, None)
            self.changed.pop(ev_id, None)

    def expire_tokens(self):
        with self.lock:
            for v in range(0, self.version + 1):
                self.expired.add("v%d" % v)
            self.version += 1  # the next full listing hands out a new one

    def lists(self):
        with self.lock:
            return [r for r in self.requests
                    if r[0] == "GET" and r[1].endswith("/events")]

    # ---- HTTP ----
    def _handler(self):
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, obj=None, headers=None):
                body = b"" if obj is None else json.dumps(obj).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if obj is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status, reason, msg, headers=None):
                self._send(status, {"error": {"code": status, "message": msg,
                                              "errors": [{"domain": "calendar", "reason": reason,
                                                          "message": msg}]}}, headers)

            def _handle(self, method):
                u = urllib.parse.urlsplit(self.path)
                q = {k: v[0] for k, v in
                     urllib.parse.parse_qs(u.query).items()}
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                with fake.lock:
                    fake.requests.append((method, u.path, q,
                                          dict(self.headers), body))
                    canned = fake.fail_next.pop(0) if fake.fail_next \
                        else None
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or len(auth) < 10:
                    return self._error(401, "authError", "no credentials")
                if canned:
                    st, hdrs = canned
                    return self._error(st, "backendError"
                                       if st >= 500 else "rateLimitExceeded",
                                       "canned", hdrs)
                parts = u.path.split("/")
                # /calendar/v3/calendars/{cal}/events[/{id}|/watch]
                if u.path == "/calendar/v3/channels/stop" and method == "POST":
                    with fake.lock:
                        fake.stops.append(json.loads(body))
                    return self._send(204)
                if len(parts) < 6 or parts[1:4] != ["calendar", "v3",
                                                     "calendars"] \
                        or parts[5] != "events":
                    return self._error(404, "notFound", "no such route")
                rest = parts[6:]
                if not rest and method == "GET":
                    return self._list(q)
                if rest == ["watch"] and method == "POST":
                    req = json.loads(body)
                    with fake.lock:
                        fake.watches.append(req)
                    # params.ttl (seconds, default 604800) sets the
                    # expiration, as at Google
                    ttl = int(req.get("params", {}).get("ttl", 604800))
                    exp = int(time.time() * 1000) + ttl * 1000
                    return self._send(200, {
                        "kind": "api#channel", "id": req["id"],
                        "resourceId": "res-primary",
                        "resourceUri": fake.url + "/calendar/v3/calendars/"
                        "primary/events", "token": req.get("token"),
                        "expiration": str(exp)})
                if len(rest) == 1 and method in ("GET", "PATCH"):
                    ev_id = urllib.parse.unquote(rest[0])
                    with fake.lock:
                        ev = fake.events.get(ev_id)
                        if not ev:
                            return self._error(404, "notFound", "no event")
                        if method == "GET":
                            return self._send(200, ev)
                        match = self.headers.get("If-Match")
                        if match and match != "*" and match != ev["etag"]:
                            return self._error(412, "conditionNotMet",
                                               "stale etag")
                        fake.patches.append((ev_id, json.loads(body), match))
                        fake.version += 1
                        ev.update(json.loads(body))
                        ev["etag"] = '"%d"' % fake.version
                        fake.changed[ev_id] = fake.version
                        return self._send(200, ev)
                return self._error(404, "notFound", "no such route")

            def _list(self, q):
                with fake.lock:
                    if q.get("singleEvents") != "true":
                        return self._error(400, "invalid", "singleEvents")
                    tok = q.get("syncToken")
                    if tok:
                        if "timeMin" in q or "timeMax" in q:
                            return self._error(400, "invalid",
                                               "syncToken with timeMin")
                        if tok in fake.expired or not tok.startswith("v"):
                            return self._error(410, "fullSyncRequired",
                                               "Sync token is no longer "
                                               "valid, a full sync is "
                                               "required.")
                        since = int(tok[1:])
                        items = []
                        for i, v in sorted(fake.changed.items()):
                            if v > since:
                                ev = fake.events[i]
                                items.append(ev if ev["status"] != "cancelled"
                                             else {"id": i,
                                                   "status": "cancelled",
                                                   "etag": ev["etag"]})
                    else:
                        if "timeMin" not in q or "timeMax" not in q:
                            return self._error(400, "invalid", "window")
                        items = [e for _, e in sorted(fake.events.items())
                                 if e["status"] != "cancelled"]
                    size = int(q.get("maxResults", "250"))
                    off = int(q.get("pageToken", "0"))
                    page = items[off:off + size]
                    out = {"kind": "calendar#events",
                           "timeZone": fake.time_zone, "items": page}
                    if off + size < len(items):
                        out["nextPageToken"] = str(off + size)
                    else:
                        out["nextSyncToken"] = "v%d" % fake.version
                return self._send(200, out)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

        return H
