import IPsecSystem
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

    /// The supervisor's own change signal: it ends when the supervisor stops.
    public func changes() -> AsyncStream<Void> { supervisor.changes() }

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
        await serialized { manager in await manager.reconcile(with: engine) }
    }

    /// Reads the directory again and makes the plugins follow it (SIGHUP, `service refresh`): a new or
    /// newly enabled file starts its plugin; a removed or disabled one stops its plugin and unregisters
    /// its source, whose filters leave the effective policy at once; a changed one (rank, options, any
    /// setting) restarts its plugin. A plugin whose file did not change keeps running untouched.
    /// - Returns: the supervisors running afterwards, in file-name order.
    @discardableResult
    public func reload(with engine: SourcesPolicyEngine) async -> [PluginSupervisor] {
        await serialized { manager in await manager.reconcile(with: engine) }
    }

    /// One reconciliation of the running plugins with the directory; runs serialized.
    func reconcile(with engine: SourcesPolicyEngine) async -> [PluginSupervisor] {
        guard !stopped else { return [] }
        // File I/O on a dedicated thread, not the cooperative pool.
        let (configurations, errors) = await Self.loadConfigurations(configurationDirectory, pluginDirectory)
        guard !stopped else { return [] }

        var wanted = configurations.filter(\.enabled)
        var kept: [PluginSupervisor] = []
        var removed: [PluginSupervisor] = []
        for supervisor in running {
            if let index = wanted.firstIndex(of: supervisor.configuration) {
                wanted.remove(at: index)
                kept.append(supervisor)
            } else {
                removed.append(supervisor)
            }
        }

        // Stop first: a changed file's new plugin takes the same source name. Its registration, if still
        // to come, registers nothing: it runs serialized after this reconciliation, which leaves the
        // supervisor out of ``running``. Its child in ``run()`` ends with the stop.
        for supervisor in removed {
            settled[ObjectIdentifier(supervisor)] = nil
            await supervisor.stop()
            await engine.unregister(named: supervisor.configuration.sourceName)
            log(
                PluginEvent(
                    severity: .info,
                    source: supervisor.configuration.sourceName,
                    message: "plugin stopped: its configuration file was removed, disabled or changed"
                )
            )
        }

        // The unusable files: a file whose problem is gone (or changed) leaves; a new problem is
        // journaled and registered once.
        let problems = Dictionary(
            errors.map { ("plugin:" + Self.baseName($0.file), $0) },
            uniquingKeysWith: { first, _ in first }
        )
        for (name, reason) in unusableRegistered where problems[name]?.description != reason {
            await engine.unregister(named: name)
            unusableRegistered[name] = nil
        }
        configurationErrors = errors
        for error in problems.values.sorted(by: { $0.file < $1.file })
        where unusableRegistered[UnusablePluginConfiguration(error).name] == nil {
            logProblems([error])
            let source = UnusablePluginConfiguration(error)
            if (try? await engine.register(source)) != nil { unusableRegistered[source.name] = source.reason }
        }

        for configuration in wanted {
            let supervisor = PluginSupervisor(
                configuration: configuration,
                launcher: launcher,
                validator: validator,
                log: log
            )
            kept.append(supervisor)
            manage(supervisor) { [self] in
                // Started here, in ``run()``: a supervisor stopped before this starts nothing.
                await supervisor.start()
                let state = await Self.firstLoadedState(of: supervisor)
                guard !Task.isCancelled, state.health != .stopped else { return }
                await serialized { manager in
                    // Not a plugin that a reload or the stop has removed meanwhile.
                    guard manager.running.contains(where: { $0 === supervisor }) else { return }
                    try? await engine.register(PluginProvider(supervisor: supervisor, state: state))
                }
            }
        }
        running = kept.sorted { $0.configuration.file < $1.configuration.file }
        return running
    }

    /// Waits until every plugin started so far has reported once — delivered its first document or
    /// failed — and is registered with the engine, each for at most its own `timeout`
    /// (``firstReportWait(_:)``); the waits run side by side. The service's start calls this before it
    /// enforces the effective policy, so that a plugin's rules are in force from the first table on. A
    /// plugin that is still starting afterwards counts as unavailable (it contributes nothing) until it
    /// reports.
    /// - Returns: the sources that did not report in time.
    public func firstReports() async -> [String] {
        let waits = running.map { supervisor in
            (supervisor, settled[ObjectIdentifier(supervisor)], Self.firstReportWait(supervisor.configuration))
        }
        return await withTaskGroup(of: String?.self) { group in
            for (supervisor, registration, limit) in waits {
                group.addTask {
                    let reported = await Self.within(limit) {
                        guard await registration?.waitUnlessCancelled() ?? true else { return }
                        for await state in await supervisor.updates() where state.health != .starting { return }
                    }
                    return reported ? nil : supervisor.configuration.sourceName
                }
            }
            var late: [String] = []
            for await name in group { if let name { late.append(name) } }
            return late.sorted()
        }
    }

    /// How long the service's start waits for a plugin's first report: the plugin's `timeout`, one bounded
    /// wait per source (docs/plugins.md). A first fetch never takes longer (it is timed out then, and the
    /// plugin reports a failure); only a plugin host that is slow to start and load can miss it.
    public static func firstReportWait(_ configuration: PluginConfiguration) -> Duration { configuration.timeout }

    /// Whether `body` finished within `limit`: `body` races a timer, both children of this call, and the
    /// loser is cancelled. `body` must end when cancelled (its waits are cancellable).
    static func within(_ limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await body()
                return !Task.isCancelled
            }
            group.addTask {
                _ = try? await Task.sleep(for: limit)
                return false
            }
            let finished = await group.next() ?? false
            group.cancelAll()
            return finished
        }
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
