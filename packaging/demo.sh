#!/bin/sh
# Sets up, builds and runs assistd on the demo configuration
# (config/assist.yaml): SQLite, the admin UI on 127.0.0.1:8080, no accounts.
set -eu
cd "$(dirname "$0")/.."
packaging/install-deps.sh
[ -d build ] || meson setup build -Dtests=false >/dev/null
ninja -C build >/dev/null
exec build/core/daemon/assistd --config config/assist.yaml --log-format text "$@"
