#!/bin/sh
# pg-stop.sh DIR [--keep]: stops the server started by pg-start.sh DIR (by
# the PID in DIR/pg.pid: SIGINT, PostgreSQL's fast shutdown, then SIGKILL
# after 10 s) and removes DIR/pg unless --keep is given (a later
# pg-start.sh DIR starts the same cluster again).
set -u
D=$1
KEEP=${2:-}
if [ -s "$D/pg.pid" ]; then
  pid=$(cat "$D/pg.pid")
  if kill -INT "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$D/pg.pid"
fi
[ "$KEEP" = "--keep" ] || rm -rf "$D/pg"
exit 0
