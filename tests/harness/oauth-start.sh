#!/bin/sh
# usage: oauth-start.sh DIR [PORT] -> prints OAUTH_ISSUER=http://127.0.0.1:PORT
# Starts node/oauth-mock.mjs (oauth2-mock-server with RFC 7009 revocation
# and request counts) on 127.0.0.1; its PID goes to DIR/oauth.pid (stop it
# with oauth-stop.sh DIR/oauth.pid). Run oauth-npm.sh first.
set -eu
H=$(cd "$(dirname "$0")" && pwd); D=$(cd "$1" && pwd)
PORT=${2:-$("$H"/oauth-freeport.sh)}
node "$H/node/oauth-mock.mjs" "$PORT" </dev/null >"$D/oauth.log" 2>&1 &
echo $! >"$D/oauth.pid"
i=0
until curl -sf -m 1 -o /dev/null "http://127.0.0.1:$PORT/.well-known/openid-configuration"; do
  i=$((i+1))
  if [ $i -ge 150 ] || ! kill -0 "$(cat "$D/oauth.pid")" 2>/dev/null; then
    cat "$D/oauth.log" >&2; exit 1; fi
  sleep 0.1
done
echo "OAUTH_ISSUER=http://127.0.0.1:$PORT"
