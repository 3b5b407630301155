#!/bin/sh
# HTTP throughput: wrk against assistd (GET /health and a plugin route) and
# against nginx serving the same JSON body, in the same run, with the same
# connection counts. assistd serves HTTP on one loop thread, so nginx gets
# one worker. Access logs are off on both sides (assistd at --log-level
# warn, nginx access_log off).
#
#   tests/bench/http.sh [seconds] [connections]
# Prints a table and a last line:
#   RESULT http_rps_ratio_vs_nginx=X assistd_rps=N nginx_rps=N p99_ms=N rss_kb=N
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECS=${1:-10}
CONNS=${2:-64}
packaging/install-deps.sh --bench
[ -d build-bench ] || meson setup build-bench --buildtype=release -Dtests=false >/dev/null
ninja -C build-bench >/dev/null

T=$(mktemp -d /tmp/assistd-bench-XXXXXX)
cleanup() {
  [ -f "$T/assistd.pid" ] && kill "$(cat "$T/assistd.pid")" 2>/dev/null || true
  [ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")" 2>/dev/null || true
  sleep 0.2; rm -rf "$T"
}
trap cleanup EXIT INT TERM

port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
AP=$(port); NP=$(port)

cat > "$T/assist.yaml" <<YAML
server:
  listen: "127.0.0.1:$AP"
  max_connections: 4096
plugin_dir: $ROOT/build-bench/plugins
plugins:
  - name: hello
    plugin: hello
YAML
build-bench/core/daemon/assistd --config "$T/assist.yaml" --log-level warn 2>"$T/assistd.log" &
echo $! > "$T/assistd.pid"

cat > "$T/nginx.conf" <<NGINX
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NP;
    location = /health { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
NGINX
nginx -c "$T/nginx.conf" -e "$T/nginx-error.log"

for i in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$AP/health" >/dev/null 2>&1 &&
    curl -fsS "http://127.0.0.1:$NP/health" >/dev/null 2>&1 && break
  sleep 0.1
done
RSS_IDLE=$(awk '/VmRSS/ {print $2}' /proc/"$(cat "$T/assistd.pid")"/status)

run_wrk() { # url -> "rps p99_ms"
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$1" >"$T/wrk.out" 2>&1
  rps=$(awk '/^Requests\/sec/ {print $2}' "$T/wrk.out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000}
        else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}
        print v}' "$T/wrk.out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$T/wrk.out" | tr '\n' ' ')
  echo "$rps ${p99:-0} $errs"
}

curl -fsS "http://127.0.0.1:$AP/hello/bench" >/dev/null
set -- $(run_wrk "http://127.0.0.1:$NP/health"); N_RPS=$1; N_P99=$2
set -- $(run_wrk "http://127.0.0.1:$AP/health"); A_RPS=$1; A_P99=$2
set -- $(run_wrk "http://127.0.0.1:$AP/hello/bench"); P_RPS=$1; P_P99=$2
RSS_AFTER=$(awk '/VmRSS/ {print $2}' /proc/"$(cat "$T/assistd.pid")"/status)
NGINX_RSS=$(ps -o rss= --ppid "$(cat "$T/nginx.pid")" | awk '{s+=$1} END {print s}')

printf '\n%-34s %12s %10s\n' "target ($CONNS conns, ${SECS}s, wrk -t2)" "requests/s" "p99 ms"
printf '%-34s %12s %10s\n' "nginx 1 worker  GET /health" "$N_RPS" "$N_P99"
printf '%-34s %12s %10s\n' "assistd         GET /health" "$A_RPS" "$A_P99"
printf '%-34s %12s %10s\n' "assistd plugin  GET /hello/{name}" "$P_RPS" "$P_P99"
printf '%-34s %12s\n' "assistd RSS idle / after (kB)" "$RSS_IDLE / $RSS_AFTER"
printf '%-34s %12s\n' "nginx worker RSS (kB)" "$NGINX_RSS"
RATIO=$(awk -v a="$A_RPS" -v n="$N_RPS" 'BEGIN {printf "%.2f", a / n}')
echo "RESULT http_rps_ratio_vs_nginx=$RATIO assistd_rps=$A_RPS nginx_rps=$N_RPS p99_ms=$A_P99 rss_kb=$RSS_IDLE"
