#!/bin/sh
# usage: npm-ci.sh NAME
# Installs the node package tests/harness/NAME from its package-lock.json
# with `npm ci`, once (again only when the lock file is newer).
# Exit 77 (meson's "skipped") with a visible message when node or npm is
# missing; any other failure is an error.
set -u
N=$(cd "$(dirname "$0")/$1" && pwd)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIPPED: node/npm are not installed (apt-get install nodejs npm)" >&2
  exit 77
fi
if [ -f "$N/node_modules/.package-lock.json" ] &&
   [ ! "$N/package-lock.json" -nt "$N/node_modules/.package-lock.json" ]; then
  exit 0
fi
cd "$N" && npm ci --no-audit --no-fund --loglevel=error >&2 || {
  echo "FAIL: npm ci in $N" >&2; exit 1; }
