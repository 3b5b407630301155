#!/bin/sh
# Benchmark: the csv-analysis profile of a generated ~200 MB, 2.6 million
# row, 10 column CSV, timed in the same run
#   - through the daemon: assistd with the csv-analysis plugin on a temp
#     config; the file is uploaded (POST /api/datasets) and analysed (POST
#     /api/datasets/{id}/analyses, polled until done) by csv_daemon.py;
#     upload and analysis seconds are reported separately and peak RSS is
#     the daemon's VmHWM (/proc/PID/status) after the analysis;
#   - csv-profile, the engine's CLI (same engine on pthreads, no daemon);
#   - pandas read_csv + describe(include='all') (/usr/bin/python3);
#   - datamash on three numeric columns.
# Prints a table and a last line:
#   RESULT csv_seconds=N pandas_seconds=N datamash_seconds=N ratio_vs_pandas=X peak_rss_kb=N
# where csv_seconds is the daemon's analysis time and peak_rss_kb the
# daemon's peak RSS. CSV_BENCH_ROWS and CSV_BENCH_BUILD override the size
# and the build directory (default build-bench, release + LTO).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${CSV_BENCH_ROWS:-2600000}
BUILD=${CSV_BENCH_BUILD:-$ROOT/build-bench}
PROFILE=$BUILD/plugins/csv-analysis/csv-profile
ASSISTD=$BUILD/core/daemon/assistd
PLUGIN=$BUILD/plugins/csv-analysis/csv-analysis.so
TMP=$(mktemp -d "${TMPDIR:-/tmp}/csvbench.XXXXXX")
DPID=
cleanup() {
  if [ -n "$DPID" ]; then kill "$DPID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [ ! -d "$BUILD" ]; then
  meson setup "$BUILD" "$ROOT" --buildtype=release -Db_lto=true >/dev/null
fi
ninja -C "$BUILD" plugins/csv-analysis/csv-profile \
  plugins/csv-analysis/csv-analysis.so core/daemon/assistd >/dev/null
if [ ! -x /usr/bin/time ]; then
  echo "csv.sh: /usr/bin/time is missing (apt-get install time)" >&2
  exit 1
fi

cc -O2 -o "$TMP/csv_gen" "$ROOT/tests/bench/csv_gen.c" -lm
"$TMP/csv_gen" "$ROWS" > "$TMP/data.csv"
BYTES=$(wc -c < "$TMP/data.csv")
cat "$TMP/data.csv" > /dev/null # warm the page cache for every contender

# run NAME CMD...: wall seconds and peak RSS of CMD into $TMP/NAME.{s,kb}
run() {
  name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$TMP/$name.time" "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" || {
    echo "csv.sh: $name failed:" >&2
    cat "$TMP/$name.err" >&2
    exit 1
  }
  read -r secs kb < "$TMP/$name.time"
  echo "$secs" > "$TMP/$name.s"
  echo "$kb" > "$TMP/$name.kb"
}

mkdir -p "$TMP/out"
run cli "$PROFILE" -q -o "$TMP/out" "$TMP/data.csv"
test -s "$TMP/out/report.json"
test -s "$TMP/out/report.html"

# Through the daemon: upload, analysis job, report.
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TMP/state"
{
  echo "server:"
  echo "  listen: \"127.0.0.1:$PORT\""
  echo "log: { level: warn }"
  echo "storage: \"sqlite:$TMP/state/assistd.db\""
  echo "plugins:"
  echo "  - name: csv"
  echo "    plugin: csv-analysis"
  echo "    path: $PLUGIN"
  echo "    options:"
  echo "      data_dir: $TMP/state/data"
  echo "      max_upload: 4GB"
  echo "      threads: 0"
} > "$TMP/assist.yaml"
"$ASSISTD" --config "$TMP/assist.yaml" 2> "$TMP/assistd.log" &
DPID=$!
if ! /usr/bin/python3 "$ROOT/tests/bench/csv_daemon.py" "$PORT" "$TMP/data.csv" > "$TMP/daemon.out"; then
  echo "csv.sh: the daemon run failed:" >&2
  cat "$TMP/assistd.log" >&2
  exit 1
fi
read -r UP_S AN_S SRV_S DROWS < "$TMP/daemon.out"
DK=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status")
kill -TERM "$DPID"
wait "$DPID" || true
DPID=

cat > "$TMP/bench_pandas.py" <<'PY'
import sys
import pandas as pd
df = pd.read_csv(sys.argv[1])
d = df.describe(include='all')
print(d.shape)
PY
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
  run pandas /usr/bin/python3 "$TMP/bench_pandas.py" "$TMP/data.csv"
else
  echo "csv.sh: python3-pandas missing" >&2
  echo 0 > "$TMP/pandas.s"; echo 0 > "$TMP/pandas.kb"
fi
if command -v datamash >/dev/null; then
  # columns 2 (user_id), 3 (amount), 4 (score)
  /usr/bin/time -f '%e %M' -o "$TMP/datamash.time" sh -c \
    "datamash -t, --header-in --narm mean 2 sstdev 2 min 2 max 2 median 2 mean 3 sstdev 3 min 3 max 3 median 3 mean 4 sstdev 4 min 4 max 4 median 4 < '$TMP/data.csv' > '$TMP/datamash.out'"
  read -r secs kb < "$TMP/datamash.time"
  echo "$secs" > "$TMP/datamash.s"
  echo "$kb" > "$TMP/datamash.kb"
else
  echo "csv.sh: datamash missing" >&2
  echo 0 > "$TMP/datamash.s"; echo 0 > "$TMP/datamash.kb"
fi

CS=$(cat "$TMP/cli.s"); CK=$(cat "$TMP/cli.kb")
PS=$(cat "$TMP/pandas.s"); PK=$(cat "$TMP/pandas.kb")
DS=$(cat "$TMP/datamash.s"); DMK=$(cat "$TMP/datamash.kb")
ROWS_OUT=$(grep -o '"rows":[0-9]*' "$TMP/out/report.json" | head -1 | cut -d: -f2)
if [ "$ROWS_OUT" != "$DROWS" ]; then
  echo "csv.sh: row counts differ: csv-profile $ROWS_OUT, assistd $DROWS" >&2
  exit 1
fi
printf '%-40s %10s %12s\n' "tool ($BYTES bytes, $ROWS_OUT rows)" seconds peak_rss_kb
printf '%-40s %10s %12s\n' "assistd upload (POST /api/datasets)" "$UP_S" "-"
printf '%-40s %10s %12s\n' "assistd analysis (all 10 columns)" "$AN_S" "$DK"
printf '%-40s %10s %12s\n' "  the plugin's own run time" "$SRV_S" "-"
printf '%-40s %10s %12s\n' "csv-profile CLI (all 10 columns)" "$CS" "$CK"
printf '%-40s %10s %12s\n' "pandas read_csv+describe" "$PS" "$PK"
printf '%-40s %10s %12s\n' "datamash (3 numeric columns)" "$DS" "$DMK"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
RATIO=$(awk -v p="$PS" -v c="$AN_S" 'BEGIN { if (c > 0) printf "%.1f", p / c; else print "inf" }')
echo "RESULT csv_seconds=$AN_S pandas_seconds=$PS datamash_seconds=$DS ratio_vs_pandas=$RATIO peak_rss_kb=$DK"
