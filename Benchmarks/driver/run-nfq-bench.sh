#!/usr/bin/env bash
# Runs ../shared/tools/nfq-bench against the driver harness (release build) in one run:
# plain, c-verdict1, c-batch32, c-connmark, the driver with 10,000 filters without the fast path
# (every packet queued) and with it (connmark mode). Needs root; takes a few minutes.
#   usage: sudo Benchmarks/driver/run-nfq-bench.sh [-n RUNS] [other bench.sh options]
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${NFQ_BENCH:-../shared/tools/nfq-bench/bench.sh}  # NFQ_BENCH=/path/to/a/fixed/copy (see README)
[ -x "$BENCH" ] || BENCH=/work/shared/tools/nfq-bench/bench.sh
if [ -z "${HARNESS:-}" ]; then  # HARNESS=path/to/ipsecsvc-driver-harness skips the build (run-packet.sh)
    swift build -c release --product ipsecsvc-driver-harness >/dev/null
    HARNESS=$(swift build -c release --show-bin-path)/ipsecsvc-driver-harness
fi
if ! command -v ping >/dev/null; then
    # bench.sh checks the veth pair with `ping -q -c 1 -W 2 ADDRESS`; hosts without ping (CI) get the
    # harness's ICMP echo under that name.
    shim=$(mktemp -d)
    trap 'rm -rf "$shim"' EXIT
    printf '#!/bin/sh\nfor last; do :; done\nexec "%s" ping "$last" 1 2000\n' "$HARNESS" >"$shim/ping"
    chmod +x "$shim/ping"
    PATH=$shim:$PATH
fi
bash "$BENCH" --connmark "$@" \
    "swift-10k=$HARNESS --queue {q} --filters 10000 --no-fast-path" \
    "connmark:swift-10k-fast=$HARNESS --queue {q} --filters 10000 --flow-mark 0x1"
