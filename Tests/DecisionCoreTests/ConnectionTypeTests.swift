import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

/// Connection types: a rule applies only to packets on interfaces of its type (Remote access = dial-up
/// style links, LAN = every other interface, All = both).
@Suite struct ConnectionTypeTests {
    typealias Fixture = DecisionFixture

    /// The Windows shape of issue 12: a remote-access-only "block everything" rule and a LAN-only
    /// "block Telnet" rule.
    static func policy() -> EffectivePolicy {
        var blockAll = Fixture.effective(Fixture.filter(1, .me, .any), Fixture.action(.block))
        blockAll.interfaceType = .dialUp
        var blockTelnet = Fixture.effective(Fixture.filter(2, .any, .me, proto: 6, dport: 23), Fixture.action(.block))
        blockTelnet.interfaceType = .lan
        return EffectivePolicy(generation: 1, filters: [blockAll, blockTelnet])
    }

    static let host = HostInfo(
        addresses: [Fixture.me],
        interfaces: [
            HostInterface(name: "lo", index: 1, kind: .loopback),
            HostInterface(name: "eth0", index: 2, kind: .lan),
            HostInterface(name: "ppp0", index: 7, kind: .remoteAccess),
            HostInterface(name: "wwan0", index: 70_000, kind: .remoteAccess),
        ]
    )

    let context = DecisionContext(table: FilterCompiler.compile(policy(), host: host), host: host)
    let ssh = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 22)
    let telnet = Fixture.tcp(Fixture.peer, 40000, Fixture.me, 23)

    @Test func lanRulesApplyOnLANInterfacesOnly() {
        #expect(context.decide(ssh, direction: .inbound, mark: 0, interface: .lan).reason == .noMatch)
        #expect(context.decide(telnet, direction: .inbound, mark: 0, interface: .lan).reason == .blocked)
        #expect(context.decide(telnet.reversed, direction: .outbound, mark: 0, interface: .lan).reason == .blocked)
    }

    @Test func remoteAccessRulesApplyOnDialupInterfacesOnly() {
        #expect(context.decide(ssh, direction: .inbound, mark: 0, interface: .remoteAccess).reason == .blocked)
        #expect(
            context.decide(ssh.reversed, direction: .outbound, mark: 0, interface: .remoteAccess).reason == .blocked
        )
        // Telnet is blocked there by the block-all rule, not by the LAN rule.
        let decision = context.decide(telnet, direction: .inbound, mark: 0, interface: .remoteAccess)
        #expect(decision.reason == .blocked)
        #expect(context.table.filters[decision.filter!].interfaceType == .dialUp)
    }

    @Test func loopbackIsNeverFiltered() {
        #expect(context.decide(telnet, direction: .inbound, mark: 0, interface: .loopback).reason == .loopback)
    }

    @Test func allRulesApplyEverywhere() {
        let table = Fixture.table([Fixture.effective(Fixture.filter(1, .any, .me), Fixture.action(.block))])
        let context = DecisionContext(table: table)
        for kind in [InterfaceKind.lan, .remoteAccess] {
            #expect(context.decide(ssh, direction: .inbound, mark: 0, interface: kind).reason == .blocked)
        }
        #expect(!table.isConnectionSpecific)
    }

    /// The queue reader's entry: the in-interface decides inbound packets, the out-interface outbound
    /// ones; an index the host information does not know is LAN.
    @Test func theQueuedPacketsInterfaceIndexSelectsTheRules() {
        func decide(_ key: PacketKey, hook: UInt8, in inIndex: UInt32, out outIndex: UInt32) -> DecisionReason {
            PacketBytes.ipv4(key).withUnsafeBytes {
                context.decide(packet: $0, hook: hook, mark: 0, inInterface: inIndex, outInterface: outIndex)
            }.decision.reason
        }
        #expect(decide(ssh, hook: 1, in: 2, out: 0) == .noMatch)
        #expect(decide(ssh, hook: 1, in: 7, out: 2) == .blocked)
        #expect(decide(ssh, hook: 1, in: 70_000, out: 0) == .blocked)
        #expect(decide(ssh, hook: 1, in: 99, out: 7) == .noMatch)
        #expect(decide(ssh.reversed, hook: 3, in: 7, out: 2) == .noMatch)
        #expect(decide(ssh.reversed, hook: 3, in: 2, out: 7) == .blocked)
        #expect(decide(telnet, hook: 1, in: 1, out: 0) == .loopback)
    }

    @Test func interfaceIndexMap() {
        let map = InterfaceIndexMap(Self.host.interfaces)
        #expect(map.kind(1) == .loopback && map.kind(2) == .lan && map.kind(7) == .remoteAccess)
        #expect(map.kind(70_000) == .remoteAccess)
        #expect(map.kind(3) == .lan && map.kind(0) == .lan && map.kind(69_999) == .lan)
        #expect(InterfaceIndexMap([]).kind(5) == .lan)
    }

    /// The index agrees with the reference scan for every connection type, with rules of all three.
    @Test func indexAgreesWithLinearScanPerConnectionType() async throws {
        let (connectionSpecific, mismatches) = try await offThePool { Self.compareIndexWithLinearScan() }
        #expect(connectionSpecific)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    /// Random packets through the index and the linear reference, per connection type.
    static func compareIndexWithLinearScan() -> (connectionSpecific: Bool, mismatches: [String]) {
        var filters = SyntheticPolicy.make(count: 300, seed: 5).filters
        for index in filters.indices { filters[index].interfaceType = InterfaceType.allCases[index % 3] }
        let host = HostInfo(addresses: [IPv4Address(10, 1, 1, 1), IPv4Address(172, 16, 1, 1)])
        let table = FilterCompiler.compile(EffectivePolicy(filters: filters), host: host)
        var mismatches: [String] = []
        var state: UInt64 = 17
        func next() -> UInt32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            return UInt32(truncatingIfNeeded: state >> 29)
        }
        for _ in 0..<3000 {
            let filter = table.filters[Int(next()) % table.filters.count]
            let key = DecisionFixture.packet(inside: filter, next)
            for direction in TrafficDirection.allCases {
                for kind in [InterfaceKind.lan, .remoteAccess]
                where table.lookup(key, direction, on: kind) != table.linearLookup(key, direction, on: kind) {
                    mismatches.append("\(key) \(direction) \(kind)")
                }
            }
        }
        return (table.isConnectionSpecific, mismatches)
    }

    /// trace: the decision plus the candidates of the packet's type and the ones skipped for theirs.
    @Test func traceListsCandidatesAndSkippedRules() {
        let onLAN = context.trace(telnet, direction: .inbound, mark: 0, interface: .lan)
        #expect(onLAN.decision.reason == .blocked)
        #expect(onLAN.candidates.first == onLAN.decision.filter)
        #expect(onLAN.skipped.map { context.table.filters[$0].interfaceType } == [.dialUp])
        let onDialup = context.trace(ssh, direction: .inbound, mark: 0, interface: .remoteAccess)
        #expect(onDialup.candidates.first == onDialup.decision.filter)
        #expect(onDialup.skipped.isEmpty)
    }
}
