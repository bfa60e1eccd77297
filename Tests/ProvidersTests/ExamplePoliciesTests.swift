import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers
import Testing

/// Windows' three example policies in a new local store: compiled from `policies-xml/`, written by the
/// first start (or the first netsh or import on a machine where the service never ran), never again.
@Suite struct ExamplePoliciesTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let files = ["client-respond-only.xml", "server-request-security.xml", "secure-server-require-security.xml"]

    static func shipped() throws -> PolicyStore {
        var store = PolicyStore()
        for name in files {
            let path = packageRoot.appendingPathComponent("policies-xml/" + name).path
            store.merge(try NativePolicyXML.read(Array(try Data(contentsOf: URL(fileURLWithPath: path))), file: path))
        }
        return store
    }

    @Test func theCompiledExamplesAreTheShippedFiles() throws {
        #expect(ExamplePolicies.store == (try Self.shipped()), "run policies-xml/embed-examples.sh")
    }

    @Test func theExamplesAreWindowsOwnAndUnassigned() {
        let store = ExamplePolicies.store
        #expect(store.validate() == [])
        #expect(store.assignedPolicyID == nil)
        #expect(
            store.policies.map { "\($0.name) \($0.id)" } == [
                "Client (Respond Only) {72385236-70fa-11d1-864c-14a300000000}",
                "Server (Request Security) {72385230-70fa-11d1-864c-14a300000000}",
                "Secure Server (Require Security) {7238523c-70fa-11d1-864c-14a300000000}",
            ]
        )
        #expect(
            Set(store.filterLists.map { "\($0.name) \($0.id)" }) == [
                "All IP Traffic {7238523a-70fa-11d1-864c-14a300000000}",
                "All ICMP Traffic {72385235-70fa-11d1-864c-14a300000000}",
            ]
        )
        #expect(
            Set(store.filterActions.filter { $0.type == .standard }.map { "\($0.name) \($0.id)" }) == [
                "Permit {7238523b-70fa-11d1-864c-14a300000000}",
                "Request Security (Optional) {72385233-70fa-11d1-864c-14a300000000}",
                "Require Security {7238523f-70fa-11d1-864c-14a300000000}",
            ]
        )
    }

    @Test func theFirstStartCreatesTheLocalStoreWithTheExamples() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(state: dir.state, runsTimers: false, firstLocalStore: .examples)
        )
        _ = try await engine.startPersistent()
        guard case .loaded(let store, _) = StoreFile(path: dir.state.localStore).load() else {
            Issue.record("no local store after the first start")
            return
        }
        #expect(store == ExamplePolicies.store)
        // Nothing assigned: the local source has no policy to apply.
        let local = await engine.sourceStatuses().first { $0.kind == .local }
        #expect(local?.policyName == nil)
    }

    @Test func withoutExamplesTheFirstStartCreatesAnEmptyStoreThatNetshLeavesAlone() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(state: dir.state, runsTimers: false, firstLocalStore: .empty)
        )
        _ = try await engine.startPersistent()
        #expect(StoreFile(path: dir.state.localStore).load().store == PolicyStore())
        // The choice is recorded: a later netsh or import with the default setting adds nothing.
        try StoreOperations.createLocalStoreWithExamplesIfMissing(state: dir.state)
        #expect(StoreFile(path: dir.state.localStore).load().store == PolicyStore())
    }

    @Test func anExistingLocalStoreIsNeverChanged() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let mine = Fixtures.simple("Mine", space: 1)
        try StoreOperations.importPolicies(mine, into: .local, assign: nil, state: dir.state)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.state.localStore))
        let engine = SourcesPolicyEngine(
            configuration: SourcesConfiguration(state: dir.state, runsTimers: false, firstLocalStore: .examples)
        )
        _ = try await engine.startPersistent()
        try StoreOperations.createLocalStoreWithExamplesIfMissing(state: dir.state)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.state.localStore)) == before)
    }

    /// `policy import` on a machine where the service never ran finds the examples there, as Windows would.
    @Test func aFirstImportAddsToTheExamples() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let written = try StoreOperations.importPolicies(
            Fixtures.simple("Mine", space: 1),
            into: .local,
            assign: "Client (Respond Only)",
            state: dir.state,
            examples: true
        )
        #expect(written.policies.map(\.name) == ExamplePolicies.store.policies.map(\.name) + ["Mine"])
        #expect(written.assignedPolicy?.name == "Client (Respond Only)")
    }
}
