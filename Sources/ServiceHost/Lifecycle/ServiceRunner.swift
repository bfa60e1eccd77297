public import Driver
import IPsecSystem
public import Keying
import Logging
public import Providers
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `ipsecsvc run`: the service process. Builds the agent, the control socket and the systemd
/// integration, and runs them as one `ServiceGroup` until SIGTERM, SIGINT or a `service.stop` request.
///
/// Start-up order: the control socket listens (answering START_PENDING), the persistent policy is
/// applied and secure mode set, the other sources are applied, then `READY=1`. SIGHUP refreshes
/// (`RELOADING=1` … `READY=1`); SIGTERM stops gracefully (`STOPPING=1`, permit mode, exit 0).
public struct ServiceRunner: Sendable {
    public var configuration: ServiceConfiguration
    public var journal: any Journal
    public var notifier: any ServiceNotifier
    public var registry: ControlRegistry
    public var makeDriver: @Sendable (ServiceConfiguration, any Journal, (any Keying)?) throws -> any IPsecDriver
    public var makeEngine: @Sendable (ServiceConfiguration, any Journal) throws -> SourcesPolicyEngine
    /// IKE keying (`nil`: none), made before the driver, which reports to it.
    public var makeKeying: @Sendable (ServiceConfiguration, any Journal) -> (any Keying)?
    /// Whether the engine journals its own per-source events (the default engine does).
    public var engineJournalsSources: Bool

    public init(
        configuration: ServiceConfiguration,
        journal: any Journal = makeDefaultJournal(),
        notifier: any ServiceNotifier = SystemdNotifier(),
        registry: ControlRegistry = .standard(),
        makeDriver: @escaping @Sendable (ServiceConfiguration, any Journal, (any Keying)?) throws -> any IPsecDriver = {
            try DriverFactory.make($0, journal: $1, keying: $2)
        },
        makeEngine: @escaping @Sendable (ServiceConfiguration, any Journal) throws -> SourcesPolicyEngine =
            PolicyEngineFactory.make,
        makeKeying: @escaping @Sendable (ServiceConfiguration, any Journal) -> (any Keying)? = KeyingFactory.make,
        engineJournalsSources: Bool = true
    ) {
        self.configuration = configuration
        self.journal = journal
        self.notifier = notifier
        self.registry = registry
        self.makeDriver = makeDriver
        self.makeEngine = makeEngine
        self.makeKeying = makeKeying
        self.engineJournalsSources = engineJournalsSources
    }

    /// Runs the service until it is stopped.
    /// - Throws: ``WindowsError/serviceDisabled`` (1058) for a Disabled service,
    ///   ``WindowsError/alreadyRunning`` (1056) when another instance answers on the socket,
    ///   ``ConfigurationError`` for a broken state file, or the error that made the start fail.
    public func run() async throws {
        let configuration = self.configuration
        let store = ServiceStateStore(directory: configuration.stateDirectory)
        // The state files are small, but file and socket I/O still stay off the cooperative pool.
        let (startType, settings, bootSettings, running) = try await BlockingPool.shared.run {
            (
                try store.effectiveStartType(configuration), try store.dynamicSettings(),
                // Informational only: an unreadable record must not keep the service from starting.
                (try? store.bootSettings()) ?? nil,
                try ControlClient(socketPath: configuration.socketPath).isListening()
            )
        }
        if startType == .disabled {
            journal.record(
                JournalEntry(
                    .serviceStartFailed,
                    priority: .error,
                    "The IPSEC Services service failed to start: \(WindowsError.serviceDisabled.message)",
                    fields: ["IPSECSVC_WINDOWS_ERROR": "1058"]
                )
            )
            throw WindowsError.serviceDisabled
        }
        if running { throw WindowsError.alreadyRunning }
        try await BlockingPool.shared.run { () throws(SystemError) in
            try FileSystem.makeDirectories(configuration.stateDirectory, mode: 0o750)
        }

        // Trap SIGHUP before READY=1: its default action would kill the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let keying = makeKeying(configuration, journal)
        let agent = PolicyAgent(
            driver: try makeDriver(configuration, journal, keying),
            engine: try makeEngine(configuration, journal),
            keying: keying,
            journal: journal,
            startType: startType,
            settings: settings,
            bootSettings: bootSettings,
            journalsSources: !engineJournalsSources,
            handOverWaitAtStop: PolicyAgent.stopWaitLimit(stopTimeoutSeconds: configuration.stopTimeoutSeconds)
        )
        let shutdown = GroupShutdown()
        let started = StartGate()
        let plugins = PluginService(configuration: configuration, agent: agent, journal: journal, started: started)
        let host = HostService(
            configuration: configuration,
            agent: agent,
            journal: journal,
            notifier: notifier,
            registry: registry,
            plugins: plugins,
            started: started,
            requestStop: { shutdown.trigger() }
        )
        // swift-service-lifecycle's own warnings go to the journal through the service's one log handler.
        let logger = Logger.journal(label: "ipsecsvc.lifecycle", level: .warning)
        // Started together; shut down in reverse order: the agent first (permit mode), keying,
        // the plugins and the engine's background work after it, the driver link, the watchdog last.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: WatchdogService(notifier: notifier, agent: agent), successTerminationBehavior: .ignore),
                .init(service: DriverLinkService(agent: agent), successTerminationBehavior: .ignore),
                .init(service: PolicySourcesService(engine: agent.engine), successTerminationBehavior: .ignore),
                .init(service: plugins, successTerminationBehavior: .ignore),
                .init(service: KeyingService(agent: agent), successTerminationBehavior: .ignore),
                .init(
                    service: PolicyChangeService(agent: agent, notifier: notifier),
                    successTerminationBehavior: .ignore
                ),
                .init(
                    service: ReloadService(agent: agent, notifier: notifier, hangups: hangups),
                    successTerminationBehavior: .ignore
                ),
                .init(
                    service: host,
                    successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup
                ),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.stopTimeoutSeconds)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        shutdown.attach(group)
        try await group.run()
    }
}

/// The agent's lifetime: socket, start, READY, wait for a stop, STOPPING, stop.
///
/// A stop (SIGTERM, SIGINT, `service stop`: each the group's graceful shutdown) may come at any moment,
/// also while the agent is starting:
/// the start is then cancelled (a hook tool or `directory_check` it waits for is killed), the driver
/// goes to permit mode as for any stop, and the process exits 0 well within the group's limits.
private struct HostService: Service {
    var configuration: ServiceConfiguration
    var agent: PolicyAgent
    var journal: any Journal
    var notifier: any ServiceNotifier
    var registry: ControlRegistry
    /// Registered by the start, which waits for their first reports; stopped by their own service.
    var plugins: PluginService
    /// Released when the agent's start has completed (successfully or not): control commands other
    /// than status and stop, and the plugins, wait for it.
    var started: StartGate
    /// `service stop`: the group's graceful shutdown, as for SIGTERM.
    var requestStop: @Sendable () -> Void

    func run() async throws {
        // The plugins wait for the gate: it opens on every way out, also when the socket cannot be opened.
        do {
            try await serve()
        } catch {
            await started.release()
            throw error
        }
        await started.release()
    }

    private func serve() async throws {
        let configuration = self.configuration
        let agent = self.agent
        let requestStop = self.requestStop
        let gate = started
        let server = try ControlServer(configuration: configuration, registry: registry, journal: journal) { peer in
            ControlContext(
                peer: peer,
                configuration: configuration,
                agent: agent,
                requestStop: requestStop,
                startGate: gate
            )
        }
        // The socket answers status (START_PENDING) at once; other commands wait for the gate.
        try server.start()
        // Written before the state can read RUNNING, so whoever sees RUNNING also finds the PID.
        let pidFile = configuration.effectivePIDFile
        await BlockingPool.shared.run {
            try? DurableFile.write(Array("\(CurrentProcess.pid)\n".utf8), to: pidFile, permissions: 0o644)
        }
        notifier.status("Starting: applying the persistent policy")
        // Plugins start with the service: the first table the driver enforces holds their rules (each
        // waited for within its own timeout), so that the start is fail-closed (docs/plugins.md).
        let plugins = self.plugins
        await plugins.register()
        do {
            // A stop during the start cancels it instead of waiting for it to end.
            try await cancelWhenGracefulShutdown {
                try await agent.start(awaitingSources: { await plugins.firstReports() })
            }
        } catch {
            await gate.release()
            await server.stop()
            if Task.isShuttingDownGracefully {
                notifier.stopping(status: "Stopping: the IPSec driver returns to permit mode")
                await agent.stopDuringStart()
                await BlockingPool.shared.run { try? FileSystem.remove(pidFile) }
                return
            }
            await BlockingPool.shared.run { try? FileSystem.remove(pidFile) }
            throw error
        }
        await gate.release()
        // A stop that came while a source was being read (its check was killed, the source counted as
        // unavailable) lets the start end normally: stop now, without READY (the plugins are stopped
        // at their own service's turn).
        guard !Task.isShuttingDownGracefully else {
            notifier.stopping(status: "Stopping: the IPSec driver returns to permit mode")
            await server.stop()
            try? await agent.stop()
            await BlockingPool.shared.run { try? FileSystem.remove(pidFile) }
            return
        }
        notifier.ready(status: await agent.summary())

        try? await gracefulShutdown()

        notifier.stopping(status: "Stopping: the IPSec driver returns to permit mode")
        await server.stop()
        try? await agent.stop()
        await BlockingPool.shared.run { try? FileSystem.remove(pidFile) }
    }
}

/// SIGHUP: refresh the directory and local sources.
private struct ReloadService: Service {
    var agent: PolicyAgent
    var notifier: any ServiceNotifier
    var hangups: UnixSignalsSequence

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            // A SIGHUP before the service is RUNNING has nothing to refresh yet.
            guard await agent.state == .running else { continue }
            notifier.reloading()
            // A stop cuts the refresh short: a silent domain controller must not hold the stop.
            await cancelWhenGracefulShutdown { await agent.refresh() }
            notifier.ready(status: await agent.summary())
        }
    }
}

/// Applies the engine's policy changes as they happen.
private struct PolicyChangeService: Service {
    var agent: PolicyAgent
    var notifier: any ServiceNotifier

    func run() async throws {
        for await _ in agent.engine.changes().cancelOnGracefulShutdown() {
            await agent.policyChanged()
            if await agent.state == .running { notifier.status(await agent.summary()) }
        }
    }
}

/// `WATCHDOG=1` at half of `WATCHDOG_USEC`, as long as the agent's actor answers. It is the first
/// service of the group, so it is shut down last and keeps pinging during a graceful stop.
private struct WatchdogService: Service {
    var notifier: any ServiceNotifier
    var agent: PolicyAgent

    func run() async throws {
        guard let interval = notifier.watchdogInterval else { return }
        let period = interval / 2
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            _ = await agent.state  // proves the agent is not wedged
            notifier.watchdog()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        }
    }
}

/// `service stop` over the control socket: starts the group's graceful shutdown, exactly as SIGTERM
/// does, also when it arrives before the group runs.
final class GroupShutdown: Sendable {
    private let state = Mutex<(group: ServiceGroup?, requested: Bool)>((nil, false))

    /// Called once the group exists; a stop requested before then is carried out now.
    func attach(_ group: ServiceGroup) {
        let requested = state.withLock { state in
            state.group = group
            return state.requested
        }
        if requested { trigger() }
    }

    func trigger() {
        let group = state.withLock { state in
            state.requested = true
            return state.group
        }
        guard let group else { return }
        Task { await group.triggerGracefulShutdown() }
    }
}
