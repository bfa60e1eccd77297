import DecisionCore
public import Driver
public import Keying
import PolicyFormats
import PolicyModel
public import Providers

/// Builds the `IPsecDriver` the configuration names. Every driver is wrapped in a
/// ``FileBackedDriver`` that records the mode it was last put in (`driver-state`), so that `service
/// query` can tell the mode after the process that set it (`boot`, a stopped or crashed `run`) is gone.
public enum DriverFactory {
    /// The driver-state file in the state directory.
    public static func statePath(_ configuration: ServiceConfiguration) -> String {
        configuration.stateDirectory + "/driver-state"
    }

    /// Makes the driver for `configuration`; the driver's own events go to `journal`.
    ///
    /// `memory` runs in this process. `netfilter` is the driver process (`ipsecsvc driver`), reached over
    /// its socket (``RemoteDriver``): under systemd its unit runs it; otherwise the first command that
    /// needs it (`run`, `boot`) starts it (``DriverLauncher``). With `keying`, the driver process's
    /// negotiation needs reach it (link notices) and its soft associations reach the driver.
    /// - Parameter role: who asks (`run`, `boot`), for the driver's logs.
    public static func make(
        _ configuration: ServiceConfiguration,
        journal: any Journal = makeDefaultJournal(),
        keying: (any Keying)? = nil,
        role: String = "run"
    ) throws -> any IPsecDriver {
        switch configuration.driver {
        case .memory:
            return FileBackedDriver(path: statePath(configuration), hostInfo: hostInfo(configuration))
        case .netfilter:
            return FileBackedDriver(
                path: statePath(configuration),
                inner: RemoteDriver(
                    socketPath: configuration.driverSocketPath,
                    launcher: configuration.usesSystemd ? nil : DriverLauncher(configuration: configuration),
                    role: role,
                    keyingRequests: keying
                )
            )
        }
    }

    /// The netfilter driver of the driver process (`ipsecsvc driver`). Unless `ike = none`, its
    /// negotiation needs go to `keyingRequests` (the agents, as link notices) and it follows the soft
    /// associations the agent hands it; with `ike_datapath = libipsec` the TUN device's traffic counts as
    /// protected.
    static func netfilterDriver(
        _ configuration: ServiceConfiguration,
        journal: any Journal,
        keyingRequests: any KeyingRequestSink
    ) -> NetfilterDriver {
        var driver = NetfilterDriverConfiguration(
            hostInfo: hostInfo(configuration),
            eventSink: JournalDriverEventSink(journal: journal)
        )
        if configuration.ike == .strongswan {
            let peers = PeerAssociationsCell()
            driver.keyingRequests = keyingRequests
            driver.peerAssociations = peers
            driver.securityAssociations = KernelSecurityAssociations(
                protectedMark: driver.hooks.marks.protected,
                peers: peers
            )
            if configuration.ikeDatapath == .libipsec {
                driver.hooks.protectedInterface = configuration.ikeLibipsecInterface
            }
        }
        return NetfilterDriver(configuration: driver)
    }

    /// The one reader of this computer's addresses, servers and interfaces, with the configured
    /// `dialup_interfaces`: what the driver compiles and decides with, and `explain` and netsh show.
    public static func hostInfo(_ configuration: ServiceConfiguration) -> LinuxHostInfoSource {
        LinuxHostInfoSource(classifier: configuration.interfaceClassifier)
    }

    /// The driver's mode as the last process that changed it recorded it, for `service query` while the
    /// service is not running.
    public static func offlineStatus(_ configuration: ServiceConfiguration) -> DriverStateRecord? {
        FileBackedDriver.read(statePath(configuration))
    }
}

/// Sends the driver's own events (drops at `ipsecdiagnostics` levels, summaries, hook failures) to the
/// journal.
public struct JournalDriverEventSink: DriverEventSink {
    public var journal: any Journal

    public init(journal: any Journal) { self.journal = journal }

    public func event(_ message: String, priority: Int) {
        journal.record(JournalEntry(.driverEvent, priority: JournalPriority(rawValue: priority) ?? .info, message))
    }
}

/// Builds the policy sources engine (Providers) of the `run` process on the state directory, with the
/// directory source that `directory` (or `computer_dn`) configures. Swap the engine here (one
/// place) for tests or another implementation.
public enum PolicyEngineFactory {
    /// The engine's configuration: stores in the state directory, the directory from ipsecsvc.conf.
    public static func sourcesConfiguration(
        _ configuration: ServiceConfiguration,
        events: any PolicyEventSink,
        runsTimers: Bool = true,
        readOnly: Bool = false
    ) -> SourcesConfiguration {
        let directory = directoryConfiguration(configuration)
        return SourcesConfiguration(
            state: StateDirectory(path: configuration.stateDirectory),
            directory: directory,
            events: events,
            runsTimers: runsTimers,
            readOnly: readOnly,
            firstLocalStore: readOnly ? .leaveMissing : configuration.examples ? .examples : .empty
        )
    }

    /// The directory source's configuration: a domain controller over LDAP, a snapshot file, or `nil`.
    public static func directoryConfiguration(_ configuration: ServiceConfiguration) -> DirectoryConfiguration? {
        let ldap: LDAPDirectoryConfiguration?
        let snapshot: String?
        switch configuration.effectiveDirectoryMode {
        case .none:
            return nil
        case .snapshot:
            ldap = nil
            snapshot =
                configuration.directorySnapshot ?? StateDirectory(path: configuration.stateDirectory).directorySnapshot
        case .ldap:
            let settings = configuration.ldap
            let bind: LDAPDirectoryConfiguration.Bind =
                switch settings.bind {
                case .gssapi: .gssapi(keytab: settings.keytab)
                case .simple: .simple(dn: settings.bindDN ?? "", passwordFile: settings.bindPasswordFile ?? "")
                }
            let transport: LDAPDirectoryConfiguration.Transport =
                switch settings.tls {
                case .none: .plain
                case .starttls: .startTLS
                case .ldaps: .ldaps
                }
            ldap = LDAPDirectoryConfiguration(
                domain: settings.domain ?? "",
                domainControllers: settings.domainControllers,
                bind: bind,
                transport: transport,
                tlsCAFile: settings.tlsCAFile,
                timeout: .seconds(settings.timeoutSeconds),
                pageSize: settings.pageSize
            )
            snapshot = nil
        }
        return DirectoryConfiguration(
            snapshotPath: snapshot,
            ldap: ldap,
            computerDN: configuration.computerDN,
            site: configuration.site,
            pollingInterval: configuration.directoryPollingMinutes.map { .seconds($0 * 60) },
            groupPolicyRefreshInterval: .seconds(configuration.groupPolicyRefreshMinutes * 60),
            reachability: configuration.directoryCheck.map {
                CommandReachabilityCheck(program: $0, timeout: .seconds(configuration.directoryCheckTimeoutSeconds))
            }
        )
    }

    /// The engine of the `run` process; its events (policy applied per source, cached directory policy,
    /// failures) go to `journal`.
    public static func make(_ configuration: ServiceConfiguration, journal: any Journal) throws -> SourcesPolicyEngine {
        SourcesPolicyEngine(
            configuration: sourcesConfiguration(configuration, events: JournalPolicyEventSink(journal: journal))
        )
    }

    /// Whether any persistent, local or directory policy is assigned: decides the default `bootmode`
    /// (stateful if so, permit otherwise). Reads the sources without applying or journaling anything.
    /// The live directory is not asked: computer startup runs before the network, so its cached copy
    /// stands for it.
    ///
    /// Computer startup waits for this answer: a persistent or local store whose root element names
    /// an assigned policy answers it from the file's first bytes
    /// (`NativePolicyXML.declaresAssignedPolicy(contentsOf:)`); only otherwise are the sources read.
    public static func anyPolicyAssigned(_ configuration: ServiceConfiguration) async throws -> Bool {
        let state = StateDirectory(path: configuration.stateDirectory)
        for store in [state.persistentStore, state.localStore]
        where NativePolicyXML.declaresAssignedPolicy(contentsOf: store) == true {
            return true
        }
        return await storedSources(configuration).contains { status in
            [.persistent, .directory, .directoryCache, .local].contains(status.kind) && status.policyName != nil
        }
    }

    /// The built-in sources as stored, with the policy each would contribute when the service starts
    /// (`status` of a stopped service, the boot step). Read-only: nothing is written, dropped or
    /// journaled, and the directory cache stays as it is.
    /// - Parameter checkingDirectory: whether `directory_check` runs before the snapshot is read (the
    ///   boot step asks whether the directory is reachable; `status` only reads the files, at once).
    public static func storedSources(
        _ configuration: ServiceConfiguration,
        checkingDirectory: Bool = true
    ) async -> [SourceStatus] {
        var readOnly = sourcesConfiguration(
            configuration,
            events: DiscardingEventSink(),
            runsTimers: false,
            readOnly: true
        )
        if !checkingDirectory { readOnly.directory?.reachability = nil }
        // Neither computer startup nor `status` waits for a domain controller: the LDAP source reports
        // itself as not read, and the cache (a file) stands in for it.
        if configuration.effectiveDirectoryMode == .ldap { readOnly.directoryReader = NotReadAtStartup() }
        let engine = SourcesPolicyEngine(configuration: readOnly)
        return await engine.sourceStatuses()
    }
}

/// The live directory at computer startup: not read (no network yet); the cached copy counts instead.
private struct NotReadAtStartup: DirectoryReader {
    var sourceDescription: String { "LDAP (not read at computer startup)" }
    var lastServer: String? { nil }

    func read(
        assignedPolicy: @escaping @Sendable (DirectoryRead) -> String?
    ) async throws(DirectoryReadError)
        -> DirectoryRead
    {
        throw DirectoryReadError(.unavailable, "the directory is not read at computer startup")
    }

    func readPolicyObjects(_ policyDN: String) async throws(DirectoryReadError) -> [DirectoryEntry] {
        throw DirectoryReadError(.unavailable, "the directory is not read at computer startup")
    }

    func changeStamps(of dns: [String]) async throws(DirectoryReadError) -> [String: String] {
        throw DirectoryReadError(.unavailable, "the directory is not read at computer startup")
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
        case .directoryDecision(let decision):
            kind = .directoryRead
            fields = [
                "IPSECSVC_SOURCE": "directory", "IPSECSVC_DECISION": decision.outcome.rawValue,
                "IPSECSVC_TRIGGER": decision.trigger.rawValue, "IPSECSVC_REASON": decision.reason,
            ]
            if let server = decision.server { fields["IPSECSVC_DC"] = server }
            if let gpo = decision.gpo { fields["IPSECSVC_GPO"] = gpo }
            if let policy = decision.policy { fields["IPSECSVC_POLICY"] = policy }
        }
        return JournalEntry(kind, priority: priority, event.message, fields: fields)
    }
}
