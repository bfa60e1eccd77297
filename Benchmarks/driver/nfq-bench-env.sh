# Sourced (from the package root) by run-nfq-bench.sh and compare-nfq.sh: sets BENCH to nfq-bench's
# bench.sh (NFQ_BENCH=/path/to/a/copy overrides) and gives nfq_ping_shim and nfq_temporary.
# shellcheck shell=bash
BENCH=${NFQ_BENCH:-../shared/tools/nfq-bench/bench.sh}
[ -x "$BENCH" ] || BENCH=/work/shared/tools/nfq-bench/bench.sh
nfq_temporary=()  # directories removed on exit
trap 'rm -rf "${nfq_temporary[@]}"' EXIT

# bench.sh checks the veth pair with `ping -q -c 1 -W 2 ADDRESS`; hosts without ping (CI) get the
# harness's ICMP echo under that name.   usage: nfq_ping_shim HARNESS
nfq_ping_shim() {
    command -v ping >/dev/null && return 0
    local shim
    shim=$(mktemp -d)
    nfq_temporary+=("$shim")
    printf '#!/bin/sh\nfor last; do :; done\nexec "%s" ping "$last" 1 2000\n' "$1" >"$shim/ping"
    chmod +x "$shim/ping"
    PATH=$shim:$PATH
}
