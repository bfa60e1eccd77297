// swift-tools-version:6.1
// The micro-benchmark suite on ordo-one's package-benchmark (Benchmarks/README.md). A package of its
// own that depends on ipsecsvc by path, so that the main build and `swift test` do not pay for it.
//
//   cd Benchmarks/Suite && swift package benchmark                       # run everything
//   swift package benchmark baseline check --check-absolute-path Thresholds   # against stored thresholds
import PackageDescription

let core: Target.Dependency = .product(name: "IPsecBenchmarkTargets", package: "ipsecsvc")
let benchmark: Target.Dependency = .product(name: "Benchmark", package: "benchmark")
let plugin: Target.PluginUsage = .plugin(name: "BenchmarkPlugin", package: "benchmark")
let support: Target.Dependency = "SuiteSupport"

let package = Package(
    name: "ipsecsvc-benchmarks",
    dependencies: [
        .package(name: "ipsecsvc", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The shared configuration and the smoke mode (IPSECSVC_BENCHMARK_SMOKE=1, CI).
        .target(name: "SuiteSupport", dependencies: [benchmark], path: "Support")
    ]
        + ["Classifier", "Decision", "PolicyXML", "MergeCompile", "DirectoryResolution"].map { name in
            .executableTarget(
                name: name,
                dependencies: [core, benchmark, support],
                path: "Benchmarks/\(name)",
                plugins: [plugin]
            )
        }
)
