#!/bin/sh
# pg-start.sh DIR [PORT]: starts a throw-away PostgreSQL 15 in DIR/pg on
# 127.0.0.1:PORT (a free port when omitted) and prints PG_URI=...,
# PG_SOCKET_URI=..., PG_PORT=... and PG_PID=...; the PID is also in
# DIR/pg.pid. If DIR/pg/data already exists the server is started again on
# the port it had (used by tests that stop and restart the database).
# Needs root (initdb refuses root, so it runs as the postgres user).
set -eu
BIN=${ASSIST_PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$BIN/initdb" ] || { echo "pg-start.sh: PostgreSQL binaries not found in $BIN" >&2; exit 2; }
D=$(cd "$1" && pwd)
P="$D/pg"
as_pg() { runuser -u postgres -- "$@"; }
freeport() {
  /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
if [ -d "$P/data" ]; then
  PORT=$(cat "$P/port")
else
  PORT=${2:-$(freeport)}
  mkdir -p "$P/sock"
  chmod 711 "$D"                    # postgres must traverse DIR (mktemp -d is 0700)
  chown -R postgres:postgres "$P"
  cd "$P"                           # initdb fails if cwd is unreadable
  as_pg test -w "$P" || { echo "postgres cannot write $P (parent dirs not traversable?)" >&2; exit 1; }
  as_pg "$BIN/initdb" -D "$P/data" -U postgres -E UTF8 --no-locale --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 >"$P/initdb.log" 2>&1 \
    || { cat "$P/initdb.log" >&2; exit 1; }
  # Test settings: durability is the server's business and not what the
  # tests measure; ASSIST_PG_DURABLE=1 keeps fsync and synchronous_commit on.
  cat >>"$P/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$P/sock'
max_connections = 200
CONF
  if [ "${ASSIST_PG_DURABLE:-0}" != 1 ]; then
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >>"$P/data/postgresql.conf"
  fi
  echo "$PORT" >"$P/port"
  NEW=1
fi
cd "$P"
as_pg "$BIN/pg_ctl" -D "$P/data" -l "$P/server.log" -w -t 30 start >/dev/null \
  || { cat "$P/server.log" >&2; exit 1; }
head -n1 "$P/data/postmaster.pid" >"$D/pg.pid"
if [ "${NEW:-0}" = 1 ]; then
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$P/sock" -p "$PORT" -U postgres -d postgres \
    -c "CREATE ROLE test LOGIN PASSWORD 'test'" -c "CREATE DATABASE test OWNER test"
fi
echo "PG_URI=postgresql://test:test@127.0.0.1:$PORT/test"
echo "PG_SOCKET_URI=postgresql://test:test@/test?host=$P/sock&port=$PORT"
echo "PG_PORT=$PORT"
echo "PG_PID=$(cat "$D/pg.pid")"
