import DecisionCore
import IPsecTestKit
import PolicyModel
import Providers
import Testing

@Suite struct ExplainTests {
    static let me = IPv4Address(198, 18, 0, 10)
    static let server = IPv4Address(198, 18, 1, 1)
    static let environment = ExplainEnvironment(
        host: HostInfo(addresses: [me], dnsServers: [IPv4Address(198, 18, 2, 53)])
    )

    func effective(_ kind: SourceKind, _ store: PolicyStore) -> [EffectiveFilter] {
        PolicyMerger.effectiveFilters(
            of: Contribution(
                kind: kind,
                sourceName: kind.rawValue,
                policy: SourcePolicy.assigned(in: store, location: nil)!
            )
        )
    }

    /// Persistent: block everything to 198.18.1.0/24; directory: permit the server's web port, negotiate
    /// with the server.
    var policy: EffectivePolicy {
        let persistent = Fixtures.store(
            "Persistent",
            space: 1,
            rules: [
                .init(
                    name: "Block lab",
                    source: .me,
                    destination: .subnet(IPv4Address(198, 18, 1, 0), mask: .mask(prefixLength: 24)),
                    action: .block
                )
            ]
        )
        let directory = Fixtures.store(
            "Domain",
            space: 2,
            rules: [
                .init(
                    name: "Web",
                    source: .me,
                    destination: .host(Self.server),
                    action: .permit,
                    ipProtocol: 6,
                    destinationPort: 80
                ),
                .init(name: "Secure server", source: .me, destination: .host(Self.server), action: .negotiate),
                .init(
                    name: "DNS",
                    source: .me,
                    destination: .server(.dns),
                    action: .permit,
                    ipProtocol: 17,
                    destinationPort: 53
                ),
            ]
        )
        return EffectivePolicy(
            generation: 1,
            filters: effective(.persistent, persistent) + effective(.directory, directory)
        )
    }

    @Test func theMostSpecificFilterDecides() {
        let packet = PacketQuery(
            source: Self.me,
            destination: Self.server,
            ipProtocol: 6,
            sourcePort: 40000,
            destinationPort: 80
        )
        let result = Explainer.explain(packet, in: policy, environment: Self.environment)
        #expect(result.direction == .outbound)
        #expect(result.matches.map(\.provenance.ruleName) == ["Web", "Secure server", "Block lab"])
        #expect(result.winner?.provenance.policyName == "Domain")
        #expect(result.winner?.provenance.kind == .directory)
        #expect(result.verdict == .permit)
        // 64 prefix bits × 8, + protocol 4 + destination port 1; the /24 block weighs (32 + 24) × 8.
        #expect(result.matches.map(\.weight) == [517, 512, 448])
    }

    @Test func mirroredFiltersMatchTheReply() {
        let reply = PacketQuery(
            source: Self.server,
            destination: Self.me,
            ipProtocol: 6,
            sourcePort: 80,
            destinationPort: 40000
        )
        let result = Explainer.explain(reply, in: policy, environment: Self.environment)
        #expect(result.direction == .inbound)
        #expect(result.winner?.provenance.ruleName == "Web")
        #expect(result.winner?.match == .mirrored)
    }

    @Test func negotiateAndBlockVerdicts() {
        let telnet = PacketQuery(source: Self.me, destination: Self.server, ipProtocol: 6, destinationPort: 23)
        let negotiated = Explainer.explain(telnet, in: policy, environment: Self.environment)
        #expect(negotiated.verdict == .negotiate)
        #expect(negotiated.detail.contains("negotiation required"))
        let other = PacketQuery(source: Self.me, destination: IPv4Address(198, 18, 1, 2), ipProtocol: 1)
        let blocked = Explainer.explain(other, in: policy, environment: Self.environment)
        #expect(blocked.verdict == .block)
        #expect(blocked.winner?.provenance.kind == .persistent)
    }

    @Test func equalWeightsBlockBeforePermitBeforeNegotiate() {
        let stores = [FilterActionKind.negotiate, .permit, .block].enumerated().map { index, action in
            Fixtures.store(
                "P\(index)",
                space: UInt8(10 + index),
                rules: [.init(name: action.rawValue, source: .me, destination: .host(Self.server), action: action)]
            )
        }
        let policy = EffectivePolicy(filters: stores.flatMap { effective(.local, $0) })
        let result = Explainer.explain(
            PacketQuery(source: Self.me, destination: Self.server),
            in: policy,
            environment: Self.environment
        )
        #expect(result.matches.map(\.action) == [.block, .permit, .negotiate])
    }

    @Test func specialServersAndNoMatch() {
        let dns = PacketQuery(
            source: Self.me,
            destination: IPv4Address(198, 18, 2, 53),
            ipProtocol: 17,
            destinationPort: 53
        )
        #expect(Explainer.explain(dns, in: policy, environment: Self.environment).winner?.provenance.ruleName == "DNS")
        let elsewhere = PacketQuery(source: Self.me, destination: IPv4Address(198, 19, 0, 1))
        let result = Explainer.explain(elsewhere, in: policy, environment: Self.environment)
        #expect(result.matches.isEmpty)
        #expect(result.verdict == .permit)
    }

    @Test func ikeIsExempt() {
        let ike = PacketQuery(
            source: Self.me,
            destination: Self.server,
            ipProtocol: 17,
            sourcePort: 500,
            destinationPort: 500
        )
        let result = Explainer.explain(ike, in: policy, environment: Self.environment)
        #expect(result.verdict == .exempt)
        #expect(result.winner == nil)
    }
}

/// explain decides as the driver does: modes, default exemptions, connection types, the SA assumption.
@Suite struct ExplainDriverSemanticsTests {
    static let me = IPv4Address(198, 18, 0, 10)
    static let peer = IPv4Address(198, 18, 1, 1)
    static let host = HostInfo(
        addresses: [me],
        interfaces: [
            HostInterface(name: "eth0", index: 2, kind: .lan, kindReason: "kernel link type 1"),
            HostInterface(name: "ppp0", index: 3, kind: .remoteAccess, kindReason: "kernel link type 512"),
        ]
    )

    /// Remote access: block everything; LAN: block Telnet; all: negotiate with the peer.
    static var policy: EffectivePolicy {
        func rule(_ n: Int, _ filter: Filter, _ kind: FilterActionKind, _ type: InterfaceType) -> EffectiveFilter {
            EffectiveFilter(
                filter: filter,
                inboundAction: FilterAction(id: DecisionFixture.guid(100 + n), name: "\(kind)", action: kind),
                interfaceType: type,
                provenance: Provenance(kind: .local, source: "local", policyName: "Shapes", ruleName: "rule \(n)")
            )
        }
        return EffectivePolicy(
            generation: 1,
            filters: [
                rule(1, DecisionFixture.filter(1, .me, .any), .block, .dialUp),
                rule(2, DecisionFixture.filter(2, .any, .me, proto: 6, dport: 23), .block, .lan),
                rule(3, DecisionFixture.filter(3, .host(peer), .me, proto: 17), .negotiate, .all),
            ]
        )
    }

    func explain(
        _ query: PacketQuery,
        mode: DriverMode? = .operational(.secure),
        level: Int = 3,
        classifier: InterfaceClassifier = InterfaceClassifier()
    ) -> Explanation {
        Explainer.explain(
            query,
            in: Self.policy,
            environment: ExplainEnvironment(
                settings: DecisionSettings(mode: mode, exemptionLevel: level),
                host: Self.host,
                classifier: classifier,
                assumptions: ["offline"]
            )
        )
    }

    func telnet(_ interface: String? = nil) -> PacketQuery {
        PacketQuery(
            source: Self.peer,
            destination: Self.me,
            ipProtocol: 6,
            sourcePort: 40000,
            destinationPort: 23,
            interface: interface
        )
    }

    @Test func connectionTypesSelectTheRulesAndExplainSaysWhichItSkipped() {
        let lan = explain(telnet("eth0"))
        #expect(lan.verdict == .block && lan.winner?.provenance.ruleName == "rule 2")
        #expect(lan.skipped.map(\.provenance.ruleName) == ["rule 1"])
        #expect(lan.interface.name == "eth0" && lan.interface.kind == .lan && lan.interface.why == "kernel link type 1")
        var ssh = telnet("eth0")
        ssh.destinationPort = 22
        #expect(explain(ssh).verdict == .permit)
        ssh.interface = "ppp0"
        let dialup = explain(ssh)
        #expect(dialup.verdict == .block && dialup.winner?.provenance.ruleName == "rule 1")
        #expect(dialup.interface.kind == .remoteAccess)
        // Without --interface a LAN interface is assumed, and said so.
        let unnamed = explain(telnet())
        #expect(unnamed.interface.kind == .lan && unnamed.assumptions.contains { $0.contains("LAN") })
        // A name this computer does not have is classified by dialup_interfaces only.
        let absent = explain(telnet("dial7"), classifier: InterfaceClassifier(dialupPatterns: ["dial*"]))
        #expect(absent.interface.kind == .remoteAccess && absent.interface.why.contains("dial*"))
        #expect(absent.winner?.provenance.ruleName == "rule 1")
    }

    @Test func theModeDecidesBeforeAnyFilter() {
        let block = explain(
            PacketQuery(source: Self.peer, destination: Self.me, ipProtocol: 6, destinationPort: 22),
            mode: .operational(.block)
        )
        #expect(block.verdict == .block && block.reason == "mode-block" && block.winner == nil && !block.accepted)
        #expect(block.mode == "block")
        let permit = explain(telnet("eth0"), mode: .operational(.permit))
        #expect(permit.verdict == .permit && permit.winner == nil && !permit.matches.isEmpty)
        let stateful = explain(telnet("eth0"), mode: .startup(.stateful))
        #expect(stateful.reason == "startup-blocked" && stateful.detail.contains("not a reply"))
        var asked = telnet("eth0")
        asked.mode = .startup(.permit)
        let overridden = explain(asked)
        #expect(overridden.reason == "startup-permit" && overridden.assumptions.contains { $0.contains("--mode") })
    }

    @Test func defaultExemptionsAsTheDriverHasThem() {
        let natt = PacketQuery(
            source: Self.peer,
            destination: Self.me,
            ipProtocol: 17,
            sourcePort: 4500,
            destinationPort: 4500
        )
        let ike = explain(natt)
        #expect(ike.verdict == .exempt && ike.reason == "exempt-ike" && ike.detail.contains("4500"))
        let kerberos = PacketQuery(
            source: Self.peer,
            destination: Self.me,
            ipProtocol: 17,
            sourcePort: 88,
            destinationPort: 1000
        )
        #expect(explain(kerberos, level: 2).reason == "exempt-kerberos")
        #expect(explain(kerberos, level: 3).verdict == .negotiate)
    }

    @Test func negotiateDependsOnTheSAAssumption() {
        var query = PacketQuery(
            source: Self.peer,
            destination: Self.me,
            ipProtocol: 17,
            sourcePort: 1,
            destinationPort: 2
        )
        let clear = explain(query)
        #expect(clear.reason == "negotiation-required" && !clear.accepted)
        #expect(clear.assumptions.contains { $0.contains("--protected") })
        query.protected = true
        let protected = explain(query)
        #expect(protected.reason == "protected" && protected.accepted)
    }

    @Test func portsOfOtherProtocolsAreIgnoredAsTheDriverDoes() {
        let icmp = explain(PacketQuery(source: Self.peer, destination: Self.me, ipProtocol: 1, destinationPort: 23))
        #expect(icmp.assumptions.contains { $0.contains("Ports are ignored") })
        #expect(icmp.me == [Self.me])
    }
}
