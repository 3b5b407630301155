#!/bin/sh
# usage: oauth-stop.sh PIDFILE...  SIGTERM each PID, wait up to 10 s, then
# SIGKILL; removes the pid file.
for f in "$@"; do
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill -TERM "$pid" 2>/dev/null; then
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
done
exit 0
