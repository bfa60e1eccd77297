#!/usr/bin/env bash
# Issue 17's control-socket figure: with 32 connections that each send one byte every 3 seconds (and
# never a whole request), how long does root's `ipsecsvc status` take? Target: < 1 s.
#
#   Benchmarks/control-socket/run.sh                       # the debug build of this tree
#   IPSECSVC=/path/to/ipsecsvc Benchmarks/control-socket/run.sh
#   CONNECTIONS=64 ROUNDS=20 Benchmarks/control-socket/run.sh
#
# Runs a service of its own (memory driver, temporary state directory and socket, request_timeout 30 so
# that a trickling connection is never closed by its deadline during the run), starts the trickling
# clients (`nc -U`, as this user), then times ROUNDS `status` calls one after the other and prints the
# best, median and worst time and how many failed. Not part of `swift test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

ipsecsvc="${IPSECSVC:-}"
if [ -z "$ipsecsvc" ]; then
    swift build --product ipsecsvc >/dev/null
    ipsecsvc="$(swift build --show-bin-path)/ipsecsvc"
fi
connections="${CONNECTIONS:-32}"
rounds="${ROUNDS:-10}"
work="$(mktemp -d /tmp/ipsecsvc-ctlbench-XXXXXX)"
service=""
clients=()
cleanup() {
    # Only what this script started, by PID.
    for pid in "${clients[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$service" ]; then kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/ipsecsvc.conf" <<CONF
state_dir = $work/state
socket = $work/control.sock
systemd = no
driver = memory
request_timeout = 30
CONF
"$ipsecsvc" run --config "$work/ipsecsvc.conf" > "$work/service.log" 2>&1 &
service=$!
for _ in $(seq 300); do
    "$ipsecsvc" status --config "$work/ipsecsvc.conf" 2>/dev/null | grep -q RUNNING && break
    sleep 0.1
done
"$ipsecsvc" status --config "$work/ipsecsvc.conf" | grep -q RUNNING || { cat "$work/service.log" >&2; exit 1; }

for _ in $(seq "$connections"); do
    (while :; do printf x; sleep 3; done) | nc -U "$work/control.sock" > /dev/null 2>&1 &
    clients+=("$!")
done
sleep 1

times=()
failed=0
for _ in $(seq "$rounds"); do
    start=$(date +%s%N)
    if ! timeout 60 "$ipsecsvc" status --config "$work/ipsecsvc.conf" > "$work/status.out" 2>&1 \
        || ! grep -q RUNNING "$work/status.out"; then
        failed=$((failed + 1))
    fi
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
done

sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "ipsecsvc:               $ipsecsvc"
echo "trickling connections:  $connections (one byte every 3 s each)"
echo "status calls:           $rounds, failed: $failed (last answer: $(head -c 120 "$work/status.out" | head -1))"
echo "status time, ms:        best ${sorted[0]}, median ${sorted[$((rounds / 2))]}, worst ${sorted[$((rounds - 1))]}"
echo "target:                 < 1000 ms"
