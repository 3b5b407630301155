"""Appointment reminders end to end (core/assistant) through the real path:
an ics-feed instance reads an iCalendar file the test writes, the daemon
stores and plans the events, and the REST API and RSVP pages are used as a
person would, on SQLite and on a PostgreSQL started here.

- preferences: GET/PUT /api/users/{id}/preferences: 422 with every error,
  another person's 403 (an admin may), canonical JSON back, audited;
- events and plans: /api/events (own only; user_id for admins),
  /api/events/{id}, /api/events/{id}/plan with every decision, its reason
  and times in UTC and the person's zone;
- re-planning: a preferences change, an event moved and an event cancelled
  in the feed, an event removed from the feed (prune);
- RSVP: GET changes nothing; POST without or with a wrong CSRF token is
  refused; success declines and cancels the remaining reminders; replay,
  tampering and expiry (rsvp_ttl: 1s applied by a reload) get clear pages.
"""
import json
import os
import re
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

from assistd_test import Daemon, base_config, run, wait_for
from test_storage_backends import (PgBackend, PgServer, SqliteBackend,
                                   pg_available, scalar, skip_pg)

PG = None


def pg():
    global PG
    if PG is None:
        PG = PgServer()
    return PG


def ics_time(dt):
    return dt.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def write_ics(path, events):
    """events: dicts with uid, start (datetime), minutes, summary and
    optionally location, status, sequence."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//assistd tests//EN"]
    for e in events:
        lines += ["BEGIN:VEVENT", "UID:" + e["uid"],
                  "DTSTAMP:20250101T000000Z",
                  "DTSTART:" + ics_time(e["start"]),
                  "DTEND:" + ics_time(e["start"] +
                                      timedelta(minutes=e.get("minutes", 60))),
                  "SUMMARY:" + e["summary"],
                  "SEQUENCE:%d" % e.get("sequence", 0)]
        if e.get("location"):
            lines.append("LOCATION:" + e["location"])
        if e.get("status"):
            lines.append("STATUS:" + e["status"])
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")
    os.replace(tmp, path)


def config(backend, cal, rsvp_ttl="1h"):
    return base_config(
        extra=backend.config() + """
reminders:
  rsvp_ttl: %s
  dispatch_interval: 1s
""" % rsvp_ttl,
        plugins="""
  - name: cal
    plugin: ics-feed
    options:
      path: %s
      user: admin@test
      calendar: main
      refresh: 1s
      horizon: 30d
""" % cal)


def call(d, method, path, body=None, headers=None, token=None, auth=True):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    return d.request(method, path, body=body, headers=h, auth=auth)


def get(d, path, token=None, want=200):
    st, _, body = call(d, "GET", path, token=token)
    assert st == want, (path, st, body)
    return json.loads(body)


def events(d):
    return get(d, "/api/events?limit=1000")["events"]


def by_summary(d, summary):
    for e in events(d):
        if e["summary"] == summary:
            return e
    return None


def plan(d, eid):
    return get(d, "/api/events/%d/plan" % eid)


def planned(d, eid):
    """{offset_s: (channel, scheduled_at_ms)} of the planned decisions."""
    return {x["offset_s"]: (x["channel"], x["scheduled_at_ms"])
            for x in plan(d, eid)["decisions"] if x["state"] == "planned"}


def user_token(d, email, password):
    st, _, body = call(d, "POST", "/api/users",
                       {"email": email, "password": password, "role": "user"})
    assert st == 201, (st, body)
    uid = json.loads(body)["user"]["id"] if "user" in json.loads(body) \
        else json.loads(body)["id"]
    st, h, body = call(d, "POST", "/api/auth/login",
                       {"email": email, "password": password}, auth=False)
    assert st == 200, (st, body)
    cookie = h["Set-Cookie"].split(";", 1)[0]
    csrf = json.loads(body)["csrf_token"]
    st, _, body = call(d, "POST", "/api/tokens",
                       {"name": "t", "scopes": "read,write"},
                       headers={"Cookie": cookie, "X-CSRF-Token": csrf},
                       auth=False)
    assert st == 201, (st, body)
    return uid, json.loads(body)["secret"]


def page(d, method, url, form=None):
    path = urllib.parse.urlsplit(url).path
    body = urllib.parse.urlencode(form) if form is not None else None
    h = {"Content-Type": "application/x-www-form-urlencoded"} if form \
        is not None else {}
    st, hdrs, text = d.request(method, path, body=body, headers=h,
                               auth=False)
    return st, hdrs, text.decode()


def csrf_of(html):
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def scenario(backend):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    t_a = (now + timedelta(days=3)).replace(hour=10, minute=0, second=0)
    t_b = (now + timedelta(days=5)).replace(hour=9, minute=0, second=0)
    t_c = (now + timedelta(days=6)).replace(hour=14, minute=0, second=0)
    evs = [{"uid": "a@test", "start": t_a, "summary": "Dentist",
            "location": "Main St 1"},
           {"uid": "b@test", "start": t_b, "summary": "Standup"},
           {"uid": "c@test", "start": t_c, "summary": "Review"}]
    cal = os.path.join(tempfile.mkdtemp(prefix="assist-it-cal-"), "cal.ics")
    write_ics(cal, evs)
    with Daemon(config(backend, cal)) as d:
        wait_for(lambda: len(events(d)) == 3, 20, "three events from the feed")
        a = by_summary(d, "Dentist")
        assert a["source"] == "cal:main" and a["location"] == "Main St 1", a
        assert a["start_at_ms"] == int(t_a.timestamp() * 1000), a
        one = get(d, "/api/events/%d" % a["id"])
        assert one["external_id"] and one["attendees"] == [], one

        # -- the plan: every default offset planned by e-mail, explained
        # (the events are committed before their plans: wait for those)
        wait_for(lambda: planned(d, a["id"]), 20, "the Dentist's plan")
        p = plan(d, a["id"])
        assert p["timezone"] == "UTC" and p["start_at"].endswith("Z"), p
        pl = planned(d, a["id"])
        assert set(pl) == {86400, 7200, 1800, 300}, p
        for x in p["decisions"]:
            assert x["reason"] and x["channel"] == "email", x
            assert x["scheduled_at"].endswith("Z"), x
            assert x["scheduled_local"].endswith("+00:00"), x
        start_ms = a["start_at_ms"]
        assert pl[7200][1] == start_ms - 7200 * 1000, pl

        # -- preferences: validation, ownership, re-plan
        uid = d.admin_id
        prefs = get(d, "/api/users/%d/preferences" % uid)
        assert prefs["timezone"] == "UTC" and prefs["offsets"] == \
            ["24h", "2h", "30m", "5m"], prefs
        st, _, body = call(d, "PUT", "/api/users/%d/preferences" % uid,
                           {"timezone": "Mars/Olympus", "offsets": ["99d"],
                            "channel": "fax", "max_call_attempts": 9})
        assert st == 422, (st, body)
        errs = json.loads(body)["errors"]
        assert len(errs) >= 4, errs
        for field in ("timezone", "offsets", "channel", "max_call_attempts"):
            assert any(e.startswith(field) for e in errs), (field, errs)
        assert planned(d, a["id"]) == pl  # nothing changed
        st, _, body = call(d, "PUT", "/api/users/%d/preferences" % uid,
                           "not json")
        assert st == 422, (st, body)
        st, _, body = call(d, "PUT", "/api/users/%d/preferences" % uid,
                           {"timezone": "Europe/Berlin",
                            "offsets": ["48h", "1h"]})
        assert st == 200, (st, body)
        assert json.loads(body)["offsets"] == ["48h", "1h"], body
        pl = planned(d, a["id"])
        assert set(pl) == {172800, 3600}, plan(d, a["id"])
        p = plan(d, a["id"])
        assert p["timezone"] == "Europe/Berlin", p
        old = [x for x in p["decisions"] if x["offset_s"] == 86400]
        assert old and old[0]["state"] == "cancelled", p["decisions"]
        assert re.search(r"\+0[12]:00$", p["start_local"]), p
        audit = get(d, "/api/audit?action=preferences.update")["entries"]
        assert [x["outcome"] for x in audit].count("ok") == 1, audit
        assert [x["outcome"] for x in audit].count("invalid") >= 1, audit

        # another person: their own preferences yes, the admin's no;
        # the admin may read and write theirs
        bob, bob_token = user_token(d, "bob@test", "bob-password-1")
        st, _, body = call(d, "GET", "/api/users/%d/preferences" % uid,
                           token=bob_token)
        assert st == 403, (st, body)
        st, _, body = call(d, "PUT", "/api/users/%d/preferences" % uid,
                           {"offsets": ["1h"]}, token=bob_token)
        assert st == 403, (st, body)
        get(d, "/api/users/%d/preferences" % bob, token=bob_token)
        st, _, body = call(d, "PUT", "/api/users/%d/preferences" % bob,
                           {"offsets": ["1h"]}, token=bob_token)
        assert st == 200, (st, body)
        st, _, body = call(d, "PUT", "/api/users/%d/preferences" % bob,
                           {"timezone": "Asia/Tokyo"})  # the admin
        assert st == 200, (st, body)
        assert get(d, "/api/users/%d/preferences" % bob,
                   token=bob_token)["timezone"] == "Asia/Tokyo"
        # bob sees none of the admin's events; user_id is for admins
        assert get(d, "/api/events", token=bob_token)["events"] == []
        get(d, "/api/events/%d" % a["id"], token=bob_token, want=404)
        get(d, "/api/events/%d/plan" % a["id"], token=bob_token, want=404)
        get(d, "/api/events?user_id=%d" % uid, token=bob_token, want=403)
        assert len(get(d, "/api/events?user_id=%d" % uid)["events"]) == 3
        get(d, "/api/events?from=yesterday", want=400)
        win = get(d, "/api/events?from=%s&to=%s" % (
            (t_a - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (t_a + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")))
        assert [e["summary"] for e in win["events"]] == ["Dentist"], win

        # -- the feed moves A by a day and cancels B: plans follow
        evs[0]["start"] = t_a + timedelta(days=1)
        evs[0]["sequence"] = 1
        evs[1]["status"] = "CANCELLED"
        evs[1]["sequence"] = 1
        write_ics(cal, evs)
        moved_ms = start_ms + 86400 * 1000
        wait_for(lambda: planned(d, a["id"]).get(3600, (0, 0))[1] ==
                 moved_ms - 3600 * 1000, 20, "the moved event re-planned")
        b = by_summary(d, "Standup")
        wait_for(lambda: planned(d, b["id"]) == {}, 20, "cancelled: no plan")
        assert get(d, "/api/events/%d" % b["id"])["status"] == "cancelled"
        states = {x["state"] for x in plan(d, b["id"])["decisions"]}
        assert "cancelled" in states and "planned" not in states, states
        # -- removed from the feed: pruned as cancelled
        write_ics(cal, [evs[0], evs[1]])
        c = by_summary(d, "Review")
        wait_for(lambda: get(d, "/api/events/%d" % c["id"])["status"] ==
                 "cancelled", 20, "the removed event pruned")
        wait_for(lambda: planned(d, c["id"]) == {}, 20, "pruned: no plan")

        # -- RSVP
        links = get(d, "/api/events/%d/rsvp" % a["id"])["links"]
        assert set(links) == {"accepted", "declined", "tentative"}, links
        get(d, "/api/events/%d/rsvp" % a["id"], token=bob_token, want=404)
        url = links["declined"]
        before = plan(d, a["id"])
        st, h, html = page(d, "GET", url)
        assert st == 200 and "Decline" in html and "Dentist" in html, html
        assert h.get("Cache-Control") == "no-store", h
        csrf = csrf_of(html)
        st, _, html = page(d, "GET", url)  # scanners open links twice
        assert st == 200
        after = plan(d, a["id"])
        assert after == before, "GET changed something"
        assert get(d, "/api/events/%d" % a["id"])["response"] == "needsAction"
        st, _, html = page(d, "POST", url, {})
        assert st == 403 and "confirmation page" in html, (st, html)
        st, _, html = page(d, "POST", url, {"csrf": csrf[:-2] + "xx"})
        assert st == 403, (st, html)
        other = csrf_of(page(d, "GET", links["accepted"])[2])
        st, _, html = page(d, "POST", url, {"csrf": other})
        assert st == 403, (st, html)  # another link's token
        assert planned(d, a["id"]), "refused POSTs changed the plan"
        st, _, html = page(d, "POST", url, {"csrf": csrf})
        assert st == 200 and "declined" in html and "cancelled" in html, html
        assert get(d, "/api/events/%d" % a["id"])["response"] == "declined"
        assert planned(d, a["id"]) == {}, plan(d, a["id"])
        st, _, html = page(d, "POST", url, {"csrf": csrf})
        assert st == 410 and "already used" in html, (st, html)
        st, _, html = page(d, "GET", url)
        assert st == 410, st
        st, _, html = page(d, "GET", url[:-3] + ("AAA" if url[-3:] != "AAA"
                                                 else "BBB"))
        assert st == 400 and "not valid" in html, (st, html)
        st, _, html = page(d, "GET", url.rsplit(".", 1)[0])
        assert st == 400, st
        audit = get(d, "/api/audit?action=rsvp.respond")["entries"]
        outcomes = [x["outcome"] for x in audit]
        assert outcomes.count("ok") == 1 and "denied" in outcomes and \
            "replay" in outcomes, outcomes
        # one answer per token, kept by digest
        assert scalar(backend, "SELECT count(*) FROM rsvp_used") == 1
        # the feed syncing again (needsAction) keeps the person's answer
        evs[0]["summary"] = "Dentist (moved room)"
        write_ics(cal, [evs[0], evs[1]])
        wait_for(lambda: get(d, "/api/events/%d" % a["id"])["summary"] ==
                 "Dentist (moved room)", 20, "the renamed event")
        assert get(d, "/api/events/%d" % a["id"])["response"] == "declined"
        assert planned(d, a["id"]) == {}

        # -- expiry: rsvp_ttl 1s applied by a reload
        d.reload(config(backend, cal, rsvp_ttl="1s"))
        url = get(d, "/api/events/%d/rsvp" % a["id"])["links"]["accepted"]
        st, _, html = page(d, "GET", url)
        if st == 200:  # may already be past its second on a slow machine
            csrf = csrf_of(html)
            time.sleep(2.2)
            st, _, html = page(d, "POST", url, {"csrf": csrf})
        else:
            time.sleep(2.2)
        assert st == 410 and "expired" in html, (st, html)
        st, _, html = page(d, "GET", url)
        assert st == 410 and "expired" in html, (st, html)
        assert get(d, "/api/events/%d" % a["id"])["response"] == "declined"
        assert d.stop() == 0, d.logs()
        # the tokens are credentials: never in the log (access log included)
        logs = d.logs()
        assert "/rsvp/{token}" in logs, "no RSVP request logged"
        for link in list(links.values()) + [url]:
            assert link.rsplit("/", 1)[1] not in logs, "RSVP token logged"


def test_reminders_sqlite():
    b = SqliteBackend()
    try:
        scenario(b)
    finally:
        b.close()


def test_reminders_postgresql():
    if not pg_available():
        skip_pg("test_reminders_postgresql")
        return
    b = PgBackend(pg())
    try:
        scenario(b)
    finally:
        b.close()


if __name__ == "__main__":
    try:
        run([test_reminders_sqlite, test_reminders_postgresql])
    finally:
        if PG is not None:
            PG.close()
