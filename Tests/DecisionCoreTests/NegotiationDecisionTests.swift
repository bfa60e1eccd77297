import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

/// The negotiate action with IKE keying: soft falls back to clear only for a peer keying made a soft
/// peer (in both directions), clear packets to a peer under negotiation are "negotiating".
@Suite struct NegotiationDecisionTests {
    let key = DecisionFixture.tcp(DecisionFixture.peer, 40000, DecisionFixture.me, 22)

    /// Keying's answers as a test sets them.
    struct Keyed: SecurityAssociations {
        var soft: Set<UInt32> = []
        var negotiating: Set<UInt32> = []

        func isProtected(_ key: PacketKey, direction: TrafficDirection, mark: UInt32) -> Bool { false }

        func hasSoftAssociation(_ key: PacketKey, direction: TrafficDirection) -> Bool {
            soft.contains(direction == .inbound ? key.source : key.destination)
        }

        func isNegotiating(_ key: PacketKey, direction: TrafficDirection) -> Bool {
            negotiating.contains(direction == .inbound ? key.source : key.destination)
        }
    }

    func context(_ action: FilterAction, _ sa: Keyed) -> DecisionContext {
        DecisionContext(
            table: DecisionFixture.table([
                DecisionFixture.effective(DecisionFixture.filter(1, .host(DecisionFixture.peer), .me), action)
            ]),
            securityAssociations: sa
        )
    }

    @Test func softWaitsForKeyingToDeclareTheSoftPeer() {
        let soft = DecisionFixture.action(.negotiate, soft: true)
        let before = context(soft, Keyed())
        #expect(before.decide(key.reversed, direction: .outbound, mark: 0).reason == .negotiationRequired)
        let after = context(soft, Keyed(soft: [DecisionFixture.peer.value]))
        #expect(after.decide(key.reversed, direction: .outbound, mark: 0).reason == .clearFallback)
        // The soft association covers the peer's clear replies too.
        #expect(after.decide(key, direction: .inbound, mark: 0).reason == .clearFallback)
    }

    @Test func aSoftPeerDoesNotOpenARequireRule() {
        let require = context(DecisionFixture.action(.negotiate), Keyed(soft: [DecisionFixture.peer.value]))
        #expect(require.decide(key.reversed, direction: .outbound, mark: 0).reason == .negotiationRequired)
        #expect(require.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
    }

    @Test func clearOutboundWhileNegotiatingIsCountedApart() {
        let c = context(DecisionFixture.action(.negotiate), Keyed(negotiating: [DecisionFixture.peer.value]))
        let decision = c.decide(key.reversed, direction: .outbound, mark: 0)
        #expect(decision.reason == .negotiating)
        #expect(!decision.accepts)
        #expect(decision.reason.action == .negotiate)
        // Inbound clear stays "negotiation required".
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
    }

    @Test func inpassStillAcceptsClearInboundWhileNegotiating() {
        let c = context(
            DecisionFixture.action(.negotiate, inpass: true),
            Keyed(negotiating: [DecisionFixture.peer.value])
        )
        #expect(c.decide(key, direction: .inbound, mark: 0).reason == .clearInboundPassThrough)
    }

    @Test func withoutKeyingSoftIsClearOutboundAtOnce() {
        // The protocol's defaults: `ike = none` keeps the behaviour from before keying.
        let c = context(DecisionFixture.action(.negotiate, soft: true), Keyed())
        let legacy = DecisionContext(
            table: c.table,
            securityAssociations: AssumedSecurityAssociations(protected: false)
        )
        #expect(legacy.decide(key.reversed, direction: .outbound, mark: 0).reason == .clearFallback)
        #expect(legacy.decide(key, direction: .inbound, mark: 0).reason == .negotiationRequired)
    }
}
