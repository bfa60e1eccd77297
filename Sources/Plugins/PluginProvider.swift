public import PolicyModel
public import Providers

/// A supervised plugin as a ``PolicyProvider``: it takes part in the merge, in provenance
/// (`plugin:<name>` in `policy show --effective` and `explain`) and in `status` like a built-in source.
///
/// Its report follows the supervisor: the assigned policy of the last valid document while the plugin
/// runs; `failed` with the reason while it is failed (so a broken plugin contributes nothing and the
/// other sources apply unchanged); `unavailable` while it starts.
public final class PluginProvider: PolicyProvider {
    public let name: String
    public let kind = SourceKind.plugin
    /// The configuration's rank, else the plugin's default rank, else the plugin kind's default.
    public let rank: Int
    /// Additive, or directory-like (competes by rank with the directory, cache and local policies).
    /// `nil` when the plugin never loaded.
    public let pluginKind: PluginKind?
    public let supervisor: PluginSupervisor
    /// A directory-like plugin takes part in choosing the one directory, cache or local policy by rank.
    public var isDirectoryLike: Bool { pluginKind == .directoryLike }

    /// Wraps a supervisor whose plugin was loaded (or failed to load): ``rank`` is fixed from its state.
    public init(supervisor: PluginSupervisor, state: PluginSourceState) {
        self.supervisor = supervisor
        self.name = supervisor.configuration.sourceName
        self.rank = supervisor.configuration.rank ?? state.info?.defaultRank ?? SourceKind.plugin.defaultRank
        self.pluginKind = state.info?.kind
    }

    public func currentPolicy() async -> ProviderReport {
        Self.report(for: await supervisor.state, location: supervisor.configuration.path)
    }

    /// Fetches now; a failed plugin waiting for its restart is restarted now.
    public func refresh() async {
        await supervisor.refresh()
    }

    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let supervisor = supervisor
        let forwarder = Task {
            for await _ in await supervisor.updates() {
                continuation.yield()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in forwarder.cancel() }
        return stream
    }

    /// The report for a supervisor state.
    public static func report(for state: PluginSourceState, location: String) -> ProviderReport {
        switch state.health {
        case .running:
            guard let store = state.store else { return .failed(reason: "no valid document") }
            guard let policy = SourcePolicy.assigned(in: store, location: location) else {
                return .notConfigured(reason: "the plugin's document assigns no policy")
            }
            return .policy(policy)
        case .failed(let reason):
            return .failed(reason: reason)
        case .starting:
            return .unavailable(reason: "starting")
        case .stopped:
            return .notConfigured(reason: "stopped")
        }
    }
}

extension PluginManager {
    /// Starts every enabled plugin and registers each with `engine` as soon as its host has loaded it
    /// (or failed to): the plugin's default rank is only known then. Returns at once; the service's
    /// start is never held up by a plugin.
    /// - Returns: the supervisors started.
    @discardableResult
    public func register(with engine: SourcesPolicyEngine) async -> [PluginSupervisor] {
        let supervisors = start(loaded: await Self.loadOffPool(configurationDirectory, pluginDirectory))
        // A file that could not be used still shows in `status`, as a failed source with its reason.
        for error in configurationProblems {
            try? await engine.register(UnusablePluginConfiguration(error))
        }
        for supervisor in supervisors {
            Task {
                let state = await Self.firstLoadedState(of: supervisor)
                try? await engine.register(PluginProvider(supervisor: supervisor, state: state))
            }
        }
        return supervisors
    }

    /// The first state that says whether the plugin loaded: with its table, failed, or stopped.
    static func firstLoadedState(of supervisor: PluginSupervisor) async -> PluginSourceState {
        var last = await supervisor.state
        for await state in await supervisor.updates() {
            last = state
            switch state.health {
            case .failed, .stopped, .running: return state
            case .starting where state.info != nil: return state
            case .starting: continue
            }
        }
        return last
    }
}

/// A plugins.d file with an error, as a source that is always failed with the file's problem as reason.
struct UnusablePluginConfiguration: PolicyProvider {
    let name: String
    let kind = SourceKind.plugin
    let reason: String

    init(_ error: PluginConfigurationError) {
        name = "plugin:" + PluginManager.baseName(error.file)
        reason = error.description
    }

    func currentPolicy() async -> ProviderReport { .failed(reason: reason) }

    func changes() -> AsyncStream<Void> { AsyncStream { $0.finish() } }
}
