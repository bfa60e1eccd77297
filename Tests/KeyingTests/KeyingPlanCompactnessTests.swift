import Keying
import PolicyModel
import Testing

/// The plan of a large policy holds entries for its negotiate filters only, and what a rule's filters
/// share once (Benchmarks/README.md §4: keying's plan was most of the agent's peak at 100,000 filters).
@Suite struct KeyingPlanCompactnessTests {
    typealias F = PlannerFixture

    /// `count` filters of one rule (one shared context, as the merger builds a list's filters), each to
    /// its own port.
    static func rule(
        _ count: Int,
        action: FilterAction = F.action(),
        auth: [AuthenticationMethod] = [.preSharedKey("secret")],
        destination: FilterAddress = .host(F.peer),
        rule: Int = 1
    ) -> [EffectiveFilter] {
        let template = F.filter(.me, destination, action: action, auth: auth, proto: 6, rule: rule)
        return (0..<count).map { n in
            var filter = template.filter
            filter.id = F.guid(0x10_0000 + rule << 16 + n)
            filter.destinationPort = UInt16(1 + n)
            return template.with(filter: filter)
        }
    }

    @Test func onlyNegotiateFiltersHaveEntries() throws {
        var filters: [EffectiveFilter] = []
        for n in 0..<5_000 {
            let kind: FilterActionKind = n % 2 == 0 ? .permit : .block
            filters.append(F.filter(.me, .any, action: F.action(kind: kind), proto: 17, dport: UInt16(1 + n), rule: 3))
        }
        let negotiate = Self.rule(10)
        filters.insert(contentsOf: negotiate, at: 2_500)
        let configuration = F.plan(filters)
        #expect(configuration.targets.count == 10)
        #expect(configuration.unnegotiable.isEmpty)
        #expect(configuration.connections.count == 1)
        #expect(configuration.connections.values.first?.children.count == 10)
        #expect(configuration.targets[2_499] == nil)
        #expect(configuration.targets[2_500] != nil)
        #expect(configuration.targets[2_509] != nil)
        #expect(configuration.targets[2_510] == nil)
        #expect(configuration.targets[-1] == nil)
    }

    @Test func aRulesNotesAreWrittenOnceHoweverManyFiltersItHas() {
        let bundle = F.action(offers: [
            SecurityOffer(transforms: [.ah(.sha1), .esp(encryption: .tripleDES, integrity: nil)]),
            SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
        ])
        let configuration = F.plan(Self.rule(2_000, action: bundle, auth: [.preSharedKey("k"), .kerberos]))
        #expect(configuration.targets.count == 2_000)
        // Kerberos skipped, the bundle left out: one line each, not one per filter.
        #expect(configuration.notes.count == 2)
        #expect(Set(configuration.notes).count == configuration.notes.count)
    }

    @Test func aRefusalIsStoredOnceForAllTheFiltersOfItsRule() throws {
        let configuration = F.plan(Self.rule(1_000, auth: [.kerberos]) + Self.rule(3, rule: 2))
        #expect(configuration.unnegotiable.count == 1_000)
        #expect(configuration.unnegotiable.refusals.count == 1)
        #expect(configuration.unnegotiable[999]?.rule.ruleName == "rule 1")
        #expect(configuration.unnegotiable[1_000] == nil)
        #expect(configuration.targets[1_000] != nil)
        #expect(configuration.unnegotiableRules.count == 1)
    }

    @Test func theChildrenOfARuleShareItsProposals() throws {
        let configuration = F.plan(Self.rule(100))
        let connection = try #require(configuration.connections.values.first)
        let first = try #require(connection.children.first)
        #expect(connection.children.allSatisfy { $0.security == first.security })
        #expect(first.security.espProposals == ["3des-sha1"])
        // Written out only when loaded: the section has every child, in the filters' order.
        let children = try #require(connection.definition.section("children"))
        #expect(children.names == connection.children.map(\.name))
        #expect(children.sections.last?.message.strings("remote_ts") == ["198.18.9.2/32[tcp/100]"])
    }

    @Test func aFilterToEverySpecialServerAddressHasOneConnectionPerPeer() throws {
        let dns = [IPv4Address("198.18.9.53")!, IPv4Address("198.18.9.54")!]
        let configuration = KeyingPlanner.plan(
            EffectivePolicy(
                generation: 1,
                filters: [F.filter(action: F.action(kind: .permit)), F.filter(.me, .server(.dns))]
            ),
            host: KeyingHost(addresses: [F.me], servers: [.dns: dns]),
            datapath: .kernel
        )
        let target = try #require(configuration.targets[1])
        #expect(Set(target.connections.keys) == Set(dns))
        for (peer, name) in target.connections {
            #expect(configuration.connections[name]?.peer == .host(peer))
        }
        #expect(target.rangeTemplate == nil)
    }
}
