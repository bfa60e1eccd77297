#!/usr/bin/env bash
# How `ipsecsvc netsh -f SCRIPT` scales with the number of objects the script makes (issue 14: a script
# must cost amortised constant time per command). The script is the one the driver's restart bench
# writes for its policy (Benchmarks/driver/run-restart-bench.sh): per filter list `add filterlist`,
# `add filter` into it and `add rule` using it, all rules in one policy, then `set policy … assign=yes`.
# Each run writes a fresh state directory's local store once, through the one checked store write.
#
#   Benchmarks/netsh/run.sh AFTER [BEFORE]      two ipsecsvc binaries, compared in one run, interleaved
#   Benchmarks/netsh/run.sh --smoke AFTER       CI's smoke run: 200 lists, once, nothing compared
#   SIZES="1000 10000 100000" ROUNDS=3 TIMEOUT=600 Benchmarks/netsh/run.sh …
#
# Release builds (`swift build -c release --build-path DIR --product ipsecsvc`). Per size and binary:
# the best wall and CPU (user + system) seconds of ROUNDS runs, µs per script line, and the load
# average when the size was done. A run past TIMEOUT seconds is stopped and shown as "> TIMEOUT".
set -euo pipefail
. "$(dirname "$0")/../driver/bench-policy-netsh.sh"  # bench_policy_netsh, the restart bench's script

sizes=${SIZES:-1000 10000 100000}
rounds=${ROUNDS:-3}
timeout_s=${TIMEOUT:-600}
if [ "${1:-}" = --smoke ]; then
    shift
    sizes=200 rounds=1
fi
[ $# -ge 1 ] || { sed -n '2,16p' "$0" >&2; exit 1; }
bins=()
for bin in "$@"; do
    [ -x "$bin" ] || { echo "no executable $bin" >&2; exit 1; }
    bins+=("$(realpath "$bin")")
done
work=$(mktemp -d /tmp/ipsecsvc-netsh-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT


# One run of binary $1 on script $2: "wall cpu" in seconds, or "timeout".
run_once() {
    local state=$work/state out=$work/out
    rm -rf "$state" && mkdir -p "$state"
    TIMEFORMAT='%R %U %S'
    local rc=0
    { time timeout "$timeout_s" "$1" netsh --state-dir "$state" --socket "$work/no-service.sock" -f "$2" \
        >"$out" 2>&1; } 2>"$work/time" || rc=$?
    if [ "$rc" = 124 ]; then echo timeout; return; fi
    [ "$rc" = 0 ] || { echo "netsh failed ($rc):" >&2; cat "$out" >&2; return 1; }
    [ -s "$state/local.xml" ] || { echo "no local store written:" >&2; cat "$out" >&2; exit 1; }
    read -r wall user sys <"$work/time"
    awk -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f %.3f\n", w, u + s }'
}

printf '%8s %8s  %-9s %10s %10s %10s  %s\n' lists lines binary "wall s" "cpu s" "µs/line" load
for size in $sizes; do
    file=$work/script-$size.netsh
    bench_policy_netsh "$size" >"$file"
    lines=$(wc -l <"$file")
    declare -A best_wall=() best_cpu=() timed_out=()
    for ((round = 1; round <= rounds; round++)); do
        for index in "${!bins[@]}"; do  # interleaved: both binaries see the same load
            [ -z "${timed_out[$index]:-}" ] || continue
            result=$(run_once "${bins[$index]}" "$file") || exit 1
            if [ "$result" = timeout ]; then timed_out[$index]=1; continue; fi
            read -r wall cpu <<<"$result"
            if [ -z "${best_wall[$index]:-}" ] || awk -v a="$wall" -v b="${best_wall[$index]}" 'BEGIN { exit !(a < b) }'; then
                best_wall[$index]=$wall
            fi
            if [ -z "${best_cpu[$index]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$index]}" 'BEGIN { exit !(a < b) }'; then
                best_cpu[$index]=$cpu
            fi
        done
    done
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    for index in "${!bins[@]}"; do
        name=$([ "$index" = 0 ] && echo after || echo before)
        [ ${#bins[@]} = 1 ] && name=netsh
        if [ -n "${timed_out[$index]:-}" ] && [ -z "${best_wall[$index]:-}" ]; then
            printf '%8d %8d  %-9s %10s %10s %10s  %s\n' "$size" "$lines" "$name" "> $timeout_s" "-" "-" "$load"
        else
            awk -v n="$size" -v l="$lines" -v b="$name" -v w="${best_wall[$index]}" -v c="${best_cpu[$index]}" -v load="$load" \
                'BEGIN { printf "%8d %8d  %-9s %10.3f %10.3f %10.1f  %s\n", n, l, b, w, c, c * 1e6 / l, load }'
        fi
    done
    unset best_wall best_cpu timed_out
done
