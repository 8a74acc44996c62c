#!/usr/bin/env bash
# Side-by-side load generator comparison on this machine: scalelab load vs wrk vs oha against one
# local nginx (Debian package) serving a small static response on a free loopback port.
#
#   1. closed loop, same connection count, DUR seconds each: requests/s, generator CPU per request
#      (user + sys from /usr/bin/time over requests), peak RSS;
#   2. scalelab open loop at 80 % of its closed-loop peak: achieved vs target rate, send lag.
#
# Usage: benches/loadgen-compare.sh            (CONNS=50 DUR=10 by default)
#        CONNS=100 DUR=20 benches/loadgen-compare.sh
#        SKIP_OHA=1 ...  (do not try `cargo install oha`)
# Installs nginx, wrk and GNU time with apt-get when missing (needs root), and oha with
# `cargo install oha` when missing (optional: skipped if that fails). Prints a markdown table.
set -euo pipefail

CONNS=${CONNS:-50}
DUR=${DUR:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
NGINX_PID=

cleanup() {
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

need_apt() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "installing $2 ..." >&2
        if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >&2; APT_UPDATED=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
    fi
}
need_apt nginx nginx-light
need_apt wrk wrk
[ -x /usr/bin/time ] || need_apt /usr/bin/time time
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

OHA=$(command -v oha || true)
if [ -z "$OHA" ] && [ "${SKIP_OHA:-0}" != 1 ]; then
    echo "installing oha (cargo install oha; optional) ..." >&2
    if cargo install oha --locked >&2; then OHA=$(command -v oha || echo "$HOME/.cargo/bin/oha"); else
        echo "oha could not be installed; skipping it" >&2; OHA=; fi
fi

echo "building scalelab (release) ..." >&2
SCALELAB="$ROOT/target/release/scalelab"
if ! (cd "$ROOT" && cargo build --release -q -p scalelab >&2); then
    [ -x "$SCALELAB" ] || { echo "the release build failed" >&2; exit 1; }
    echo "warning: the release build failed; measuring the existing $SCALELAB" >&2
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT/"
mkdir -p "$WORK/logs"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/body;
    server {
        listen 127.0.0.1:$PORT;
        location / { default_type text/plain; return 200 "hello, scalelab\n"; }
    }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
for _ in $(seq 50); do curl -fs "$URL" >/dev/null 2>&1 && break; python3 -c 'import socket; s=socket.create_connection(("127.0.0.1",'"$PORT"'),0.1)' 2>/dev/null && break; sleep 0.1; done

# run NAME CMD... : runs under /usr/bin/time; leaves stdout in $WORK/NAME.out, "user sys rss_kb" in $WORK/NAME.time
run() {
    local name=$1; shift
    echo "running $name: $*" >&2
    /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
        echo "$name failed:" >&2; cat "$WORK/$name.err" >&2; return 1; }
}

row() { # run-name label requests seconds
    local name=$1 label=$2 requests=$3 secs=$4
    read -r user sys rss <"$WORK/$name.time"
    python3 - "$label" "$requests" "$secs" "$user" "$sys" "$rss" <<'PY'
import sys
name, req, secs, user, sys_, rss = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
cpu = user + sys_
print(f"| {name} | {req:,.0f} | {req/secs:,.0f} | {cpu:.2f} | {1e6*cpu/max(req,1):.2f} | {rss/1024:.1f} | {1024*rss/max(req,1):.3f} |")
PY
}

echo "| generator | requests | req/s | CPU s (user+sys) | CPU µs/request | peak RSS MiB | RSS bytes/request |" >"$WORK/table.md"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |" >>"$WORK/table.md"

# wrk: one thread, as its 165 k req/s reference figure.
run wrk wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL"
WRK_REQ=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
WRK_SECS=$(awk '/requests in/ {gsub("s,","",$4); print $4}' "$WORK/wrk.out")
row wrk "wrk -t1 -c$CONNS" "$WRK_REQ" "$WRK_SECS" >>"$WORK/table.md"

if [ -n "$OHA" ]; then
    if run oha "$OHA" -z "${DUR}s" -c "$CONNS" --no-tui --output-format json "$URL" 2>/dev/null ||
       run oha "$OHA" -z "${DUR}s" -c "$CONNS" --no-tui -j "$URL"; then
        OHA_REQ=$(jq '[.statusCodeDistribution[]] | add' "$WORK/oha.out")
        OHA_SECS=$(jq '.summary.total' "$WORK/oha.out")
        row oha "oha -c$CONNS" "$OHA_REQ" "$OHA_SECS" >>"$WORK/table.md"
    fi
fi

run scalelab "$SCALELAB" load "$URL" --connections "$CONNS" --duration "${DUR}s" --quiet --format json
SL_REQ=$(jq '.variants[0].requests.completed' "$WORK/scalelab.out")
SL_SECS=$(jq '.variants[0].extra.elapsed_s' "$WORK/scalelab.out")
row scalelab "scalelab load -c$CONNS" "$SL_REQ" "$SL_SECS" >>"$WORK/table.md"

PEAK=$(python3 -c "print($SL_REQ/$SL_SECS)")
RATE=$(python3 -c "print(int(0.8*$PEAK))")
# The same connection count as the closed loops: on loopback the server is the ceiling, and a
# pool allowed to grow to 1000 connections when the server falls behind costs CPU per request.
run open "$SCALELAB" load "$URL" --rate "$RATE" --duration "${DUR}s" --max-connections "$CONNS" \
    --quiet --format json
read -r OPEN_USER OPEN_SYS OPEN_RSS <"$WORK/open.time"

echo
echo "Closed loop, $CONNS connections, ${DUR} s each, nginx 1 worker on 127.0.0.1 ($(nproc) cores):"
echo
cat "$WORK/table.md"
echo
echo "Open loop (scalelab load --rate $RATE --max-connections $CONNS, 80 % of its closed-loop peak, ${DUR} s):"
echo
jq -r --arg cpu "$(python3 -c "print($OPEN_USER+$OPEN_SYS)")" --arg rss "$OPEN_RSS" '.variants[0] as $v |
  "| target req/s | achieved req/s | achieved/target | completed | errors | p50 ms | p99 ms | send lag p99 ms | send lag max ms | seconds behind | CPU µs/request | peak RSS MiB |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  "| \($v.extra.target_rate) | \($v.extra.achieved_rate) | \((10000 * $v.extra.achieved_rate / $v.extra.target_rate | round) / 100) % | \($v.requests.completed) | \($v.requests.rejected + $v.requests.timed_out) | \($v.latency_ms.p50) | \($v.latency_ms.p99) | \($v.extra.send_lag_ms.p99) | \($v.extra.send_lag_ms.max) | \($v.extra.behind_seconds | length) | \((1e6 * ($cpu | tonumber) / $v.requests.arrived * 100 | round) / 100) | \((($rss | tonumber) / 1024 * 10 | round) / 10) |"' \
  "$WORK/open.out"
