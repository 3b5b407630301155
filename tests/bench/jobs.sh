#!/bin/sh
# tests/bench/jobs.sh [BUILD_DIR]: end-to-end throughput of no-op jobs.
#
# Enqueue N (default 100,000) no-op jobs, run them all, and stop when the
# last completion is durable, on:
#   - SQLite (WAL, synchronous=NORMAL: a commit survives kill -9),
#   - PostgreSQL 15 in a temp dir with fsync=on and synchronous_commit=on,
#   - Celery 5 + Redis from Debian's packages (a prefork worker with one
#     process per core), measured from the first enqueue to the N-th result
#     in the result backend. Redis runs with its defaults (no fsync per
#     task), which favours Celery.
# Each database first gets an unmeasured warm-up run of 10,000 jobs (the
# Celery worker likewise runs one task before the clock starts).
# Also, when BUILD_DIR has the daemon and the svcfix fixture, the same N jobs
# end to end through assistd itself (jobs_daemon.py: enqueued over HTTP by a
# plugin through the SDK, each handler writing a kv side effect), as extra
# table rows; the RESULT line keeps the engine figures.
# BUILD_DIR holds tests/unit/jobs/jobs_bench (default: build). Everything
# started here is stopped by PID. Prints a table and a last RESULT line.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
BENCH=$BUILD/tests/unit/jobs/jobs_bench
ASSISTD=$BUILD/core/daemon/assistd
FIXTURES=$BUILD/tests/fixtures
N=${BENCH_JOBS:-100000}
WARM=${BENCH_WARMUP:-10000} # a first, unmeasured run on each database
MIG=$ROOT/schemas/sql
PY=/usr/bin/python3
[ -x "$BENCH" ] || { echo "missing $BENCH (meson setup + ninja first)" >&2; exit 1; }
T=$(mktemp -d /tmp/assist-bench.XXXXXX)
REDIS_PID="" WORKER_PID=""
cleanup() {
  [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null
  [ -n "$WORKER_PID" ] && { sleep 1; kill -KILL "$WORKER_PID" 2>/dev/null; }
  [ -n "$REDIS_PID" ] && kill -TERM "$REDIS_PID" 2>/dev/null
  [ -d "$T/pg" ] && "$ROOT/tests/harness/pg-stop.sh" "$T"
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
freeport() {
  $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "== assistd jobs on SQLite ($N no-op jobs)"
"$BENCH" "sqlite:$T/bench.db" "$MIG" "$WARM" >/dev/null || { echo "sqlite warm-up failed" >&2; exit 1; }
R_SQLITE=$("$BENCH" "sqlite:$T/bench.db" "$MIG" "$N") || { echo "sqlite run failed" >&2; exit 1; }
echo "$R_SQLITE"

echo "== through the daemon on SQLite ($N jobs enqueued over HTTP by the svcfix plugin, kv side effect each)"
R_DSQ=""
if [ -x "$ASSISTD" ] && [ -f "$FIXTURES/svcfix.so" ]; then
  R_DSQ=$($PY "$HERE/jobs_daemon.py" "$ASSISTD" "$FIXTURES" "$N" sqlite) || { echo "daemon run failed" >&2; exit 1; }
  echo "$R_DSQ"
else
  echo "(skipped: build $ASSISTD and $FIXTURES/svcfix.so first)"
fi

echo "== assistd jobs on PostgreSQL 15 (fsync=on, synchronous_commit=on)"
OUT=$(ASSIST_PG_DURABLE=1 "$ROOT/tests/harness/pg-start.sh" "$T") || { echo "pg-start failed" >&2; exit 1; }
PG_URI=$(echo "$OUT" | sed -n 's/^PG_URI=//p')
"$BENCH" "$PG_URI" "$MIG" "$WARM" >/dev/null || { echo "postgresql warm-up failed" >&2; exit 1; }
R_PG=$("$BENCH" "$PG_URI" "$MIG" "$N") || { echo "postgresql run failed" >&2; exit 1; }
echo "$R_PG"
R_DPG=""
if [ -n "$R_DSQ" ]; then
  echo "== through the daemon on PostgreSQL ($N jobs, as above)"
  R_DPG=$($PY "$HERE/jobs_daemon.py" "$ASSISTD" "$FIXTURES" "$N" "$PG_URI") || { echo "daemon run failed" >&2; exit 1; }
  echo "$R_DPG"
fi
"$ROOT/tests/harness/pg-stop.sh" "$T"

echo "== Celery $($PY -c 'import celery;print(celery.__version__)') + Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
RPORT=$(freeport)
mkdir -p "$T/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$T/redis" --save "" \
  --daemonize no >"$T/redis.log" 2>&1 &
REDIS_PID=$!
i=0
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
  sleep 0.1; i=$((i+1)); [ $i -gt 100 ] && { echo "redis did not start" >&2; exit 1; }
done
export BENCH_REDIS_URL=redis://127.0.0.1:$RPORT
CONC=$(nproc)
(cd "$HERE" && exec $PY -m celery -A jobs_celery worker -l WARNING -P prefork \
  --concurrency "$CONC" --without-gossip --without-mingle --without-heartbeat) \
  >"$T/celery.log" 2>&1 &
WORKER_PID=$!
# The worker is ready when it consumes a first task.
(cd "$HERE" && $PY -c 'import jobs_celery as c; c.noop.delay().get(timeout=60)') \
  || { cat "$T/celery.log" >&2; exit 1; }
R_CEL=$(cd "$HERE" && $PY jobs_celery.py "$N") || { cat "$T/celery.log" >&2; exit 1; }
echo "$R_CEL"

S=$(field "$R_SQLITE" jobs_per_s)
P=$(field "$R_PG" jobs_per_s)
C=$(field "$R_CEL" jobs_per_s)
printf '\n%-28s %10s %12s\n' "system" "jobs/s" "seconds"
printf '%-28s %10s %12s\n' "assistd + SQLite" "$S" "$(field "$R_SQLITE" seconds)"
printf '%-28s %10s %12s\n' "assistd + PostgreSQL" "$P" "$(field "$R_PG" seconds)"
[ -n "$R_DSQ" ] && printf '%-28s %10s %12s\n' "assistd daemon + SQLite" "$(field "$R_DSQ" jobs_per_s)" "$(field "$R_DSQ" seconds)"
[ -n "$R_DPG" ] && printf '%-28s %10s %12s\n' "assistd daemon + PostgreSQL" "$(field "$R_DPG" jobs_per_s)" "$(field "$R_DPG" seconds)"
printf '%-28s %10s %12s\n' "Celery + Redis" "$C" "$(field "$R_CEL" seconds)"
RS=$(awk -v a="$S" -v b="$C" 'BEGIN{printf "%.1f", a/b}')
RP=$(awk -v a="$P" -v b="$C" 'BEGIN{printf "%.1f", a/b}')
echo "RESULT jobs_per_s_sqlite=$S jobs_per_s_pg=$P celery_per_s=$C ratio_sqlite_vs_celery=$RS ratio_pg_vs_celery=$RP"
