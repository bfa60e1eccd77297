// ipsecsvc-driver-bench: classifier cost per packet at 1,000 / 10,000 / 100,000 filters.
// Run: swift run -c release ipsecsvc-driver-bench [--diverse] [--size N] [--split] [--mix N] [REPETITIONS]
//      (--split also times the mix's two halves apart: the packets that hit a filter, those that hit none)
//      (Benchmarks/README.md; --compile-only N [synthetic] times one compile; --compile [--diverse]
//      [REPETITIONS] full against incremental compile)
import DecisionCore
import Foundation
import IPsecTestKit
import PolicyModel

func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// A packet mix: half hit a filter of the table, half match nothing (the most expensive case:
/// every weight level is probed).
func packets(for table: FilterTable, count: Int) -> [(PacketKey, TrafficDirection)] {
    var result: [(PacketKey, TrafficDirection)] = []
    var state: UInt64 = 42
    func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 17
    }
    for index in 0..<count {
        if index % 2 == 0, !table.filters.isEmpty {
            let filter = table.filters[Int(next() % UInt64(table.filters.count))]
            let key = PacketKey(
                source: filter.source | UInt32(truncatingIfNeeded: next()) & ~filter.sourceMask,
                destination: filter.destination | UInt32(truncatingIfNeeded: next()) & ~filter.destinationMask,
                ipProtocol: filter.ipProtocol == 0 ? IPProtocol.tcp : filter.ipProtocol,
                sourcePort: filter.sourcePort == 0 ? UInt16(truncatingIfNeeded: next()) : filter.sourcePort,
                destinationPort: filter.destinationPort == 0
                    ? UInt16(truncatingIfNeeded: next()) : filter.destinationPort
            )
            result.append((key, index % 4 == 0 ? .inbound : .outbound))
        } else {
            let key = PacketKey(
                source: 0xC612_0001,
                destination: 0xC612_0002 &+ UInt32(index % 7),
                ipProtocol: IPProtocol.udp,
                sourcePort: UInt16(truncatingIfNeeded: 40000 + index % 1000),
                destinationPort: 9000
            )
            result.append((key, .inbound))
        }
    }
    return result
}

let host = HostInfo(addresses: [IPv4Address(198, 18, 0, 2)])

/// The command line, read before any work: an unknown flag, a missing value, a size or repetition count
/// that is not a positive whole number is a usage error (one line, exit 2) that names the argument.
struct Options {
    enum Mode {
        /// Lookup and decision cost (the default).
        case lookup
        /// `--compile`: full against incremental compile.
        case compile
        /// `--compile-only N [synthetic]`: one compile of N filters.
        case compileOnly(count: Int, synthetic: Bool)
    }

    static let usage =
        "ipsecsvc-driver-bench [--diverse] [--size N] [--split] [--mix N] [REPETITIONS]"
        + " | --compile [--diverse] [--size N] [REPETITIONS] | --compile-only N [synthetic]"

    var mode = Mode.lookup
    var diverse = false
    var split = false
    /// `--mix N`: the first N packets of the mix only (256: every line they read stays cached, the
    /// lookup's cost without memory latency, the *warm floor*).
    var mixCount = 4096
    // `--size N`: that size alone (for instruction counts under valgrind, one size per process).
    var sizes = [1_000, 10_000, 100_000]
    var repetitions: Int?

    // Self-contained (no BenchmarkSupport): compare-classifier.sh builds this file against the policy
    // generators alone.
    init(_ words: [String]) {
        func fail(_ message: String) -> Never {
            let line = "ipsecsvc-driver-bench: \(message) (usage: \(Self.usage))\n"
            _ = write(2, line, line.utf8.count)
            exit(2)
        }
        func positive(_ text: String, _ argument: String) -> Int {
            guard let value = Int(text), value > 0 else {
                fail("\(argument) \"\(text)\": expected a whole number of at least 1")
            }
            return value
        }
        var rest: [String] = []
        var index = 0
        func value(of flag: String) -> String {
            index += 1
            guard index < words.count else { fail("\(flag) needs a value") }
            return words[index]
        }
        while index < words.count {
            let word = words[index]
            switch word {
            case "--diverse": diverse = true
            case "--split": split = true
            case "--size": sizes = [positive(value(of: word), word)]
            case "--mix": mixCount = min(4096, positive(value(of: word), word))
            case "--compile": mode = .compile
            case "--compile-only": mode = .compileOnly(count: positive(value(of: word), word), synthetic: false)
            default:
                // A negative number is a (bad) repetition count, not a flag: it gets the number's error.
                guard !word.hasPrefix("-") || Int(word) != nil else { fail("unknown argument \(word)") }
                rest.append(word)
            }
            index += 1
        }
        if case .compileOnly(let count, _) = mode {
            guard rest.count <= 1, rest.first ?? "synthetic" == "synthetic" else {
                fail("unexpected argument \(rest[rest.first == "synthetic" ? 1 : 0]) after --compile-only")
            }
            mode = .compileOnly(count: count, synthetic: !rest.isEmpty)
            return
        }
        guard rest.count <= 1 else { fail("unexpected argument \(rest[1]) after REPETITIONS \(rest[0])") }
        repetitions = rest.first.map { positive($0, "REPETITIONS") }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let sizes = options.sizes
if case .compileOnly(let count, let synthetic) = options.mode {
    let policy = synthetic ? SyntheticPolicy.make(count: count) : DiversePolicy.make(count: count)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let faults = usage.ru_minflt
    let start = now()
    let table = FilterCompiler.compile(policy, host: host)
    let elapsed = now() - start
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print(
        "\(count) filters, \(table.shapeCount) shapes, compiled in \(Double(elapsed) / 1e6) ms, \(usage.ru_minflt - faults) page faults"
    )
    exit(0)
}
// `--compile [--diverse] [REPETITIONS]`: full against incremental compile at each size, a policy
// change that sets new actions on 256 filters (what the mis-verdict checker's swaps do).
if case .compile = options.mode {
    let diverse = options.diverse
    let repetitions = options.repetitions ?? 7
    struct CompileCase {
        let size: Int
        let policies: [EffectivePolicy]
        var full: [Double] = []
        var incremental: [Double] = []
        var specific = 0
        var patched = true
    }
    var cases: [CompileCase] = sizes.map { size in
        var policy = diverse ? DiversePolicy.make(count: size) : SyntheticPolicy.make(count: size)
        let block = FilterAction(id: IPsecGUID("{00000000-0000-0000-0000-00000000b10c}")!, name: "b", action: .block)
        let permit = FilterAction(id: IPsecGUID("{00000000-0000-0000-0000-00000000a11f}")!, name: "p", action: .permit)
        var policies: [EffectivePolicy] = []
        var state: UInt64 = 7
        for round in 0..<2 {
            policy.generation = UInt64(round + 1)
            for _ in 0..<256 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let index = Int(state >> 33) % policy.filters.count
                policy.filters[index].inboundAction = round == 0 ? block : permit
                policy.filters[index].outboundAction = policy.filters[index].inboundAction
            }
            policies.append(policy)
        }
        return CompileCase(size: size, policies: policies)
    }
    func milliseconds(_ body: () -> FilterTable) -> (Double, FilterTable) {
        let start = now()
        let table = body()
        return (Double(now() - start) / 1e6, table)
    }
    for _ in 0..<repetitions {
        for index in cases.indices {
            let (first, second) = (cases[index].policies[0], cases[index].policies[1])
            let (full, previous) = milliseconds { FilterCompiler.compile(first, host: host) }
            let (incremental, table) = milliseconds { FilterCompiler.compile(second, host: host, previous: previous) }
            cases[index].full.append(full)
            cases[index].incremental.append(incremental)
            cases[index].specific = table.filters.count
            cases[index].patched = cases[index].patched && table.isPatched
        }
    }
    print("filters   specific  full ms (min / median)  incremental ms (min / median)  patched")
    for entry in cases {
        let full = entry.full.sorted()
        let incremental = entry.incremental.sorted()
        print(
            String(
                format: "%7d  %9d  %9.2f / %9.2f       %9.2f / %9.2f          ",
                entry.size,
                entry.specific,
                full[0],
                full[full.count / 2],
                incremental[0],
                incremental[incremental.count / 2]
            ) + (entry.patched ? "yes" : "no")
        )
    }
    exit(0)
}
let split = options.split
let diverse = options.diverse
let repetitions = options.repetitions ?? 25
struct Case {
    let size: Int
    let table: FilterTable
    let context: DecisionContext
    let mix: [(PacketKey, TrafficDirection)]
    var lookup = Double.infinity
    var decide = Double.infinity
    /// Lookup ns of the mix's hits and of its misses, each timed alone (`--split`).
    var halves = (hits: Double.infinity, misses: Double.infinity)
}
var cases: [Case] = sizes.map { size in
    let policy = diverse ? DiversePolicy.make(count: size) : SyntheticPolicy.make(count: size)
    let start = now()
    let table = FilterCompiler.compile(policy, host: host)
    print("compiled \(size) filters in \(Double(now() - start) / 1e6) ms")
    return Case(
        size: size,
        table: table,
        context: DecisionContext(table: table, fastPath: true),
        mix: Array(packets(for: table, count: 4096).prefix(options.mixCount))
    )
}
var sink = 0
// Sizes are interleaved and the minimum is kept: on a shared, loaded machine the minimum is the
// estimate least disturbed by other processes.
for _ in 0..<repetitions {
    for index in cases.indices {
        // About 80,000 lookups per timing whatever the mix.
        let rounds = 20 * 4096 / cases[index].mix.count
        let table = cases[index].table
        let context = cases[index].context
        let mix = cases[index].mix
        let start = now()
        for _ in 0..<rounds {
            for (key, direction) in mix { sink &+= table.lookup(key, direction) ?? -1 }
        }
        cases[index].lookup = min(cases[index].lookup, Double(now() - start) / Double(rounds * mix.count))
        let startDecide = now()
        for _ in 0..<rounds {
            for (key, direction) in mix { sink &+= context.decide(key, direction: direction, mark: 0).reason.rawValue }
        }
        cases[index].decide = min(cases[index].decide, Double(now() - startDecide) / Double(rounds * mix.count))
        guard split else { continue }
        // The mix alternates hit, miss: each half alone, so that the ratio can be told apart.
        for half in 0..<2 {
            let start = now()
            for _ in 0..<rounds {
                for position in stride(from: half, to: mix.count, by: 2) {
                    sink &+= table.lookup(mix[position].0, mix[position].1) ?? -1
                }
            }
            let perPacket = Double(now() - start) / Double(rounds * mix.count / 2)
            if half == 0 {
                cases[index].halves.hits = min(cases[index].halves.hits, perPacket)
            } else {
                cases[index].halves.misses = min(cases[index].halves.misses, perPacket)
            }
        }
    }
}
if sink == 42 { print("") }
print(
    "filters   specific  shapes  lookup ns/pkt  ratio  decide ns/pkt  ratio"
        + (split ? "  hits ns  ratio  misses ns  ratio" : "")
)
for entry in cases {
    let halves =
        split
        ? String(
            format: "  %7.1f  %5.2f  %9.1f  %5.2f",
            entry.halves.hits,
            entry.halves.hits / cases[0].halves.hits,
            entry.halves.misses,
            entry.halves.misses / cases[0].halves.misses
        ) : ""
    print(
        String(
            format: "%7d  %9d  %6d  %13.1f  %5.2f  %13.1f  %5.2f",
            entry.size,
            entry.table.filters.count,
            entry.table.shapeCount,
            entry.lookup,
            entry.lookup / cases[0].lookup,
            entry.decide,
            entry.decide / cases[0].decide
        ) + halves
    )
}
