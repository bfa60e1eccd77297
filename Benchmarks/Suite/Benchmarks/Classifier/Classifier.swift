// Classifier lookups (FilterTable.lookup) on the synthetic 11-shape policy and the diverse policy
// (thousands of shapes) at 1,000 / 10,000 / 100,000 filters. One iteration decides a mix of 4,096
// packets (half inside a random filter, half landing among the filters or outside them): divide the
// time by 4,096 for the cost of one lookup.
import Benchmark
import DecisionCore
import IPsecTestKit
import PolicyModel
import SuiteSupport

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = SuiteConfiguration.make(seconds: 2, iterations: 2_000, memory: false)
    for kind in ["synthetic", "diverse"] {
        for size in [1_000, 10_000, 100_000] {
            Benchmark("lookup-\(kind)-\(size / 1000)k") { benchmark, fixture in
                var sink = 0
                for _ in benchmark.scaledIterations {
                    for (key, direction) in fixture.mix { sink &+= fixture.table.lookup(key, direction) ?? -1 }
                }
                blackHole(sink)
            } setup: {
                ClassifierFixture(kind: kind, size: size)
            }
        }
    }
}

struct ClassifierFixture {
    let table: FilterTable
    let mix: [(PacketKey, TrafficDirection)]

    init(kind: String, size: Int) {
        let policy = kind == "diverse" ? DiversePolicy.make(count: size) : SyntheticPolicy.make(count: size)
        let table = FilterCompiler.compile(policy, host: HostInfo(addresses: [IPv4Address(198, 18, 0, 2)]))
        self.table = table
        var random = SplitMix(seed: 42)
        func next() -> UInt32 { UInt32(truncatingIfNeeded: random.next()) }
        mix = (0..<4096).map { index in
            if index % 2 == 0 {
                let filter = table.filters[Int(next()) % table.filters.count]
                return (DecisionFixture.packet(inside: filter, next), index % 4 == 0 ? .inbound : .outbound)
            }
            let destination = index % 4 == 1 ? DiversePolicy.siteAddress(&random) : 0xC612_0002 &+ UInt32(index % 7)
            let key = PacketKey(
                source: index % 4 == 1 ? DiversePolicy.siteAddress(&random) : 0xC612_0001,
                destination: destination,
                ipProtocol: IPProtocol.udp,
                sourcePort: UInt16(truncatingIfNeeded: 40_000 + index % 1000),
                destinationPort: 9000
            )
            return (key, .inbound)
        }
    }
}
