#!/bin/sh
# Installs what the tests need, builds, and runs every test: the unit and
# integration suites (plain build and AddressSanitizer+UBSan build) and each
# libFuzzer harness for a bounded time. Ends with one line
# "N passed, N failed, N skipped" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

packaging/install-deps.sh --test || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

fail=0
setup() { # dir, options...
  d=$1; shift
  if [ -d "$d" ]; then meson setup --reconfigure "$d" "$@" >/dev/null
  else meson setup "$d" "$@" >/dev/null; fi
}

echo "== build (gcc, -Werror)"
setup build -Dtests=true && ninja -C build || fail=1
rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
echo "== tests"
[ $fail -eq 0 ] && { meson test -C build --print-errorlogs --num-processes 2 || true; }

echo "== build and tests under AddressSanitizer + UBSan"
setup build-asan -Dtests=true -Dsanitizers=true -Db_lundef=false &&
  ninja -C build-asan || fail=1
[ $fail -eq 0 ] && {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 || true; }

echo "== fuzzers (${FUZZ_SECONDS}s each)"
fuzz_pass=0 fuzz_fail=0
if CC=clang setup build-fuzz -Dfuzz=true && ninja -C build-fuzz; then
  for f in build-fuzz/tests/fuzz/*/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus=$ROOT/tests/fuzz/$(basename "$(dirname "$f")")/corpus
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
    if "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
         -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$work.log"))"
      fuzz_pass=$((fuzz_pass + 1))
    else
      echo "fuzz $name: FAILED"; tail -40 "$work.log"
      fuzz_fail=$((fuzz_fail + 1))
    fi
    rm -rf "$work" "$work.log"
  done
else
  fail=1
fi

/usr/bin/python3 - "$fail" "$fuzz_pass" "$fuzz_fail" <<'PY'
import json, os, sys
build_fail, fp, ff = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ok = bad = skip = 0
for d in ("build", "build-asan"):
    p = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(p):
        continue
    for line in open(p):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"): ok += 1
        elif r == "SKIP": skip += 1
        else: bad += 1
ok += fp; bad += ff + build_fail
print(f"{ok} passed, {bad} failed, {skip} skipped")
sys.exit(1 if bad else 0)
PY
