#!/usr/bin/env bash
# How the policy file readers scale: a policy whose rule uses one filter list of N filters, written by
# ipsecsvc itself as native XML, .reg (regedit 5.00, UTF-16), LDIF, DSMLv2 and a netsh script, then
# read back; the .reg read time next to the native XML time (target: .reg <= 2 x XML at 10 000 filters).
#
#   Benchmarks/readers/run.sh                  # 500, 2 000 and 10 000 filters
#   SIZES="1000 4000" Benchmarks/readers/run.sh
#
# Release build; each read runs 3 times in one process, the best wall and CPU times are shown.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${READERBENCH:-}" ]; then  # READERBENCH=path/to/reader-bench skips the build
    swift build -c release --product reader-bench >/dev/null
    READERBENCH="$(swift build -c release --show-bin-path)/reader-bench"
fi
bench=$READERBENCH
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

printf '%8s  %-6s %10s %10s %10s  %s\n' filters format bytes "wall s" "cpu s" "cpu / xml cpu"
for size in ${SIZES:-500 2000 10000}; do
    mkdir -p "$work/$size"
    "$bench" generate "$work/$size" "$size"
    xml_cpu=""
    for format in xml reg ldif dsml netsh; do
        file="$work/$size/policy.$format"
        read -r filters wall cpu < <("$bench" read "$file" 3)
        [ "$filters" = "$size" ] || { echo "read $filters filters from $file, expected $size" >&2; exit 1; }
        [ -n "$xml_cpu" ] || xml_cpu=$cpu
        awk -v n="$size" -v f="$format" -v b="$(stat -c %s "$file")" -v w="$wall" -v c="$cpu" -v x="$xml_cpu" \
            'BEGIN { printf "%8d  %-6s %10d %10.3f %10.3f  %.2f\n", n, f, b, w, c, c / x }'
    done
done
