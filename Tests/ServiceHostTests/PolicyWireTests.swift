import DecisionCore
import Foundation
import IPsecTestKit
import PolicyModel
import Testing

@testable import ServiceHost

/// The table's wire form (``PolicyWire``): what the agent hands the driver and the driver saves.
/// Refusals of bad tables: `PolicyWireRejectionTests`.
@Suite struct PolicyWireTests {
    /// Every kind of address, descriptions, dynamic rules with two actions, several contexts.
    static var varied: EffectivePolicy {
        let addresses: [FilterAddress] = [
            .me, .any, .host(IPv4Address(198, 18, 1, 1)),
            .subnet(IPv4Address(198, 18, 2, 0), mask: .mask(prefixLength: 24)),
            .dnsName("server.example.com", address: IPv4Address(198, 18, 3, 3)), .server(.dns), .server(.wins),
            .server(.dhcp), .server(.gateway),
        ]
        var filters: [EffectiveFilter] = []
        for (index, source) in addresses.enumerated() {
            var filter = DecisionFixture.filter(
                index + 1,
                source,
                addresses[(index + 3) % addresses.count],
                proto: 6,
                dport: UInt16(index)
            )
            filter.description = index % 2 == 0 ? "" : "filter \(index) — ünïcode"
            filter.mirrored = index % 3 != 0
            var effective = DecisionFixture.effective(
                filter,
                DecisionFixture.action(index % 2 == 0 ? .block : .permit),
                outbound: index == 4 ? DecisionFixture.action(.negotiate, inpass: true) : nil
            )
            effective.interfaceType = index % 3 == 0 ? .lan : .all
            effective.tunnelEndpoint = index == 5 ? IPv4Address(198, 18, 9, 9) : nil
            effective.provenance.ruleName = "rule \(index / 3)"
            filters.append(effective)
        }
        return EffectivePolicy(generation: 42, filters: filters)
    }

    /// A rule per filter (as many provenances as filters), every provenance field set.
    static var ownRules: EffectivePolicy {
        var policy = varied
        for index in policy.filters.indices {
            policy.filters[index].provenance = Provenance(
                kind: SourceKind.allCases[index % SourceKind.allCases.count],
                source: "directory",
                store: index % 2 == 0 ? nil : "/var/lib/ipsecsvc/store \(index)",
                policyName: "Policy",
                policyID: index % 3 == 0 ? nil : DecisionFixture.guid(100 + index),
                ruleName: "rule \(index)",
                ruleID: DecisionFixture.guid(200 + index),
                filterListName: "list — \(index)",
                filterListID: index % 2 == 0 ? DecisionFixture.guid(300 + index) : nil,
                filterActionName: "action",
                gpo: index % 2 == 0 ? "Default Domain Policy" : nil,
                linkedThrough: index % 4 == 1 ? "OU=Servers,DC=example,DC=com" : nil
            )
        }
        return policy
    }

    /// `policy` as the merger builds one: filters of equal context share one context box.
    static func sharingBoxes(_ policy: EffectivePolicy) -> EffectivePolicy {
        var policy = policy
        var templates: [EffectiveFilter: EffectiveFilter] = [:]
        for index in policy.filters.indices {
            let filter = policy.filters[index].filter
            let context = policy.filters[index].with(filter: PolicyWire.placeholder)
            if let known = templates[context] {
                policy.filters[index] = known.with(filter: filter)
            } else {
                templates[context] = policy.filters[index]
            }
        }
        return policy
    }

    /// 600 filters of six rules and three actions, each filter with a context box of its own.
    static let synthetic = SyntheticPolicy.make(count: 600, seed: 5)

    /// CPU-heavy in a debug build: off the cooperative pool.
    @Test func roundTripsEveryField() async throws {
        let mismatches = try await offThePool {
            try [
                Self.varied, Self.ownRules, Self.sharingBoxes(Self.synthetic), .empty,
                SyntheticPolicy.make(count: 5000, seed: 7, generation: 9), DiversePolicy.make(count: 2000, seed: 3),
            ]
            .filter { policy in try PolicyWire.decode(PolicyWire.encode(policy)) != policy }
            .map(\.filters.count)
        }
        #expect(mismatches.isEmpty, "policies of \(mismatches) filters did not round-trip")
    }

    /// Provenances are written field by field (``WireWriter/provenance(_:)``): a field added to
    /// ``Provenance`` must be added there too, or it would be lost on the way to the driver.
    @Test func provenanceRecordsEveryField() {
        let fields = Mirror(reflecting: Self.ownRules.filters[1].provenance).children.compactMap(\.label)
        #expect(
            fields == [
                "kind", "source", "store", "policyName", "policyID", "ruleName", "ruleID", "filterListName",
                "filterListID", "filterActionName", "gpo", "linkedThrough",
            ],
            "Provenance changed: write and read the new field in PolicyWire (WireTables.record, ProvenanceReader)"
        )
    }

    /// Every filter is a 48-byte record; a filter more of a known group and known texts adds exactly one
    /// record.
    @Test func filtersAreFixedSizeRecords() throws {
        let policy = Self.sharingBoxes(Self.varied)
        var longer = policy
        longer.filters.append(policy.filters[1].with(filter: policy.filters[3].filter))
        let bytes = try PolicyWire.encode(policy)
        #expect(bytes[4] == 4 && bytes[5] == 0)
        #expect(try PolicyWire.encode(longer).count == bytes.count + 48)
        let count = policy.filters.count
        #expect(bytes.suffix(count * 48 + 4).prefix(4).elementsEqual([UInt8(count), 0, 0, 0]))
    }

    /// Version 4: a text is written once however many provenances name it (the store, the policy and
    /// action names of 200 rules), and a rule more adds its fixed 84-byte provenance record, its group,
    /// its filter record and only its new texts.
    @Test func provenanceTextsAreWrittenOnce() throws {
        let store = "/var/lib/ipsecsvc/a-store-path-named-once.xml"
        func rules(_ count: Int) -> EffectivePolicy {
            var policy = EffectivePolicy(generation: 1)
            for index in 0..<count {
                var effective = DecisionFixture.effective(
                    DecisionFixture.filter(index + 1, .any, .me, proto: 6, dport: UInt16(index)),
                    DecisionFixture.action(.block)
                )
                effective.provenance = Provenance(
                    kind: .local,
                    source: "local",
                    store: store,
                    policyName: "Policy of every rule",
                    policyID: DecisionFixture.guid(1),
                    ruleName: "R\(index)",
                    ruleID: DecisionFixture.guid(1000 + index),
                    filterListName: "L\(index)",
                    filterListID: DecisionFixture.guid(5000 + index),
                    filterActionName: "Block every packet"
                )
                policy.filters.append(effective)
            }
            return policy
        }
        let bytes = try PolicyWire.encode(rules(200))
        var occurrences = 0
        for start in 0...(bytes.count - store.utf8.count)
        where bytes[start..<start + store.utf8.count].elementsEqual(store.utf8) {
            occurrences += 1
        }
        #expect(occurrences == 1)
        // Rule 200's two texts ("R200", "L200"): 8 bytes each with their lengths.
        #expect(try PolicyWire.encode(rules(201)).count == bytes.count + 84 + 8 + 48 + 2 * 8)
        #expect(try PolicyWire.decode(bytes) == rules(200))
    }

    /// `policy` in version 3, as a driver saved it before version 4 (the provenances before the string
    /// table, each a record with texts of its own): the version 3 encoder, kept here.
    static func version3(_ policy: EffectivePolicy) throws -> [UInt8] {
        var tables = WireTables(filterCount: policy.filters.count)
        var records = [UInt8](repeating: 0, count: policy.filters.count * 48)
        var provenances: [UInt32: Provenance] = [:]
        records.withUnsafeMutableBytes { out in
            for (position, filter) in policy.filters.enumerated() {
                let group =
                    tables.group(ofIdentity: filter.contextIdentity)
                    ?? tables.group(of: filter, identity: filter.contextIdentity)
                tables.record(filter.filter, group: group, into: out, at: position * 48)
                provenances[tables.groups.values[Int(group)].provenance] = filter.provenance
            }
        }
        var writer = WireWriter(capacity: 4096 + records.count)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(3)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        writer.blob(Array(try encoder.encode(EffectivePolicy(generation: policy.generation))))
        writer.u32(UInt32(tables.contexts.count))
        for context in tables.contexts.values { writer.blob(Array(try encoder.encode(context))) }
        writer.u32(UInt32(tables.provenances.count))
        for number in 0..<tables.provenances.count { writer.provenance(provenances[UInt32(number)]!) }
        writer.u32(UInt32(tables.strings.count))
        for text in tables.strings.values { writer.string(text) }
        writer.u32(UInt32(tables.groups.count))
        for group in tables.groups.values {
            writer.u32(group.context)
            writer.u32(group.provenance)
        }
        writer.u32(UInt32(policy.filters.count))
        writer.bytes(records)
        return writer.buffer
    }

    /// A table of version 3, as the driver before version 4 saved it, still loads: every provenance
    /// field, descriptions and DNS names, shared and unshared groups; and the tables of the fuzz corpus
    /// (`Fuzz/corpus/wire/v3-*`, written by the version 3 encoder) load and round-trip through
    /// version 4.
    @Test func readsVersionThree() throws {
        for policy in [Self.ownRules, Self.varied, Self.sharingBoxes(Self.synthetic)] {
            let bytes = try Self.version3(policy)
            #expect(bytes[4] == 3)
            let decoded = try PolicyWire.decode(bytes)
            #expect(decoded == policy)
            #expect(try PolicyWire.decode(PolicyWire.encode(decoded)) == policy)
        }
        let corpus = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/wire")
        let saved = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0.hasPrefix("v3-") }
        #expect(saved.count == 5)
        for name in saved {
            let bytes = [UInt8](try Data(contentsOf: corpus.appendingPathComponent(name)))
            #expect(bytes[4] == 3, "\(name)")
            let decoded = try PolicyWire.decode(bytes)
            #expect(try PolicyWire.decode(PolicyWire.encode(decoded)) == decoded, "\(name)")
        }
    }

    /// The decoder builds one context per group, shared by the group's filters (each filter then costs
    /// its ``Filter`` and no context of its own), as the merger does.
    @Test func decodedFiltersOfAGroupShareOneContext() throws {
        let decoded = try PolicyWire.decode(PolicyWire.encode(Self.synthetic))
        let identities = Set(decoded.filters.map(\.contextIdentity))
        var contexts = Set<EffectiveFilter>()
        for filter in decoded.filters { contexts.insert(filter.with(filter: PolicyWire.placeholder)) }
        #expect(identities.count == contexts.count)
        #expect(identities.count < 20)
    }

    /// Filters grouped by context box (the merger's) and the same values each with a box of its own
    /// give the same bytes: the box only makes the encoder faster.
    @Test func sharingContextBoxesDoesNotChangeTheBytes() throws {
        let shared = Self.sharingBoxes(Self.synthetic)
        #expect(Set(shared.filters.map(\.contextIdentity)).count < 20)
        #expect(shared == Self.synthetic)
        #expect(try PolicyWire.encode(shared) == PolicyWire.encode(Self.synthetic))
    }

    /// A table of version 1 (the provenance inside each context), as a driver saved it before version 2,
    /// still loads.
    @Test func readsVersionOne() throws {
        let effective = Self.ownRules.filters[3]
        var writer = try Self.olderTable(
            version: 1,
            generation: 5,
            context: effective.with(filter: PolicyWire.placeholder)
        )
        writer.u32(1)
        writer.u32(0)
        writer.filter(effective.filter)
        #expect(try PolicyWire.decode(writer.buffer) == EffectivePolicy(generation: 5, filters: [effective]))
        var future = writer.buffer
        future[4] = 4
        #expect(throws: PolicyWireError.self) { try PolicyWire.decode(future) }
    }

    /// The start of a table of version 1 or 2: the policy without filters and one context.
    static func olderTable(version: UInt16, generation: Int, context: EffectiveFilter) throws -> WireWriter {
        var writer = WireWriter(capacity: 1024)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(version)
        writer.blob(Array(#"{"generation":\#(generation),"filters":[]}"#.utf8))
        writer.u32(1)
        writer.blob(Array(try JSONEncoder().encode(context)))
        return writer
    }

    /// A table of version 2 (variable-size filter records, provenances as records), as a driver saved
    /// it before version 3, still loads.
    @Test func readsVersionTwo() throws {
        let effective = Self.ownRules.filters[5]
        var context = effective.with(filter: PolicyWire.placeholder)
        context.provenance = PolicyWire.placeholderProvenance
        var writer = try Self.olderTable(version: 2, generation: 6, context: context)
        writer.u32(1)
        writer.provenance(effective.provenance)
        writer.u32(2)
        for _ in 0..<2 {
            writer.u32(0)
            writer.u32(0)
            writer.filter(effective.filter)
        }
        let decoded = try PolicyWire.decode(writer.buffer)
        #expect(decoded == EffectivePolicy(generation: 6, filters: [effective, effective]))
        #expect(decoded.filters[0].contextIdentity == decoded.filters[1].contextIdentity)
    }

    @Test func sharedContextsAreWrittenOnce() async throws {
        let count = try await offThePool { try PolicyWire.encode(SyntheticPolicy.make(count: 10_000, seed: 3)).count }
        // 10,000 filters of 100 rules × 3 actions: a few hundred contexts, ~40 bytes per filter.
        #expect(count < 10_000 * 60 + 300 * 1000, "\(count) bytes")
    }
}
