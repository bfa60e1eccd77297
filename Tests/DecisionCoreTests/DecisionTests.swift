import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

@Suite struct DecisionTests {
    let key = DecisionFixture.tcp(DecisionFixture.peer, 40000, DecisionFixture.me, 22)

    func context(
        _ action: FilterAction,
        sa: any SecurityAssociations = AssumedSecurityAssociations(protected: false),
        level: Int = 3,
        mode: OperationalMode? = .secure
    ) -> DecisionContext {
        let table = DecisionFixture.table([
            DecisionFixture.effective(DecisionFixture.filter(1, .host(DecisionFixture.peer), .me), action)
        ])
        return DecisionContext(
            table: table,
            settings: DecisionSettings(mode: mode.map { .operational($0) }, exemptionLevel: level),
            host: HostInfo(broadcastAddresses: [IPv4Address(198, 18, 0, 255)]),
            securityAssociations: sa,
            fastPath: true
        )
    }

    @Test func negotiateDropsClearTraffic() {
        let c = context(DecisionFixture.action(.negotiate))
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
        #expect(c.decide(key.reversed, direction: .outbound, mark: 0).reason == .negotiationRequired)
        #expect(!c.decide(key, direction: .inbound, mark: 0).accepts)
    }

    @Test func inpassAcceptsClearInboundOnly() {
        let c = context(DecisionFixture.action(.negotiate, inpass: true))
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .clearInboundPassThrough)
        #expect(c.decide(key.reversed, direction: .outbound, mark: 0).reason == .negotiationRequired)
    }

    @Test func softAcceptsClearOutboundOnly() {
        let c = context(DecisionFixture.action(.negotiate, soft: true))
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
        #expect(c.decide(key.reversed, direction: .outbound, mark: 0).reason == .clearFallback)
    }

    @Test func protectedTrafficIsAccepted() {
        let fake = context(
            DecisionFixture.action(.negotiate),
            sa: FakeSecurityAssociations(protectedPeers: [DecisionFixture.peer])
        )
        #expect(fake.decide(key, direction: .inbound, mark: 0).reason == .protected)
        #expect(fake.decide(key.reversed, direction: .outbound, mark: 0).reason == .protected)
        // Negotiated flows never take the fast path.
        #expect(!fake.decide(key, direction: .inbound, mark: 0).fastPath)
    }

    @Test func fastPathOnlyWhenRepliesArePermittedToo() {
        let permit = context(DecisionFixture.action(.permit))
        #expect(permit.decide(key, direction: .inbound, mark: 0).fastPath)
        // A one-way permit whose replies are blocked by a more specific filter: no fast path.
        let table = DecisionFixture.table([
            DecisionFixture.effective(
                DecisionFixture.filter(1, .host(DecisionFixture.peer), .me),
                DecisionFixture.action(.permit)
            ),
            DecisionFixture.effective(
                DecisionFixture.filter(2, .me, .host(DecisionFixture.peer), proto: 6, sport: 22, mirrored: false),
                DecisionFixture.action(.block)
            ),
        ])
        let c = DecisionContext(table: table, fastPath: true)
        let decision = c.decide(key, direction: .inbound, mark: 0)
        #expect(decision.reason == .permitted && !decision.fastPath)
        // The driver turns the fast path off (epoch 0).
        let off = DecisionContext(table: DecisionFixture.table([]), fastPath: false)
        #expect(!off.decide(key, direction: .inbound, mark: 0).fastPath)
    }

    @Test func ikeIsAlwaysExempt() {
        let block = context(DecisionFixture.action(.block))
        let ike = PacketKey(
            source: DecisionFixture.peer,
            destination: DecisionFixture.me,
            ipProtocol: 17,
            sourcePort: 500,
            destinationPort: 500
        )
        let natt = PacketKey(
            source: DecisionFixture.peer,
            destination: DecisionFixture.me,
            ipProtocol: 17,
            sourcePort: 1,
            destinationPort: 4500
        )
        for level in 0...3 {
            let c = context(DecisionFixture.action(.block), level: level)
            #expect(c.decide(ike, direction: .inbound, mark: 0).reason == .exemptIKE)
            #expect(c.decide(natt, direction: .inbound, mark: 0).reason == .exemptIKE)
        }
        #expect(block.decide(key, direction: .inbound, mark: 0).reason == .blocked)
    }

    @Test(arguments: [
        (0, true, true, true, true),
        (1, true, true, false, false),
        (2, false, false, true, true),
        (3, true, false, false, false),
    ])
    func exemptionLevels(level: Int, multicastIn: Bool, multicastOut: Bool, rsvp: Bool, kerberos: Bool) {
        let broadcast: Set<UInt32> = [IPv4Address(198, 18, 0, 255).value]
        let multicast = PacketKey(source: DecisionFixture.peer, destination: IPv4Address(224, 0, 0, 5), ipProtocol: 17)
        let directed = PacketKey(
            source: DecisionFixture.peer,
            destination: IPv4Address(198, 18, 0, 255),
            ipProtocol: 17
        )
        let rsvpKey = PacketKey(source: DecisionFixture.peer, destination: DecisionFixture.me, ipProtocol: 46)
        let kdc = DecisionFixture.tcp(DecisionFixture.peer, 88, DecisionFixture.me, 5000)
        func exempt(_ key: PacketKey, _ direction: TrafficDirection) -> DecisionReason? {
            DefaultExemptions.exemption(key, direction: direction, level: level, broadcastAddresses: broadcast)
        }
        #expect((exempt(multicast, .inbound) == .exemptMulticast) == multicastIn)
        #expect((exempt(directed, .inbound) == .exemptBroadcast) == multicastIn)
        #expect((exempt(multicast.reversed, .outbound) != nil) == false)
        #expect(
            (exempt(
                PacketKey(source: DecisionFixture.me, destination: IPv4Address(239, 1, 1, 1), ipProtocol: 17),
                .outbound
            )
                == .exemptMulticast) == multicastOut
        )
        #expect((exempt(rsvpKey, .inbound) == .exemptRSVP) == rsvp)
        #expect((exempt(kdc, .inbound) == .exemptKerberos) == kerberos)
    }

    @Test func modesOverrideFilters() {
        #expect(
            context(DecisionFixture.action(.permit), mode: .block).decide(key, direction: .inbound, mark: 0).reason
                == .modeBlock
        )
        #expect(
            context(DecisionFixture.action(.block), mode: .permit).decide(key, direction: .inbound, mark: 0).reason
                == .modePermit
        )
    }
}
