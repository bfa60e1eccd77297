#!/usr/bin/env bash
# The driver's nfq-bench rows for two builds of ipsecsvc-driver-harness, interleaved in one run, with
# nfq-bench's C consumers as the reference in the same run (issue 14: "no worse than today's"). Figures
# from different runs on a shared machine cannot be compared (the C reference alone has moved 4× between
# runs); here every repetition is one nfq-bench run of all rows, with OLD and NEW next to each other and
# their order swapped every repetition (OLD NEW, NEW OLD, ...), and each metric is reported as the ratio
# NEW/OLD within a repetition: median and min–max over the repetitions, and in how many NEW was worse.
#
#   usage: sudo nice -n 10 Benchmarks/driver/compare-nfq.sh [-r REPS] [-o DIR] [--smoke] [bench.sh options] OLD NEW
#   OLD, NEW   two ipsecsvc-driver-harness binaries (release builds); the same one twice shows the noise
#   -r REPS    repetitions (default 6; each is one nfq-bench run of all rows, about 2.5 minutes at -d 5)
#   -o DIR     where the runs and summary.txt go (default: mktemp -d)
#   --queued-only  only the 10k rows (with bench.sh's --no-baseline: plain, c-verdict1, OLD, NEW), for
#              more repetitions of the CPU-per-packet comparison in the same time
#   --smoke    one short repetition (about 30 s), nothing compared (CI, Benchmarks/smoke.sh)
#   other options go to nfq-bench's bench.sh (default -d 5; -n is always 1 per repetition)
#
# Rows per repetition: plain, c-verdict1, c-batch32, c-connmark (bench.sh's builtin rows), then for OLD
# and NEW: `10k` (10,000 filters, no fast path: every packet queued) and `10k-fast` (fast path on,
# connmark mode: only new flows queued), as in run-nfq-bench.sh. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
. Benchmarks/driver/nfq-bench-env.sh  # BENCH, nfq_ping_shim, nfq_temporary

reps=6 out="" smoke=0 fast=1 options=()
while [ $# -gt 2 ]; do
    case "$1" in
    -r) reps=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --queued-only) fast=0; shift ;;
    -n) echo "compare-nfq.sh: -n is one per repetition; use -r REPS" >&2; exit 2 ;;
    -d | -s | -f | -F | -k | -R | -L | -t | --tx-cpu | --rx-cpu) options+=("$1" "$2"); shift 2 ;;
    *) options+=("$1"); shift ;;
    esac
done
[ $# = 2 ] || { sed -n 's/^#   usage: //p' "$0" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
for binary in "$old" "$new"; do
    [ -x "$binary" ] || { echo "compare-nfq.sh: no executable $binary" >&2; exit 2; }
done
if [ "$smoke" = 1 ]; then
    reps=1  # plain, c-verdict1, c-connmark and the four driver rows, 1 s each, no fixed-rate phase
    options=(--no-baseline -d 1 -L 200 -R 0 "${options[@]}")
else
    options=(-d 5 "${options[@]}")
fi
[ -n "$out" ] || { out=$(mktemp -d /tmp/compare-nfq.XXXXXX); }
mkdir -p "$out"
nfq_ping_shim "$new"

echo "compare-nfq: OLD=$old NEW=$new, $reps repetitions, bench.sh ${options[*]}, out=$out"
for ((rep = 1; rep <= reps; rep++)); do
    order=(old new)
    ((rep % 2)) || order=(new old)
    rows=()
    for which in "${order[@]}"; do
        binary=$old
        [ "$which" = new ] && binary=$new
        rows+=("$which-10k=$binary --queue {q} --filters 10000 --no-fast-path")
    done
    for which in "${order[@]}"; do
        [ "$fast" = 1 ] || break
        binary=$old
        [ "$which" = new ] && binary=$new
        rows+=("connmark:$which-10k-fast=$binary --queue {q} --filters 10000 --flow-mark 0x1")
    done
    echo "== repetition $rep of $reps (${order[*]}), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    connmark=(--connmark)  # the c-connmark row, beside the fast-path rows
    [ "$fast" = 1 ] || connmark=()
    bash "$BENCH" "${connmark[@]}" -n 1 "${options[@]}" -o "$out/rep$rep" "${rows[@]}" >"$out/rep$rep.log" 2>&1 ||
        { cat "$out/rep$rep.log" >&2; exit 1; }
    grep '^  run' "$out/rep$rep.log" || true
done

python3 - "$out" "$reps" "$smoke" <<'PY' | tee "$out/summary.txt"
import csv, statistics, sys
out, reps, smoke = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
runs = []  # per repetition: {label: {phase: row}}
for rep in range(1, reps + 1):
    rows = {}
    with open(f"{out}/rep{rep}/results.tsv") as tsv:
        for row in csv.DictReader(tsv, delimiter="\t"):
            rows.setdefault(row["label"], {})[row["phase"]] = row
    runs.append(rows)

def value(rows, label, metric):
    """One metric of one row in one repetition, None when absent (a row that did not bind, no fixed phase)."""
    phases = rows.get(label, {})
    try:
        if metric == "pps":
            return float(phases["max"]["delivered_pps"])
        if metric == "us/pkt":
            v = float(phases["fixed"]["cons_us_per_pkt"])
            return v if v > 0 else None
        if metric == "rtt50":
            return float(phases["max"]["rtt_p50_us"])
        if metric == "+rtt50":
            return float(phases["max"]["rtt_p50_us"]) - float(rows["plain"]["max"]["rtt_p50_us"])
    except (KeyError, ValueError):
        return None

def spread(values, digits):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"

print(f"\n{reps} repetitions, each one nfq-bench run of every row; median [min-max] over the repetitions")
print("\nreference rows (their spread is the machine's):")
print(f"{'row':<14} {'pps(max)':>26} {'us/pkt @fixed':>22} {'+rtt50 us':>22}")
for label in ("plain", "c-verdict1", "c-batch32", "c-connmark"):
    print(f"{label:<14} {spread([value(r, label, 'pps') for r in runs], 0):>26} "
          f"{spread([value(r, label, 'us/pkt') for r in runs], 2):>22} "
          f"{spread([value(r, label, '+rtt50') for r in runs], 1):>22}")

# higher is better for pps, lower for the rest; +rtt50 is compared as a difference (it is near 0 for the
# fast path, where a ratio means nothing)
metrics = [("pps", 1, "ratio"), ("us/pkt", -1, "ratio"), ("rtt50", -1, "ratio"), ("+rtt50", -1, "diff")]
print("\nNEW against OLD in the same repetition:")
print(f"{'row':<9} {'metric':<7} {'OLD':>24} {'NEW':>24} {'NEW/OLD or NEW-OLD':>26} {'worse in':>9}  verdict")
for row in ("10k", "10k-fast"):
    for metric, sign, kind in metrics:
        if row == "10k-fast" and metric == "us/pkt":
            continue  # a few clock ticks of consumer CPU per phase: not measurable
        pairs = [(value(r, f"old-{row}", metric), value(r, f"new-{row}", metric)) for r in runs]
        pairs = [(o, n) for o, n in pairs if o is not None and n is not None and (kind == "diff" or o > 0)]
        if not pairs:
            continue
        digits = 0 if metric == "pps" else 2
        rel = [n / o if kind == "ratio" else n - o for o, n in pairs]
        worse = sum(1 for x in rel if (x - (1 if kind == "ratio" else 0)) * sign < 0)
        med = statistics.median(rel)
        # Worse (or better) only when the median moves by more than 5 % (1 us for +rtt50) and the
        # repetitions agree: at least all but one of them, and at least 3.
        bad = (1 - med) * sign > 0.05 if kind == "ratio" else -med * sign > 1.0
        good = (med - 1) * sign > 0.05 if kind == "ratio" else med * sign > 1.0
        n = len(rel)
        verdict = "no difference measured"
        if smoke:
            verdict = "(smoke: not compared)"
        elif n >= 3 and bad and worse >= n - 1:
            verdict = "WORSE"
        elif n >= 3 and good and n - worse >= n - 1:
            verdict = "better"
        rel_text = (f"{med:.3f} [{min(rel):.3f}-{max(rel):.3f}]" if kind == "ratio"
                    else f"{med:+.2f} [{min(rel):+.2f}-{max(rel):+.2f}]")
        print(f"{row:<9} {metric:<7} {spread([o for o, _ in pairs], digits):>24} "
              f"{spread([n for _, n in pairs], digits):>24} {rel_text:>26} {f'{worse}/{n}':>9}  {verdict}")
print("\npps = flat-out delivered packets/s; us/pkt = consumer CPU per packet at the fixed rate (-R);")
print("rtt50 / +rtt50 = UDP round trip p50 through the row / minus plain's in the same repetition (us).")
print("Per repetition: REP/results.tsv and REP.log in the output directory.")
PY
