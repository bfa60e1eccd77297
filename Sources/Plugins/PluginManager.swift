import IPsecSystem
import PolicyModel
public import Providers
import Synchronization

/// Every plugin of a plugins.d directory: reads the files, supervises the enabled plugins, and reports
/// them (and the files that could not be used) the way `status` shows sources.
///
/// The service creates one at start (after the persistent policy applied), runs ``run()`` (every
/// plugin's background work: its supervisor's, and its start and registration with the engine) in a
/// `Service` of its group, calls ``register(with:)``, calls ``reload(with:)`` on every refresh (SIGHUP,
/// `service refresh`) so that the plugins follow the directory, and calls ``stop()`` when it stops.
public actor PluginManager {
    public nonisolated let configurationDirectory: String
    public nonisolated let pluginDirectory: String
    let launcher: PluginLauncher
    let validator: PluginDocumentValidator
    let log: @Sendable (PluginEvent) -> Void
    var running: [PluginSupervisor] = []
    var configurationErrors: [PluginConfigurationError] = []
    /// Per running supervisor (by identity): ends when its start and registration with the engine (the
    /// work ``run()`` runs beside the supervisor) have ended.
    var settled: [ObjectIdentifier: LoopEnd] = [:]
    /// The unusable files registered with the engine as failed sources: name → reason.
    var unusableRegistered: [String: String] = [:]
    /// The last of the serialized engine operations (register, reload, stop).
    var lastOperation: Task<Void, Never>?
    /// Set by ``stop()``: a later reload starts nothing.
    var stopped = false
    /// The plugins made, for ``run()``.
    private nonisolated let made: AsyncStream<ManagedPlugin>
    nonisolated let madeSink: AsyncStream<ManagedPlugin>.Continuation
    /// How many plugins' work ``run()`` runs now (one child each).
    private nonisolated let children = Atomic<Int>(0)

    /// - Parameters:
    ///   - log: receives journal events of every plugin, and one error event per unusable file.
    public init(
        configurationDirectory: String = PluginConfiguration.defaultConfigurationDirectory,
        pluginDirectory: String = PluginConfiguration.defaultPluginDirectory,
        launcher: PluginLauncher = PluginLauncher(),
        validator: PluginDocumentValidator = .native,
        log: @escaping @Sendable (PluginEvent) -> Void = { _ in }
    ) {
        self.configurationDirectory = configurationDirectory
        self.pluginDirectory = pluginDirectory
        self.launcher = launcher
        self.validator = validator
        self.log = log
        (made, madeSink) = AsyncStream.makeStream()
    }

    /// Runs every plugin's work as a child of this call: its supervisor's background work
    /// (``PluginSupervisor/run()``) beside its start and, for the service, its registration with the engine
    /// once loaded. A plugin's child ends when its supervisor has stopped (its file was removed, disabled
    /// or changed) and its registration has ended; this call ends when ``stop()`` has stopped them all (or
    /// the calling task is cancelled, which cancels every child). Call it once.
    public nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            for await plugin in made {
                children.add(1, ordering: .relaxed)
                group.addTask {
                    await withDiscardingTaskGroup { own in
                        own.addTask { await plugin.supervisor.run() }
                        await plugin.work()
                        plugin.settled.finish()
                    }
                    self.children.subtract(1, ordering: .relaxed)
                }
            }
            group.cancelAll()
        }
    }

    /// How many plugins have a child in ``run()`` now.
    nonisolated var runningChildren: Int { children.load(ordering: .relaxed) }

    /// Hands `supervisor` and `work` (which starts it) to ``run()``.
    func manage(_ supervisor: PluginSupervisor, work: @escaping @Sendable () async -> Void) {
        let plugin = ManagedPlugin(supervisor: supervisor, work: work)
        settled[ObjectIdentifier(supervisor)] = plugin.settled
        madeSink.yield(plugin)
    }

    /// Reads the directory and starts every enabled plugin. Files with errors are skipped and reported.
    /// - Returns: the supervisors started, in file-name order.
    @discardableResult
    public func start() -> [PluginSupervisor] {
        start(loaded: PluginConfigurationDirectory.load(configurationDirectory, pluginDirectory: pluginDirectory))
    }

    /// ``start()`` with the directory already read (by ``loadConfigurations(_:_:)``).
    func start(
        loaded: (configurations: [PluginConfiguration], errors: [PluginConfigurationError])
    ) -> [PluginSupervisor] {
        guard running.isEmpty else { return running }
        let (configurations, errors) = loaded
        configurationErrors = errors
        logProblems(errors)
        for configuration in configurations where configuration.enabled {
            let supervisor = PluginSupervisor(
                configuration: configuration,
                launcher: launcher,
                validator: validator,
                log: log
            )
            manage(supervisor) { await supervisor.start() }
            running.append(supervisor)
        }
        return running
    }

    /// One error event per unusable file.
    func logProblems(_ errors: [PluginConfigurationError]) {
        for error in errors {
            log(
                PluginEvent(
                    severity: .error,
                    source: "plugin:" + Self.baseName(error.file),
                    message: "plugin configuration not used: \(error)",
                    reason: error.description
                )
            )
        }
    }

    /// The running supervisors.
    public var supervisors: [PluginSupervisor] { running }

    /// Stops every plugin (each bounded: close, then SIGKILL after 2 seconds). Waits for a reload in
    /// progress; a later reload starts nothing, and a registration that comes after it registers nothing.
    public func stop() async {
        stopped = true
        await serialized { manager in
            for supervisor in manager.running { await supervisor.stop() }
            manager.running = []
            manager.settled = [:]
            // ``run()`` ends once every plugin's child has.
            manager.madeSink.finish()
        }
    }

    /// Runs `operation` after every operation queued before it, one at a time: the actor is re-entered
    /// at each `await`, and two reloads (SIGHUP and `service refresh` at once) must not interleave.
    func serialized<T: Sendable>(
        _ operation: @escaping @Sendable (isolated PluginManager) async -> T
    ) async -> T {
        let previous = lastOperation
        let task = Task {
            await previous?.value
            return await operation(self)
        }
        lastOperation = Task { _ = await task.value }
        return await task.value
    }

    /// One status per enabled plugin and per unusable file, for `status`.
    public func statuses() async -> [SourceStatus] {
        var result: [SourceStatus] = []
        for supervisor in running {
            result.append(SourceStatus(await supervisor.state))
        }
        for error in configurationErrors {
            result.append(
                SourceStatus(
                    name: "plugin:" + Self.baseName(error.file),
                    kind: .plugin,
                    state: .failed,
                    reason: error.description,
                    since: 0
                )
            )
        }
        return result
    }

    /// The files that could not be used, from the last ``start()``.
    public var configurationProblems: [PluginConfigurationError] { configurationErrors }

    /// Reads the plugins.d directory (small files, each at most 1 MiB) on the blocking pool.
    static func loadConfigurations(
        _ directory: String,
        _ pluginDirectory: String
    ) async -> (configurations: [PluginConfiguration], errors: [PluginConfigurationError]) {
        await BlockingPool.shared.run { PluginConfigurationDirectory.load(directory, pluginDirectory: pluginDirectory) }
    }

    static func baseName(_ file: String) -> String {
        var base = String(file.split(separator: "/").last ?? Substring(file))
        if base.hasSuffix(".conf") { base.removeLast(5) }
        return base
    }
}

extension SourceStatus {
    /// How `status` shows a plugin source: running is in effect, failed carries its reason, a plugin
    /// still starting is unavailable.
    public init(_ state: PluginSourceState) {
        let assigned = state.store?.assignedPolicy?.name
        switch state.health {
        case .running:
            self.init(name: state.source, kind: .plugin, state: .inEffect, policyName: assigned, since: state.since)
        case .failed(let reason):
            self.init(name: state.source, kind: .plugin, state: .failed, reason: reason, since: state.since)
        case .starting:
            self.init(name: state.source, kind: .plugin, state: .unavailable, reason: "starting", since: state.since)
        case .stopped:
            self.init(name: state.source, kind: .plugin, state: .notConfigured, reason: "stopped", since: state.since)
        }
    }
}

/// One plugin as ``PluginManager/run()`` runs it: its supervisor, and the work beside it (its start, and
/// in the service its registration with the engine).
struct ManagedPlugin: Sendable {
    let supervisor: PluginSupervisor
    let work: @Sendable () async -> Void
    /// Finished when `work` has ended.
    let settled = LoopEnd()
}
