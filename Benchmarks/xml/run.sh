#!/usr/bin/env bash
# The native XML benchmark: ipsecsvc's reader (parse + XSD validation + model) against
# `xmllint --noout --schema` on the same generated file, in the same run, release build.
#
#   Benchmarks/xml/run.sh            # 10 000 rules, 100 000 filters
#   RULES=1000 FILTERS=10000 Benchmarks/xml/run.sh
#
# Each side runs 3 times as its own process under /usr/bin/time; the best wall and CPU times and the
# largest peak RSS are reported. Targets: read+validate <= 1.5 x xmllint, peak RSS <= 10 x file size.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${XMLBENCH:-}" ]; then  # XMLBENCH=path/to/xml-bench skips the build
    swift build -c release --product xml-bench >/dev/null
    XMLBENCH="$(swift build -c release --show-bin-path)/xml-bench"
fi
bench=$XMLBENCH
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
file="$work/store.xml"
"$bench" generate "$file" "${RULES:-10000}" "${FILTERS:-100000}"
size=$(stat -c %s "$file")

# Prints "best-wall best-cpu max-rss-KiB" over 3 runs of the command.
measure() {
    for run in 1 2 3; do
        /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
            cat "$work/stderr" >&2
            exit 1
        }
        cat "$work/time"
    done | awk '{ w = $1; c = $2 + $3; if (NR == 1 || w < bw) bw = w; if (NR == 1 || c < bc) bc = c; if ($4 > m) m = $4 }
                END { printf "%.2f %.2f %d\n", bw, bc, m }'
}

read -r lint_wall lint_cpu lint_rss < <(measure xmllint --noout --schema policies-xml/ipsec-policy.xsd "$file")
read -r ours_wall ours_cpu ours_rss < <(measure "$bench" read "$file" 1)
write_line=$("$bench" write "$file" 3)

awk -v size="$size" -v lw="$lint_wall" -v lc="$lint_cpu" -v lr="$lint_rss" \
    -v ow="$ours_wall" -v oc="$ours_cpu" -v orss="$ours_rss" -v wl="$write_line" 'BEGIN {
    printf "file: %.1f MiB (%d bytes), %s rules, %s filters\n", size / 1048576, size, ENVIRON["RULES"] ? ENVIRON["RULES"] : 10000, ENVIRON["FILTERS"] ? ENVIRON["FILTERS"] : 100000
    printf "xmllint --noout --schema : wall %.2f s  cpu %.2f s  peak RSS %.1f MiB\n", lw, lc, lr / 1024
    printf "ipsecsvc read+validate   : wall %.2f s  cpu %.2f s  peak RSS %.1f MiB\n", ow, oc, orss / 1024
    printf "ratio (ours / xmllint)   : wall %.2f  cpu %.2f   (target <= 1.5)\n", ow / lw, oc / lc
    printf "peak RSS / file size     : %.2f   (target <= 10)\n", orss * 1024 / size
    printf "ipsecsvc %s\n", wl
}'
