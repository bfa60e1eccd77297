#!/usr/bin/env bash
# The mis-verdict checker (Benchmarks/README.md): a steady UDP stream over many flows from one network
# namespace to another, through the real driver (NetfilterDriver with its own chains and queue) in the
# receiving namespace, while the driver's policy is replaced SWAPS times a second for SECONDS seconds.
# Every datagram is accounted for at the receiver and judged against the policies that may have
# decided it. Needs root; creates and deletes its own namespaces (198.18.0.0/15 only).
#
#   sudo Benchmarks/misverdict/run.sh [FILTERS]      # default 10000; prints the analysis as JSON
#   FLOWS=256 RATE=30000 SWAPS=10 DURATION=30 KEEP=/tmp/mv sudo Benchmarks/misverdict/run.sh 100000
set -euo pipefail
cd "$(dirname "$0")/../.."
FILTERS=${1:-10000}
FLOWS=${FLOWS:-256}
RATE=${RATE:-30000}
SWAPS=${SWAPS:-10}
DURATION=${DURATION:-30}
PORT=9000
if [ -z "${CHECKER:-}" ]; then
    swift build -c release --product ipsecsvc-misverdict >/dev/null
    CHECKER="$(swift build -c release --show-bin-path)/ipsecsvc-misverdict"
fi
id=$$
tx="mv-tx-$id"
rx="mv-rx-$id"
octet=$((id % 250 + 1))
txaddr="198.19.$octet.1"
rxaddr="198.19.$octet.2"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$tx" 2>/dev/null || true
    ip netns del "$rx" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$work"/. "$KEEP"/; fi  # KEEP=DIR keeps the raw logs
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$tx"
ip netns add "$rx"
ip link add "mvt$id" netns "$tx" type veth peer name "mvr$id" netns "$rx"
ip -n "$tx" addr add "$txaddr/30" dev "mvt$id"
ip -n "$rx" addr add "$rxaddr/30" dev "mvr$id"
for ns in "$tx" "$rx"; do
    ip -n "$ns" link set lo up
done
ip -n "$tx" link set "mvt$id" up
ip -n "$rx" link set "mvr$id" up

ip netns exec "$rx" "$CHECKER" driver --filters "$FILTERS" --flows "$FLOWS" --port "$PORT" --peer "$txaddr" \
    --swaps-per-second "$SWAPS" --seconds "$DURATION" --log "$work" --queue $((4300 + id % 500)) \
    --chain-prefix "MV$id" >"$work/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do grep -q "checker: ready" "$work/driver.log" && break; sleep 0.1; done
grep -q "checker: ready" "$work/driver.log" || { cat "$work/driver.log" >&2; exit 1; }
ip netns exec "$rx" "$CHECKER" receive --port "$PORT" --seconds "$DURATION" --log "$work" >"$work/receive.log" 2>&1 &
receiver=$!
pids+=($receiver)
for _ in $(seq 1 100); do grep -q "checker: receiving" "$work/receive.log" && break; sleep 0.1; done
touch "$work/go"
ip netns exec "$tx" "$CHECKER" send --to "$rxaddr" --port "$PORT" --flows "$FLOWS" --rate "$RATE" \
    --seconds "$DURATION" --log "$work" >"$work/send.log" 2>&1
wait "${pids[0]}" || { cat "$work/driver.log" >&2; exit 1; }
wait "$receiver" || true
cat "$work/driver.log" "$work/send.log" "$work/receive.log" >&2
"$CHECKER" analyze --flows "$FLOWS" --log "$work"
