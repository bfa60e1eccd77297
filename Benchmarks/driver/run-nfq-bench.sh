#!/usr/bin/env bash
# Runs ../shared/tools/nfq-bench against the driver harness (release build) in one run:
# plain, c-verdict1, c-batch32, c-connmark, the driver with 10,000 filters without the fast path
# (every packet queued) and with it (connmark mode). Needs root; takes a few minutes.
#   usage: sudo Benchmarks/driver/run-nfq-bench.sh [-n RUNS] [other bench.sh options]
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${NFQ_BENCH:-../shared/tools/nfq-bench/bench.sh}  # NFQ_BENCH=/path/to/a/fixed/copy (see README)
[ -x "$BENCH" ] || BENCH=/work/shared/tools/nfq-bench/bench.sh
swift build -c release --product ipsecsvc-driver-harness >/dev/null
HARNESS=$(swift build -c release --show-bin-path)/ipsecsvc-driver-harness
exec bash "$BENCH" --connmark "$@" \
    "swift-10k=$HARNESS --queue {q} --filters 10000 --no-fast-path" \
    "connmark:swift-10k-fast=$HARNESS --queue {q} --filters 10000 --flow-mark 0x1"
