// The one configuration of every benchmark in the suite, and the smoke mode CI uses.
public import Benchmark
import Foundation

/// Benchmark names have no spaces or slashes: `thresholds update` writes `Target.name.p90.json` with
/// them replaced by `_`, and `thresholds check` looks for the name as it is (package-benchmark 1.38.1).
public enum SuiteConfiguration {
    /// `IPSECSVC_BENCHMARK_SMOKE=1` (CI): each benchmark runs one iteration, so that none can rot;
    /// nothing is timed or compared.
    public static let smoke = ProcessInfo.processInfo.environment["IPSECSVC_BENCHMARK_SMOKE"] == "1"

    /// Wall clock, CPU and malloc count (plus peak RSS when `memory`). `thresholds check` compares
    /// each p90 with the stored one: times may double (the machine is shared and loaded; `cpuTotal`
    /// also has a 10 ms resolution), malloc counts by 2 % (hashing varies them by a few), peak RSS by
    /// 10 %.
    public static func make(seconds: Int, iterations: Int, memory: Bool = true) -> Benchmark.Configuration {
        .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal] + (memory ? [.peakMemoryResident] : []),
            warmupIterations: smoke ? 0 : 1,
            maxDuration: smoke ? .milliseconds(1) : .seconds(seconds),
            maxIterations: smoke ? 1 : iterations,
            thresholds: [
                .wallClock: .init(relative: [.p90: 100]),
                .cpuTotal: .init(relative: [.p90: 100], absolute: [.p90: 20_000_000]),
                .mallocCountTotal: .init(relative: [.p90: 2], absolute: [.p90: 16]),
                .peakMemoryResident: .init(relative: [.p90: 10]),
            ]
        )
    }
}
