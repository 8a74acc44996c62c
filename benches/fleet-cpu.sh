#!/usr/bin/env bash
# The fleet benchmark of issue 17: one simulated day of a 1,000-function fleet drawn like the
# Azure Functions trace (benches/fleet/gen.py: rates log-uniform over 8 orders of magnitude,
# most functions rare; per-function service times from the log-normal(-0.38, 2.36) s fit).
# Measures CPU time (user + sys) of `scalelab sim` pinned to one core (taskset), ROUNDS rounds,
# the median quoted, and the largest max RSS of the rounds (GNU time's %M). Nothing is built
# here: pass the binary.
#
# Usage: benches/fleet-cpu.sh BIN [ROUNDS]      (ROUNDS = 3 by default)
#   e.g. cargo build --release && benches/fleet-cpu.sh target/release/scalelab
# Environment: CPU=1 (the core), FUNCTIONS=1000, DURATION=24h, KIND=mix|kpa|keepalive,
#   TRACE=1 (arrivals from a per-minute counts [trace] file instead of Poisson phases), SEED=1.
set -euo pipefail

BIN=${1:?usage: fleet-cpu.sh BIN [ROUNDS]}
ROUNDS=${2:-3}
CPU=${CPU:-1}
FUNCTIONS=${FUNCTIONS:-1000}
DURATION=${DURATION:-24h}
KIND=${KIND:-mix}
SEED=${SEED:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "needs taskset (util-linux)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

gen=(python3 "$ROOT/benches/fleet/gen.py" "$WORK" --functions "$FUNCTIONS" --seed "$SEED" --duration "$DURATION" --kind "$KIND")
[ "${TRACE:-0}" = 1 ] && gen+=(--trace)
"${gen[@]}" >&2

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

: >"$WORK/cpu"
: >"$WORK/rss"
for i in $(seq "$ROUNDS"); do
    # Exit 3 (an SLO breach: the default 1 % error ratio of a few long functions) is a
    # finished run.
    rc=0
    /usr/bin/time -f "%U %S %M" -o "$WORK/time" taskset -c "$CPU" "$BIN" sim "$WORK/fleet.toml" \
        --seed 1 --threads 1 --format json --allow-large-run >"$WORK/out.json" 2>"$WORK/err" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$WORK/err" >&2; exit 1; }
    read -r u s m < <(tail -n 1 "$WORK/time")
    echo "$u $s" | awk '{print $1 + $2}' >>"$WORK/cpu"
    echo "$m" >>"$WORK/rss"
    echo "round $i: user $u s, sys $s s, max RSS $((m / 1024)) MB" >&2
done
read -r n events < <(python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["variants"][0]; print(v["requests"]["arrived"], v["sim"]["events"])' "$WORK/out.json")
cpu=$(median <"$WORK/cpu")
rss=$(sort -g "$WORK/rss" | tail -n 1)
echo "| functions | simulated | kind | arrivals | requests | events (as ticking) | CPU s (user+sys, one core, median of $ROUNDS) | max RSS MB |"
echo "|---:|---|---|---|---:|---:|---:|---:|"
echo "| $FUNCTIONS | $DURATION | $KIND | $([ "${TRACE:-0}" = 1 ] && echo trace || echo poisson) | $n | $events | $cpu | $((rss / 1024)) |"
