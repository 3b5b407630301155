"""The reminder outbox through the real daemon, with the dry-run notifier.

Events come in the real way: an ics-feed instance reads an iCalendar file
for the admin account, the service plans them (default offsets: T-24h,
T-2h, T-30m, T-5m; the past ones are skipped), and the dispatcher moves
what comes due into "assistant.deliver" jobs. Events start a little over
five minutes from now, so T-5m comes due during the test. What it shows:

- the dry-run outbox fills: the delivery is "sent" with provider message
  id dry-run-<id>, the rendered subject, text, HTML and ICS stored and
  served by GET /api/deliveries[/{id}]; the ICS parses (METHOD:REQUEST,
  the feed's UID, the person as ATTENDEE with RSVP=TRUE, CRLF, folded);
- a cancelled event gets no delivery;
- never twice: a daemon killed with SIGKILL while a job is queued, then
  restarted on the same database, sends that reminder exactly once and
  never sends the earlier one again;
- one audit entry "reminder.send" per delivery, about the person;
- no message content in the log.
"""
import json
import os
import signal
import sqlite3
import tempfile
import time

from assistd_test import ADMIN_EMAIL, Daemon, base_config, run, wait_for

MIN = 60 * 1000


def ics_time(ms):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ms / 1000))


def write_feed(path, events):
    now = int(time.time() * 1000)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//assistd tests//EN"]
    for e in events:
        lines += ["BEGIN:VEVENT", "UID:" + e["uid"],
                  "DTSTAMP:" + ics_time(now),
                  "DTSTART:" + ics_time(e["start"]),
                  "DTEND:" + ics_time(e["start"] + 30 * MIN),
                  "SUMMARY:" + e["summary"],
                  "LOCATION:Room 4\\, first floor",
                  "ORGANIZER:mailto:clinic@example.com",
                  "STATUS:" + e.get("status", "CONFIRMED"),
                  "END:VEVENT"]
    lines.append("END:VCALENDAR")
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")
    os.replace(tmp, path)


def new_db_dir():
    from test_storage_backends import new_key_file
    d = tempfile.mkdtemp(prefix="assist-it-outbox-")
    new_key_file(os.path.join(d, "master.key"))
    return d


def config(db, feed, interval):
    return base_config(extra="""storage: "sqlite:%s/assist.db"
secrets:
  key_file: %s/master.key
reminders:
  public_url: "http://127.0.0.1:{port}"
  email_notifier: dry-run
  from_email: reminders@example.org
  dispatch_interval: %s
""" % (db, db, interval), plugins="""  - name: cal
    plugin: ics-feed
    options:
      path: %s
      user: "%s"
      refresh: 1s
""" % (feed, ADMIN_EMAIL))


def q(db, sql, *args):
    con = sqlite3.connect(os.path.join(db, "assist.db"), timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def event_id(db, uid):
    rows = q(db, "SELECT id FROM calendar_events WHERE ical_uid = ?", uid)
    return rows[0]["id"] if rows else None


def deliveries_of(db, uid):
    return q(db, "SELECT d.* FROM deliveries d JOIN calendar_events e"
             " ON e.id = d.event_id WHERE e.ical_uid = ?", uid)


def unfold(ics):
    assert "\n" not in ics.replace("\r\n", ""), "bare LF in the ICS"
    assert ics.endswith("\r\n"), ics
    for line in ics.split("\r\n"):
        assert len(line.encode()) <= 75, line
    return ics.replace("\r\n ", "").split("\r\n")


def check_content(d, db, delivery_id, uid, summary):
    st, _, body = d.request("GET", "/api/deliveries/%d" % delivery_id)
    assert st == 200, (st, body)
    dv = json.loads(body)
    assert dv["state"] == "sent", dv
    assert dv["notifier"] == "dry-run", dv
    assert dv["provider_message_id"] == "dry-run-%d" % delivery_id, dv
    assert dv["recipient"] == ADMIN_EMAIL, dv
    assert dv["channel"] == "email" and dv["attempts"] == 1, dv
    assert dv["subject"].startswith("Reminder: " + summary), dv["subject"]
    assert summary in dv["body_text"] and "/rsvp/" in dv["body_text"], dv
    assert "<html>" in dv["body_html"] and "/rsvp/" in dv["body_html"], dv
    assert "Room 4, first floor" in dv["body_text"], dv["body_text"]
    lines = unfold(dv["ics"])
    assert lines[0] == "BEGIN:VCALENDAR" and "METHOD:REQUEST" in lines, lines
    assert "UID:" + uid in lines, lines
    att = [ln for ln in lines if ln.startswith("ATTENDEE")]
    assert len(att) == 1, lines
    assert "PARTSTAT=NEEDS-ACTION" in att[0] and "RSVP=TRUE" in att[0], att
    assert att[0].lower().endswith("mailto:" + ADMIN_EMAIL), att
    org = [ln for ln in lines if ln.startswith("ORGANIZER")]
    assert org == ["ORGANIZER:mailto:clinic@example.com"], org
    assert "SUMMARY:" + summary in lines, lines
    assert any(ln.startswith("DTSTART:") and ln.endswith("Z")
               for ln in lines), lines
    return dv


def test_dry_run_outbox_and_restart():
    db = new_db_dir()
    feed = os.path.join(db, "calendar.ics")
    now = int(time.time() * 1000)
    # T-5m of A comes due in ~15 s, of C in ~35 s; B is cancelled.
    a = {"uid": "outbox-a@test", "summary": "Outbox dentist",
         "start": now + 5 * MIN + 15000}
    b = {"uid": "outbox-b@test", "summary": "Outbox cancelled",
         "start": now + 5 * MIN + 15000, "status": "CANCELLED"}
    c = {"uid": "outbox-c@test", "summary": "Outbox physio",
         "start": now + 5 * MIN + 35000}
    write_feed(feed, [a, b, c])
    # A dispatch interval of 20 s: C's decision is queued (its job
    # waiting for its time) well before it is due.
    cfg = config(db, feed, "20s")
    with Daemon(cfg) as d:
        wait_for(lambda: event_id(db, a["uid"]) and event_id(db, c["uid"]),
                 30, "the feed's events stored")
        ev_c = event_id(db, c["uid"])
        wait_for(lambda: [r for r in deliveries_of(db, a["uid"])
                          if r["state"] == "sent"], 60,
                 "A's reminder sent (dry run)")
        rows = deliveries_of(db, a["uid"])
        assert len(rows) == 1, rows
        check_content(d, db, rows[0]["id"], a["uid"], a["summary"])

        # The list: own (admin sees all), filters.
        lst = d.get_json("/api/deliveries?state=sent")
        assert [x["id"] for x in lst["deliveries"]] == [rows[0]["id"]], lst
        assert "body_text" not in lst["deliveries"][0], lst
        lst = d.get_json("/api/deliveries?event_id=%d" % ev_c)
        assert lst["deliveries"] == [], lst
        st, _, _ = d.request("GET", "/api/deliveries?state=bogus")
        assert st == 400
        st, _, _ = d.request("GET", "/api/deliveries/999999")
        assert st == 404
        st, _, _ = d.request("GET", "/api/deliveries", auth=False)
        assert st == 401
        # Another person sees none of them, and the admin's is a 404.
        import test_oauth
        bob = test_oauth.make_user(d, "bob@test", "bob-password-1")
        st, _, body = test_oauth.call(d, "GET", "/api/deliveries",
                                      session=bob)
        assert st == 200 and json.loads(body)["deliveries"] == [], body
        st, _, _ = test_oauth.call(d, "GET", "/api/deliveries/%d" %
                                   rows[0]["id"], session=bob)
        assert st == 404
        st, _, _ = test_oauth.call(d, "GET", "/api/deliveries?user_id=%d" %
                                   d.admin_id, session=bob)
        assert st == 403

        # Kill -9 once C's job is queued and before it ran.
        wait_for(lambda: q(db, "SELECT 1 FROM notifications WHERE"
                           " event_id = ? AND state = 'queued'", ev_c),
                 60, "C's decision queued")
        d.stop(sig=signal.SIGKILL)
        assert deliveries_of(db, b["uid"]) == []

    with Daemon(cfg) as d:
        wait_for(lambda: [r for r in deliveries_of(db, c["uid"])
                          if r["state"] == "sent"], 60,
                 "C's reminder sent after the restart")
        # A few more passes: nothing is sent twice.
        time.sleep(3)
        rows_c = deliveries_of(db, c["uid"])
        assert len(rows_c) == 1, rows_c
        check_content(d, db, rows_c[0]["id"], c["uid"], c["summary"])
        rows_a = deliveries_of(db, a["uid"])
        assert len(rows_a) == 1 and rows_a[0]["attempts"] == 1, rows_a
        assert deliveries_of(db, b["uid"]) == []
        ev_b = event_id(db, b["uid"])
        assert q(db, "SELECT 1 FROM notifications WHERE event_id = ? AND"
                 " state IN ('planned','queued','done')", ev_b) == []
        for n in q(db, "SELECT id FROM notifications WHERE state = 'done'"):
            jobs = q(db, "SELECT state FROM jobs WHERE idem_key LIKE ?",
                     "notification:%d%%" % n["id"])
            assert len(jobs) == 1, (n, jobs)
        # Audited: one reminder.send per delivery, about the person.
        audit = d.get_json("/api/audit?action=reminder.send")["entries"]
        sent = {"delivery:%d" % r["id"] for r in rows_a + rows_c}
        assert {e["target"] for e in audit} == sent, audit
        assert all(e["actor"] == "assistant" and e["outcome"] == "ok" and
                   e["subject"] == str(d.admin_id) for e in audit), audit
        assert d.stop() == 0
        logs = d.logs()
        assert "Reminder: " not in logs and "BEGIN:VCALENDAR" not in logs


if __name__ == "__main__":
    run([test_dry_run_outbox_and_restart])
