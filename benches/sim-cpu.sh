#!/usr/bin/env bash
# Simulator CPU cost, two builds side by side: the CPU time (user + sys) each `scalelab sim`
# takes per simulated request, with both pinned to the same core and the runs alternating
# (A, B, A, B, …) so that whatever else the machine does falls on both alike. Medians are
# quoted. Nothing is built here: pass the two binaries.
#
# Usage: benches/sim-cpu.sh BIN_A BIN_B [ROUNDS]        (ROUNDS = 5 by default)
#   e.g. git worktree add /tmp/before <rev> && (cd /tmp/before && cargo build --release)
#        benches/sim-cpu.sh /tmp/before/target/release/scalelab target/release/scalelab
# Environment: CPU=1 (the core to pin to), SCENARIOS="file:duration …" (see below).
set -euo pipefail

A=${1:?usage: sim-cpu.sh BIN_A BIN_B [ROUNDS]}
B=${2:?usage: sim-cpu.sh BIN_A BIN_B [ROUNDS]}
ROUNDS=${3:-5}
CPU=${CPU:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Each entry: scenario file and the horizon to simulate ("-" keeps the scenario's own).
SCENARIOS=${SCENARIOS:-"benches/scenarios/steady-100.toml:60s scenarios/rare-function.toml:30d scenarios/lambda-keepalive.toml:30d benches/scenarios/rare-year-kpa.toml:- benches/scenarios/rare-year-keepalive.toml:-"}
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, Debian package time)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "needs taskset (util-linux)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# One run: prints "cpu_seconds requests".
run() {
    local bin=$1 file=$2 dur=$3
    local args=(sim "$ROOT/$file" --seed 1 --threads 1 --format json)
    [ "$dur" != "-" ] && args+=(--duration "$dur")
    /usr/bin/time -f "%U %S" -o "$WORK/time" taskset -c "$CPU" "$bin" "${args[@]}" >"$WORK/out.json" 2>/dev/null || true
    local cpu
    cpu=$(tail -n 1 "$WORK/time" | awk '{print $1 + $2}')
    local n
    n=$(python3 -c 'import json,sys; print(sum(v["requests"]["arrived"] for v in json.load(open(sys.argv[1]))["variants"]))' "$WORK/out.json")
    echo "$cpu $n"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "| scenario | requests | A: CPU s (median of $ROUNDS) | B: CPU s | A: ns CPU / request | B: ns CPU / request | B / A |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for entry in $SCENARIOS; do
    file=${entry%%:*}
    dur=${entry##*:}
    : >"$WORK/a"
    : >"$WORK/b"
    n=0
    for _ in $(seq "$ROUNDS"); do
        read -r ca n < <(run "$A" "$file" "$dur")
        echo "$ca" >>"$WORK/a"
        read -r cb n < <(run "$B" "$file" "$dur")
        echo "$cb" >>"$WORK/b"
    done
    ma=$(median <"$WORK/a")
    mb=$(median <"$WORK/b")
    awk -v f="$file" -v d="$dur" -v n="$n" -v a="$ma" -v b="$mb" 'BEGIN {
        label = (d == "-") ? f : f " (" d ")";
        printf "| %s | %d | %.3f | %.3f | %.0f | %.0f | %.2f |\n", label, n, a, b, a / n * 1e9, b / n * 1e9, (a > 0 ? b / a : 0)
    }'
done
