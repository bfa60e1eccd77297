import Foundation
import Testing

@testable import PolicyModel

/// ``EffectiveFilter`` keeps its context (actions, provenance, …) in a shared box: it must still behave
/// as a plain value, and equality, hashing and coding must be those of its fields.
@Suite struct EffectiveFilterTests {
    private static let provenance = Provenance(kind: .local, source: "local", policyName: "P", ruleName: "R")
    private static let permit = FilterAction(id: Fixtures.guid(91), name: "Permit", action: .permit)
    private static let block = FilterAction(id: Fixtures.guid(90), name: "Block", action: .block)

    private static func filter(_ n: Int) -> Filter {
        Filter(id: Fixtures.guid(n), source: .me, destination: Fixtures.host("198.18.0.\(n)"))
    }

    private static func effective(_ n: Int) -> EffectiveFilter {
        EffectiveFilter(
            filter: filter(n),
            inboundAction: permit,
            tunnelEndpoint: IPv4Address("198.18.1.1"),
            provenance: provenance
        )
    }

    @Test func aCopySharesNothingItChanges() {
        let original = Self.effective(1)
        var copy = original
        copy.filter = Self.filter(2)
        copy.outboundAction = Self.block
        copy.provenance.ruleName = "Other"
        copy.tunnelEndpoint = nil
        #expect(original.filter == Self.filter(1))
        #expect(original.outboundAction == Self.permit)
        #expect(original.provenance.ruleName == "R")
        #expect(original.tunnelEndpoint == IPv4Address("198.18.1.1"))
        #expect(copy.inboundAction == Self.permit)
        #expect(copy.outboundAction == Self.block)
        #expect(copy.provenance.ruleName == "Other")
        #expect(copy.tunnelEndpoint == nil)
    }

    @Test func equalityAndHashAreTheFieldsWhetherOrNotTheContextIsShared() {
        let built = Self.effective(1)
        let shared = Self.effective(7).with(filter: Self.filter(1))
        #expect(built == shared)
        #expect(Set([built, shared]).count == 1)
        var changed = shared
        let mainMode = MainModeSettings(id: Fixtures.guid(5))
        changed.negotiation = NegotiationSettings(authenticationMethods: [], mainMode: mainMode)
        #expect(changed != built)
        #expect(Self.effective(1) != Self.effective(2))
    }

    /// A context made from another by setting its provenance (the driver's table decoder: a group per
    /// rule of one action) shares the other's rule part — actions, tunnel, keying — in one box, not a
    /// copy; changing a rule field then gives the filter a rule part of its own.
    @Test func anotherProvenanceSharesTheRulePart() {
        let original = Self.effective(1)
        var other = original.with(filter: Self.filter(2))
        other.provenance.ruleName = "R2"
        #expect(other.contextIdentity != original.contextIdentity)
        #expect(other.shared.context.rule === original.shared.context.rule)
        var changed = other
        changed.outboundAction = Self.block
        #expect(changed.shared.context.rule !== original.shared.context.rule)
        #expect(original.outboundAction == Self.permit && other.outboundAction == Self.permit)
        // Equal values in rule parts of their own are equal, with equal hashes.
        var rebuilt = Self.effective(2)
        rebuilt.provenance.ruleName = "R2"
        #expect(rebuilt.shared.context.rule !== other.shared.context.rule)
        #expect(rebuilt == other)
        #expect(rebuilt.hashValue == other.hashValue)
    }

    @Test func codingKeepsTheFieldsAndTheirNames() throws {
        let value = Self.effective(3)
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(EffectiveFilter.self, from: data) == value)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys)
                == ["filter", "inboundAction", "outboundAction", "interfaceType", "tunnelEndpoint", "provenance"]
        )
    }
}
