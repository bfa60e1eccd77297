import Foundation
import IPsecSystem
import IPsecTestKit
import PolicyModel
import Providers
import Testing

@Suite struct StoreFileTests {
    @Test func missingStoreLoadsEmpty() {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = StoreFile(path: dir.state.localStore, codec: JSONStoreCodec())
        #expect(file.load() == .missing)
        #expect(file.load().store == PolicyStore())
    }

    @Test func saveThenLoadRoundTrips() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = StoreFile(path: dir.state.localStore, codec: JSONStoreCodec())
        let store = Fixtures.simple("Local", space: 1)
        try file.save(store)
        #expect(file.load().store == store)
        #expect(file.load().fingerprint != 0)
    }

    /// A writer killed mid-write leaves `<path>.tmp-<pid>-<random>`; loading or writing the store removes
    /// those of processes that no longer exist, and nothing else.
    @Test func staleTemporariesOfDeadWritersAreRemoved() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.state.localStore
        let name = URL(fileURLWithPath: store).lastPathComponent
        // PIDs above the kernel's largest pid_max (2^22) never exist.
        let dead: [Int32] = [4_194_305, Int32.max]
        let stale = dead.map { "\(name).tmp-\($0)-\(UInt64.random(in: 0...UInt64.max))" }
        let kept = [
            "\(name).tmp-\(getpid())-12345",  // a write of this process in progress
            "\(name).tmp-1-12345",  // a live process (init)
            "\(name).tmp-\(dead[0])-notanumber",  // not the pattern
            "\(name).tmp-\(dead[0])",  // not the pattern
            "\(name).tmp-\(dead[0])-1-2",  // not the pattern
            "other.xml.tmp-\(dead[0])-12345",  // another store's
            "x\(name).tmp-\(dead[0])-12345",  // another file's
        ]
        func present() -> Set<String> {
            Set((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.contains(".tmp") }
        }
        func plant() { for file in stale + kept { dir.write(file, "partial") } }

        plant()
        let file = StoreFile(path: store, codec: JSONStoreCodec())
        #expect(file.load() == .missing)
        #expect(present() == Set(kept))

        plant()
        try file.save(Fixtures.simple("Local", space: 1))
        #expect(present() == Set(kept))

        plant()
        try DurableFile.write(Array("x".utf8), to: dir.path + "/other-file")
        #expect(present() == Set(kept + stale), "only the temporaries of the file written")
    }

    @Test func brokenStoreIsReportedWithFileAndLineAndNeverOverwritten() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        dir.write("local.xml", "{ not json")
        let file = StoreFile(path: dir.state.localStore, codec: JSONStoreCodec())
        guard case .broken(let error) = file.load() else {
            Issue.record("a broken store loaded")
            return
        }
        #expect(error.description.hasPrefix(dir.state.localStore + ":1:"))
        #expect(throws: StoreFile.StoreError.self) { try file.save(Fixtures.simple("New", space: 2)) }
        #expect(try String(contentsOfFile: dir.state.localStore, encoding: .utf8) == "{ not json")
        // An explicit reset moves it aside; then writes work again.
        let aside = try #require(try file.reset())
        #expect(FileManager.default.fileExists(atPath: aside))
        try file.save(Fixtures.simple("New", space: 2))
        #expect(file.load().store?.assignedPolicy?.name == "New")
    }

    @Test func importAddsReplacesAndAssigns() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let codec = JSONStoreCodec()
        var first = Fixtures.simple("First", space: 1)
        first.assignedPolicyID = nil
        try StoreOperations.importPolicies(first, into: .local, assign: nil, state: dir.state, codec: codec)
        var second = Fixtures.simple("Second", space: 2)
        second.assignedPolicyID = nil
        let written = try StoreOperations.importPolicies(
            second,
            into: .local,
            assign: "second",
            state: dir.state,
            codec: codec
        )
        #expect(written.policies.map(\.name) == ["First", "Second"])
        #expect(written.assignedPolicy?.name == "Second")
        // Re-importing a policy with the same GUID replaces it.
        var renamed = first
        renamed.policies[0].name = "First v2"
        let again = try StoreOperations.importPolicies(
            renamed,
            into: .local,
            assign: nil,
            state: dir.state,
            codec: codec
        )
        #expect(again.policies.map(\.name) == ["First v2", "Second"])
        #expect(again.assignedPolicy?.name == "Second")
        #expect(throws: StoreOperations.OperationError.self) {
            try StoreOperations.importPolicies(first, into: .local, assign: "nope", state: dir.state, codec: codec)
        }
        #expect(try StoreOperations.export(.local, state: dir.state, codec: codec) == again)
    }

    @Test func extractingKeepsOnlyWhatThePolicyUses() {
        var store = Fixtures.simple("A", space: 1)
        let other = Fixtures.simple("B", space: 2)
        store.merge(other)
        let extracted = StoreEditing.extracting(Fixtures.guid(1, space: 2), from: store)
        #expect(extracted?.policies.map(\.name) == ["B"])
        #expect(extracted?.filterLists == other.filterLists)
        #expect(extracted?.assignedPolicyID == Fixtures.guid(1, space: 2))
    }
}
