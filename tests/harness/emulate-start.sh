#!/bin/sh
# usage: emulate-start.sh DIR SERVICE SEED [PORT] -> prints EMULATE_URL=http://127.0.0.1:PORT
# Starts @inbox-zero/emulate (tests/harness/node) for one service (google
# or microsoft) with the seed file SEED on 127.0.0.1; its PID goes to
# DIR/emulate-SERVICE.pid (stop it with oauth-stop.sh). Run oauth-npm.sh first.
set -eu
H=$(cd "$(dirname "$0")" && pwd); D=$(cd "$1" && pwd)
SVC=$2; SEED=$3
PORT=${4:-$("$H"/oauth-freeport.sh)}
node "$H/node/node_modules/@inbox-zero/emulate/dist/index.js" start \
  --service "$SVC" --port "$PORT" --seed "$SEED" </dev/null >"$D/emulate-$SVC.log" 2>&1 &
echo $! >"$D/emulate-$SVC.pid"
i=0
until curl -sf -m 1 -o /dev/null "http://127.0.0.1:$PORT/.well-known/openid-configuration"; do
  i=$((i+1))
  if [ $i -ge 300 ] || ! kill -0 "$(cat "$D/emulate-$SVC.pid")" 2>/dev/null; then
    cat "$D/emulate-$SVC.log" >&2; exit 1; fi
  sleep 0.1
done
echo "EMULATE_URL=http://127.0.0.1:$PORT"
