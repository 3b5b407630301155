#!/bin/sh
# tests/bench/planner.sh [BUILD_DIR]: planning throughput from the database.
#
# planner_bench creates a fresh SQLite database (the real migrations),
# bulk-inserts BENCH_PEOPLE (10,000) people with varied preferences (eight
# time zones, email/call/both, five offset sets, quiet hours, weekend
# policies, VIPs, internal domains, travel buffers) and BENCH_EVENTS
# (1,000,000) events over the next 55 days (5% all-day, 1% cancelled, 2%
# declined, a third with attendees, a quarter with a location), then times
# planning all of them through the service's own path (core/assistant/
# plans.c, as the start-up and hourly sweeps do, with their settings):
# read the events in batches of BENCH_BATCH events (0, the default: the
# service's PLANS_BATCH) and each person's preferences once, run the
# planner's policy chain, and insert every decision (planned and skipped,
# with its reason), one transaction per PLANS_WRITE_EVENTS events, until
# the last one is committed. It then checks that the stored rows match
# the plans. The store's SQLite connections are the daemon's (WAL,
# synchronous=NORMAL, 8 KiB pages, default page cache; the writer, and the
# reader that runs the reads and checkpoints); BENCH_CACHE_MB=N gives it a
# larger cache for experiments. BENCH_SNAPSHOT=FILE reuses the generated
# data between runs (delete FILE after a schema change).
# Prints a table (with each thread's CPU time) and a last RESULT line.
# Numbers depend on what else the machine is doing: the load average is
# printed with them; compare CPU seconds when it is high.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
BENCH=$BUILD/tests/unit/assistant/planner_bench
PEOPLE=${BENCH_PEOPLE:-10000}
EVENTS=${BENCH_EVENTS:-1000000}
BATCH=${BENCH_BATCH:-0}
[ -x "$BENCH" ] || { echo "missing $BENCH (meson setup + ninja first)" >&2; exit 1; }
T=$(mktemp -d /tmp/assist-planner-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
echo "== planning $EVENTS events for $PEOPLE people from SQLite (read batch $BATCH; 0: the service's)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
OUT=$("$BENCH" "$T/planner.db" "$ROOT/schemas/sql" "$PEOPLE" "$EVENTS" "$BATCH") || {
  echo "$OUT"
  echo "planner_bench failed" >&2
  exit 1
}
echo "$OUT" | grep -v '^RESULT'
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$OUT" | grep '^RESULT'
