import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

@Suite struct ClassifierTests {
    @Test func blocksInboundTelnetButNotSSH() {
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .any, .me, proto: 6, dport: 23),
                DecisionFixture.action(.block)
            )
        ])
        let context = DecisionContext(table: table)
        let telnet = DecisionFixture.tcp(DecisionFixture.peer, 40000, DecisionFixture.me, 23)
        let ssh = DecisionFixture.tcp(DecisionFixture.peer, 40000, DecisionFixture.me, 22)
        #expect(context.decide(telnet, direction: .inbound, mark: 0).reason == .blocked)
        #expect(context.decide(ssh, direction: .inbound, mark: 0).reason == .noMatch)
        // Mirrored: my replies from port 23 match too.
        #expect(context.decide(telnet.reversed, direction: .outbound, mark: 0).reason == .blocked)
        // `me` covers every host address.
        let second = DecisionFixture.tcp(DecisionFixture.peer, 40000, IPv4Address(198, 18, 7, 2), 23)
        #expect(context.decide(second, direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test func notMirroredMatchesOneWayOnly() {
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .me, .host(DecisionFixture.peer), mirrored: false),
                DecisionFixture.action(.block)
            )
        ])
        #expect(
            table.lookup(
                PacketKey(source: DecisionFixture.me, destination: DecisionFixture.peer, ipProtocol: 1),
                .outbound
            ) != nil
        )
        #expect(
            table.lookup(
                PacketKey(source: DecisionFixture.peer, destination: DecisionFixture.me, ipProtocol: 1),
                .inbound
            ) == nil
        )
    }

    @Test func moreSpecificFilterWins() {
        let subnet = FilterAddress.subnet(IPv4Address(198, 18, 0, 0), mask: .mask(prefixLength: 16))
        let table = DecisionFixture.table([
            DecisionFixture.effective(DecisionFixture.filter(1, subnet, .me), DecisionFixture.action(.block)),
            DecisionFixture.effective(
                DecisionFixture.filter(2, .host(DecisionFixture.peer), .me),
                DecisionFixture.action(.permit)
            ),
            DecisionFixture.effective(
                DecisionFixture.filter(3, .host(DecisionFixture.peer), .me, proto: 6, dport: 80),
                DecisionFixture.action(.block)
            ),
        ])
        let context = DecisionContext(table: table)
        #expect(
            context.decide(
                DecisionFixture.tcp(DecisionFixture.peer, 1, DecisionFixture.me, 22),
                direction: .inbound,
                mark: 0
            ).reason
                == .permitted
        )
        #expect(
            context.decide(
                DecisionFixture.tcp(DecisionFixture.peer, 1, DecisionFixture.me, 80),
                direction: .inbound,
                mark: 0
            ).reason
                == .blocked
        )
        let other = IPv4Address(198, 18, 3, 3)
        #expect(
            context.decide(DecisionFixture.tcp(other, 1, DecisionFixture.me, 22), direction: .inbound, mark: 0).reason
                == .blocked
        )
    }

    @Test func equalWeightBlockBeatsPermitBeatsNegotiate() {
        let negotiate = DecisionFixture.effective(
            DecisionFixture.filter(1, .any, .me, proto: 6),
            DecisionFixture.action(.negotiate)
        )
        let permit = DecisionFixture.effective(
            DecisionFixture.filter(2, .any, .me, proto: 6),
            DecisionFixture.action(.permit)
        )
        let block = DecisionFixture.effective(
            DecisionFixture.filter(3, .any, .me, proto: 6),
            DecisionFixture.action(.block)
        )
        let key = DecisionFixture.tcp(DecisionFixture.peer, 1, DecisionFixture.me, 22)
        let table = DecisionFixture.table([negotiate, permit, block])
        #expect(table.filters[table.lookup(key, .inbound)!].inbound.kind == .block)
        let table2 = DecisionFixture.table([negotiate, permit])
        #expect(table2.filters[table2.lookup(key, .inbound)!].inbound.kind == .permit)
    }

    @Test func directionalActionsOfDynamicRules() {
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .me, .host(DecisionFixture.peer)),
                DecisionFixture.action(.block),
                outbound: DecisionFixture.action(.permit)
            )
        ])
        let context = DecisionContext(table: table)
        let out = PacketKey(
            source: DecisionFixture.me,
            destination: DecisionFixture.peer,
            ipProtocol: 17,
            sourcePort: 5,
            destinationPort: 6
        )
        #expect(context.decide(out, direction: .outbound, mark: 0).reason == .permitted)
        #expect(context.decide(out.reversed, direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test func specialServersAndUnresolvedFilters() {
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .me, .server(.dns), proto: 17, dport: 53),
                DecisionFixture.action(.block)
            ),
            DecisionFixture.effective(DecisionFixture.filter(2, .me, .server(.wins)), DecisionFixture.action(.block)),
            DecisionFixture.effective(
                DecisionFixture.filter(3, .me, .server(.gateway)),
                DecisionFixture.action(.block)
            ),
        ])
        #expect(table.unresolved == [1])
        let dns = PacketKey(
            source: DecisionFixture.me,
            destination: IPv4Address(198, 18, 9, 53),
            ipProtocol: 17,
            sourcePort: 999,
            destinationPort: 53
        )
        #expect(table.lookup(dns, .outbound) != nil)
        let gateway = PacketKey(source: DecisionFixture.me, destination: IPv4Address(198, 18, 0, 254), ipProtocol: 1)
        #expect(table.lookup(gateway, .outbound) != nil)
        let noMe = DecisionFixture.table(
            [DecisionFixture.effective(DecisionFixture.filter(1, .me, .any), DecisionFixture.action(.block))],
            host: HostInfo()
        )
        #expect(noMe.unresolved == [0] && noMe.filters.isEmpty)
    }

    @Test func defaultResponseRuleAddsNoFilters() {
        var action = DecisionFixture.action(.negotiate)
        action.type = .defaultResponse
        let table = DecisionFixture.table([DecisionFixture.effective(DecisionFixture.filter(1, .any, .any), action)])
        #expect(table.filters.isEmpty)
    }

    @Test func portsOnlyCountForTCPAndUDP() {
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .any, .me, proto: 1, dport: 80),
                DecisionFixture.action(.block)
            )
        ])
        #expect(
            table.lookup(
                PacketKey(source: DecisionFixture.peer, destination: DecisionFixture.me, ipProtocol: 1),
                .inbound
            ) != nil
        )
    }

    /// The index must give exactly the answer of the reference linear scan, for every packet.
    @Test func indexAgreesWithLinearScan() async throws {
        let (checked, mismatches) = try await offThePool { Self.compareIndexWithLinearScan() }
        #expect(checked == 12000)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    /// Looks random packets up through the index and the linear reference; returns the count and mismatches.
    static func compareIndexWithLinearScan() -> (checked: Int, mismatches: [String]) {
        let policy = SyntheticPolicy.make(count: 600, seed: 3)
        var filters = policy.filters
        // Overlapping generic filters so that several weight levels and ties are hit.
        filters.append(
            DecisionFixture.effective(DecisionFixture.filter(1, .any, .any, proto: 6), DecisionFixture.action(.permit))
        )
        filters.append(
            DecisionFixture.effective(DecisionFixture.filter(2, .any, .any, proto: 6), DecisionFixture.action(.block))
        )
        filters.append(
            DecisionFixture.effective(
                DecisionFixture.filter(3, .subnet(IPv4Address(10, 0, 0, 0), mask: .mask(prefixLength: 8)), .any),
                DecisionFixture.action(.negotiate)
            )
        )
        let host = HostInfo(addresses: [IPv4Address(10, 1, 1, 1), IPv4Address(172, 16, 1, 1)])
        let table = FilterCompiler.compile(EffectivePolicy(filters: filters), host: host)
        var state: UInt64 = 99
        func next() -> UInt32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return UInt32(truncatingIfNeeded: state >> 29)
        }
        var checked = 0
        var mismatches: [String] = []
        for round in 0..<6000 {
            var key: PacketKey
            if round % 3 != 0 {
                let filter = table.filters[Int(next()) % table.filters.count]
                key = DecisionFixture.packet(inside: filter, next)
            } else {
                key = PacketKey(
                    source: 0x0A00_0000 | next() & 0xFF_FFFF,
                    destination: 0xAC10_0000 | next() & 0xF_FFFF,
                    ipProtocol: 6,
                    sourcePort: UInt16(truncatingIfNeeded: next()),
                    destinationPort: 80
                )
            }
            for direction in TrafficDirection.allCases {
                if table.lookup(key, direction) != table.linearLookup(key, direction) {
                    mismatches.append("\(key) \(direction)")
                }
                checked += 1
            }
        }
        return (checked, mismatches)
    }

    /// Lookup cost is one probe per shape: the shape count must not grow with the filter count.
    @Test func shapeCountIndependentOfFilterCount() async throws {
        let (small, large) = try await offThePool {
            let host = HostInfo(addresses: [DecisionFixture.me])
            return (
                FilterCompiler.compile(SyntheticPolicy.make(count: 1000), host: host).shapeCount,
                FilterCompiler.compile(SyntheticPolicy.make(count: 100_000), host: host).shapeCount
            )
        }
        #expect(small == large)
        #expect(large < 16)
    }
}
