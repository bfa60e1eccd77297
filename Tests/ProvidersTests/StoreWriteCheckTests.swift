import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers
import Testing

/// No store write can leave a store that does not load: imports (the CLI's offline path and the control
/// socket's `policy.import` both run `StoreOperations.importPolicies`) and the directory cache are
/// refused as a whole, naming every conflict, and the store on disk stays byte for byte as it was.
@Suite struct StoreWriteCheckTests {
    /// A state directory whose local store holds `Base` (assigned), in the native format.
    struct Setup {
        let dir = TemporaryDirectory()
        let base = Fixtures.simple("Base", space: 1)
        var path: String { dir.state.localStore }

        init() throws {
            try StoreOperations.importPolicies(base, into: .local, assign: "Base", state: dir.state)
        }

        func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

        func load() -> PolicyStore? {
            if case .loaded(let store, _) = StoreFile(path: path).load() { return store }
            return nil
        }

        func importing(_ store: PolicyStore, assign: String? = nil) throws(StoreOperations.OperationError) {
            try StoreOperations.importPolicies(store, into: .local, assign: assign, state: dir.state)
        }

        /// Imports `store`, expects a refusal that contains every text of `naming`, and an unchanged store.
        func expectRefused(
            _ store: PolicyStore,
            naming: [String],
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let before = try bytes()
            let error = #expect(throws: StoreOperations.OperationError.self, sourceLocation: sourceLocation) {
                try importing(store)
            }
            for text in naming {
                #expect(
                    error?.description.contains(text) == true,
                    "\(error?.description ?? "")",
                    sourceLocation: sourceLocation
                )
            }
            #expect(try bytes() == before, "the store changed", sourceLocation: sourceLocation)
            #expect(load()?.assignedPolicy?.name == "Base", "the store no longer loads", sourceLocation: sourceLocation)
        }
    }

    @Test func sameNameOtherGUIDIsKeptBesideTheFirst() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        // Another policy called "Base", with its own GUIDs and its own "Base rule action".
        var other = Fixtures.simple("Base", space: 2)
        other.assignedPolicyID = nil
        try setup.importing(other)
        let stored = try #require(setup.load())
        #expect(stored.policies.map(\.name) == ["Base", "Base"])
        #expect(stored.filterActions.filter { $0.name == "Base rule action" }.count == 2)
        #expect(stored.assignedPolicyID == setup.base.assignedPolicyID, "the policy in force is untouched")
        // The name no longer picks one policy: --assign wants the GUID, and takes it.
        let ambiguous = #expect(throws: StoreOperations.OperationError.self) {
            try setup.importing(PolicyStore(), assign: "base")
        }
        #expect(ambiguous?.description.contains("2 policies are named \"base\"") == true)
        #expect(ambiguous?.description.contains(other.policies[0].id.braced) == true)
        try setup.importing(PolicyStore(), assign: other.policies[0].id.braced)
        #expect(setup.load()?.assignedPolicyID == other.policies[0].id)
    }

    @Test func sameGUIDSameKindReplacesTheObject() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        var changed = setup.base
        changed.policies[0].description = "changed"
        changed.filterActions[0].action = .permit
        try setup.importing(changed)
        let stored = try #require(setup.load())
        #expect(stored.policies.count == 1 && stored.policies[0].description == "changed")
        #expect(stored.filterActions[0].action == .permit)
    }

    @Test func sameGUIDOtherKindIsRefusedNamingBothObjects() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        var clash = Fixtures.simple("Other", space: 3)
        clash.assignedPolicyID = nil
        // The imported filter list takes the GUID of the stored policy.
        let policyID = setup.base.policies[0].id
        clash.filterLists[0].id = policyID
        clash.policies[0].rules[0].filterListIDs = [policyID]
        try setup.expectRefused(
            clash,
            naming: [
                "local.xml was not changed", "filter list \"Other rule list\"", policyID.braced, "policy \"Base\"",
            ]
        )
    }

    @Test func aRuleOrMainModeClaimedByTwoPoliciesIsRefused() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        var clash = Fixtures.simple("Other", space: 4)
        clash.assignedPolicyID = nil
        clash.policies[0].rules[0].id = setup.base.policies[0].rules[0].id
        clash.policies[0].mainMode.id = setup.base.policies[0].mainMode.id
        try setup.expectRefused(
            clash,
            naming: [
                "rule \(setup.base.policies[0].rules[0].id) is also in policy \"Base\"",
                "main-mode settings \(setup.base.policies[0].mainMode.id) are also used by policy \"Base\"",
            ]
        )
    }

    @Test func anInvalidObjectInTheMiddleRefusesTheWholeImport() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        var imported = Fixtures.store(
            "Three",
            space: 5,
            rules: [
                .init(name: "first", source: .me, destination: Fixtures.host(1, net: 5), action: .block),
                .init(name: "middle", source: .me, destination: Fixtures.host(2, net: 5), action: .block),
                .init(name: "last", source: .me, destination: Fixtures.host(3, net: 5), action: .block),
            ],
            assigned: false
        )
        // A port on ICMP: the middle filter list is invalid, the others are fine.
        imported.filterLists[1].filters[0].ipProtocol = IPProtocol.icmp
        imported.filterLists[1].filters[0].destinationPort = 23
        try setup.expectRefused(imported, naming: ["filter list \"middle list\" › filter 1 › destinationPort"])
        #expect(setup.load()?.filterLists.contains { $0.name == "first list" } == false)
    }

    /// What `policy.import` over the control socket sends when a client skips the CLI's checks.
    @Test func aDanglingReferenceIsRefused() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        var dangling = Fixtures.simple("Dangling", space: 6)
        dangling.assignedPolicyID = nil
        let missing = dangling.filterLists.removeFirst().id
        try setup.expectRefused(dangling, naming: ["rule \"Dangling rule\" › filter list", missing.description])
    }

    @Test func aTenMillionCharacterNameIsRefusedWithAShortMessage() throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        var huge = Fixtures.simple("Huge", space: 7)
        huge.assignedPolicyID = nil
        huge.policies[0].name = String(repeating: "n", count: 10_000_000)
        let before = try setup.bytes()
        let error = #expect(throws: StoreOperations.OperationError.self) { try setup.importing(huge) }
        #expect(error?.description.contains("10000000 characters is longer than the limit of 1024") == true)
        #expect((error?.description.count ?? .max) < 1_000)
        #expect(try setup.bytes() == before)
    }

    @Test func thePersistentStoreIsCheckedToo() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var dangling = Fixtures.simple("Dangling", space: 8)
        dangling.policies[0].rules[0].filterActionID = Fixtures.guid(77, space: 8)
        #expect(throws: StoreOperations.OperationError.self) {
            try StoreOperations.importPolicies(dangling, into: .persistent, assign: nil, state: dir.state)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.state.persistentStore))
    }

    /// Every store write, whoever makes it, passes the check: here a store that the model's checks
    /// accept but the store reader refuses (a codec stands in for a reader rule the model missed).
    @Test func theReaderItselfHasTheLastWord() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = StoreFile(path: dir.state.localStore, codec: RefusingCodec())
        let error = #expect(throws: StoreFile.StoreError.self) { try file.save(Fixtures.simple("Any", space: 9)) }
        #expect(error?.description.contains("the store reader refuses the new store: x.xml:1: no") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.state.localStore))
    }

    @Test func theDirectoryCacheKeepsItsLastGoodCopy() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let cache = DirectoryCache(state: dir.state)
        let good = Fixtures.simple("Directory", space: 10)
        var provenance = SourcePolicy.assigned(in: good, location: "snapshot")!
        provenance.gpo = "Good GPO"
        try cache.save(provenance)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.state.directoryCache))
        let infoBefore = try Data(contentsOf: URL(fileURLWithPath: dir.state.directoryCacheInfo))
        var bad = good
        bad.filterLists[0].name = String(repeating: "l", count: 2_000)
        var badProvenance = SourcePolicy.assigned(in: bad, location: "other snapshot")!
        badProvenance.gpo = "Bad GPO"
        let error = #expect(throws: StoreFile.StoreError.self) { try cache.save(badProvenance) }
        #expect(error?.description.contains("2000 characters is longer than the limit of 1024") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.state.directoryCache)) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.state.directoryCacheInfo)) == infoBefore)
        guard case .policy(let cached) = cache.load() else {
            Issue.record("the cache no longer loads")
            return
        }
        #expect(cached.policyName == "Directory" && cached.gpo == "Good GPO")
    }
}

/// Encodes like the store format but whose reader refuses everything.
private struct RefusingCodec: PolicyStoreCodec {
    func decode(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore {
        throw PolicyFormatError(file: "x.xml", line: 1, message: "no")
    }

    func encode(_ store: PolicyStore) -> [UInt8] { NativePolicyXML.write(store) }
}
