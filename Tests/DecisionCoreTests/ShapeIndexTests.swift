import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

/// The pruned lookup of policies with many shapes (source and destination prefix-length pairs,
/// protocol and port masks) against the reference linear scan.
@Suite struct ShapeIndexTests {
    static let host = HostInfo(addresses: [IPv4Address(198, 18, 0, 2), IPv4Address(10, 1, 1, 1)])

    /// Random packets of four kinds: inside a random filter, inside a random filter with the
    /// protocol and ports drawn anew, somewhere in the address plan, and anywhere.
    static func key(_ table: FilterTable, _ round: Int, _ random: inout SplitMix) -> PacketKey {
        func next() -> UInt32 { UInt32(truncatingIfNeeded: random.next()) }
        switch round % 4 {
        case 0:
            return DecisionFixture.packet(inside: table.filters[Int(next()) % table.filters.count], next)
        case 1:
            var key = DecisionFixture.packet(inside: table.filters[Int(next()) % table.filters.count], next)
            key.ipProtocol = [0, 1, 6, 17, 47][Int(next() % 5)]
            key.sourcePort = next() % 2 == 0 ? UInt16(truncatingIfNeeded: next()) : [22, 53, 80, 443][Int(next() % 4)]
            key.destinationPort = [22, 25, 53, 80, 88, 443, 3389][Int(next() % 7)]
            return key
        case 2:
            return PacketKey(
                source: DiversePolicy.siteAddress(&random),
                destination: next() % 3 == 0 ? 0xC612_0002 : DiversePolicy.siteAddress(&random),
                ipProtocol: [1, 6, 17][Int(next() % 3)],
                sourcePort: UInt16(truncatingIfNeeded: next()),
                destinationPort: [53, 80, 443, 445][Int(next() % 4)]
            )
        default:
            return PacketKey(
                source: next(),
                destination: next(),
                ipProtocol: UInt8(truncatingIfNeeded: next()),
                sourcePort: UInt16(truncatingIfNeeded: next()),
                destinationPort: UInt16(truncatingIfNeeded: next())
            )
        }
    }

    /// Random lookups through the index and through the linear reference: the disagreements, as text.
    /// CPU-heavy: tests call it through `offThePool`.
    static func mismatches(_ table: FilterTable, rounds: Int, seed: UInt64, kinds: [InterfaceKind] = [.lan]) -> [String]
    {
        var random = SplitMix(seed: seed)
        var result: [String] = []
        for round in 0..<rounds {
            let key = key(table, round, &random)
            for direction in TrafficDirection.allCases {
                for kind in kinds
                where table.lookup(key, direction, on: kind) != table.linearLookup(key, direction, on: kind) {
                    result.append(
                        "\(key) \(direction) \(kind): index \(String(describing: table.lookup(key, direction, on: kind))), linear \(String(describing: table.linearLookup(key, direction, on: kind)))"
                    )
                }
            }
        }
        return result
    }

    @Test(arguments: [1, 2] as [UInt64])
    func diversePolicyAgreesWithLinearScan(seed: UInt64) async throws {
        let (shapes, mismatches) = try await offThePool {
            let table = FilterCompiler.compile(DiversePolicy.make(count: 1000, seed: seed), host: Self.host)
            return (table.shapeCount, Self.mismatches(table, rounds: 2000, seed: seed))
        }
        #expect(shapes > 300)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test func diversePolicyAgreesPerConnectionType() async throws {
        let (specific, shapes, mismatches) = try await offThePool {
            var filters = DiversePolicy.make(count: 900, seed: 9).filters
            for index in filters.indices { filters[index].interfaceType = InterfaceType.allCases[index % 3] }
            let table = FilterCompiler.compile(EffectivePolicy(filters: filters), host: Self.host)
            return (
                table.isConnectionSpecific, table.shapeCount,
                Self.mismatches(table, rounds: 1200, seed: 9, kinds: [.lan, .remoteAccess])
            )
        }
        #expect(specific && shapes > 100)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    /// Masks that are not prefixes (Windows accepts them; validation does not) cannot be indexed by
    /// prefix length: they are probed on every lookup, and still decide by weight.
    @Test func nonPrefixMasksAgreeWithLinearScan() async throws {
        let (shapes, mismatches) = try await offThePool { Self.nonPrefixMaskMismatches() }
        #expect(shapes > 16)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    static func nonPrefixMaskMismatches() -> (shapes: Int, mismatches: [String]) {
        var filters = DiversePolicy.make(count: 600, seed: 4).filters
        let odd = IPv4Address(255, 0, 255, 0)
        for n in 0..<40 {
            filters.append(
                DecisionFixture.effective(
                    DecisionFixture.filter(
                        70_000 + n,
                        .subnet(IPv4Address(value: DiversePolicy.sites[n % 48] << 16), mask: odd),
                        n % 2 == 0 ? .any : .me,
                        proto: n % 3 == 0 ? 6 : 0,
                        dport: n % 3 == 0 ? 443 : 0
                    ),
                    DecisionFixture.action(n % 2 == 0 ? .block : .permit)
                )
            )
        }
        let table = FilterCompiler.compile(EffectivePolicy(filters: filters), host: Self.host)
        return (table.shapeCount, Self.mismatches(table, rounds: 2000, seed: 4))
    }

    /// The pair index ranks by the weight, not by which side is longer: a /32 → any filter (weight
    /// 256) loses to a /24 → /16 filter (weight 320) and wins against a /16 → /8 one (192).
    @Test func weightsAcrossPairsOfLengths() {
        let peerHost = IPv4Address(198, 19, 30, 40)
        var filters = DiversePolicy.make(count: 200, seed: 6).filters
        filters.append(
            DecisionFixture.effective(
                DecisionFixture.filter(1, .host(peerHost), .any, mirrored: false),
                DecisionFixture.action(.permit)
            )
        )
        /// A block filter from `source`/`sourceLength` to `destination`/`destinationLength`.
        func block(
            _ id: Int,
            _ source: IPv4Address,
            _ sourceLength: Int,
            _ destination: IPv4Address,
            _ destinationLength: Int
        )
            -> EffectiveFilter
        {
            DecisionFixture.effective(
                DecisionFixture.filter(
                    id,
                    .subnet(source, mask: .mask(prefixLength: sourceLength)),
                    .subnet(destination, mask: .mask(prefixLength: destinationLength)),
                    mirrored: false
                ),
                DecisionFixture.action(.block)
            )
        }
        filters.append(block(2, IPv4Address(198, 19, 30, 0), 24, IPv4Address(9, 9, 0, 0), 16))
        filters.append(block(3, IPv4Address(198, 19, 0, 0), 16, IPv4Address(9, 0, 0, 0), 8))
        let table = FilterCompiler.compile(EffectivePolicy(filters: filters), host: Self.host)
        #expect(table.shapeCount > 16)
        let toSubnet = PacketKey(source: peerHost, destination: IPv4Address(9, 9, 5, 5), ipProtocol: 6)
        let toOther = PacketKey(source: peerHost, destination: IPv4Address(9, 8, 9, 9), ipProtocol: 6)
        #expect(table.lookup(toSubnet, .outbound).map { table.filters[$0].outbound.kind } == .block)
        #expect(table.lookup(toOther, .outbound).map { table.filters[$0].outbound.kind } == .permit)
        #expect(table.lookup(toSubnet, .outbound) == table.linearLookup(toSubnet, .outbound))
        #expect(table.lookup(toOther, .outbound) == table.linearLookup(toOther, .outbound))
    }

    /// Adversarial nesting: one source and one destination address each inside prefixes of every
    /// length 0…32, and filters on most of the 33 × 33 pairs of those lengths, some with the
    /// packet's own prefixes and more with the sibling prefix of the same length (which holds the
    /// other half of the parent). A lookup then meets up to 65 sums of lengths and up to 33 pairs in a
    /// sum, most of them empty for the packet, and the weights of several pairs tie on the same sum.
    /// Some pairs hold several filters on the same two prefixes (protocol and port shapes behind
    /// one address entry, equal keys).
    @Test func deepNestingOnBothSidesAgreesWithLinearScan() async throws {
        let (shapes, mismatches) = try await offThePool { Self.deepNestingMismatches() }
        #expect(shapes > 300)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    static func deepNestingMismatches() -> (shapes: Int, mismatches: [String]) {
        let source: UInt32 = 0x0A2B_3C4D  // 10.43.60.77
        let destination: UInt32 = 0xAC10_5E6F  // 172.16.94.111
        var random = SplitMix(seed: 33)
        /// The prefix of `length` that holds `address`, or its sibling of the same length.
        func prefix(_ address: UInt32, _ length: Int, sibling: Bool) -> FilterAddress {
            guard length > 0 else { return .any }
            let mask = IPv4Address.mask(prefixLength: length)
            let value = address & mask.value ^ (sibling ? 1 << UInt32(32 - length) : 0)
            return length == 32 ? .host(IPv4Address(value: value)) : .subnet(IPv4Address(value: value), mask: mask)
        }
        let actions: [FilterActionKind] = [.permit, .block, .negotiate]
        var filters: [EffectiveFilter] = []
        for s in 0...32 {
            for d in 0...32 {
                let roll = random.below(8)
                guard roll < 6 else { continue }
                // One to three filters on the same two prefixes: several protocol and port shapes
                // behind one address entry, and equal keys that the action and order break.
                for _ in 0...random.below(3) {
                    let ipProtocol: UInt8 = [0, 6, 17, 1][random.below(4)]
                    let ports = ipProtocol == 0 || ipProtocol == 6 || ipProtocol == 17
                    filters.append(
                        DecisionFixture.effective(
                            DecisionFixture.filter(
                                filters.count + 1,
                                prefix(source, s, sibling: roll == 2 || roll >= 4),
                                prefix(destination, d, sibling: roll == 3 || roll == 5),
                                proto: ipProtocol,
                                dport: ports && random.chance(2) ? [80, 443][random.below(2)] : 0,
                                mirrored: random.chance(3)
                            ),
                            DecisionFixture.action(random.pick(actions))
                        )
                    )
                }
            }
        }
        let table = FilterCompiler.compile(EffectivePolicy(filters: filters), host: Self.host)
        var mismatches: [String] = []
        for _ in 0..<3000 {
            // The nest's own addresses with one bit flipped (or none): every depth of the nest, on
            // either side, and the mirrored direction.
            let sourceBit = random.below(34)
            let destinationBit = random.below(34)
            var key = PacketKey(
                source: source ^ (sourceBit < 32 ? 1 << UInt32(sourceBit) : 0),
                destination: destination ^ (destinationBit < 32 ? 1 << UInt32(destinationBit) : 0),
                ipProtocol: [0, 1, 6, 17][random.below(4)],
                sourcePort: UInt16(truncatingIfNeeded: random.next()),
                destinationPort: [22, 80, 443][random.below(3)]
            )
            if random.chance(4) { swap(&key.source, &key.destination) }
            for direction in TrafficDirection.allCases
            where table.lookup(key, direction) != table.linearLookup(key, direction) {
                mismatches.append(
                    "\(key) \(direction): index \(String(describing: table.lookup(key, direction))), linear \(String(describing: table.linearLookup(key, direction)))"
                )
            }
        }
        return (table.shapeCount, mismatches)
    }
}
