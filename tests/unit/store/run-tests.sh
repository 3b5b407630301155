#!/bin/sh
# run-tests.sh BIN [ARGS...]: runs a store/jobs test binary once per
# backend: SQLite (a fresh file per test), then PostgreSQL 15 started by
# tests/harness/pg-start.sh in a temp dir on a free port and stopped by PID
# afterwards. Without PostgreSQL binaries the PostgreSQL half fails loudly,
# unless ASSIST_SKIP_PG=1 (then it says it skipped).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=${ASSIST_HARNESS:-$HERE/../../harness}
BIN=$1
shift
rc=0
echo "== $(basename "$BIN") on SQLite"
ASSIST_TEST_STORE_URI=sqlite "$BIN" "$@" || rc=1

if [ "${ASSIST_SKIP_PG:-0}" = 1 ]; then
  echo "== SKIPPED: $(basename "$BIN") on PostgreSQL (ASSIST_SKIP_PG=1)"
  exit $rc
fi
if [ ! -x "${ASSIST_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]; then
  echo "== FAIL: PostgreSQL 15 binaries are missing (apt-get install postgresql," \
       "or set ASSIST_SKIP_PG=1 to skip the PostgreSQL half)" >&2
  exit 1
fi
PGD=$(mktemp -d /tmp/assist-pg.XXXXXX)
trap '"$HARNESS/pg-stop.sh" "$PGD"; rm -rf "$PGD"' EXIT INT TERM
OUT=$("$HARNESS/pg-start.sh" "$PGD") || { echo "== FAIL: pg-start.sh" >&2; exit 1; }
PG_URI=$(echo "$OUT" | sed -n 's/^PG_URI=//p')
echo "== $(basename "$BIN") on PostgreSQL ($PG_URI)"
ASSIST_TEST_STORE_URI=$PG_URI ASSIST_TEST_PG_DIR=$PGD "$BIN" "$@" || rc=1
exit $rc
