#!/bin/sh
# usage: prism-start.sh DIR SPEC [PORT] -> prints PRISM_URL=http://127.0.0.1:PORT
# Starts Prism (tests/harness/prism) mocking the OpenAPI file SPEC on
# 127.0.0.1, validating every request; its PID goes to DIR/prism.pid (stop
# it with oauth-stop.sh DIR/prism.pid), its log to DIR/prism.log. Run
# prism-npm.sh first. The node binary is started directly (not through npx,
# whose PID is a shell that would leave node running when killed).
set -eu
H=$(cd "$(dirname "$0")" && pwd); D=$(cd "$1" && pwd)
SPEC=$2
PORT=${3:-$("$H"/oauth-freeport.sh)}
node "$H/prism/node_modules/@stoplight/prism-cli/dist/index.js" mock \
  -h 127.0.0.1 -p "$PORT" "$SPEC" </dev/null >"$D/prism.log" 2>&1 &
echo $! >"$D/prism.pid"
i=0
# Any HTTP answer means Prism listens (it answers unknown paths with 404).
until curl -s -m 1 -o /dev/null "http://127.0.0.1:$PORT/"; do
  i=$((i+1))
  if [ $i -ge 600 ] || ! kill -0 "$(cat "$D/prism.pid")" 2>/dev/null; then
    cat "$D/prism.log" >&2; exit 1; fi
  sleep 0.1
done
echo "PRISM_URL=http://127.0.0.1:$PORT"
