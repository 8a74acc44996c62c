#!/usr/bin/env bash
# The scalelab router's overhead, side by side with nginx as a reverse proxy to the SAME backend
# instance.
#
#   backend : nginx answering `200 ok` from memory (one worker), started by `scalelab serve
#             --cmd` as the revision's only instance (min_scale 1, no cold start), so the router
#             proxies to it exactly as it would to a user's container; the script reads the
#             instance's $PORT from a file the command writes.
#   proxies : (a) nginx, one worker, `proxy_pass` with upstream keep-alive;
#             (b) scalelab's router (activator in the path, container concurrency 0), one
#                 tokio worker.
#   load    : wrk, closed loop, keep-alive connections, --latency.
#
# Each proxy is pinned to CPU 0 (`taskset`), the backend and wrk to the other CPUs, so the
# req/s figure is "per proxy core". Added latency = proxied percentile − direct percentile.
#
# Usage: benches/router-vs-nginx.sh [DURATION] [CONNECTIONS]     (defaults: 10s 32)
# Needs: nginx, wrk, taskset (installed with apt-get when missing), python3, cargo.
set -euo pipefail

DURATION="${1:-10s}"
CONNS="${2:-32}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d -t scalelab-router-bench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! need taskset; then
  echo "installing nginx, wrk (apt-get)..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk util-linux >/dev/null \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk util-linux >/dev/null
fi
NGINX="$(command -v nginx)"
NCPU="$(nproc)"
if [ "$NCPU" -ge 2 ]; then PROXY_CPU=0; OTHER_CPUS="1-$((NCPU - 1))"; else PROXY_CPU=0; OTHER_CPUS=0; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # host:port
  for _ in $(seq 1 200); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2; return 1
}

echo "building scalelab (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p scalelab)
SCALELAB="$ROOT/target/release/scalelab"

# The backend: nginx returning a 2-byte body from memory on $PORT.
cat >"$WORK/backend.conf.in" <<EOF
worker_processes 1;
daemon off;
pid $WORK/backend.pid;
error_log $WORK/backend-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:@PORT@;
    location / { return 200 "ok"; }
  }
}
EOF
cat >"$WORK/backend.sh" <<EOF
#!/bin/sh
echo "\$PORT" > "$WORK/backend.port"
sed "s/@PORT@/\$PORT/" "$WORK/backend.conf.in" > "$WORK/backend.conf"
exec taskset -c $OTHER_CPUS "$NGINX" -c "$WORK/backend.conf" -p "$WORK"
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

# The router, pinned to one CPU (tokio sizes its pool from the CPUs it may use: one worker).
taskset -c "$PROXY_CPU" "$SCALELAB" serve "$WORK/bench.toml" --allow-unauthenticated -q \
  --cmd "$WORK/backend.sh" --termination-grace 2s --format json >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 1 200); do [ -s "$WORK/backend.port" ] && grep -q '^url:' "$WORK/serve.out" && break; sleep 0.05; done
ROUTER_URL="$(sed -n 's/^url: //p' "$WORK/serve.out")"
BACKEND_PORT="$(cat "$WORK/backend.port")"
wait_port "$BACKEND_PORT"

# nginx as the reverse proxy to the same backend instance.
FRONT_PORT="$(free_port)"
cat >"$WORK/front.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/front.pid;
error_log $WORK/front-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$FRONT_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
taskset -c "$PROXY_CPU" "$NGINX" -c "$WORK/front.conf" -p "$WORK" &
PIDS+=($!)
wait_port "$FRONT_PORT"
# The router answers once its instance is ready.
for _ in $(seq 1 200); do
  [ "$(python3 -c "import urllib.request;print(urllib.request.urlopen('$ROUTER_URL/').status)" 2>/dev/null)" = 200 ] && break
  sleep 0.05
done

run() { # name url
  local out
  taskset -c "$OTHER_CPUS" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$2/" >"$WORK/$1.wrk" 2>&1
  out="$WORK/$1.wrk"
  python3 - "$1" "$out" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
def ms(v):
    n, u = float(re.match(r"([\d.]+)", v).group(1)), re.sub(r"[\d.]", "", v)
    return n * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
lat = {p: ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{name} {lat['50']:.4f} {lat['99']:.4f} {rps:.0f} {errs.group(1) if errs else 0}")
PY
}

# Warm-up, then the three measurements.
taskset -c "$OTHER_CPUS" wrk -t1 -c"$CONNS" -d2s "$ROUTER_URL/" >/dev/null 2>&1 || true
taskset -c "$OTHER_CPUS" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$FRONT_PORT/" >/dev/null 2>&1 || true
DIRECT="$(run direct "http://127.0.0.1:$BACKEND_PORT")"
NGINXR="$(run nginx "http://127.0.0.1:$FRONT_PORT")"
ROUTER="$(run scalelab "$ROUTER_URL")"

python3 - "$DIRECT" "$NGINXR" "$ROUTER" "$DURATION" "$CONNS" "$NCPU" <<'PY'
import sys
rows = [r.split() for r in sys.argv[1:4]]
dur, conns, ncpu = sys.argv[4:7]
d = {r[0]: (float(r[1]), float(r[2]), float(r[3]), int(r[4])) for r in rows}
print(f"wrk -t1 -c{conns} -d{dur} --latency, keep-alive; proxies pinned to 1 CPU of {ncpu}; backend: nginx return 200")
print(f"{'path':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>10}{'+p50 ms':>9}{'+p99 ms':>9}{'non-2xx':>9}")
for name, label in [("direct", "direct to backend"), ("nginx", "nginx reverse proxy"), ("scalelab", "scalelab router")]:
    p50, p99, rps, errs = d[name]
    add50 = "" if name == "direct" else f"{p50 - d['direct'][0]:.3f}"
    add99 = "" if name == "direct" else f"{p99 - d['direct'][1]:.3f}"
    print(f"{label:<22}{p50:>9.3f}{p99:>9.3f}{rps:>10.0f}{add50:>9}{add99:>9}{errs:>9}")
PY
