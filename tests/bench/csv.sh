#!/bin/sh
# Benchmark: csv-analysis engine (csv-profile, the plugin's code path) vs
# pandas read_csv + describe(include='all') vs datamash on three numeric
# columns, on a generated ~200 MB, 2.6 million row, 10 column CSV.
# Prints a table and a last line:
#   RESULT csv_seconds=N pandas_seconds=N datamash_seconds=N ratio_vs_pandas=X peak_rss_kb=N
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${CSV_BENCH_ROWS:-2600000}
BUILD=${CSV_BENCH_BUILD:-$ROOT/build-bench}
PROFILE=$BUILD/plugins/csv-analysis/csv-profile
TMP=$(mktemp -d "${TMPDIR:-/tmp}/csvbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

if [ ! -x "$PROFILE" ]; then
  if [ ! -d "$BUILD" ]; then
    meson setup "$BUILD" "$ROOT" --buildtype=release -Db_lto=true >/dev/null
  fi
  ninja -C "$BUILD" plugins/csv-analysis/csv-profile >/dev/null
fi
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
run csv "$PROFILE" -q -o "$TMP/out" "$TMP/data.csv"
test -s "$TMP/out/report.json"
test -s "$TMP/out/report.html"

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

CS=$(cat "$TMP/csv.s"); CK=$(cat "$TMP/csv.kb")
PS=$(cat "$TMP/pandas.s"); PK=$(cat "$TMP/pandas.kb")
DS=$(cat "$TMP/datamash.s"); DK=$(cat "$TMP/datamash.kb")
ROWS_OUT=$(grep -o '"rows":[0-9]*' "$TMP/out/report.json" | head -1 | cut -d: -f2)
printf '%-32s %10s %12s\n' "tool ($BYTES bytes, $ROWS_OUT rows)" seconds peak_rss_kb
printf '%-32s %10s %12s\n' "csv-profile (all 10 columns)" "$CS" "$CK"
printf '%-32s %10s %12s\n' "pandas read_csv+describe" "$PS" "$PK"
printf '%-32s %10s %12s\n' "datamash (3 numeric columns)" "$DS" "$DK"
RATIO=$(awk -v p="$PS" -v c="$CS" 'BEGIN { if (c > 0) printf "%.1f", p / c; else print "inf" }')
echo "RESULT csv_seconds=$CS pandas_seconds=$PS datamash_seconds=$DS ratio_vs_pandas=$RATIO peak_rss_kb=$CK"
