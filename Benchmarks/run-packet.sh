#!/usr/bin/env bash
# The packet-level benchmarks in one run, with one JSON summary (Benchmarks/README.md):
#   nfq      ../shared/tools/nfq-bench at saturation and at 30 kpps: plain, the C consumers, the driver
#            harness with 10,000 filters without and with the fast path (medians per row, ratios to c-batch32)
#   misverdict_10k, misverdict_100k   the mis-verdict checker (Benchmarks/misverdict/run.sh)
#   startup_10k, startup_100k         start-up and peak RSS (Benchmarks/startup/run.sh)
# Needs root; creates and deletes its own namespaces. Takes about 10 minutes (--smoke: about one).
#   sudo Benchmarks/run-packet.sh [-o SUMMARY.json] [--smoke]
#   --smoke   every benchmark once and briefly (CI): nothing is timed or compared, they only must run
#   SCRATCH=.build-perf-release   the release build's scratch path (default .build)
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=0
OUT=packet-summary.json
while [ $# -gt 0 ]; do
    case "$1" in
    --smoke) SMOKE=1; shift ;;
    -o) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [-o SUMMARY.json] [--smoke]" >&2; exit 2 ;;
    esac
done
SCRATCH=${SCRATCH:-.build}
for product in ipsecsvc xml-bench ipsecsvc-misverdict ipsecsvc-driver-harness; do
    swift build -c release --scratch-path "$SCRATCH" --product "$product" >/dev/null
done
bin=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
export CHECKER=$bin/ipsecsvc-misverdict IPSECSVC=$bin/ipsecsvc XMLBENCH=$bin/xml-bench HARNESS=$bin/ipsecsvc-driver-harness
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$SMOKE" = 1 ]; then
    nfq_options=(-n 1 -d 1 -L 200 -R 1000)
    small=1000 large=2000
    export DURATION=2 RATE=2000 FLOWS=16
else
    nfq_options=(-n 3 -d 10)
    small=10000 large=100000
fi
echo "== nfq-bench" >&2
Benchmarks/driver/run-nfq-bench.sh "${nfq_options[@]}" --ref c-batch32 -o "$work/nfq" >&2
for filters in $small $large; do
    echo "== mis-verdict checker, $filters filters" >&2
    Benchmarks/misverdict/run.sh "$filters" >"$work/misverdict-$filters.json"
    echo "== start-up, $filters filters" >&2
    Benchmarks/startup/run.sh "$filters" >"$work/startup-$filters.json"
done

python3 - "$work" "$small" "$large" "$OUT" "$SMOKE" <<'PY'
import csv, json, os, statistics, subprocess, sys, time
work, small, large, out, smoke = sys.argv[1:6]
rows = {}
with open(f"{work}/nfq/results.tsv") as tsv:
    for row in csv.DictReader(tsv, delimiter="\t"):
        rows.setdefault(row["label"], {}).setdefault(row["phase"], []).append(row)
def median(entries, key):
    return statistics.median(float(entry[key]) for entry in entries) if entries else None
nfq = {}
for label, phases in rows.items():
    nfq[label] = {
        "saturation_pps": median(phases.get("max", []), "delivered_pps"),
        "saturation_offered_pps": median(phases.get("max", []), "offered_pps"),
        "saturation_queue_drops_per_s": median(phases.get("max", []), "q_drop_ps"),
        "saturation_consumer_cpu_pct": median(phases.get("max", []), "cons_cpu_pct"),
        "fixed_rate_us_per_packet": median(phases.get("fixed", []), "cons_us_per_pkt"),
        "rtt_p50_us": median(phases.get("max", []), "rtt_p50_us"),
    }
reference = nfq.get("c-batch32", {}).get("saturation_pps")
for label in nfq:
    pps = nfq[label]["saturation_pps"]
    nfq[label]["saturation_vs_c_batch32"] = round(pps / reference, 3) if pps and reference else None
summary = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "smoke": smoke == "1",
    "cpus": os.cpu_count(),
    "load_average_at_end": os.getloadavg(),
    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "nfq": nfq,
}
for name in ("misverdict", "startup"):
    for filters in (small, large):
        with open(f"{work}/{name}-{filters}.json") as f:
            summary[f"{name}_{int(filters) // 1000}k"] = json.load(f)
with open(out, "w") as f:
    json.dump(summary, f, indent=2, sort_keys=True)
print(json.dumps(summary, indent=2, sort_keys=True))
PY
