// The whole packet decision (DecisionContext.decide: exemptions, lookup, negotiate, the fast path's
// reply lookup) at 10,000 filters, and compiling a table (FilterCompiler.compile) at 10,000 and
// 100,000 filters. A decide iteration is 4,096 packets.
import Benchmark
import DecisionCore
import IPsecTestKit
import PolicyModel
import SuiteSupport

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = SuiteConfiguration.make(seconds: 2, iterations: 2_000)
    let host = HostInfo(addresses: [IPv4Address(198, 18, 0, 2)])
    for kind in ["synthetic", "diverse"] {
        Benchmark("decide-\(kind)-10k") { benchmark, fixture in
            var sink = 0
            for _ in benchmark.scaledIterations {
                for (key, direction) in fixture.mix {
                    sink &+= fixture.context.decide(key, direction: direction, mark: 0).reason.rawValue
                }
            }
            blackHole(sink)
        } setup: {
            DecideFixture(kind: kind, host: host)
        }
        for size in [10_000, 100_000] {
            Benchmark("compile-\(kind)-\(size / 1000)k") { benchmark, policy in
                for _ in benchmark.scaledIterations { blackHole(FilterCompiler.compile(policy, host: host)) }
            } setup: {
                kind == "diverse" ? DiversePolicy.make(count: size) : SyntheticPolicy.make(count: size)
            }
        }
    }
}

struct DecideFixture {
    let context: DecisionContext
    let mix: [(PacketKey, TrafficDirection)]

    init(kind: String, host: HostInfo) {
        let policy = kind == "diverse" ? DiversePolicy.make(count: 10_000) : SyntheticPolicy.make(count: 10_000)
        let table = FilterCompiler.compile(policy, host: host)
        context = DecisionContext(table: table, host: host, fastPath: true)
        var random = SplitMix(seed: 7)
        func next() -> UInt32 { UInt32(truncatingIfNeeded: random.next()) }
        mix = (0..<4096).map { index in
            let filter = table.filters[Int(next()) % table.filters.count]
            return (DecisionFixture.packet(inside: filter, next), index % 2 == 0 ? .inbound : .outbound)
        }
    }
}
