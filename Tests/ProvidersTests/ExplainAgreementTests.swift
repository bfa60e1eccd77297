import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import Providers
import Testing

/// explain and the driver make one decision: random packets over random policies, modes and settings,
/// decided through the driver's entry path (raw IPv4 bytes, netfilter hook, packet mark and interface
/// index → the queue reader's `decide(packet:…)` with the kernel's IPsec answer) and through explain's
/// (the parameters `ipsecsvc explain` takes → `Explainer.explain`), must never differ.
@Suite struct ExplainAgreementTests {
    static let scenarios = 400
    static let packetsPerScenario = 250

    @Test func explainAndTheDriverAgreeOnRandomPackets() async throws {
        let (checked, differences) = try await offThePool { Self.compareRandomPackets() }
        #expect(checked == 100_000)
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }

    /// Decides every random packet both ways; returns how many were checked and the first differences.
    static func compareRandomPackets() -> (checked: Int, differences: [String]) {
        var random = SplitMix(seed: 0x1_2005)
        var checked = 0
        var differences: [String] = []
        for _ in 0..<Self.scenarios {
            let scenario = Scenario(&random)
            // The driver's side, built as NetfilterDriver publishes it.
            let driverContext = DecisionContext(
                table: FilterCompiler.compile(scenario.policy, host: Scenario.host),
                settings: scenario.settings,
                host: Scenario.host,
                securityAssociations: KernelSecurityAssociations(),
                fastPath: random.chance(2)
            )
            let environment = ExplainEnvironment(settings: scenario.settings, host: Scenario.host)
            for _ in 0..<Self.packetsPerScenario {
                let packet = QueuedTestPacket(&random)
                let driver = packet.bytes.withUnsafeBytes {
                    driverContext.decide(
                        packet: $0,
                        hook: packet.hook,
                        mark: packet.mark,
                        inInterface: packet.inInterface,
                        outInterface: packet.outInterface
                    )
                }
                let explanation = Explainer.explain(packet.query, in: scenario.policy, environment: environment)
                checked += 1
                if let difference = Self.difference(driver, explanation, driverContext.table), differences.count < 5 {
                    differences.append("\(difference)\n  packet \(packet)\n  settings \(scenario.settings)")
                }
            }
        }
        return (checked, differences)
    }

    /// What differs between the two decisions, or `nil`.
    static func difference(_ driver: QueuedPacketDecision, _ explanation: Explanation, _ table: FilterTable) -> String?
    {
        let decision = driver.decision
        if explanation.accepted != decision.accepts || explanation.reason != decision.reason.description {
            return "driver \(decision.reason) (accepts \(decision.accepts)), explain \(explanation.reason)"
        }
        if explanation.direction.traffic != driver.direction { return "direction" }
        guard let index = decision.filter else {
            return explanation.winner == nil ? nil : "explain names a deciding filter, the driver none"
        }
        let filter = table.filters[index]
        guard let winner = explanation.winner, winner.index == filter.policyIndex,
            (winner.match == .mirrored) == filter.isMirror
        else {
            return
                "driver decided by filter \(filter.policyIndex), explain by \(String(describing: explanation.winner?.index))"
        }
        return nil
    }
}

/// One random policy with random settings.
struct Scenario {
    static let me = [IPv4Address(198, 18, 0, 2), IPv4Address(198, 18, 7, 2)]
    static let host = HostInfo(
        addresses: me,
        broadcastAddresses: [IPv4Address(198, 18, 0, 255), IPv4Address(198, 18, 7, 255)],
        dnsServers: [IPv4Address(198, 18, 9, 53)],
        defaultGateways: [IPv4Address(198, 18, 0, 254)],
        dhcpServers: [IPv4Address(198, 18, 0, 1)],
        interfaces: [
            HostInterface(name: "lo", index: 1, kind: .loopback),
            HostInterface(name: "eth0", index: 2, kind: .lan),
            HostInterface(name: "ppp0", index: 3, kind: .remoteAccess),
            HostInterface(name: "wwan0", index: 5000, kind: .remoteAccess),
            HostInterface(name: "veth9", index: 40_000, kind: .lan),
        ]
    )
    /// Addresses packets and host filters are drawn from: me, peers, the special servers, broadcast
    /// and multicast.
    static let pool =
        me + [
            IPv4Address(198, 18, 0, 1), IPv4Address(198, 18, 0, 9), IPv4Address(198, 18, 5, 5),
            IPv4Address(10, 0, 0, 1),
            IPv4Address(198, 18, 9, 53), IPv4Address(198, 18, 0, 254), IPv4Address(198, 18, 0, 255),
            IPv4Address(224, 0, 0, 5), IPv4Address(239, 1, 1, 1), IPv4Address(255, 255, 255, 255),
        ]
    static let ports: [UInt16] = [22, 23, 53, 67, 68, 80, 88, 500, 3389, 4500]
    static let protocols: [UInt8] = [0, 1, 6, 6, 17, 17, 46, 47]

    var policy: EffectivePolicy
    var settings: DecisionSettings

    init(_ random: inout SplitMix) {
        var filters: [EffectiveFilter] = []
        for index in 0..<(1 + random.below(12)) {
            let proto = random.pick(Self.protocols)
            let filter = Filter(
                id: DecisionFixture.guid(index + 1),
                mirrored: !random.chance(4),
                source: Self.address(&random),
                destination: Self.address(&random),
                ipProtocol: proto,
                sourcePort: random.chance(4) ? random.pick(Self.ports) : 0,
                destinationPort: random.chance(2) ? random.pick(Self.ports) : 0
            )
            let inbound = Self.action(&random)
            var effective = EffectiveFilter(
                filter: filter,
                inboundAction: inbound,
                // Dynamic rules may act differently per direction.
                outboundAction: random.chance(5) ? Self.action(&random) : inbound,
                interfaceType: random.pick([.all, .all, .lan, .dialUp]),
                provenance: Provenance(kind: .local, source: "local", policyName: "Random", ruleName: "rule \(index)")
            )
            if random.chance(25) { effective.inboundAction.type = .defaultResponse }
            filters.append(effective)
        }
        policy = EffectivePolicy(generation: 1, filters: filters)
        let modes: [DriverMode?] = [
            nil, .operational(.secure), .operational(.secure), .operational(.secure), .operational(.permit),
            .operational(.block), .startup(.permit), .startup(.stateful), .startup(.block),
        ]
        let exemptions = [
            BootExemption(ipProtocol: IPProtocol.tcp, sourcePort: 0, destinationPort: 3389, direction: .inbound),
            BootExemption(ipProtocol: IPProtocol.udp, sourcePort: 0, destinationPort: 53, direction: .outbound),
            BootExemption(ipProtocol: IPProtocol.icmp, sourcePort: 0, destinationPort: 0, direction: .outbound),
            BootExemption(ipProtocol: IPProtocol.any, sourcePort: 0, destinationPort: 0, direction: .inbound),
        ]
        settings = DecisionSettings(
            mode: random.pick(modes),
            exemptionLevel: random.below(4),
            bootExemptions: exemptions.filter { _ in random.chance(3) }
        )
    }

    static func address(_ random: inout SplitMix) -> FilterAddress {
        switch random.below(8) {
        case 0, 1: .me
        case 2: .any
        case 3, 4: .host(random.pick(pool))
        case 5:
            .subnet(
                random.pick([IPv4Address(198, 18, 0, 0), IPv4Address(10, 0, 0, 0)]),
                mask: .mask(prefixLength: random.pick([8, 16, 24]))
            )
        default: .server(random.pick(SpecialServer.allCases))
        }
    }

    static func action(_ random: inout SplitMix) -> FilterAction {
        let kind = random.pick([FilterActionKind.permit, .block, .negotiate])
        let inpass = kind == .negotiate && random.chance(2)
        let soft = kind == .negotiate && random.chance(2)
        return FilterAction(
            id: DecisionFixture.guid(0x900 + ActionPrecedence.rank(kind) * 4 + (inpass ? 1 : 0) + (soft ? 2 : 0)),
            name: kind.rawValue,
            action: kind,
            inboundPassThrough: inpass,
            allowFallbackToClear: soft
        )
    }
}

/// One packet as NFQUEUE would queue it, and the same packet as `explain`'s parameters.
struct QueuedTestPacket: CustomStringConvertible {
    var key: PacketKey
    var hook: UInt8
    var mark: UInt32
    var inInterface: UInt32
    var outInterface: UInt32
    var fragment: Bool
    var bytes: [UInt8]

    init(_ random: inout SplitMix) {
        let proto = random.pick(Scenario.protocols.filter { $0 != 0 } + [2, 50])
        let ports = proto == IPProtocol.tcp || proto == IPProtocol.udp
        key = PacketKey(
            source: random.pick(Scenario.pool),
            destination: random.pick(Scenario.pool),
            ipProtocol: proto,
            sourcePort: ports
                ? (random.chance(2) ? random.pick(Scenario.ports) : UInt16(truncatingIfNeeded: random.next())) : 0,
            destinationPort: ports
                ? (random.chance(3) ? UInt16(truncatingIfNeeded: random.next()) : random.pick(Scenario.ports)) : 0
        )
        hook = random.pick([0, 1, 1, 3, 3, 4])
        mark = random.pick([0, 0, DriverMarks.default.protected, 0x0001_0000])
        let indices: [UInt32] = [1, 2, 2, 3, 5000, 40_000, 77]
        inInterface = hook <= 1 ? random.pick(indices) : 0
        outInterface = hook >= 3 ? random.pick(indices) : (random.chance(2) ? random.pick(indices) : 0)
        fragment = random.chance(20)
        bytes = PacketBytes.ipv4(
            key,
            optionWords: random.chance(10) ? 1 + random.below(10) : 0,
            fragmentOffset: fragment ? UInt16(1 + random.below(100)) : 0
        )
        if fragment {
            // The driver reads no ports from a non-first fragment.
            key.sourcePort = 0
            key.destinationPort = 0
        }
    }

    /// What `ipsecsvc explain` is asked: addresses, protocol, ports, direction, the interface's name, and
    /// whether IPsec protects the packet.
    var query: PacketQuery {
        let outbound = hook == 3 || hook == 4
        let index = outbound ? outInterface : inInterface
        return PacketQuery(
            source: IPv4Address(value: key.source),
            destination: IPv4Address(value: key.destination),
            ipProtocol: key.ipProtocol,
            sourcePort: key.sourcePort,
            destinationPort: key.destinationPort,
            direction: outbound ? .outbound : .inbound,
            interface: Scenario.host.interfaces.first { $0.index == index }?.name,
            protected: mark & DriverMarks.default.protected != 0
        )
    }

    var description: String {
        "\(key) hook \(hook) mark \(String(mark, radix: 16)) in \(inInterface) out \(outInterface)"
            + (fragment ? " fragment" : "")
    }
}
