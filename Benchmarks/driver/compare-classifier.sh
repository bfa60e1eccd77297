#!/bin/bash
# The classifier benchmark of two revisions of the decision core, interleaved in one run
# (Benchmarks/README.md section 1).
#
#   Benchmarks/driver/compare-classifier.sh [-r ROUNDS] BASE_REV [BENCH ARGUMENTS...]
#   e.g. Benchmarks/driver/compare-classifier.sh -r 3 main --diverse 40
#
# Each side is a small release package of its own (PolicyModel, DecisionCore, the synthetic and
# diverse generators and ClassifierBench.swift): a DecisionCore change rebuilds in seconds, where the
# real `ipsecsvc-driver-bench` rebuilds everything IPsecTestKit depends on. BASE is BASE_REV's
# sources (git archive), NEW the working tree's. The two run alternately ROUNDS times, each run
# preceded by the load average; compare figures of the same round only.
set -euo pipefail
rounds=3
if [ "${1:-}" = "-r" ]; then rounds=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] BASE_REV [BENCH ARGUMENTS...]" >&2; exit 2; }
base_rev=$1
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${SCRATCH:-/tmp/classifier-compare-$(id -u)}
mkdir -p "$scratch"

# lab DIR SOURCE_ROOT: the package in DIR over SOURCE_ROOT's Sources/ and Benchmarks/.
lab() {
    local dir=$1 root=$2
    mkdir -p "$dir/Sources/Gen" "$dir/Sources/bench"
    ln -sfn "$root/Sources/PolicyModel" "$dir/Sources/PolicyModel"
    ln -sfn "$root/Sources/DecisionCore" "$dir/Sources/DecisionCore"
    ln -sf "$root/Sources/IPsecTestKit/SyntheticPolicy.swift" "$dir/Sources/Gen/SyntheticPolicy.swift"
    ln -sf "$root/Sources/IPsecTestKit/DiversePolicy.swift" "$dir/Sources/Gen/DiversePolicy.swift"
    sed 's/^import IPsecTestKit$/import Gen/' "$root/Benchmarks/driver/ClassifierBench/ClassifierBench.swift" \
        > "$dir/Sources/bench/main.swift"
    cat > "$dir/Package.swift" <<'EOF'
// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "classifier-compare",
    targets: [
        .target(name: "PolicyModel"),
        .target(name: "DecisionCore", dependencies: ["PolicyModel"]),
        .target(name: "Gen", dependencies: ["PolicyModel"]),
        .executableTarget(name: "bench", dependencies: ["DecisionCore", "Gen", "PolicyModel"]),
    ],
    swiftLanguageModes: [.v6]
)
for target in package.targets {
    target.swiftSettings = [
        .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
        .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
    ]
}
EOF
    (cd "$dir" && swift build -c release --product bench 2>&1 | tail -1)
}

rm -rf "$scratch/base-src"
mkdir -p "$scratch/base-src"
git -C "$repo" archive "$base_rev" Sources/PolicyModel Sources/DecisionCore Sources/IPsecTestKit \
    Benchmarks/driver/ClassifierBench | tar -x -C "$scratch/base-src"
lab "$scratch/base" "$scratch/base-src"
lab "$scratch/new" "$repo"
for round in $(seq 1 "$rounds"); do
    for side in base new; do
        echo "== $side ($([ $side = base ] && echo "$base_rev" || echo "working tree")) round $round" \
            "$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
        nice -n 10 "$scratch/$side/.build/release/bench" "$@" | grep -v '^compiled'
    done
done
