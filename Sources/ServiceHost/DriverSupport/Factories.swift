public import Driver
import PolicyModel
public import Providers

/// Builds the `IPsecDriver` the configuration names. The netfilter driver plugs in here: replace the
/// `.netfilter` case with its constructor (one line); everything else only sees the protocol.
public enum DriverFactory {
    /// The driver is not available in this build.
    public struct UnavailableError: Error, Hashable, Sendable, CustomStringConvertible {
        public var kind: DriverKind
        public var description: String {
            "The \(kind.rawValue) driver is not available in this build; set 'driver = memory' in the configuration."
        }
    }

    /// The state file of the memory driver.
    public static func memoryStatePath(_ configuration: ServiceConfiguration) -> String {
        configuration.stateDirectory + "/driver-state"
    }

    /// Makes the driver for `configuration`.
    public static func make(_ configuration: ServiceConfiguration) throws -> any IPsecDriver {
        switch configuration.driver {
        case .memory: FileBackedDriver(path: memoryStatePath(configuration))
        case .netfilter: NetfilterDriver()
        }
    }

    /// The driver's status as another process left it, for `service query` while the service is not
    /// running. Only the memory driver can answer without the process; others report `nil` here and the
    /// netfilter driver can add a read-only probe.
    public static func offlineStatus(_ configuration: ServiceConfiguration) -> DriverStateRecord? {
        switch configuration.driver {
        case .memory: FileBackedDriver.read(memoryStatePath(configuration))
        case .netfilter: nil
        }
    }
}

/// Builds the `PolicyEngine` of the `run` process: the policy sources engine (Providers) on the state
/// directory, with the directory source when `computer_dn` is configured. Swap the engine here (one
/// place) for tests or another implementation.
public enum PolicyEngineFactory {
    /// The engine's configuration: stores in the state directory, the directory from ipsecsvc.conf.
    public static func sourcesConfiguration(
        _ configuration: ServiceConfiguration,
        events: any PolicyEventSink,
        runsTimers: Bool = true
    ) -> SourcesConfiguration {
        let directory = configuration.computerDN.map { computerDN in
            DirectoryConfiguration(
                snapshotPath: configuration.directorySnapshot
                    ?? StateDirectory(path: configuration.stateDirectory)
                    .directorySnapshot,
                computerDN: computerDN,
                site: configuration.site,
                pollingInterval: configuration.directoryPollingMinutes.map { .seconds($0 * 60) },
                groupPolicyRefreshInterval: .seconds(configuration.groupPolicyRefreshMinutes * 60)
            )
        }
        return SourcesConfiguration(
            state: StateDirectory(path: configuration.stateDirectory),
            directory: directory,
            events: events,
            runsTimers: runsTimers
        )
    }

    /// The engine of the `run` process; its events (policy applied per source, cached directory policy,
    /// failures) go to `journal`.
    public static func make(_ configuration: ServiceConfiguration, journal: any Journal) throws -> any PolicyEngine {
        SourcesPolicyEngine(
            configuration: sourcesConfiguration(configuration, events: JournalPolicyEventSink(journal: journal))
        )
    }

    /// Whether any persistent, local or directory policy is assigned: decides the default `bootmode`
    /// (stateful if so, permit otherwise). Reads the sources without applying or journaling anything.
    public static func anyPolicyAssigned(_ configuration: ServiceConfiguration) async throws -> Bool {
        let engine = SourcesPolicyEngine(
            configuration: sourcesConfiguration(configuration, events: RecordingEventSink(), runsTimers: false)
        )
        defer { Task { await engine.shutdown() } }
        return await engine.sourceStatuses().contains { status in
            [.persistent, .directory, .directoryCache, .local].contains(status.kind) && status.policyName != nil
        }
    }
}

/// Sends the policy sources' events (worded like the Windows PAStore events) to the journal with the
/// service's MESSAGE_IDs and the `IPSECSVC_SOURCE` / `IPSECSVC_POLICY` fields.
public struct JournalPolicyEventSink: PolicyEventSink {
    public var journal: any Journal

    public init(journal: any Journal) { self.journal = journal }

    public func record(_ event: PolicyEvent) {
        journal.record(Self.entry(for: event))
    }

    /// The journal entry of one event.
    public static func entry(for event: PolicyEvent) -> JournalEntry {
        let priority = JournalPriority(rawValue: event.priority) ?? .info
        var fields: [String: String] = [:]
        let kind: JournalEventKind
        switch event {
        case .appliedPersistent(let policy, _):
            kind = .policyApplied
            fields = ["IPSECSVC_SOURCE": "persistent", "IPSECSVC_POLICY": policy]
        case .persistentFailed:
            kind = .persistentPolicyFailed
            fields = ["IPSECSVC_SOURCE": "persistent"]
        case .appliedDirectory(let policy, let gpo, _):
            kind = .policyApplied
            fields = ["IPSECSVC_SOURCE": "directory", "IPSECSVC_POLICY": policy]
            if let gpo { fields["IPSECSVC_GPO"] = gpo }
        case .failedDirectory:
            kind = .policySourceFailed
            fields = ["IPSECSVC_SOURCE": "directory"]
        case .appliedCachedDirectory(let policy, _):
            kind = .cachedDirectoryPolicyApplied
            fields = ["IPSECSVC_SOURCE": "directory-cache", "IPSECSVC_POLICY": policy]
        case .failedCachedDirectory:
            kind = .policySourceFailed
            fields = ["IPSECSVC_SOURCE": "directory-cache"]
        case .appliedLocal(let policy, _):
            kind = .policyApplied
            fields = ["IPSECSVC_SOURCE": "local", "IPSECSVC_POLICY": policy]
        case .failedLocal:
            kind = .policySourceFailed
            fields = ["IPSECSVC_SOURCE": "local"]
        case .noStaticPolicy:
            kind = .noStaticPolicy
        case .persistentPendingRestart:
            kind = .persistentPendingRestart
            fields = ["IPSECSVC_SOURCE": "persistent"]
        case .sourceFailed(let name, _):
            kind = .policySourceFailed
            fields = ["IPSECSVC_SOURCE": name]
        }
        return JournalEntry(kind, priority: priority, event.message, fields: fields)
    }
}
