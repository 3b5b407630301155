#!/bin/sh
# usage: oauth-run-tests.sh RUNNER BIN [ARGS...]
# Starts the real servers the OAuth tests talk to, on free loopback ports:
# @inbox-zero/emulate for google and for microsoft (seeded with one user
# and one OAuth client each) and oauth2-mock-server with revocation; runs
# RUNNER BIN ARGS (tests/unit/store/run-tests.sh: SQLite, then PostgreSQL)
# with their URLs in the environment; stops them by PID. Exit 77 (skipped,
# with a message) only when node/npm are missing.
set -u
H=$(cd "$(dirname "$0")" && pwd)
"$H/oauth-npm.sh" || exit $?
D=$(mktemp -d /tmp/assist-oauth.XXXXXX)
trap '"$H/oauth-stop.sh" "$D/emulate-google.pid" "$D/emulate-microsoft.pid" "$D/oauth.pid"; rm -rf "$D"' EXIT INT TERM

REDIRECT_BASE=http://assist.test
cat >"$D/google.yaml" <<YAML
google:
  users:
    - email: alice@example.com
      name: Alice Example
  oauth_clients:
    - client_id: assist-test.apps.googleusercontent.com
      client_secret: google-test-secret
      redirect_uris:
        - $REDIRECT_BASE/api/connections/google/callback
YAML
cat >"$D/microsoft.yaml" <<YAML
microsoft:
  users:
    - email: alice@contoso.example
      name: Alice Contoso
  oauth_clients:
    - client_id: assist-test-ms-client
      client_secret: microsoft-test-secret
      redirect_uris:
        - $REDIRECT_BASE/api/connections/microsoft/callback
YAML

G=$("$H/emulate-start.sh" "$D" google "$D/google.yaml") || { echo "FAIL: emulate google" >&2; exit 1; }
M=$("$H/emulate-start.sh" "$D" microsoft "$D/microsoft.yaml") || { echo "FAIL: emulate microsoft" >&2; exit 1; }
O=$("$H/oauth-start.sh" "$D") || { echo "FAIL: oauth2-mock-server" >&2; exit 1; }

export OAUTH_TEST_REDIRECT_BASE=$REDIRECT_BASE
export OAUTH_TEST_GOOGLE_URL=$(echo "$G" | sed -n 's/^EMULATE_URL=//p')
export OAUTH_TEST_GOOGLE_USER=alice@example.com
export OAUTH_TEST_GOOGLE_CLIENT=assist-test.apps.googleusercontent.com
export OAUTH_TEST_GOOGLE_SECRET=google-test-secret
export OAUTH_TEST_MS_URL=$(echo "$M" | sed -n 's/^EMULATE_URL=//p')
export OAUTH_TEST_MS_USER=alice@contoso.example
export OAUTH_TEST_MS_CLIENT=assist-test-ms-client
export OAUTH_TEST_MS_SECRET=microsoft-test-secret
export OAUTH_TEST_ISSUER=$(echo "$O" | sed -n 's/^OAUTH_ISSUER=//p')
echo "== google emulator $OAUTH_TEST_GOOGLE_URL, microsoft emulator $OAUTH_TEST_MS_URL, oauth2-mock-server $OAUTH_TEST_ISSUER"
"$@"
