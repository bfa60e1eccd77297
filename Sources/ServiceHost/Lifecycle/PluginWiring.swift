import Plugins
import PolicyModel
import Providers

/// The plugins of the `run` process (docs/plugins.md): every enabled file of `plugin_conf_dir` is
/// started in its own plugin host and registered with the policy sources engine, where it takes part in
/// the merge, in `status`, in `policy show --effective` and in `explain` like a built-in source.
///
/// Started with the service, before the first table: the start waits for each plugin's first report
/// (``firstReports()``, bounded by the plugin's own timeout), so that the first table the driver enforces
/// already holds the plugins' rules. Each plugin registers when its host has loaded it, and the engine
/// merges again then. Every refresh reads the directory again (``reload()``).
struct PluginWiring: Sendable {
    let manager: PluginManager
    let engine: SourcesPolicyEngine
    let journal: any Journal

    /// Creates the manager and registers its plugins with `engine`.
    /// - Returns: `nil` when the engine is not the policy sources engine (tests with a stand-in engine).
    static func start(
        configuration: ServiceConfiguration,
        engine: any PolicyEngine,
        journal: any Journal
    ) async -> PluginWiring? {
        guard let engine = engine as? SourcesPolicyEngine else { return nil }
        let manager = PluginManager(
            configurationDirectory: configuration.pluginConfigDirectory,
            pluginDirectory: configuration.pluginDirectory,
            log: { event in journal.record(JournalEntry(event)) }
        )
        await manager.register(with: engine)
        return PluginWiring(manager: manager, engine: engine, journal: journal)
    }

    /// Makes the plugins follow plugins.d: starts new and enabled ones, stops and unregisters removed
    /// and disabled ones, restarts changed ones; the others keep running untouched.
    func reload() async {
        await manager.reload(with: engine)
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

    /// Closes every plugin and ends its host (bounded per plugin).
    func stop() async {
        await manager.stop()
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
