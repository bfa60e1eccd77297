import Driver
import PolicyModel
import Testing

/// Shared builders for the driver's unit tests.
enum Fixture {
    static let me = IPv4Address(198, 18, 0, 2)
    static let peer = IPv4Address(198, 18, 0, 1)
    static let host = HostInfo(
        addresses: [me, IPv4Address(198, 18, 7, 2)],
        broadcastAddresses: [IPv4Address(198, 18, 0, 255)],
        dnsServers: [IPv4Address(198, 18, 9, 53)],
        defaultGateways: [IPv4Address(198, 18, 0, 254)]
    )

    static func guid(_ n: Int) -> IPsecGUID {
        let hex = String(n, radix: 16)
        let padded = String(repeating: "0", count: 12 - hex.count) + hex
        return IPsecGUID("{00000000-0000-0000-0000-\(padded)}")!
    }

    static func action(_ kind: FilterActionKind, inpass: Bool = false, soft: Bool = false) -> FilterAction {
        FilterAction(
            id: guid(9000 + ActionPrecedence.rank(kind)),
            name: kind.rawValue,
            action: kind,
            inboundPassThrough: inpass,
            allowFallbackToClear: soft
        )
    }

    static func effective(_ filter: Filter, _ action: FilterAction, outbound: FilterAction? = nil) -> EffectiveFilter {
        EffectiveFilter(
            filter: filter,
            inboundAction: action,
            outboundAction: outbound,
            provenance: Provenance(kind: .local, source: "local", policyName: "Test", ruleName: "rule")
        )
    }

    static func filter(
        _ n: Int,
        _ source: FilterAddress,
        _ destination: FilterAddress,
        proto: UInt8 = 0,
        sport: UInt16 = 0,
        dport: UInt16 = 0,
        mirrored: Bool = true
    ) -> Filter {
        Filter(
            id: guid(n),
            mirrored: mirrored,
            source: source,
            destination: destination,
            ipProtocol: proto,
            sourcePort: sport,
            destinationPort: dport
        )
    }

    static func table(_ filters: [EffectiveFilter], host: HostInfo = host) -> FilterTable {
        FilterCompiler.compile(EffectivePolicy(generation: 7, filters: filters), host: host)
    }

    static func tcp(_ source: IPv4Address, _ sport: UInt16, _ destination: IPv4Address, _ dport: UInt16) -> PacketKey {
        PacketKey(
            source: source,
            destination: destination,
            ipProtocol: IPProtocol.tcp,
            sourcePort: sport,
            destinationPort: dport
        )
    }
}

@Suite struct ClassifierTests {
    @Test func blocksInboundTelnetButNotSSH() {
        let table = Fixture.table([
            Fixture.effective(Fixture.filter(1, .any, .me, proto: 6, dport: 23), Fixture.action(.block))
        ])
        let context = DecisionContext(table: table)
        let telnet = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 23)
        let ssh = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 22)
        #expect(context.decide(telnet, direction: .inbound, mark: 0).reason == .blocked)
        #expect(context.decide(ssh, direction: .inbound, mark: 0).reason == .noMatch)
        // Mirrored: my replies from port 23 match too.
        #expect(context.decide(telnet.reversed, direction: .outbound, mark: 0).reason == .blocked)
        // `me` covers every host address.
        let second = Fixture.tcp(Fixture.peer, 40000, IPv4Address(198, 18, 7, 2), 23)
        #expect(context.decide(second, direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test func notMirroredMatchesOneWayOnly() {
        let table = Fixture.table([
            Fixture.effective(Fixture.filter(1, .me, .host(Fixture.peer), mirrored: false), Fixture.action(.block))
        ])
        #expect(table.lookup(PacketKey(source: Fixture.me, destination: Fixture.peer, ipProtocol: 1), .outbound) != nil)
        #expect(table.lookup(PacketKey(source: Fixture.peer, destination: Fixture.me, ipProtocol: 1), .inbound) == nil)
    }

    @Test func moreSpecificFilterWins() {
        let subnet = FilterAddress.subnet(IPv4Address(198, 18, 0, 0), mask: .mask(prefixLength: 16))
        let table = Fixture.table([
            Fixture.effective(Fixture.filter(1, subnet, .me), Fixture.action(.block)),
            Fixture.effective(Fixture.filter(2, .host(Fixture.peer), .me), Fixture.action(.permit)),
            Fixture.effective(Fixture.filter(3, .host(Fixture.peer), .me, proto: 6, dport: 80), Fixture.action(.block)),
        ])
        let context = DecisionContext(table: table)
        #expect(
            context.decide(Fixture.tcp(Fixture.peer, 1, Fixture.me, 22), direction: .inbound, mark: 0).reason
                == .permitted
        )
        #expect(
            context.decide(Fixture.tcp(Fixture.peer, 1, Fixture.me, 80), direction: .inbound, mark: 0).reason
                == .blocked
        )
        let other = IPv4Address(198, 18, 3, 3)
        #expect(context.decide(Fixture.tcp(other, 1, Fixture.me, 22), direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test func equalWeightBlockBeatsPermitBeatsNegotiate() {
        let negotiate = Fixture.effective(Fixture.filter(1, .any, .me, proto: 6), Fixture.action(.negotiate))
        let permit = Fixture.effective(Fixture.filter(2, .any, .me, proto: 6), Fixture.action(.permit))
        let block = Fixture.effective(Fixture.filter(3, .any, .me, proto: 6), Fixture.action(.block))
        let key = Fixture.tcp(Fixture.peer, 1, Fixture.me, 22)
        let table = Fixture.table([negotiate, permit, block])
        #expect(table.filters[table.lookup(key, .inbound)!].inbound.kind == .block)
        let table2 = Fixture.table([negotiate, permit])
        #expect(table2.filters[table2.lookup(key, .inbound)!].inbound.kind == .permit)
    }

    @Test func directionalActionsOfDynamicRules() {
        let table = Fixture.table([
            Fixture.effective(
                Fixture.filter(1, .me, .host(Fixture.peer)),
                Fixture.action(.block),
                outbound: Fixture.action(.permit)
            )
        ])
        let context = DecisionContext(table: table)
        let out = PacketKey(
            source: Fixture.me,
            destination: Fixture.peer,
            ipProtocol: 17,
            sourcePort: 5,
            destinationPort: 6
        )
        #expect(context.decide(out, direction: .outbound, mark: 0).reason == .permitted)
        #expect(context.decide(out.reversed, direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test func specialServersAndUnresolvedFilters() {
        let table = Fixture.table([
            Fixture.effective(Fixture.filter(1, .me, .server(.dns), proto: 17, dport: 53), Fixture.action(.block)),
            Fixture.effective(Fixture.filter(2, .me, .server(.wins)), Fixture.action(.block)),
            Fixture.effective(Fixture.filter(3, .me, .server(.gateway)), Fixture.action(.block)),
        ])
        #expect(table.unresolved == [1])
        let dns = PacketKey(
            source: Fixture.me,
            destination: IPv4Address(198, 18, 9, 53),
            ipProtocol: 17,
            sourcePort: 999,
            destinationPort: 53
        )
        #expect(table.lookup(dns, .outbound) != nil)
        let gateway = PacketKey(source: Fixture.me, destination: IPv4Address(198, 18, 0, 254), ipProtocol: 1)
        #expect(table.lookup(gateway, .outbound) != nil)
        let noMe = Fixture.table(
            [Fixture.effective(Fixture.filter(1, .me, .any), Fixture.action(.block))],
            host: HostInfo()
        )
        #expect(noMe.unresolved == [0] && noMe.filters.isEmpty)
    }

    @Test func defaultResponseRuleAddsNoFilters() {
        var action = Fixture.action(.negotiate)
        action.type = .defaultResponse
        let table = Fixture.table([Fixture.effective(Fixture.filter(1, .any, .any), action)])
        #expect(table.filters.isEmpty)
    }

    @Test func portsOnlyCountForTCPAndUDP() {
        let table = Fixture.table([
            Fixture.effective(Fixture.filter(1, .any, .me, proto: 1, dport: 80), Fixture.action(.block))
        ])
        #expect(table.lookup(PacketKey(source: Fixture.peer, destination: Fixture.me, ipProtocol: 1), .inbound) != nil)
    }

    /// The index must give exactly the answer of the reference linear scan, for every packet.
    @Test func indexAgreesWithLinearScan() {
        let policy = SyntheticPolicy.make(count: 600, seed: 3)
        var filters = policy.filters
        // Overlapping generic filters so that several weight levels and ties are hit.
        filters.append(Fixture.effective(Fixture.filter(1, .any, .any, proto: 6), Fixture.action(.permit)))
        filters.append(Fixture.effective(Fixture.filter(2, .any, .any, proto: 6), Fixture.action(.block)))
        filters.append(
            Fixture.effective(
                Fixture.filter(3, .subnet(IPv4Address(10, 0, 0, 0), mask: .mask(prefixLength: 8)), .any),
                Fixture.action(.negotiate)
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
        for round in 0..<6000 {
            var key: PacketKey
            if round % 3 != 0 {
                let filter = table.filters[Int(next()) % table.filters.count]
                key = PacketKey(
                    source: filter.source | next() & ~filter.sourceMask,
                    destination: filter.destination | next() & ~filter.destinationMask,
                    ipProtocol: filter.ipProtocol == 0 ? [1, 6, 17][Int(next() % 3)] : filter.ipProtocol,
                    sourcePort: filter.sourcePort != 0 ? filter.sourcePort : UInt16(truncatingIfNeeded: next()),
                    destinationPort: filter.destinationPort != 0
                        ? filter.destinationPort : UInt16(truncatingIfNeeded: next())
                )
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
                #expect(table.lookup(key, direction) == table.linearLookup(key, direction), "\(key) \(direction)")
                checked += 1
            }
        }
        #expect(checked == 12000)
    }

    /// Lookup cost is one probe per shape: the shape count must not grow with the filter count.
    @Test func shapeCountIndependentOfFilterCount() {
        let host = HostInfo(addresses: [Fixture.me])
        let small = FilterCompiler.compile(SyntheticPolicy.make(count: 1000), host: host)
        let large = FilterCompiler.compile(SyntheticPolicy.make(count: 100_000), host: host)
        #expect(small.shapeCount == large.shapeCount)
        #expect(large.shapeCount < 16)
    }
}
