#!/bin/sh
# crash.sh DRIVER: crash safety of core/jobs with real processes.
#  1. SQLite: enqueue 10,000 jobs, run the driver, SIGKILL it mid-run,
#     run it again to the end; every job succeeded, every side effect is
#     there exactly once (one row per job), none lost.
#  2. PostgreSQL: the same with three drivers sharing one queue, one of
#     them SIGKILLed; the survivors take over its expired leases.
# Every process started here is stopped by PID.
set -u
DRIVER=$1
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=${ASSIST_HARNESS:-$HERE/../../harness}
MIG=${ASSIST_TEST_MIGRATIONS:-$HERE/../../../schemas/sql}
N=${CRASH_JOBS:-10000}
T=$(mktemp -d /tmp/assist-crash.XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
  [ -d "$T/pg" ] && "$HARNESS/pg-stop.sh" "$T"
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_progress URI MIN: until at least MIN jobs succeeded (or 120 s).
wait_progress() {
  i=0
  while [ $i -lt 1200 ]; do
    n=$("$DRIVER" "$1" "$MIG" progress 2>/dev/null || echo 0)
    [ "$n" -ge "$2" ] && { echo "$n"; return 0; }
    sleep 0.1; i=$((i+1))
  done
  echo "$n"; return 1
}

run_case() { # NAME URI NPROCS
  name=$1 uri=$2 np=$3
  echo "== crash test: $name, $N jobs, $np process(es)"
  "$DRIVER" "$uri" "$MIG" enqueue "$N" || fail "$name: enqueue"
  PIDS=""
  i=0
  while [ $i -lt "$np" ]; do
    "$DRIVER" "$uri" "$MIG" run & PIDS="$PIDS $!"
    i=$((i+1))
  done
  victim=$(echo $PIDS | cut -d' ' -f1)
  at=$(wait_progress "$uri" $((N / 5))) || fail "$name: no progress ($at)"
  kill -KILL "$victim"
  wait "$victim" 2>/dev/null
  killed_at=$("$DRIVER" "$uri" "$MIG" progress)
  echo "killed pid $victim with $killed_at/$N jobs done"
  [ "$killed_at" -lt "$N" ] || fail "$name: finished before the kill; nothing tested"
  if [ "$np" -eq 1 ]; then
    "$DRIVER" "$uri" "$MIG" run || fail "$name: restarted run"
  fi
  for p in $PIDS; do
    [ "$p" = "$victim" ] && continue
    wait "$p" || fail "$name: driver $p exited non-zero"
  done
  PIDS=""
  "$DRIVER" "$uri" "$MIG" check "$N" || fail "$name: check"
}

run_case sqlite "sqlite:$T/crash.db" 1

if [ "${ASSIST_SKIP_PG:-0}" = 1 ]; then
  echo "== SKIPPED: PostgreSQL crash test (ASSIST_SKIP_PG=1)"
  exit 0
fi
[ -x "${ASSIST_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] ||
  fail "PostgreSQL 15 binaries are missing (or set ASSIST_SKIP_PG=1)"
OUT=$("$HARNESS/pg-start.sh" "$T") || fail "pg-start.sh"
PG_URI=$(echo "$OUT" | sed -n 's/^PG_URI=//p')
run_case postgresql "$PG_URI" 3
echo "crash tests passed"
