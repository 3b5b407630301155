#!/bin/sh
# usage: smtp-start.sh DIR NAME [sink options] -> SMTP_URL=smtp://127.0.0.1:PORT SMTP_MAILDIR=...
# Starts tests/harness/smtp-sink.py (Debian python3-aiosmtpd; adapted from
# ../shared/recipes/smtp-start.sh) on a free port; messages land in
# DIR/NAME/Maildir/new, the PID in DIR/NAME.pid (stop with oauth-stop.sh).
# Options after NAME go to the sink (--tls CERT KEY, --auth USER:PASSWORD).
# Exit 77 with a visible message when python3-aiosmtpd is not installed.
set -eu
H=$(cd "$(dirname "$0")" && pwd); D=$(cd "$1" && pwd); NAME=$2; shift 2
S="$D/$NAME"; mkdir -p "$S"
# /usr/bin/python3: Debian's python3-aiosmtpd is not visible to another python3.
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "SKIPPED: python3-aiosmtpd is not installed (packaging/install-deps.sh --test)" >&2
  exit 77
fi
PORT=$("$H"/oauth-freeport.sh)
/usr/bin/python3 "$H/smtp-sink.py" "$PORT" "$S/Maildir" "$@" </dev/null >"$S/smtp.log" 2>&1 &
echo $! >"$D/$NAME.pid"
i=0
until grep -q '^ready' "$S/smtp.log" 2>/dev/null; do
  i=$((i+1))
  if [ $i -ge 100 ] || ! kill -0 "$(cat "$D/$NAME.pid")" 2>/dev/null; then
    cat "$S/smtp.log" >&2; exit 1; fi
  sleep 0.1
done
echo "SMTP_URL=smtp://127.0.0.1:$PORT SMTP_MAILDIR=$S/Maildir"
