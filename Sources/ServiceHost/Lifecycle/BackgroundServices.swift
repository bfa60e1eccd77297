import Plugins
import PolicyModel
import Providers
import ServiceLifecycle

/// The plugins of the `run` process (docs/plugins.md) as a `Service` of its group: every enabled file of
/// `plugin_conf_dir` is started in its own plugin host and registered with the policy sources engine,
/// where it takes part in the merge, in `status`, in `policy show --effective` and in `explain` like a
/// built-in source.
///
/// The plugins start with the service, before the first table: the agent's start registers them
/// (``register()``) and waits for each one's first report (``firstReports()``, bounded by the plugin's
/// own timeout), so that the first table the driver enforces already holds the plugins' rules (the start
/// is fail-closed). Each plugin registers when its host has loaded it, and the engine merges again then.
/// Every refresh reads the directory again. The group shuts this service down after the agent has
/// stopped: then every plugin is closed and its host (and what it started) ended.
struct PluginService: Service {
    let manager: PluginManager
    let agent: PolicyAgent
    let journal: any Journal
    /// Opens when the agent's start has completed, successfully or not.
    let started: StartGate

    init(configuration: ServiceConfiguration, agent: PolicyAgent, journal: any Journal, started: StartGate) {
        manager = PluginManager(
            configurationDirectory: configuration.pluginConfigDirectory,
            pluginDirectory: configuration.pluginDirectory,
            log: { event in journal.record(JournalEntry(event)) }
        )
        self.agent = agent
        self.journal = journal
        self.started = started
    }

    /// Starts every enabled plugin and registers it with the engine; called by the agent's start.
    func register() async {
        await manager.register(with: agent.engine)
    }

    /// Waits until every plugin has reported once (bounded per plugin); late ones are journaled and count
    /// as unavailable until they report.
    func firstReports() async {
        let late = await manager.firstReports()
        guard !late.isEmpty else { return }
        journal.record(
            JournalEntry(
                .policySourceFailed,
                priority: .warning,
                "The IPSec Policy Agent applies the policy without \(late.joined(separator: ", ")): no report within the plugin's timeout; its rules apply once it reports.",
                fields: ["IPSECSVC_SOURCE": late.joined(separator: ","), "IPSECSVC_SOURCE_KIND": "plugin"]
            )
        )
    }

    func run() async throws {
        let manager = manager
        // The supervisors' background work runs from the group's start (the agent's start registers the
        // plugins and waits for their first reports) until the manager's stop below has stopped them.
        await withDiscardingTaskGroup { group in
            group.addTask { await manager.run() }
            await serve()
        }
    }

    private func serve() async {
        await started.wait()
        // A start that failed or was stopped keeps no plugin: they are stopped at this service's turn. A
        // service of the group must not end before that turn (the group counts that as a failure).
        if await agent.state == .running, !Task.isShuttingDownGracefully {
            let manager = manager
            let engine = agent.engine
            // A refresh (SIGHUP, `service refresh`) makes the plugins follow plugins.d again: new and
            // enabled ones start, removed and disabled ones stop, changed ones restart, the others run on.
            await agent.setSourcesReloader { await manager.reload(with: engine) }
            try? await gracefulShutdown()
            await agent.setSourcesReloader(nil)
        } else {
            try? await gracefulShutdown()
        }
        // Each plugin closed, its host ended (bounded per plugin).
        await manager.stop()
    }
}

/// The engine's background work (``SourcesPolicyEngine/run()``: the directory's timers, provider
/// changes) as a `Service` of the group, shut down after the agent and the plugins: a running
/// `directory_check` is killed then, and nothing of the engine outlives the process.
struct PolicySourcesService: Service {
    let engine: SourcesPolicyEngine

    func run() async throws {
        let engine = engine
        await cancelWhenGracefulShutdown { await engine.run() }
    }
}

/// Keying (``PolicyAgent/runKeying()``: the driver's requests, charon's events, its timers; from the
/// agent's start to its stop) and keying's peer view handed to the driver
/// (``PolicyAgent/forwardPeerAssociations()``), both children of this service's run. Both end with the
/// agent's stop, which stops keying, or at this service's turn in the group's shutdown.
struct KeyingService: Service {
    let agent: PolicyAgent

    func run() async throws {
        let agent = agent
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await agent.runKeying() }
                group.addTask { await agent.forwardPeerAssociations() }
            }
        }
        // Keying ends with the agent's stop, which runs during the group's shutdown: this service still
        // waits for its own turn (the group counts an earlier end then as a failure).
        try? await gracefulShutdown()
    }
}

/// The driver's background work (``PolicyAgent/runDriver()``: the driver process's link notices and the
/// reconnection to a restarted driver) as a child of this service's run, until the agent's stop shuts the
/// driver down or this service's turn in the group's shutdown, which comes after the agent's stop.
struct DriverLinkService: Service {
    let agent: PolicyAgent

    func run() async throws {
        let agent = agent
        await cancelWhenGracefulShutdown { await agent.runDriver() }
        // The link's work ends with the agent's stop: this service still waits for its own turn.
        try? await gracefulShutdown()
    }
}

extension JournalEntry {
    /// A plugin's event: a failure is a failed policy source, anything else (loaded, delivered a
    /// document, restarted) a policy event of that source.
    init(_ event: PluginEvent) {
        let priority: JournalPriority =
            switch event.severity {
            case .error: .error
            case .warning: .warning
            case .info: .info
            }
        var fields = event.journalFields
        fields["IPSECSVC_SOURCE_KIND"] = SourceKind.plugin.rawValue
        self.init(
            event.severity == .error ? .policySourceFailed : .policyApplied,
            priority: priority,
            event.description,
            fields: fields
        )
    }
}
