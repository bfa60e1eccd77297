#!/usr/bin/env bash
# CI's smoke run of every benchmark (Benchmarks/README.md): each runs once and briefly, so that none can
# rot; nothing is timed or compared. Needs root (the packet-level ones use network namespaces).
#   sudo Benchmarks/smoke.sh          SCRATCH=.build-x for the release build's scratch path
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
echo "== classifier (ipsecsvc-driver-bench)"
swift build -c release --scratch-path "$SCRATCH" --product ipsecsvc-driver-bench >/dev/null
bin=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)
"$bin/ipsecsvc-driver-bench" 1
"$bin/ipsecsvc-driver-bench" --diverse 1
"$bin/ipsecsvc-driver-bench" --diverse --split --mix 256 --size 1000 1
"$bin/ipsecsvc-driver-bench" --compile --diverse --size 1000 1
echo "== classifier, two revisions interleaved (driver/compare-classifier.sh: HEAD against the working tree, 1k)"
SCRATCH=$(mktemp -d) Benchmarks/driver/compare-classifier.sh -r 1 HEAD --size 1000 1 >/dev/null
echo "== XML against xmllint"
swift build -c release --scratch-path "$SCRATCH" --product xml-bench >/dev/null
XMLBENCH=$bin/xml-bench RULES=100 FILTERS=1000 Benchmarks/xml/run.sh
echo "== policy file readers"
swift build -c release --scratch-path "$SCRATCH" --product reader-bench >/dev/null
READERBENCH=$bin/reader-bench SIZES=200 Benchmarks/readers/run.sh
echo "== package-benchmark suite (IPSECSVC_BENCHMARK_SMOKE=1: one iteration each)"
(cd Benchmarks/Suite && IPSECSVC_BENCHMARK_SMOKE=1 swift package benchmark --no-progress)
echo "== packet level (run-packet.sh --smoke)"
SCRATCH=$SCRATCH Benchmarks/run-packet.sh --smoke -o "$(mktemp -d)/packet-summary.json" >/dev/null
echo "== driver nfq-bench rows, two builds interleaved (driver/compare-nfq.sh --smoke, the same build twice)"
harness=$bin/ipsecsvc-driver-harness  # built by run-packet.sh
Benchmarks/driver/compare-nfq.sh --smoke -o "$(mktemp -d)" "$harness" "$harness" >/dev/null
echo "== issue 17 campaign (campaign/run.sh --smoke: every part once, briefly)"
swift build -c release --scratch-path "$SCRATCH" --product ipsecsvc >/dev/null
IPSECSVC=$bin/ipsecsvc READERBENCH=$bin/reader-bench \
    Benchmarks/campaign/run.sh --smoke -o "$(mktemp -d)/campaign-summary.json"
echo "== table hand-over agent -> driver (ipsecsvc-link-bench, 1,000 filters, both forms)"
swift build -c release --scratch-path "$SCRATCH" --product ipsecsvc-link-bench >/dev/null
"$bin/ipsecsvc-link-bench" 1 1000 >/dev/null
"$bin/ipsecsvc-link-bench" --rules 1 1000 >/dev/null
echo "== driver restart to enforcing (driver/run-restart-bench.sh, 2 rounds, 1,000 filters)"
Benchmarks/driver/run-restart-bench.sh "$bin" 2 1000 >/dev/null
echo "== the agent's memory over its start (startup/timeline.sh, 1,000 filters)"
timeline=$(mktemp -d)
IPSECSVC=$bin/ipsecsvc XMLBENCH=$bin/xml-bench Benchmarks/startup/timeline.sh "$timeline/timeline" 1000 >/dev/null
test -s "$timeline/timeline"
echo "== netsh -f scaling (netsh/run.sh --smoke)"
Benchmarks/netsh/run.sh --smoke "$bin/ipsecsvc"
echo "== IKE keying through charon (keying/run.sh --smoke: debug build, 1 round, 20 peers)"
Benchmarks/keying/run.sh --smoke
echo "== every benchmark ran (the live directory one, ldap/run.sh at tiny sizes, runs from .ci/run)"
