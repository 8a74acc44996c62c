#!/usr/bin/env bash
# scalelab load vs wrk on one local nginx: CPU time per request, side by side, pinned, alternating.
#
# Usage: benches/loadgen-compare.sh [SCALELAB_BINARY]
#        (default: target/release/scalelab; build it first with `cargo build --release`:
#        this script never builds anything)
# Settings (environment): CONNS=50 DUR=10 ROUNDS=3 OPEN_ROUNDS=3 SERVER_CPU=0 CLIENT_CPU=1
#
# What it does:
#   - starts nginx (Debian package; installed with apt-get when missing, which needs root) with
#     one worker on a free 127.0.0.1 port found at run time, pinned to SERVER_CPU;
#   - closed loop: ROUNDS rounds, each `wrk -t1 -cCONNS` then `scalelab load -cCONNS`, DUR
#     seconds each, every generator pinned to CLIENT_CPU with taskset; CPU = user + sys of the
#     generator's process from /usr/bin/time, divided by the requests it completed;
#   - open loop: OPEN_ROUNDS runs of `scalelab load --rate R` at 80 % of the closed-loop peak
#     scalelab measured just before each of them, same pinning: achieved vs target rate, send
#     lag (measured when a request is written to its connection);
#   - prints every round and the medians as markdown tables.
set -euo pipefail

CONNS=${CONNS:-50}
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
OPEN_ROUNDS=${OPEN_ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/lib.sh"
SCALELAB=$(scalelab_binary "${1:-}")
WORK=$(mktemp -d)
NGINX_PID=

cleanup() {
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

need_apt /usr/sbin/nginx nginx-light
need_apt wrk wrk
need_apt /usr/bin/time time
need_apt taskset util-linux
need_apt jq jq
need_apt python3 python3
NGINX=/usr/sbin/nginx

PORT=$(free_port)
URL="http://127.0.0.1:$PORT/"
nginx_conf nginx <<CONF
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$PORT;
        location / { default_type text/plain; return 200 "hello, scalelab\n"; }
    }
CONF
taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
up=
for _ in $(seq 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.1)" 2>/dev/null; then up=1; break; fi
    sleep 0.05
done
[ -n "$up" ] || { echo "nginx did not start:" >&2; cat "$WORK/nginx-error.log" >&2; exit 1; }

# timed NAME CMD...: runs CMD pinned to CLIENT_CPU under /usr/bin/time; stdout in $WORK/NAME.out,
# "user sys max_rss_kb" in $WORK/NAME.time.
timed() {
    local name=$1; shift
    echo "running $name: $*" >&2
    /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" taskset -c "$CLIENT_CPU" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || {
        echo "$name failed:" >&2; cat "$WORK/$name.err" >&2; return 1; }
}

# The table rows are collected as "generator round requests seconds cpu_s rss_kb".
: >"$WORK/closed.tsv"
for round in $(seq "$ROUNDS"); do
    timed "wrk-$round" wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL"
    req=$(awk '/requests in/ {print $1}' "$WORK/wrk-$round.out")
    secs=$(awk '/requests in/ {gsub("s,", "", $4); print $4}' "$WORK/wrk-$round.out")
    read -r u s m <"$WORK/wrk-$round.time"
    echo "wrk $round $req $secs $(python3 -c "print($u+$s)") $m" >>"$WORK/closed.tsv"

    timed "scalelab-$round" "$SCALELAB" load "$URL" --connections "$CONNS" --duration "${DUR}s" \
        --quiet --format json
    req=$(jq '.variants[0].requests.completed' "$WORK/scalelab-$round.out")
    secs=$(jq '.variants[0].extra.elapsed_s' "$WORK/scalelab-$round.out")
    read -r u s m <"$WORK/scalelab-$round.time"
    echo "scalelab $round $req $secs $(python3 -c "print($u+$s)") $m" >>"$WORK/closed.tsv"
done

# Open loop: each run is preceded by a closed-loop run of scalelab that measures the peak at that
# moment (this machine is shared: the server's capacity drifts between rounds), and offered 80 %
# of it.
: >"$WORK/open.tsv"
for round in $(seq "$OPEN_ROUNDS"); do
    timed "peak-$round" "$SCALELAB" load "$URL" --connections "$CONNS" --duration "${DUR}s" \
        --quiet --format json
    peak=$(jq '.variants[0].requests.completed / .variants[0].extra.elapsed_s' "$WORK/peak-$round.out")
    rate=$(python3 -c "print(int(0.8 * $peak))")
    timed "open-$round" "$SCALELAB" load "$URL" --rate "$rate" --duration "${DUR}s" \
        --max-connections "$CONNS" --quiet --format json
    read -r u s m <"$WORK/open-$round.time"
    jq -r --arg round "$round" --arg cpu "$(python3 -c "print($u+$s)")" --arg rss "$m" \
        --arg peak "$peak" '
        .variants[0] as $v | [$round, $peak, $v.extra.target_rate, $v.extra.achieved_rate,
        $v.extra.sent, $v.requests.completed, $v.latency_ms.p50, $v.latency_ms.p99,
        $v.extra.send_lag_ms.p50, $v.extra.send_lag_ms.p99, $v.extra.send_lag_ms.max,
        ($v.extra.behind_seconds | length), $cpu, $rss] | @tsv' "$WORK/open-$round.out" \
        >>"$WORK/open.tsv"
done

python3 - "$WORK/closed.tsv" "$WORK/open.tsv" "$CONNS" "$DUR" "$SERVER_CPU" "$CLIENT_CPU" \
    "$("$SCALELAB" --version 2>/dev/null || echo scalelab)" "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
    "$("$NGINX" -v 2>&1 | sed 's/.*: //')" <<'PY'
import statistics as st, sys
closed, opened, conns, dur, scpu, ccpu, slv, wrkv, ngv = sys.argv[1:10]
rows = [l.split() for l in open(closed) if l.strip()]
print(f"Closed loop: {conns} connections, {dur} s per run, {ngv} (1 worker, CPU {scpu}) on 127.0.0.1;")
print(f"each generator pinned to CPU {ccpu}; rounds alternate wrk, scalelab. CPU = user + sys of the")
print(f"generator process (/usr/bin/time) / requests completed. {wrkv}; {slv}.")
print()
print("| round | generator | requests | req/s | CPU s (user+sys) | CPU µs/request | peak RSS MiB |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
per = {}
for g, r, req, secs, cpu, rss in rows:
    req, secs, cpu, rss = float(req), float(secs), float(cpu), float(rss)
    us = 1e6 * cpu / max(req, 1)
    per.setdefault(g, []).append((us, req / secs, rss / 1024))
    print(f"| {r} | {g} | {req:,.0f} | {req / secs:,.0f} | {cpu:.2f} | {us:.2f} | {rss / 1024:.1f} |")
print()
print("| generator | median CPU µs/request | median req/s | median peak RSS MiB |")
print("| --- | ---: | ---: | ---: |")
med = {}
for g, v in per.items():
    med[g] = st.median(x[0] for x in v)
    print(f"| {g} | {med[g]:.2f} | {st.median(x[1] for x in v):,.0f} | {st.median(x[2] for x in v):.1f} |")
if "wrk" in med and "scalelab" in med:
    print()
    print(f"CPU per request, scalelab / wrk (medians): {med['scalelab'] / med['wrk']:.3f}")
print()
print("Open loop: before each run, a closed-loop scalelab run measures the peak (req/s) at that")
print(f"moment; then scalelab load --rate R with R = 80 % of it, --max-connections {conns}, {dur} s,")
print("pinned as above. Send lag = written to the connection - intended time; latency counts from")
print("the intended time.")
print()
print("| run | peak req/s | target req/s | achieved req/s | achieved/target | sent | completed | p50 ms | p99 ms | lag p50 ms | lag p99 ms | lag max ms | s behind | CPU µs/request | peak RSS MiB |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
ratios = []
for l in open(opened):
    if not l.strip():
        continue
    r, peak, tr, ar, sent, comp, p50, p99, l50, l99, lmax, behind, cpu, rss = l.split("\t")
    tr, ar = float(tr), float(ar)
    ratios.append(ar / tr)
    us = 1e6 * float(cpu) / max(float(sent), 1)
    print(f"| {r} | {float(peak):,.0f} | {tr:,.0f} | {ar:,.0f} | {100 * ar / tr:.2f} % | {int(sent):,} | {int(comp):,} | {p50} | {p99} | {l50} | {l99} | {lmax} | {behind.strip()} | {us:.2f} | {float(rss) / 1024:.1f} |")
if ratios:
    print()
    print(f"Median achieved/target: {100 * st.median(ratios):.2f} %")
PY
