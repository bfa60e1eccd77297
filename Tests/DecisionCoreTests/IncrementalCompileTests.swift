import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

/// The incremental compile (``FilterCompiler/compile(_:host:previous:)``) against the full compile:
/// random policy pairs, random packets, both directions and both connection types.
@Suite struct IncrementalCompileTests {
    static let host = ShapeIndexTests.host

    /// Every action a change may set: the three kinds and the negotiate flags.
    static let actions: [FilterAction] = [
        DecisionFixture.action(.permit), DecisionFixture.action(.block), DecisionFixture.action(.negotiate),
        DecisionFixture.action(.negotiate, inpass: true), DecisionFixture.action(.negotiate, soft: true),
    ]

    /// A policy with many shapes (`diverse`) or few (the synthetic one: scanned, no pair index), with
    /// copies of some filters under other actions so that keys are shared (the tie-break decides
    /// which a slot holds), and with mixed connection types when `connectionTypes`.
    static func policy(seed: UInt64, diverse: Bool, connectionTypes: Bool) -> EffectivePolicy {
        var random = SplitMix(seed: seed)
        var filters =
            diverse ? DiversePolicy.make(count: 500, seed: seed).filters : SyntheticPolicy.make(count: 300).filters
        for _ in 0..<filters.count / 5 {
            var copy = filters[random.below(filters.count)]
            copy.inboundAction = random.pick(actions)
            copy.outboundAction = random.pick(actions)
            filters.insert(copy, at: random.below(filters.count + 1))
        }
        if connectionTypes {
            for index in filters.indices where random.chance(3) {
                filters[index].interfaceType = random.pick(InterfaceType.allCases)
            }
        }
        return EffectivePolicy(generation: 1, filters: filters)
    }

    /// `policy` with the actions of about one filter in `oneIn` changed, often the copies'.
    static func changed(_ policy: EffectivePolicy, oneIn: Int, _ random: inout SplitMix) -> EffectivePolicy {
        var next = policy
        next.generation += 1
        for index in next.filters.indices where random.chance(oneIn) {
            next.filters[index].inboundAction = random.pick(actions)
            next.filters[index].outboundAction =
                random.chance(2) ? next.filters[index].inboundAction : random.pick(actions)
        }
        return next
    }

    /// The lookups (filter and action) in which `incremental` and `full` differ, as text.
    static func differences(_ incremental: FilterTable, _ full: FilterTable, seed: UInt64) -> [String] {
        var random = SplitMix(seed: seed)
        var result: [String] = []
        for round in 0..<1500 {
            let key = ShapeIndexTests.key(full, round, &random)
            for direction in TrafficDirection.allCases {
                for kind in [InterfaceKind.lan, .remoteAccess] {
                    let found = incremental.lookup(key, direction, on: kind)
                    let expected = full.lookup(key, direction, on: kind)
                    if found != expected
                        || found.map({ incremental.action($0, direction) })
                            != expected.map({ full.action($0, direction) })
                    {
                        result.append(
                            "\(key) \(direction) \(kind): incremental \(String(describing: found)), full \(String(describing: expected))"
                        )
                    }
                }
            }
        }
        if incremental.hasNegotiate != full.hasNegotiate { result.append("hasNegotiate differs") }
        return result
    }

    @Test(
        arguments: [(1, true, false), (2, true, true), (3, false, false), (4, false, true)] as [(UInt64, Bool, Bool)]
    )
    func actionChangesPatchTheTableAsAFullCompileBuildsIt(
        seed: UInt64,
        diverse: Bool,
        connectionTypes: Bool
    )
        async throws
    {
        let outcomes = try await offThePool {
            var random = SplitMix(seed: seed &* 77)
            var policy = Self.policy(seed: seed, diverse: diverse, connectionTypes: connectionTypes)
            var table = FilterCompiler.compile(policy, host: Self.host)
            var outcomes: [(patched: Bool, differences: [String])] = []
            // A chain of changes, each patched from the previous patched table.
            for step in 0..<4 {
                policy = Self.changed(policy, oneIn: [3, 20, 200, 1][step], &random)
                let incremental = FilterCompiler.compile(policy, host: Self.host, previous: table)
                let full = FilterCompiler.compile(policy, host: Self.host)
                outcomes.append((incremental.isPatched, Self.differences(incremental, full, seed: seed + UInt64(step))))
                table = incremental
            }
            return outcomes
        }
        for (step, outcome) in outcomes.enumerated() {
            #expect(outcome.patched, "step \(step) was compiled in full")
            #expect(
                outcome.differences.isEmpty,
                "step \(step): \(outcome.differences.prefix(5).joined(separator: "\n"))"
            )
        }
    }

    /// Changes of anything but actions (a filter added, removed, or with another address, another
    /// `me`) are compiled in full, and the result is the full compile's.
    @Test func otherChangesAreCompiledInFull() async throws {
        let outcomes = try await offThePool {
            var random = SplitMix(seed: 11)
            let policy = Self.policy(seed: 11, diverse: true, connectionTypes: false)
            let table = FilterCompiler.compile(policy, host: Self.host)
            var removed = policy
            removed.filters.remove(at: random.below(policy.filters.count))
            var added = policy
            added.filters.insert(policy.filters[7], at: 3)
            var moved = policy
            moved.filters[5].filter.destination = .host(IPv4Address(198, 19, 44, 4))
            let otherHost = HostInfo(addresses: [IPv4Address(198, 18, 0, 3)])
            return [(removed, Self.host), (added, Self.host), (moved, Self.host), (policy, otherHost)].map {
                next,
                host in
                let incremental = FilterCompiler.compile(next, host: host, previous: table)
                return (
                    incremental.isPatched,
                    Self.differences(incremental, FilterCompiler.compile(next, host: host), seed: 5)
                )
            }
        }
        for (index, outcome) in outcomes.enumerated() {
            #expect(!outcome.0, "case \(index) was patched")
            #expect(outcome.1.isEmpty, "case \(index): \(outcome.1.prefix(5).joined(separator: "\n"))")
        }
    }
}
