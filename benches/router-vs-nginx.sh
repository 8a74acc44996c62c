#!/usr/bin/env bash
# The scalelab router against nginx `proxy_pass`, side by side, in front of the SAME backend.
#
# Usage: benches/router-vs-nginx.sh [SCALELAB_BINARY]
#        (default: target/release/scalelab; build it first with `cargo build --release`:
#        this script never builds anything)
# Settings (environment): CONNS=32 DUR=10 ROUNDS=3 PROXY_CPU=1 OTHER_CPU=0 PATH_Q=/
#
#   backend : nginx (Debian `nginx-light`), one process (`master_process off`), `return 200
#             "ok"` from memory. It is started by `scalelab serve --cmd` as the revision's only
#             instance (min_scale = max_scale = 1), so the router proxies to it exactly as it
#             would to a user's container; the script reads its $PORT from a file the command
#             writes, and points nginx's `proxy_pass` at the same port.
#   proxies : (a) nginx, one process, `proxy_pass` with upstream keep-alive;
#             (b) `scalelab serve` (container concurrency 0, one tokio worker: the process may
#                 only run on one CPU, and tokio sizes its pool from that).
#   client  : wrk -t1 -cCONNS, closed loop, keep-alive connections, --latency.
#
# Pinning (taskset). The machine this project runs on has 2 cores, so three processes cannot
# each have their own: the proxy under test runs ALONE on PROXY_CPU; wrk and the backend share
# OTHER_CPU. Both proxies get exactly the same arrangement (they are pinned to the same CPU, and
# only one of them carries traffic at a time). With more cores, set OTHER_CPU to a list (e.g.
# 2,3) to give the client and the backend their own.
#
# Rounds: ROUNDS rounds, each measuring both proxies for DUR seconds, the order alternating
# (odd rounds nginx first, even rounds scalelab first). The main figure is the proxy's CPU time
# (user + sys, from /proc/PID/stat, all its threads, one core) per request wrk completed; wrk's
# req/s is the throughput. Medians of the rounds are printed with the ratios, and the direct
# (no proxy) figure of each round as a reference for the latency the hop adds.
#
# Needs: nginx, wrk, taskset (installed with apt-get when missing, which needs root), python3.
set -euo pipefail

CONNS=${CONNS:-32}
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
PROXY_CPU=${PROXY_CPU:-1}
OTHER_CPU=${OTHER_CPU:-0}
PATH_Q=${PATH_Q:-/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/lib.sh"
SCALELAB=$(scalelab_binary "${1:-}")
WORK=$(mktemp -d -t scalelab-router-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

need_apt /usr/sbin/nginx nginx-light
need_apt wrk wrk
need_apt taskset util-linux
need_apt python3 python3
NGINX=/usr/sbin/nginx

# The backend: nginx returning a 2-byte body from memory on $PORT, pinned to OTHER_CPU.
nginx_conf backend.in <<'EOF'
  server {
    listen 127.0.0.1:@PORT@;
    location / { return 200 "ok"; }
  }
EOF
cat >"$WORK/backend.sh" <<EOF
#!/bin/sh
sed "s/@PORT@/\$PORT/" "$WORK/backend.conf.in" > "$WORK/backend.conf"
echo "\$PORT" > "$WORK/backend.port"
exec taskset -c $OTHER_CPU "$NGINX" -c "$WORK/backend.conf" -p "$WORK"
EOF
chmod +x "$WORK/backend.sh"

cat >"$WORK/bench.toml" <<'EOF'
name = "router-bench"
duration = "1h"
[service]
container_concurrency = 0
timeout = "30s"
service_time = { dist = "fixed", value = "0s" }
cold_start = { dist = "fixed", value = "0s" }
[autoscaler]
min_scale = 1
initial_scale = 1
max_scale = 1
[[workload.phases]]
duration = "1h"
arrival = { process = "constant", rate = 1 }
EOF

taskset -c "$PROXY_CPU" "$SCALELAB" serve "$WORK/bench.toml" --allow-unauthenticated -q \
    --cmd "$WORK/backend.sh" --termination-grace 2s --format json \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
for _ in $(seq 1 200); do
    [ -s "$WORK/backend.port" ] && grep -q '^url:' "$WORK/serve.out" && break
    sleep 0.05
done
ROUTER_URL="$(sed -n 's/^url: //p' "$WORK/serve.out")"
BACKEND_PORT="$(cat "$WORK/backend.port")"
wait_port "$BACKEND_PORT"

FRONT_PORT="$(free_port)"
nginx_conf front <<EOF
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$FRONT_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
EOF
taskset -c "$PROXY_CPU" "$NGINX" -c "$WORK/front.conf" -p "$WORK" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$FRONT_PORT"
# The router answers once its instance passed its readiness probe.
for _ in $(seq 1 200); do
    [ "$(python3 -c "import urllib.request;print(urllib.request.urlopen('$ROUTER_URL$PATH_Q').status)" 2>/dev/null)" = 200 ] && break
    sleep 0.05
done

# measure NAME URL PID ROUND: one wrk run; appends "name round rps requests cpu_s p50_ms p99_ms non2xx".
measure() {
    local name=$1 url=$2 pid=$3 round=$4 before after
    before=$( [ "$pid" = - ] && echo 0 || cpu_s "$pid")
    taskset -c "$OTHER_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url$PATH_Q" >"$WORK/$name-$round.wrk" 2>&1
    after=$( [ "$pid" = - ] && echo 0 || cpu_s "$pid")
    python3 - "$name" "$round" "$WORK/$name-$round.wrk" "$before" "$after" >>"$WORK/rows.tsv" <<'PY'
import re, sys
name, rnd, path, before, after = sys.argv[1:6]
text = open(path).read()
def ms(v):
    n, u = float(re.match(r"([\d.]+)", v).group(1)), re.sub(r"[\d.]", "", v)
    return n * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
lat = {p: ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
req = int(re.search(r"(\d+) requests in", text).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(name, rnd, rps, req, float(after) - float(before), lat["50"], lat["99"], errs.group(1) if errs else 0)
PY
    echo "round $round $name: $(tail -1 "$WORK/rows.tsv")" >&2
}

: >"$WORK/rows.tsv"
# Warm-up: connections open, caches and pools filled.
taskset -c "$OTHER_CPU" wrk -t1 -c"$CONNS" -d2s "$ROUTER_URL$PATH_Q" >/dev/null 2>&1 || true
taskset -c "$OTHER_CPU" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$FRONT_PORT$PATH_Q" >/dev/null 2>&1 || true
for round in $(seq "$ROUNDS"); do
    measure direct "http://127.0.0.1:$BACKEND_PORT" - "$round"
    if [ $((round % 2)) = 1 ]; then
        measure nginx "http://127.0.0.1:$FRONT_PORT" "$NGINX_PID" "$round"
        measure scalelab "$ROUTER_URL" "$SERVE_PID" "$round"
    else
        measure scalelab "$ROUTER_URL" "$SERVE_PID" "$round"
        measure nginx "http://127.0.0.1:$FRONT_PORT" "$NGINX_PID" "$round"
    fi
done

python3 - "$WORK/rows.tsv" "$CONNS" "$DUR" "$PROXY_CPU" "$OTHER_CPU" "$(nproc)" \
    "$("$SCALELAB" --version 2>/dev/null || echo scalelab)" "$("$NGINX" -v 2>&1 | sed 's/.*: //')" \
    "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" "$PATH_Q" <<'PY'
import statistics as st, sys
path, conns, dur, pcpu, ocpu, ncpu, slv, ngv, wrkv, pq = sys.argv[1:11]
rows = [l.split() for l in open(path) if l.strip()]
print(f"wrk -t1 -c{conns} -d{dur}s --latency {pq!r}, keep-alive; {ncpu} CPUs: the proxy alone on CPU {pcpu},")
print(f"wrk and the backend (nginx return 200, 1 process) on CPU {ocpu}; rounds alternate the order.")
print(f"CPU = the proxy process's user + sys (/proc/PID/stat, all threads) / requests wrk completed.")
print(f"{slv}; {ngv}; {wrkv}.")
print()
print("| round | path | req/s | requests | proxy CPU s | proxy CPU µs/request | p50 ms | p99 ms | non-2xx |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
per = {}
for name, rnd, rps, req, cpu, p50, p99, errs in rows:
    rps, req, cpu = float(rps), int(req), float(cpu)
    us = 1e6 * cpu / max(req, 1)
    per.setdefault(name, []).append((rps, us, float(p50), float(p99)))
    cpu_txt = "" if name == "direct" else f"{cpu:.2f}"
    us_txt = "" if name == "direct" else f"{us:.2f}"
    print(f"| {rnd} | {name} | {rps:,.0f} | {req:,} | {cpu_txt} | {us_txt} | {float(p50):.3f} | {float(p99):.3f} | {errs} |")
print()
print("| path | median req/s | median proxy CPU µs/request | median p50 ms | median p99 ms |")
print("| --- | ---: | ---: | ---: | ---: |")
med = {}
for name in ["direct", "nginx", "scalelab"]:
    v = per.get(name, [])
    if not v:
        continue
    med[name] = [st.median(x[i] for x in v) for i in range(4)]
    cpu = "" if name == "direct" else f"{med[name][1]:.2f}"
    print(f"| {name} | {med[name][0]:,.0f} | {cpu} | {med[name][2]:.3f} | {med[name][3]:.3f} |")
if "nginx" in med and "scalelab" in med:
    print()
    print(f"scalelab / nginx (medians): throughput {med['scalelab'][0] / med['nginx'][0]:.3f}, "
          f"CPU per request {med['scalelab'][1] / med['nginx'][1]:.3f}")
PY
