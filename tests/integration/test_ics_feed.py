"""The ics-feed plugin through the real daemon and the reminders service:

- a feed served by a local Python HTTP server (ETag, Last-Modified,
  If-None-Match -> 304) arrives in calendar_events for the account named
  by `user` (and in /api/events when that API is there), recurring series
  expanded into instances "<UID>/<start UTC>";
- later refreshes are conditional and answered 304 (counted at the
  server), changing nothing;
- an edited feed moves an event, removes one (pruned: cancelled) and
  cancels one instance through a RECURRENCE-ID override;
- a broken feed (truncated) and an unreachable server are logged clearly
  and the previous events stay;
- a file source: editing the file is picked up on the next refresh.
"""
import datetime
import hashlib
import json
import os
import sqlite3
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from assistd_test import ADMIN_EMAIL, Daemon, base_config, run, wait_for

NOW = datetime.datetime.now(datetime.timezone.utc).replace(
    minute=0, second=0, microsecond=0)


def at(days, hour):
    return (NOW + datetime.timedelta(days=days)).replace(hour=hour)


def ical(t):
    return t.strftime("%Y%m%dT%H%M%SZ")


def ms(t):
    return int(t.timestamp() * 1000)


def vevent(uid, start, minutes, summary, extra=()):
    return ["BEGIN:VEVENT", "UID:" + uid, "DTSTAMP:20260101T000000Z",
            "SUMMARY:" + summary, "DTSTART:" + ical(start),
            "DTEND:" + ical(start + datetime.timedelta(minutes=minutes)),
            *extra, "END:VEVENT"]


def calendar(*events):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//assistd it//EN"]
    for e in events:
        lines += e
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


SYNC0 = at(1, 9)


def feed_v1():
    return calendar(
        vevent("dentist", at(3, 10), 60, "Dentist",
               ["LOCATION:Main St 1", "ORGANIZER:mailto:desk@dentist.example",
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + ADMIN_EMAIL]),
        vevent("lunch", at(4, 12), 60, "Lunch"),
        vevent("sync", SYNC0, 30, "Weekly sync", ["RRULE:FREQ=WEEKLY;COUNT=4"]))


def feed_v2():
    second = SYNC0 + datetime.timedelta(days=7)
    return calendar(
        vevent("dentist", at(5, 15), 60, "Dentist",
               ["LOCATION:Main St 1", "SEQUENCE:1"]),
        vevent("sync", SYNC0, 30, "Weekly sync", ["RRULE:FREQ=WEEKLY;COUNT=4"]),
        vevent("sync", second, 30, "Weekly sync",
               ["RECURRENCE-ID:" + ical(second), "STATUS:CANCELLED"]))


class Feed:
    body = b""
    modified = 0.0
    hits = []  # (conditional, status)
    down = False
    lock = threading.Lock()

    @classmethod
    def set(cls, body):
        with cls.lock:
            cls.body = body
            cls.modified = time.time()

    @classmethod
    def etag(cls):
        return '"%s"' % hashlib.sha256(cls.body).hexdigest()[:16]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if Feed.down:  # a keep-alive connection outliving the server
            self.close_connection = True
            return
        with Feed.lock:
            body, etag = Feed.body, Feed.etag()
            lm = formatdate(Feed.modified, usegmt=True)
        inm = self.headers.get("If-None-Match")
        if inm == etag:
            Feed.hits.append((True, 304))
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        Feed.hits.append((inm is not None, 200))
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", lm)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def config(source):
    return base_config(
        extra='storage: "sqlite:{dir}/assist.db"',
        plugins="""  - name: feed
    plugin: ics-feed
    options:
      %s
      user: %s
      calendar: work
      refresh: 1s
""" % (source, ADMIN_EMAIL))


def events(d):
    """{external_id: row} from calendar_events (the table the reminders
    service writes)."""
    db = sqlite3.connect(os.path.join(d.dir, "assist.db"), timeout=10)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT e.*, u.email FROM calendar_events e "
            "JOIN users u ON u.id = e.user_id WHERE e.source = 'feed:work'"
        ).fetchall()
    finally:
        db.close()
    return {r["external_id"]: dict(r) for r in rows}


def live(d):
    return {k: v for k, v in events(d).items() if v["status"] != "cancelled"}


def logged(d, text):
    return [e for e in d.log_events() if text in e.get("msg", "")]


def api_events(d):
    """GET /api/events when the service has it (else None)."""
    st, _, body = d.request("GET", "/api/events?limit=100")
    if st == 404:
        return None
    assert st == 200, (st, body)
    return json.loads(body)


def sync_id(t):
    return "sync/" + ical(t)


def test_url_feed_lifecycle():
    Feed.down = False
    Feed.set(feed_v1())
    Feed.hits.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/cal.ics" % srv.server_address[1]
    try:
        with Daemon(config("url: " + url)) as d:
            ev = wait_for(lambda: len(live(d)) == 6 and live(d), 20,
                          "six events from the feed\n" + d.logs())
            dent = ev["dentist"]
            assert dent["summary"] == "Dentist" and dent["email"] == ADMIN_EMAIL
            assert dent["start_at"] == ms(at(3, 10)), dent
            assert dent["end_at"] == ms(at(3, 11)), dent
            assert dent["location"] == "Main St 1"
            assert dent["organizer"] == "desk@dentist.example", dent
            att = json.loads(dent["attendees"])
            assert att and att[0]["email"] == ADMIN_EMAIL, att
            assert att[0]["status"] == "accepted", att
            for k in range(4):
                sid = sync_id(SYNC0 + datetime.timedelta(days=7 * k))
                assert sid in ev, (sid, sorted(ev))
                assert ev[sid]["ical_uid"] == "sync"
            api = api_events(d)
            if api is not None:
                text = json.dumps(api)
                assert "Dentist" in text and "Weekly sync" in text, text[:500]

            # later refreshes are conditional: 304, nothing rewritten
            before = events(d)
            wait_for(lambda: sum(1 for c, s in Feed.hits if s == 304) >= 2, 10,
                     "conditional refreshes answered 304")
            assert all(c for c, s in Feed.hits[1:]), Feed.hits
            assert events(d) == before

            # edited: moved, removed, one instance cancelled
            Feed.set(feed_v2())
            second = sync_id(SYNC0 + datetime.timedelta(days=7))

            def changed():
                e = events(d)
                return (e.get("dentist", {}).get("start_at") == ms(at(5, 15))
                        and e.get("lunch", {}).get("status") == "cancelled"
                        and e.get(second, {}).get("status") == "cancelled"
                        and e)
            ev = wait_for(changed, 20, "the edited feed\n" + d.logs())
            assert ev["dentist"]["sequence"] == 1
            assert ev[sync_id(SYNC0)]["status"] == "confirmed"
            assert len(live(d)) == 4, sorted(live(d))
            stored = events(d)

            # a broken feed changes nothing
            Feed.set(feed_v2()[:150])
            wait_for(lambda: logged(d, "the calendar could not be read"), 10,
                     "the parse error in the log")
            err = logged(d, "the calendar could not be read")[0]
            assert err["level"] == "error", err
            assert "not a complete iCalendar" in err["msg"], err
            time.sleep(1.5)
            assert events(d) == stored

            # an unreachable server changes nothing either
            Feed.set(feed_v1())
            Feed.down = True
            srv.shutdown()
            srv.server_close()
            wait_for(lambda: logged(d, "fetching the calendar failed"), 15,
                     "the fetch error in the log")
            time.sleep(1.5)
            assert events(d) == stored
            assert d.stop() == 0
    finally:
        srv.server_close()


def test_file_feed():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="assist-it-ics-")
    path = os.path.join(tmp, "cal.ics")
    with open(path, "wb") as f:
        f.write(feed_v1())
    with Daemon(config("path: " + path)) as d:
        wait_for(lambda: len(live(d)) == 6, 20, "six events from the file\n"
                 + d.logs())
        with open(path + ".tmp", "wb") as f:
            f.write(feed_v2())
        os.replace(path + ".tmp", path)
        wait_for(lambda: len(live(d)) == 4 and
                 events(d)["lunch"]["status"] == "cancelled", 20,
                 "the edited file\n" + d.logs())
        os.remove(path)
        wait_for(lambda: logged(d, "cannot read " + path), 10,
                 "the missing file in the log")
        assert len(live(d)) == 4
        assert d.stop() == 0


if __name__ == "__main__":
    run([test_url_feed_lifecycle, test_file_feed])
