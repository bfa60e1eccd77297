import PolicyModel
import Providers
import Testing

@Suite struct MergerTests {
    @Test func everyFilterCarriesItsProvenance() throws {
        let store = Fixtures.store(
            "Servers",
            space: 3,
            rules: [
                .init(
                    name: "Block telnet",
                    source: .any,
                    destination: .me,
                    action: .block,
                    ipProtocol: 6,
                    destinationPort: 23
                ),
                .init(name: "Permit lab", source: .me, destination: Fixtures.host(9, net: 3), action: .permit),
            ]
        )
        var policy = try #require(SourcePolicy.assigned(in: store, location: "/snap.ldif"))
        policy.gpo = "IPsec GPO"
        policy.linkedThrough = "OU=Servers,DC=example,DC=test"
        let merged = PolicyMerger.merge(
            [Contribution(kind: .directory, sourceName: "directory", policy: policy)],
            generation: 7
        )
        #expect(merged.generation == 7)
        #expect(merged.filters.count == 2)
        let first = merged.filters[0].provenance
        #expect(first.kind == .directory)
        #expect(first.policyName == "Servers")
        #expect(first.policyID == Fixtures.guid(1, space: 3))
        #expect(first.ruleName == "Block telnet")
        #expect(first.filterListName == "Block telnet list")
        #expect(first.filterActionName == "Block telnet action")
        #expect(first.gpo == "IPsec GPO")
        #expect(first.linkedThrough == "OU=Servers,DC=example,DC=test")
        #expect(first.store == "/snap.ldif")
        #expect(merged.filters[1].inboundAction.action == .permit)
    }

    @Test func inactiveRulesAndTheDefaultResponseRuleAddNothing() throws {
        var store = Fixtures.simple("P", space: 4)
        store.policies[0].rules[0].isActive = false
        let policy = try #require(SourcePolicy.assigned(in: store, location: nil))
        #expect(
            PolicyMerger.effectiveFilters(of: Contribution(kind: .local, sourceName: "local", policy: policy)).isEmpty
        )
    }
}
