#!/usr/bin/env bash
# Runs ../shared/tools/nfq-bench against the driver harness (release build) in one run:
# plain, c-verdict1, c-batch32, c-connmark, the driver with 10,000 filters without the fast path
# (every packet queued) and with it (connmark mode). Needs root; takes a few minutes.
#   usage: sudo [BALANCE=1] Benchmarks/driver/run-nfq-bench.sh [-n RUNS] [other bench.sh options]
set -euo pipefail
cd "$(dirname "$0")/../.."
. Benchmarks/driver/nfq-bench-env.sh  # BENCH (NFQ_BENCH=/path/to/a/fixed/copy), nfq_ping_shim
if [ -z "${HARNESS:-}" ]; then  # HARNESS=path/to/ipsecsvc-driver-harness skips the build (run-packet.sh)
    swift build -c release --product ipsecsvc-driver-harness >/dev/null
    HARNESS=$(swift build -c release --show-bin-path)/ipsecsvc-driver-harness
fi
nfq_ping_shim "$HARNESS"
if [ -n "${BALANCE:-}" ]; then
    # BALANCE=1: the harness over 2 queues (`--queue-balance Q:Q+1`, a reader thread per queue, as the
    # driver on a machine with more than one CPU; issue 16 item 3). nfq-bench's rules name one queue:
    # this runs a temporary copy of the tool whose queue rules balance over two (the shared tool is not
    # changed). Only two-queue rows (a one-queue consumer would lose half the packets to the unbound
    # queue: compare with the swift-10k rows of a run without BALANCE); not pinned (`--no-pin`: two
    # readers on one CPU cannot scale); `qdrop/s` counts the first queue only.
    copy=$(mktemp -d)
    nfq_temporary+=("$copy")
    cp -r "$(dirname "$BENCH")"/. "$copy/"
    sed -i 's/--queue-num \$QNUM/--queue-balance $QNUM:$((QNUM + 1))/g' "$copy/bench.sh"
    grep -q -- '--queue-balance' "$copy/bench.sh" || { echo "no --queue-num \$QNUM rule in $BENCH" >&2; exit 1; }
    bash "$copy/bench.sh" --no-baseline --no-pin --ref swift-10k-q2 "$@" \
        "swift-10k-q2=$HARNESS --queue {q} --queues 2 --filters 10000 --no-fast-path" \
        "connmark:swift-10k-fast-q2=$HARNESS --queue {q} --queues 2 --filters 10000 --flow-mark 0x1"
    exit
fi
bash "$BENCH" --connmark "$@" \
    "swift-10k=$HARNESS --queue {q} --filters 10000 --no-fast-path" \
    "connmark:swift-10k-fast=$HARNESS --queue {q} --filters 10000 --flow-mark 0x1"
