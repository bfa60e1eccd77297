import DecisionCore
import IPsecTestKit
import PolicyModel
import Testing

@testable import Driver

@Suite struct KeyingRequestLimiterTests {
    let table = DecisionFixture.table(
        [
            DecisionFixture.effective(
                DecisionFixture.filter(1, .me, .host(DecisionFixture.peer)),
                DecisionFixture.action(.negotiate)
            )
        ],
        host: DecisionFixture.host
    )
    let key = DecisionFixture.tcp(DecisionFixture.me, 40000, DecisionFixture.peer, 80)

    @Test func oneNegotiationRequestPerPeerAndFilterPerInterval() {
        var limiter = KeyingRequestLimiter(interval: .seconds(60))
        let decision = Decision(reason: .negotiationRequired, filter: 0)
        let first = limiter.request(for: decision, key: key, direction: .outbound, table: table)
        guard case .negotiate(let request) = first else {
            Issue.record("no request: \(String(describing: first))")
            return
        }
        #expect(request.peer == DecisionFixture.peer)
        #expect(request.local == DecisionFixture.me)
        #expect(request.filterIndex == table.filters[0].policyIndex)
        #expect(request.generation == table.generation)
        #expect(limiter.request(for: decision, key: key, direction: .outbound, table: table) == nil)
    }

    @Test func inboundAndOtherVerdictsAskNothing() {
        var limiter = KeyingRequestLimiter()
        #expect(
            limiter.request(
                for: Decision(reason: .negotiationRequired, filter: 0),
                key: key.reversed,
                direction: .inbound,
                table: table
            ) == nil
        )
        for reason in [DecisionReason.protected, .negotiating, .permitted, .blocked] {
            #expect(
                limiter.request(for: Decision(reason: reason, filter: 0), key: key, direction: .outbound, table: table)
                    == nil
            )
        }
    }

    @Test func softUseIsReportedForThePeerOfEitherDirection() {
        var limiter = KeyingRequestLimiter(interval: .zero)
        let decision = Decision(reason: .clearFallback, filter: 0)
        #expect(
            limiter.request(for: decision, key: key, direction: .outbound, table: table)
                == .softAssociationUsed(DecisionFixture.peer)
        )
        #expect(
            limiter.request(for: decision, key: key.reversed, direction: .inbound, table: table)
                == .softAssociationUsed(DecisionFixture.peer)
        )
    }
}
