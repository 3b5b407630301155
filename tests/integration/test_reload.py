"""Hot reload (SIGHUP) and shutdown (SIGTERM) of the real daemon."""
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import http.client

from assistd_test import (PLUGIN_DIR, Daemon, base_config, free_port, run,
                          wait_for)


def hello(name, prefix, greeting="hello", tick="1s", delay="0ms", path=None):
    return """
  - name: %s
    plugin: hello%s
    options:
      prefix: "%s"
      greeting: "%s"
      tick: %s
      delay: %s
""" % (name, ("\n    path: " + path) if path else "", prefix, greeting,
       tick, delay)


def cfg(*instances, listen=None, extra=""):
    text = base_config(extra=extra, plugins="".join(instances))
    if listen:
        text = text.replace('"127.0.0.1:{port}"', '"%s"' % listen)
    return text


def greet(d, path):
    st, _, body = d.request("GET", path)
    return st, (json.loads(body) if st == 200 else body)


def test_add_remove_change_instances():
    with Daemon(cfg(hello("a", "/a", "hi"))) as d:
        assert greet(d, "/a/x")[1]["greeting"] == "hi, x"
        assert d.request("GET", "/b/x")[0] == 404
        # Add b.
        d.reload(cfg(hello("a", "/a", "hi"), hello("b", "/b", "yo")))
        assert greet(d, "/b/x")[1]["greeting"] == "yo, x"
        served = greet(d, "/a/x")[1]["served"]
        assert served == 2  # a carried over: its counter went on
        # Change a reloadable option of a: reconfigured in place.
        d.reload(cfg(hello("a", "/a", "hey"), hello("b", "/b", "yo")))
        r = greet(d, "/a/x")[1]
        assert r["greeting"] == "hey, x" and r["served"] == 3, r
        # Change a non-reloadable option of a: restarted (counter resets).
        d.reload(cfg(hello("a", "/a", "hey", tick="2s"),
                     hello("b", "/b", "yo")))
        assert greet(d, "/a/x")[1]["served"] == 1
        # Remove b.
        d.reload(cfg(hello("a", "/a", "hey", tick="2s")))
        assert d.request("GET", "/b/x")[0] == 404
        names = [i["name"] for i in d.get_json("/api/plugins")["instances"]]
        assert names == ["a"]
        wait_for(lambda: '"instance":"b"' in d.logs() and
                 "stopping instance" in d.logs(), 5, "b stopped")
        assert d.stop() == 0


def test_broken_config_keeps_old_generation():
    with Daemon(cfg(hello("a", "/a", "hi"))) as d:
        gen = d.get_json("/api/plugins")["generation"]
        for broken in ["server: [\n", cfg(hello("a", "/a", "hi"),
                                              hello("a", "/z")),
                       cfg(hello("a", "/a", "hi", tick="soon")),
                       cfg(hello("a", "/a"), hello("b", "/a"))]:
            r = d.reload(broken, expect_ok=False)
            assert greet(d, "/a/x")[1]["greeting"] == "hi, x"
            assert d.get_json("/api/plugins")["generation"] == gen
        assert r["failed"] == 4
        errors = [e for e in d.log_events() if e.get("level") == "error" and
                  e.get("component") == "config"]
        assert errors and all(re.match(r".+:\d+:\d+: ", e["error"])
                              for e in errors), errors
        st, _, body = d.request("GET", "/metrics")
        assert 'assist_reloads_total{outcome="error"} 4' in body.decode()


def test_reload_under_load_drops_nothing():
    with Daemon(cfg(hello("a", "/a", "v0"))) as d:
        stop = threading.Event()
        counts = {"ok": 0, "failed": 0}
        errors = []
        lock = threading.Lock()

        def client(keepalive):
            conn = None
            while not stop.is_set():
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(
                            "127.0.0.1", d.port, timeout=10)
                    conn.request("GET", "/a/x")
                    r = conn.getresponse()
                    body = r.read()
                    ok = r.status == 200 and b"greeting" in body
                    if not keepalive or r.getheader("Connection") == "close":
                        conn.close()
                        conn = None
                except Exception as e:  # noqa: BLE001 - counted
                    ok = False
                    errors.append(repr(e))
                    conn = None
                with lock:
                    counts["ok" if ok else "failed"] += 1
        threads = [threading.Thread(target=client, args=(k,))
                   for k in (True, True, False, False)]
        for t in threads:
            t.start()
        try:
            for i in range(12):
                extra = [hello("b", "/b", "x")] if i % 2 else []
                d.reload(cfg(hello("a", "/a", "v%d" % (i + 1),
                                   tick="%ds" % (1 + i % 3)), *extra))
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join()
        print("requests during reloads: ok=%d failed=%d" %
              (counts["ok"], counts["failed"]))
        assert counts["failed"] == 0, errors[:5]
        assert counts["ok"] > 100


def test_in_flight_request_finishes_on_its_generation():
    with Daemon(cfg(hello("slow", "/slow", "old", delay="1500ms"))) as d:
        result = {}

        def slow():
            result["r"] = greet(d, "/slow/x")
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)  # the request is now waiting in the old instance
        # tick changes: a new instance replaces the old one.
        d.reload(cfg(hello("slow", "/slow", "new", tick="3s", delay="0ms")))
        assert greet(d, "/slow/y")[1]["greeting"] == "new, y"
        t.join(10)
        st, body = result["r"]
        assert st == 200 and body["greeting"] == "old, x", result


def test_listen_address_change():
    with Daemon(cfg(hello("a", "/a"))) as d:
        old = d.port
        new = free_port()
        d.write_config(cfg(hello("a", "/a"), listen="127.0.0.1:%d" % new))
        d.proc.send_signal(signal.SIGHUP)
        d.port = new
        wait_for(d.healthy, 10, "the new address")
        assert greet(d, "/a/x")[0] == 200
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", old)) != 0


def test_repeated_sighup_is_coalesced():
    with Daemon(cfg(hello("a", "/a"))) as d:
        for _ in range(20):
            d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: d.get_json("/api/plugins")["reloads"]["ok"] >= 1, 10,
                 "a reload")
        time.sleep(0.5)
        r = d.get_json("/api/plugins")["reloads"]
        assert r["failed"] == 0 and 1 <= r["ok"] <= 20, r
        assert greet(d, "/a/x")[0] == 200


def test_stuck_plugin_stop_hits_deadline():
    with Daemon(cfg("""
  - name: stuck
    plugin: fixture
    path: {fixture_dir}/fixture_stop_hangs.so
""", extra="")) as d:
        assert d.request("GET", "/fixture/ping")[0] == 200
        d.reload(cfg(hello("a", "/a")))
        wait_for(lambda: "did not stop in time" in d.logs(), 10,
                 "drain deadline")
        assert greet(d, "/a/x")[0] == 200
        assert d.stop() == 0


def test_changed_shared_object_is_loaded_afresh():
    with Daemon(cfg(hello("a", "/a"))) as d:
        so = os.path.join(d.dir, "hello.so")
        shutil.copy(os.path.join(PLUGIN_DIR, "hello.so"), so)
        os.chmod(so, 0o755)
        d.reload(cfg(hello("a", "/a", path=so)))
        greet(d, "/a/x")
        assert greet(d, "/a/x")[1]["served"] == 2
        d.reload()  # unchanged file: same instance
        assert greet(d, "/a/x")[1]["served"] == 3
        tmp = so + ".new"
        shutil.copy(os.path.join(PLUGIN_DIR, "hello.so"), tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, so)  # a new inode, as `install` does
        d.reload()
        assert greet(d, "/a/x")[1]["served"] == 1


def test_sigterm_drains_in_flight_requests():
    with Daemon(cfg(hello("slow", "/slow", "bye", delay="1000ms"))) as d:
        result = {}

        def slow():
            result["r"] = greet(d, "/slow/x")
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        d.proc.send_signal(signal.SIGTERM)
        t.join(10)
        assert result["r"][0] == 200, result
        assert d.proc.wait(10) == 0
        assert "exited cleanly" in d.logs()


if __name__ == "__main__":
    run([test_add_remove_change_instances,
         test_broken_config_keeps_old_generation,
         test_reload_under_load_drops_nothing,
         test_in_flight_request_finishes_on_its_generation,
         test_listen_address_change, test_repeated_sighup_is_coalesced,
         test_stuck_plugin_stop_hits_deadline,
         test_changed_shared_object_is_loaded_afresh,
         test_sigterm_drains_in_flight_requests])
