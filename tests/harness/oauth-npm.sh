#!/bin/sh
# oauth-npm.sh: installs tests/harness/node (the Google/Microsoft emulator
# and oauth2-mock-server); exit 77 when node or npm is missing (npm-ci.sh).
exec "$(dirname "$0")/npm-ci.sh" node
