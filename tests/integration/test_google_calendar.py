"""The google-calendar plugin through the real daemon.

Against the Google emulator (@inbox-zero/emulate@0.4.5, tests/harness):
a person connects their Google account (the OAuth flow of test_oauth),
the plugin syncs the account's primary calendar into calendar_events, and
events created, and cancelled (deleted) in the emulator through its
Calendar API follow, with their plans (notifications).

The emulator cannot produce several behaviours the plugin must handle: it
returns no nextSyncToken and ignores syncToken (no incremental sync, no
410), and has no events.get, PATCH, events.watch or channels.stop. For
exactly those, a second plugin instance talks to a SMALL FAKE of the
Calendar API (gcal_fake.py, clearly labelled there) while its OAuth token
still comes from the emulator: pagination with the last page's sync
token, incremental syncs driven by push notifications (good, bad and
unknown channel tokens), an event moved and one cancelled, 410 leading to
a full resync that prunes what disappeared, a 503 with Retry-After, the
sync token surviving a restart, channels stopped when the daemon stops,
and an RSVP written back with PATCH attendees[].responseStatus.

Skipped (exit 77, with a message) only when node or npm are missing.
"""
import calendar
import html
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from assistd_test import Daemon, SOURCE_ROOT, base_config, run, wait_for
import gcal_fake
import test_oauth
from test_oauth import ALICE, CLIENT_ID, CLIENT_SECRET, REDIRECT_BASE

HARNESS = os.path.join(SOURCE_ROOT, "tests", "harness")
EMU_TOKEN = "gcal-it-alice-token"   # the test's own bearer for the emulator
GOOGLE = None
EMU_DIR = None
DAY = 86400 * 1000


def start_emulator():
    global GOOGLE, EMU_DIR
    rc = subprocess.run([os.path.join(HARNESS, "oauth-npm.sh")]).returncode
    if rc == 77:
        print("SKIPPED: node/npm are not installed; google-calendar "
              "integration test not run", flush=True)
        sys.exit(77)
    assert rc == 0, "tests/harness/oauth-npm.sh failed (%d)" % rc
    EMU_DIR = tempfile.mkdtemp(prefix="assist-it-gcal-")
    seed = os.path.join(EMU_DIR, "google.yaml")
    start = time.strftime("%Y-%m-%dT09:00:00.000Z",
                          time.gmtime(time.time() + 3 * 86400))
    end = time.strftime("%Y-%m-%dT09:30:00.000Z",
                        time.gmtime(time.time() + 3 * 86400))
    with open(seed, "w") as f:
        f.write("""tokens:
  %s:
    login: %s
google:
  users:
    - email: %s
      name: Alice Example
  oauth_clients:
    - client_id: %s
      client_secret: %s
      redirect_uris:
        - %s/api/connections/google/callback
  calendars:
    - id: alice-primary
      user_email: %s
      summary: %s
      primary: true
      selected: true
      time_zone: Europe/Berlin
  calendar_events:
    - id: evt_seeded
      user_email: %s
      calendar_id: alice-primary
      summary: Seeded kickoff
      start_date_time: %s
      end_date_time: %s
""" % (EMU_TOKEN, ALICE, ALICE, CLIENT_ID, CLIENT_SECRET, REDIRECT_BASE,
            ALICE, ALICE, ALICE, start, end))
    out = subprocess.run([os.path.join(HARNESS, "emulate-start.sh"), EMU_DIR,
                          "google", seed], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, "emulator did not start:\n" + out.stderr
    for line in out.stdout.splitlines():
        if line.startswith("EMULATE_URL="):
            GOOGLE = line[len("EMULATE_URL="):]
    assert GOOGLE, out.stdout
    test_oauth.GOOGLE = GOOGLE  # its connect() and consent() use it


def stop_emulator():
    if EMU_DIR:
        subprocess.run([os.path.join(HARNESS, "oauth-stop.sh"),
                        os.path.join(EMU_DIR, "emulate-google.pid")])


def emu(method, path, body=None):
    """The emulator's Calendar API as Alice (the test's own token)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(GOOGLE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + EMU_TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def config(db_dir, plugins):
    return base_config(extra="""storage: "sqlite:%s/assist.db"
secrets:
  key_file: %s/master.key
oauth:
  redirect_base: %s
  providers:
    google:
      client_id: %s
      client_secret: ${GCAL_IT_GOOGLE_SECRET}
      authorize_url: %s/o/oauth2/v2/auth
      token_url: %s/oauth2/token
      revoke_url: %s/oauth2/revoke
      scopes: [openid, email, "https://www.googleapis.com/auth/calendar.events"]
""" % (db_dir, db_dir, REDIRECT_BASE, CLIENT_ID, GOOGLE, GOOGLE, GOOGLE),
        plugins=plugins)


ENV = {"GCAL_IT_GOOGLE_SECRET": CLIENT_SECRET}


def new_db_dir():
    from test_storage_backends import new_key_file
    d = tempfile.mkdtemp(prefix="assist-it-gcal-db-")
    new_key_file(os.path.join(d, "master.key"))
    return d


def emulator_instance(name="gcal", interval="1s"):
    return """  - name: %s
    plugin: google-calendar
    options:
      api_base: %s/calendar/v3
      sync_interval: %s
""" % (name, GOOGLE, interval)


def fake_instance(fake, name="gfake", interval="1h", page_size=2,
                  channel_ttl="1h"):
    # channel_ttl (1h) is shorter than two sync intervals: the channel is
    # still renewed only at half its lifetime, not at every sync.
    return """  - name: %s
    plugin: google-calendar
    options:
      api_base: %s/calendar/v3
      sync_interval: %s
      page_size: %d
      push_address: %s/api/webhooks/%s/push
      channel_ttl: %s
""" % (name, fake.url, interval, page_size, REDIRECT_BASE, name,
       channel_ttl)


def rows(db_dir, source):
    con = sqlite3.connect(os.path.join(db_dir, "assist.db"), timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return {r["external_id"]: dict(r) for r in con.execute(
            "SELECT * FROM calendar_events WHERE source = ?", (source,))}
    finally:
        con.close()


def planned(db_dir, event_row_id):
    con = sqlite3.connect(os.path.join(db_dir, "assist.db"), timeout=10)
    try:
        return con.execute(
            "SELECT count(*) FROM notifications WHERE event_id = ? AND "
            "state = 'planned'", (event_row_id,)).fetchone()[0]
    finally:
        con.close()


def plan_times(db_dir, event_row_id):
    """{offset_s: scheduled_at} of the event's planned notifications."""
    con = sqlite3.connect(os.path.join(db_dir, "assist.db"), timeout=10)
    try:
        return dict(con.execute(
            "SELECT offset_s, scheduled_at FROM notifications WHERE "
            "event_id = ? AND state = 'planned'", (event_row_id,)))
    finally:
        con.close()


def wait_rows(db_dir, source, pred, what, timeout=20):
    def ok():
        r = rows(db_dir, source)
        return r if pred(r) else None
    return wait_for(ok, timeout, what)


def connect_bob(d):
    bob = test_oauth.make_user(d, "bob@test", "bob-password-1")
    conn_id = test_oauth.connect(d, bob)
    return bob, conn_id


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def test_emulator_connect_sync_create_cancel():
    db = new_db_dir()
    with Daemon(config(db, emulator_instance()), env=ENV) as d:
        _, conn = connect_bob(d)
        src = "gcal:%d:primary" % conn
        r = wait_rows(db, src, lambda r: "evt_seeded" in r,
                      "the seeded event synced")
        ev = r["evt_seeded"]
        assert ev["summary"] == "Seeded kickoff", ev
        assert ev["all_day"] == 0 and ev["status"] == "confirmed", ev
        assert ev["end_at"] - ev["start_at"] == 30 * 60 * 1000, ev
        wait_for(lambda: planned(db, ev["id"]) > 0, 20,
                 "reminders planned for the seeded event")

        # Created in the emulator: a timed event with Alice as attendee,
        # and an all-day one (local midnight in the calendar's zone).
        t0 = (int(time.time() * 1000) // DAY + 5) * DAY + 14 * 3600 * 1000
        made = emu("POST", "/calendar/v3/calendars/primary/events", {
            "summary": "Dentist", "location": "Main St 1",
            "start": {"dateTime": iso(t0)},
            "end": {"dateTime": iso(t0 + 45 * 60 * 1000)},
            "attendees": [{"email": "dr@example.com",
                           "responseStatus": "accepted"},
                          {"email": ALICE, "responseStatus": "needsAction",
                           "self": True}]})
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 10 * 86400))
        day2 = time.strftime("%Y-%m-%d",
                             time.gmtime(time.time() + 11 * 86400))
        allday = emu("POST", "/calendar/v3/calendars/primary/events", {
            "summary": "Holiday", "start": {"date": day},
            "end": {"date": day2}})
        r = wait_rows(db, src, lambda r: made["id"] in r and
                      allday["id"] in r, "created events synced")
        ev = r[made["id"]]
        assert ev["start_at"] == t0 and ev["location"] == "Main St 1", ev
        att = json.loads(ev["attendees"])
        assert {(a["email"], a["status"]) for a in att} == {
            ("dr@example.com", "accepted"), (ALICE, "needsAction")}, att
        assert [a["self"] for a in att if a["email"] == ALICE] in \
            ([1], [True]), att
        wait_for(lambda: planned(db, ev["id"]) > 0, 20, "Dentist planned")
        a = r[allday["id"]]
        assert a["all_day"] == 1 and a["start_date"] == day, a
        # Europe/Berlin midnight is 22:00 or 23:00 UTC the day before
        utc_midnight = calendar.timegm(time.strptime(day, "%Y-%m-%d")) * 1000
        assert utc_midnight - a["start_at"] in (3600 * 1000, 7200 * 1000), a
        assert a["tz"] == "Europe/Berlin", a

        # Cancelled (deleted) in the emulator: the next full sync prunes
        # it and its plan goes.
        emu("DELETE", "/calendar/v3/calendars/primary/events/" + made["id"])
        r = wait_rows(db, src,
                      lambda r: r[made["id"]]["status"] == "cancelled",
                      "deleted event cancelled")
        assert r["evt_seeded"]["status"] == "confirmed", r
        wait_for(lambda: planned(db, ev["id"]) == 0, 20,
                 "the cancelled event's plan removed")
        assert d.stop() == 0
        logs = d.logs()
        assert CLIENT_SECRET not in logs
        assert "Bearer" not in logs


def push(d, channel, token, state="exists", resource="res-primary",
         instance="gfake"):
    h = {"X-Goog-Channel-ID": channel, "X-Goog-Resource-State": state,
         "X-Goog-Resource-ID": resource, "X-Goog-Message-Number": "7",
         "Content-Length": "0"}
    if token is not None:
        h["X-Goog-Channel-Token"] = token
    st, _, body = d.request("POST", "/api/webhooks/%s/push" % instance,
                            headers=h, auth=False)
    return st, body


def rsvp(d, event_row_id, response):
    st, h, body = d.request("POST", "/api/auth/login", body=json.dumps(
        {"email": "bob@test", "password": "bob-password-1"}),
        headers={"Content-Type": "application/json"}, auth=False)
    assert st == 200, (st, body)
    bob = (h["Set-Cookie"].split(";", 1)[0], json.loads(body)["csrf_token"])
    st, _, body = test_oauth.call(d, "GET", "/api/events/%d/rsvp" %
                                  event_row_id, session=bob)
    assert st == 200, (st, body)
    link = json.loads(body)["links"][response]
    path = urllib.parse.urlsplit(link).path
    st, _, page = d.request("GET", path, auth=False)
    assert st == 200, (st, page)
    m = re.search(rb'name="csrf" value="([^"]+)"', page)
    assert m, page
    form = "csrf=" + urllib.parse.quote(html.unescape(m.group(1).decode()))
    st, _, page = d.request("POST", path, body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded"}, auth=False)
    assert st == 200, (st, page)


def test_fake_incremental_push_410_restart():
    """Behaviour the emulator cannot produce, against gcal_fake.py."""
    fake = gcal_fake.FakeCalendar()
    db = new_db_dir()
    now = int(time.time() * 1000)
    base = (now // DAY + 2) * DAY + 9 * 3600 * 1000
    for i in range(5):
        fake.put({"id": "ev%d" % i, "summary": "Meeting %d" % i,
                  "iCalUID": "ev%d@fake" % i,
                  "start": {"dateTime": iso(base + i * DAY)},
                  "end": {"dateTime": iso(base + i * DAY + 3600 * 1000)},
                  "attendees": [{"email": "org@example.com",
                                 "responseStatus": "accepted"},
                                {"email": ALICE, "self": True,
                                 "responseStatus": "needsAction"}]})
    try:
        # Connect first (no fake instance yet), so that the fake
        # instance's first sync happens at its start, its interval (1h)
        # never fires, and every later sync is caused by a push.
        with Daemon(config(db, "  []"), env=ENV) as d:
            _, conn = connect_bob(d)
            assert d.stop() == 0
        src = "gfake:%d:primary" % conn
        with Daemon(config(db, fake_instance(fake)), env=ENV) as d:
            r = wait_rows(db, src, lambda r: len(r) == 5, "full sync")
            lists = fake.lists()
            # three pages of two, the window and singleEvents on each
            assert len(lists) == 3, lists
            for _, _, q, h, _ in lists:
                assert q["singleEvents"] == "true" and "timeMin" in q and \
                    "timeMax" in q and "syncToken" not in q, q
                assert h["Authorization"].startswith("Bearer "), h
            assert [q.get("pageToken") for _, _, q, _, _ in lists] == \
                [None, "2", "4"], lists
            wait_for(lambda: fake.watches, 10, "events.watch")
            w = fake.watches[-1]
            assert w["type"] == "web_hook", w
            assert w["params"] == {"ttl": "3600"}, w
            assert w["address"] == REDIRECT_BASE + \
                "/api/webhooks/gfake/push", w
            channel, token = w["id"], w["token"]
            assert 0 < len(token) <= 256 and len(channel) <= 64, w

            # Bad, missing, unknown: refused and nothing synced.
            n = len(fake.lists())
            assert push(d, channel, token[:-1] + "x")[0] == 403
            assert push(d, channel, None)[0] == 403
            assert push(d, channel, token, resource="other")[0] == 403
            assert push(d, "no-such-channel", token)[0] == 404
            st, _, _ = d.request("POST", "/api/webhooks/gfake/push",
                                 headers={"Content-Length": "0"}, auth=False)
            assert st == 400, st
            # "sync" is the channel's first message: acknowledged only.
            assert push(d, channel, token, state="sync")[0] == 200
            time.sleep(0.5)
            assert len(fake.lists()) == n, fake.lists()[n:]

            # Moved: the push starts an incremental sync with the token.
            moved = base + 3 * 3600 * 1000
            ev1 = dict(fake.events["ev1"])
            ev1["start"] = {"dateTime": iso(moved + DAY)}
            ev1["end"] = {"dateTime": iso(moved + DAY + 1800 * 1000)}
            fake.put(ev1)
            assert push(d, channel, token)[0] == 200
            r = wait_rows(db, src,
                          lambda r: r["ev1"]["start_at"] == moved + DAY,
                          "moved event")
            q = fake.lists()[n][2]
            assert q.get("syncToken") == "v5" and "timeMin" not in q, q
            assert r["ev1"]["end_at"] == moved + DAY + 1800 * 1000

            # Its plans follow: every planned reminder is its offset
            # before the new start.
            def replanned():
                p = plan_times(db, r["ev1"]["id"])
                return p and all(at == moved + DAY - off * 1000
                                 for off, at in p.items())
            wait_for(replanned, 20, "the moved event re-planned")

            # Cancelled: an incremental item with only id and status.
            fake.cancel("ev2")
            assert push(d, channel, token)[0] == 200
            wait_rows(db, src, lambda r: r["ev2"]["status"] == "cancelled",
                      "cancelled event")
            wait_for(lambda: planned(db, r["ev2"]["id"]) == 0, 20,
                     "the cancelled event's plan removed")

            # 503 with Retry-After: backed off, then done.
            fake.fail_next.append((503, {"Retry-After": "1"}))
            fake.put(dict(fake.events["ev3"], summary="Renamed"))
            assert push(d, channel, token)[0] == 200
            wait_rows(db, src, lambda r: r["ev3"]["summary"] == "Renamed",
                      "change after a 503")

            # 410: the token expired meanwhile; ev4 vanished without a
            # cancelled marker. A full resync prunes it.
            fake.forget("ev4")
            fake.expire_tokens()
            n = len(fake.lists())
            assert push(d, channel, token)[0] == 200
            wait_rows(db, src, lambda r: r["ev4"]["status"] == "cancelled",
                      "pruned after 410")
            after = [q for _, _, q, _, _ in fake.lists()[n:]]
            assert "syncToken" in after[0], after
            assert "syncToken" not in after[1] and "timeMin" in after[1], \
                after
            r = rows(db, src)
            assert r["ev0"]["status"] == "confirmed", r["ev0"]
            assert r["ev3"]["summary"] == "Renamed", r["ev3"]

            # RSVP through the service's flow (signed link, confirmation
            # page, POST with its CSRF field): the plugin reads the event
            # and PATCHes attendees[] with Alice's answer, keeping the
            # organizer's, under If-Match.
            etag = fake.events["ev0"]["etag"]
            rsvp(d, r["ev0"]["id"], "declined")
            wait_for(lambda: fake.patches, 20, "the RSVP PATCH")
            ev_id, body, match = fake.patches[0]
            assert ev_id == "ev0" and match == etag, fake.patches
            assert {a["email"]: a["responseStatus"] for a in
                    body["attendees"]} == {"org@example.com": "accepted",
                                           ALICE: "declined"}, body
            assert set(body) == {"attendees"}, body
            patch = [x for x in fake.requests if x[0] == "PATCH"][0]
            assert patch[2].get("sendUpdates") == "all", patch
            # Every sync above kept the one channel (1h left, margin 30m).
            assert len(fake.watches) == 1, fake.watches
            assert d.stop() == 0
            logs = d.logs()
            assert "full resync" in logs, logs
            assert token not in logs and "Bearer" not in logs
        # Stopping closed the channel.
        assert [s["id"] for s in fake.stops] == [channel], fake.stops
        assert fake.stops[0]["resourceId"] == "res-primary"

        # A restart continues incrementally from the stored token.
        n = len(fake.lists())
        fake.put(dict(fake.events["ev0"], summary="After restart"))
        with Daemon(config(db, fake_instance(fake)), env=ENV) as d:
            wait_rows(db, src,
                      lambda r: r["ev0"]["summary"] == "After restart",
                      "sync after restart")
            q = fake.lists()[n][2]
            assert q.get("syncToken", "").startswith("v"), q
            assert d.stop() == 0
    finally:
        fake.close()


if __name__ == "__main__":
    start_emulator()
    try:
        run([test_emulator_connect_sync_create_cancel,
             test_fake_incremental_push_410_restart])
    finally:
        stop_emulator()
