import PolicyModel
public import Providers

extension TemporaryDirectory {
    /// The directory as a state directory (`local.xml`, `persistent.xml`, the directory cache, the lock).
    public var state: StateDirectory { StateDirectory(path: path) }
}

/// The policy sources engine on a temporary state directory: what tests of the agent, the control
/// commands and the plugins drive (there is no stand-in engine; this is the real one on real files).
public enum TestEngine {
    /// An engine on `directory` without a directory source or timers; `configure` changes the rest.
    public static func make(
        in directory: TemporaryDirectory,
        configure: (inout SourcesConfiguration) -> Void = { _ in }
    ) -> SourcesPolicyEngine {
        var configuration = SourcesConfiguration(state: directory.state, runsTimers: false)
        configure(&configuration)
        return SourcesPolicyEngine(configuration: configuration)
    }

    /// Runs `body` while `engine`'s background work runs, as the service's group runs it: provider
    /// changes (plugins registered, loaded or failed) are merged and signalled, and the timers tick when
    /// the engine has them. The background work ends with `body`; the engine then signals no more.
    public static func running<Result: Sendable>(
        _ engine: SourcesPolicyEngine,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await engine.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Windows' example policies in the local store of `directory`, with the one named `assigned`
    /// assigned.
    public static func assignExample(_ assigned: String, in directory: TemporaryDirectory) throws {
        var store = ExamplePolicies.store
        store.assignedPolicyID = store.policies.first { $0.name == assigned }?.id
        precondition(store.assignedPolicyID != nil, "no example policy named \(assigned)")
        try StoreFile(path: directory.state.localStore).save(store)
    }

    /// A persistent store that does not load (the engine's persistent policy then fails).
    public static func breakPersistentStore(in directory: TemporaryDirectory) {
        directory.write("persistent.xml", "<policyStore this is not a store")
    }
}
