#!/bin/sh
# Installs what assistd needs from Debian 12's archive. Idempotent: packages
# already present are not fetched again, and apt-get update runs only when
# something is missing.
#
#   packaging/install-deps.sh          build and run the daemon
#   packaging/install-deps.sh --test   also everything the tests start
#   packaging/install-deps.sh --bench  also the benchmark peers
set -eu

BUILD="meson ninja-build pkg-config gcc libc6-dev libuv1-dev libcurl4-openssl-dev
  libpq-dev libjson-c-dev libsodium-dev libyaml-dev libical-dev libsqlite3-dev
  libpcre2-dev libssl-dev node-llhttp python3 tzdata"
TEST="libcmocka-dev clang libclang-rt-14-dev postgresql curl openssl chromium
  python3-minimal python3-aiosmtpd"
BENCH="wrk nginx-light python3-pandas datamash redis-server celery
  python3-celery python3-redis time"

want="$BUILD"
for arg in "$@"; do
  case "$arg" in
    --test) want="$want $TEST" ;;
    --bench) want="$want $TEST $BENCH" ;;
    *) echo "usage: $0 [--test|--bench]" >&2; exit 2 ;;
  esac
done

missing=""
# Node.js runs the test peers (the Google/Microsoft emulator, the OAuth
# server, Prism). A machine may already have it from elsewhere (e.g.
# NodeSource, whose nodejs bundles npm and conflicts with Debian's npm), so
# Debian's nodejs and npm are only asked for when node or npm is missing.
case " $want " in
  *" libcmocka-dev "*)
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
      missing="$missing nodejs npm" ;;
esac
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >&2
