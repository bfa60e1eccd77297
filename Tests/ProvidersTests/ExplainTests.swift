import DecisionCore
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
