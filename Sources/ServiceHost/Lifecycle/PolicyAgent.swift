import DecisionCore
public import Driver
import IPsecSystem
public import Keying
public import PolicyModel
public import Providers

/// What `service query` and `status` report.
public struct ServiceStatusReport: Hashable, Sendable, Codable {
    /// The Windows service name and display name.
    public var serviceName = "PolicyAgent"
    public var displayName = "IPSEC Services"
    public var startType: StartupType
    public var state: ServiceState
    /// Seconds since 1970 UTC when ``state`` was entered (when known).
    public var stateSince: Int64?
    public var pid: Int32?
    /// `secure`, `permit`, `block`, `startup stateful`, ... (`nil`: unknown).
    public var driverMode: String?
    public var driverModeSince: Int64?
    public var tableGeneration: UInt64 = 0
    public var filterCount: Int = 0
    /// True when the persistent policy failed to apply and the driver was put in block mode.
    public var persistentPolicyFailed = false
    /// The driver process (`ipsecsvc driver`) beside this one; `nil` for the memory driver.
    public var driverProcess: DriverProcessInfo?
    /// Why the driver is not reachable or not in the wanted mode, when so.
    public var driverProblem: String?
    public var sources: [SourceStatus] = []
    /// IKE: the daemon connection, counters, soft associations (`nil` with `ike = none`).
    public var keying: KeyingStatus?
    /// The one-line summary also sent as systemd `STATUS=`.
    public var summary: String
    /// The driver's counters, under their contract names in JSON (``DriverCounters``).
    public var counters = DriverCounters()
    /// The `set config` settings as configured and in force (boot-time ones may wait); running service only.
    public var settings: DynamicSettingsState?

    public init(startType: StartupType, state: ServiceState, summary: String) {
        self.startType = startType
        self.state = state
        self.summary = summary
    }
}

/// The Policy Agent: applies the policy sources to the driver through the service lifecycle.
///
/// Start: persistent policy first, then secure mode (block mode when the persistent policy fails), then
/// the other sources. Stop: permit mode. Every change is journaled; one call runs at a time.
public actor PolicyAgent {
    public nonisolated let driver: any IPsecDriver
    public nonisolated let engine: SourcesPolicyEngine
    /// IKE keying (`nil` with `ike = none`): follows the effective policy; its peer view goes to the driver.
    public nonisolated let keying: (any Keying)?
    private let journal: any Journal
    private var lifecycle = ServiceStateMachine()
    private var stateSince: Int64 = SystemClock.secondsSince1970()
    private var modeSince: Int64?
    private var persistentFailed = false
    /// Why the driver is not in the mode the service wanted (it could not enter secure mode).
    private var driverFailure: String?
    private var lastMode: DriverMode?
    public private(set) var startType: StartupType
    /// The `set config` settings in force: the boot-time ones (``DynamicSettings/bootTimeProperties``)
    /// as they were when the service started, the others as last configured.
    public private(set) var settings: DynamicSettings
    /// The settings as last configured (`dynamic-settings.conf`).
    public private(set) var configuredSettings: DynamicSettings
    /// What `ipsecsvc boot` applied at this computer startup (`nil`: it did not run).
    public let bootSettings: DynamicSettings?
    private var settingsRevision: UInt64 = 0
    /// Whether the agent journals each source's result itself; `false` when the engine sends its own
    /// events to the journal (``JournalPolicyEventSink``), so that nothing is logged twice.
    private let journalsSources: Bool
    /// Runs first on every refresh: the plugins follow their plugins.d directory (``PluginService``).
    private var sourcesReloader: (@Sendable () async -> Void)?
    /// Serialises the netsh dynamic transactions (``runNetshDynamic(_:dryRun:store:)``).
    let dynamicTransactions = TransactionLock()
    /// One policy hand-over at a time (start, refresh, change): each takes the engine's newest policy
    /// only once the one before it has reached the driver and keying, so they receive the generations
    /// in the order the engine made them. Without it two hand-overs interleave at their awaits, and the
    /// older table can reach the driver last (and `RemoteDriver` would hand that one to every driver it
    /// reconnects to).
    private let applies = TransactionLock()
    /// The generation the driver and keying last took (`nil`: none yet, or the last hand-over failed): a
    /// change whose policy was taken already (by a hand-over that ran while it waited its turn) has
    /// nothing left to do, so changes signalled during one hand-over are coalesced into the next.
    private var appliedGeneration: UInt64?
    /// Set by ``stop()`` and ``stopDuringStart()`` before anything else: from then on a hand-over that has
    /// not reached the driver yet does nothing, and a start does not enter secure mode.
    private var stopping = false
    /// Set once the stop stops waiting for the hand-over under way and goes on to permit mode and keying's
    /// stop: that hand-over, when its driver call returns at last, hands keying nothing.
    private var stopWentOn = false
    /// The hand-over whose driver or keying call is under way (its generation and when it began), and the
    /// stop waiting for its end (``waitForHandOverUnderWay()``), by number.
    private var handOverUnderWay: (generation: UInt64, since: UInt64)?
    private var handOverWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    private var nextHandOverWaiter = 0
    /// How long a stop waits for a hand-over under way before it puts the driver in permit mode anyway
    /// (``stopWaitLimit(stopTimeoutSeconds:)``).
    public nonisolated let handOverWaitAtStop: Duration

    public init(
        driver: any IPsecDriver,
        engine: SourcesPolicyEngine,
        keying: (any Keying)? = nil,
        journal: any Journal,
        startType: StartupType,
        settings: DynamicSettings,
        bootSettings: DynamicSettings? = nil,
        journalsSources: Bool = true,
        handOverWaitAtStop: Duration = PolicyAgent.stopWaitLimit(stopTimeoutSeconds: 20)
    ) {
        self.handOverWaitAtStop = handOverWaitAtStop
        self.driver = driver
        self.engine = engine
        self.keying = keying
        self.journal = journal
        self.startType = startType
        self.settings = settings
        self.configuredSettings = settings
        self.bootSettings = bootSettings
        self.journalsSources = journalsSources
    }

    public var state: ServiceState { lifecycle.state }

    /// How long a stop waits for the policy hand-over under way: a quarter of the service's graceful-stop
    /// limit (`stop_timeout`), at most 5 s. A table swap takes milliseconds and a driver change that waits
    /// for the xtables lock a second or two; the rest of the limit is the stop's own work (the driver's
    /// permit mode and exit, which `RemoteDriver` waits 5 s for, keying's unload, the other services).
    public static func stopWaitLimit(stopTimeoutSeconds: Int) -> Duration {
        min(.seconds(5), .seconds(max(stopTimeoutSeconds, 1)) / 4)
    }

    /// STOPPED → START_PENDING → RUNNING, applying the policy.
    ///
    /// Fail-closed: the driver keeps deciding by what it had — the startup mode after computer startup,
    /// the last table after a restart of the agent — until the whole effective policy is in force. Every
    /// source reports once first (the persistent store, the directory with its bounded
    /// `directory_check`, its cache, the local store, and through `awaitingSources` the plugins, each
    /// bounded by its own timeout); one table with all of it is handed over, and only then does secure
    /// mode begin. A source that has not reported in time counts as failed by its own rules until it
    /// does.
    /// - Parameter awaitingSources: waits for the sources that report late (the plugins) to report once.
    /// - Throws: ``WindowsError`` when the control is refused (1058 for a Disabled service), or the
    ///   driver's error when it cannot even enter block mode (the service then stays STOPPED).
    public func start(awaitingSources: (@Sendable () async -> Void)? = nil) async throws {
        try transition(.start)
        await startKeying()
        do {
            try await applyPolicyAtStart(awaitingSources: awaitingSources)
        } catch {
            try? transition(.startFailed)
            // Cancelled: the service is being stopped while it starts (``stopDuringStart()`` follows).
            if !(error is CancellationError) {
                if error is DriverError { journal.record(JournalEntry.driverFailure("could not start", error)) }
                journal.record(
                    JournalEntry(
                        .serviceStartFailed,
                        priority: .error,
                        "The IPSEC Services service failed to start: \(error)."
                    )
                )
            }
            throw error
        }
        try transition(.started)
        journal.record(
            JournalEntry(
                .serviceStarted,
                "The IPSEC Services service entered the running state; \(await summary()).",
                fields: ["IPSECSVC_DRIVER_MODE": lastMode?.description ?? "unknown"]
            )
        )
        // A change the engine signalled while the service started found it not running and was dropped
        // (``policyChanged()``), and the engine signals a change once: take it now. Nothing to do when
        // none came (the start's generation is the engine's).
        await applyEffectivePolicy(evenIfTaken: false)
    }

    /// The driver's settings; every source's first report; one table with the whole effective policy;
    /// then secure mode (block mode when the persistent policy failed, or when the driver cannot enter
    /// secure mode). Never inlined: Swift 6.3.1 crashes compiling `start()` with -O (LLVM CoroSplit,
    /// "While splitting coroutine") when this nested do/catch ends up in it.
    @inline(never) private func applyPolicyAtStart(awaitingSources: (@Sendable () async -> Void)?) async throws {
        try await driver.configure(settings.driverSettings)
        do {
            try await engine.loadPersistent()
            persistentFailed = false
        } catch  where !(error is CancellationError) {
            persistentFailed = true
            if journalsSources {
                journal.record(
                    JournalEntry(
                        .persistentPolicyFailed,
                        priority: .error,
                        "The IPSec Policy Agent failed to apply the persistent storage IPSec policy: \(error). As a precaution the IPSec driver has entered block mode.",
                        fields: ["IPSECSVC_SOURCE": "persistent"]
                    )
                )
            }
        }
        if let awaitingSources { await awaitingSources() }
        try Task.checkCancellation()
        // One table with every source, handed over while the driver still decides by its previous
        // state; then the mode. A stop cancels the start without waiting here for a driver call that
        // hangs: the stop waits for it within its own bound (``waitForHandOverUnderWay()``).
        // Nothing handed over: a stop came first, or gave up waiting for the driver call.
        guard let policy = try await outlivingCancellation({ try await self.handOver(evenIfTaken: true) }) else {
            throw CancellationError()
        }
        // A stop waited for that hand-over: the mode would come after its permit mode.
        guard !stopping else { throw CancellationError() }
        if persistentFailed {
            try await setMode(.block)
        } else {
            try await enterSecureOrBlock()
        }
        await journalSources(of: policy)
        await releaseFreedMemory()
    }

    /// `body`'s result, run in a task of its own that the caller's cancellation does not wait for (nor
    /// cancel): the caller then throws `CancellationError` at once, and `body` goes on to its end.
    private func outlivingCancellation<T: Sendable>(
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let (ended, end) = AsyncStream<Never>.makeStream()
        let task = Task {
            defer { end.finish() }
            return try await body()
        }
        // Ends when `body` has, or at once when the caller is cancelled.
        for await _ in ended {}
        try Task.checkCancellation()
        return try await task.value
    }

    /// After a policy is applied: the parse, merge and hand-over freed most of what they used, but glibc
    /// keeps it (about half the agent's memory at 100,000 filters, Benchmarks/README.md §4).
    private func releaseFreedMemory() async {
        _ = await BlockingPool.shared.run { CurrentProcess.releaseFreeHeapMemory() }
    }

    /// Secure mode; when the driver cannot enter it (its queue held by another process, its rules
    /// refused), block mode as a precaution, saying why. Throws only when block mode fails too.
    @inline(never) private func enterSecureOrBlock() async throws {
        do {
            try await setMode(.secure)
            driverFailure = nil
        } catch  where !(error is CancellationError) {
            driverFailure = "\(error)"
            journal.record(
                JournalEntry.driverFailure(
                    "could not enter secure mode",
                    error,
                    consequence: " As a precaution it has entered block mode."
                )
            )
            try await setMode(.block)
        }
    }

    /// RUNNING → STOP_PENDING → STOPPED; the driver goes to permit mode (a manually stopped service
    /// filters nothing). Dynamic policy vanishes with the process.
    public func stop() async throws {
        try transition(.stop)
        stopping = true
        await waitForHandOverUnderWay()
        await enterPermitModeForStop()
        try transition(.stopped)
        journal.record(JournalEntry(.serviceStopped, "The IPSEC Services service entered the stopped state."))
    }

    /// Connects keying to the IKE daemon (its peer view reaches the driver through
    /// ``forwardPeerAssociations()``).
    private func startKeying() async {
        await keying?.start()
    }

    /// The driver's background work (``IPsecDriver/run()``: the driver process's link) until the agent's
    /// stop shuts the driver down; the `run` process runs it in a `Service` of its group.
    public nonisolated func runDriver() async {
        await driver.run()
    }

    /// Keying's background work (``Keying/run()``) from the agent's start until its stop; the `run` process
    /// runs it in a `Service` of its group.
    public nonisolated func runKeying() async {
        await keying?.run()
    }

    /// Hands keying's peer view to the driver each time it changes, until keying stops (its stream ends)
    /// or the calling task is cancelled. The `run` process runs it as a `Service` of its group; it is
    /// structured work of the caller, never a task the agent cancels by hand.
    public nonisolated func forwardPeerAssociations() async {
        guard let keying else { return }
        let driver = driver
        for await view in await keying.peerAssociations() {
            await driver.updatePeerAssociations(view)
        }
    }

    /// Unloads what keying loaded into the IKE daemon (its SAs go with the service, as on Windows); the
    /// peer view's stream ends with it.
    private func stopKeying() async {
        await keying?.stop()
    }

    /// After a start that was cancelled because the service is being stopped: the driver goes to permit
    /// mode, as after any stop (whatever part of the start had already happened), and the service is
    /// STOPPED. Must run in a task that is not cancelled itself.
    public func stopDuringStart() async {
        stopping = true
        await waitForHandOverUnderWay()
        await enterPermitModeForStop()
        journal.record(
            JournalEntry(.serviceStopped, "The IPSEC Services service was stopped while it was starting.")
        )
    }

    /// Re-reads the directory and local sources, and the plugins' configuration directory, and applies
    /// the result (SIGHUP, `service refresh`).
    public func refresh() async {
        guard lifecycle.state == .running else { return }
        if let sourcesReloader { await sourcesReloader() }
        await engine.refresh()
        // Cancelled: the service stops, and the sources were not read to the end.
        guard !Task.isCancelled else { return }
        await applyEffectivePolicy(evenIfTaken: true)
        journal.record(JournalEntry(.policyRefreshed, "The IPSec policy was refreshed; \(await summary())."))
    }

    /// Sets what a refresh runs before it refreshes the engine (`nil`: nothing).
    public func setSourcesReloader(_ reloader: (@Sendable () async -> Void)?) {
        sourcesReloader = reloader
    }

    /// Applies the engine's current effective policy (its change stream fired).
    public func policyChanged() async {
        guard lifecycle.state == .running else { return }
        await applyEffectivePolicy(evenIfTaken: false)
    }

    /// Takes newly configured settings: the ones that apply at once replace those in force and the
    /// driver gets its part; the boot-time ones (`ipsecexempt`, `bootmode`, `bootexemptions`) wait for
    /// the next service start or computer startup, as netsh says.
    /// - Parameter revision: the change's place among the writes of `dynamic-settings.conf`
    ///   (``ServiceStateStore/changeDynamicSettingsInOrder(lockHeld:_:)``); a change older than one
    ///   already applied is ignored, so concurrent changes that reach the agent out of order leave it
    ///   with the settings the file holds.
    public func updateSettings(_ settings: DynamicSettings, revision: UInt64? = nil) async throws {
        if let revision {
            guard revision > settingsRevision else { return }
            settingsRevision = revision
        }
        configuredSettings = settings
        self.settings = self.settings.applyingImmediateProperties(of: settings)
        if lifecycle.state == .running { try await driver.configure(self.settings.driverSettings) }
    }

    /// The status report of this process. While the service starts, the sources are not asked (the
    /// start may be waiting for one of them): `status` answers at once in every state.
    public func status(pid: Int32?) async -> ServiceStatusReport {
        let driverStatus = await driver.status()
        var report = ServiceStatusReport(startType: startType, state: lifecycle.state, summary: await summary())
        report.stateSince = stateSince
        report.pid = pid
        report.driverMode = driverStatus.mode?.description
        report.driverModeSince = modeSince
        report.tableGeneration = driverStatus.tableGeneration
        report.filterCount = driverStatus.filterCount
        report.counters = driverStatus.counters
        report.driverProcess = driverStatus.process
        report.driverProblem = driverStatus.problem ?? driverFailure
        report.persistentPolicyFailed = persistentFailed
        if lifecycle.state != .startPending { report.sources = await engine.sourceStatuses() }
        report.keying = await keying?.status()
        report.settings = settingsState
        return report
    }

    /// The settings as configured and in force.
    public var settingsState: DynamicSettingsState {
        DynamicSettingsState(configured: configuredSettings, service: settings, boot: bootSettings)
    }

    /// One line for `STATUS=` and the journal: the driver mode and the sources in effect.
    public func summary() async -> String {
        let mode = lastMode?.description ?? "unknown"
        if lifecycle.state == .startPending { return "starting; driver in \(mode) mode" }
        let inEffect = await engine.sourceStatuses().filter { $0.state == .inEffect }
        let sources =
            inEffect.isEmpty
            ? "no policy assigned, nothing is filtered"
            : inEffect.map { "\($0.name): \($0.policyName ?? "in effect")" }.joined(separator: ", ")
        var failed = persistentFailed ? " (persistent policy failed)" : ""
        if let driverFailure { failed += " (driver: \(driverFailure))" }
        return "driver in \(mode) mode\(failed); \(sources)"
    }

    /// Hands the engine's newest policy to the driver and keying, in turn with every other hand-over
    /// (``applies``); returns once the driver has a policy at least as new as the engine's when this was
    /// called, or the hand-over failed (journaled) or was dropped for a stop.
    /// - Parameter evenIfTaken: hand it over (and journal the sources) also when the driver has that
    ///   generation already (a refresh); a change then has nothing to do.
    private func applyEffectivePolicy(evenIfTaken: Bool) async {
        // Its failure is journaled inside: nothing is thrown.
        let applied = try? await handOver(evenIfTaken: evenIfTaken, journalsFailure: true)
        // The journal and the heap trim (a blocking-pool job, which can wait under load) come after the
        // lock: the next hand-over need not wait for them.
        guard let applied else { return }
        await journalSources(of: applied)
        await releaseFreedMemory()
    }

    /// One hand-over, in turn with every other (``applies``): the engine's newest policy to the driver,
    /// then to keying. Returns that policy, or nil when nothing was handed over: the service stops (a
    /// stop came first, or gave up waiting for the driver call, so keying gets nothing), the driver has
    /// that generation already and `evenIfTaken` is false, or the driver refused it and
    /// `journalsFailure` is set (then journaled); otherwise the driver's error is thrown.
    private func handOver(evenIfTaken: Bool, journalsFailure: Bool = false) async throws -> EffectivePolicy? {
        try await applies.run { () async throws -> EffectivePolicy? in
            let policy = await engine.effectivePolicy()
            // The service stops: its driver goes to permit mode and keying stops; nothing more is sent.
            guard !stopping else { return nil }
            guard evenIfTaken || policy.generation != appliedGeneration else { return nil }
            appliedGeneration = nil
            beginHandOver(policy)
            defer { endHandOver() }
            do {
                try await driver.apply(policy)
            } catch  where journalsFailure {
                // After the stop went on (its entry said it gave up on this call) no filters are in force.
                guard !stopWentOn else { return nil }
                journal.record(
                    JournalEntry(
                        .policySourceFailed,
                        priority: .error,
                        "The IPSec Policy Agent could not apply the effective policy (generation \(policy.generation)): \(error). The previous filters stay in force."
                    )
                )
                return nil
            }
            // A stop that gave up waiting for this call (``waitForHandOverUnderWay()``) has stopped keying,
            // or is stopping it: loading this policy now would negotiate for a stopped service.
            guard !stopWentOn else { return nil }
            // IKE follows the filters the driver enforces; until its configuration is loaded, the first
            // packets of a new rule ask for a negotiation keying ignores (its generation is not current).
            await keying?.apply(policy)
            appliedGeneration = policy.generation
            return policy
        }
    }

    private func beginHandOver(_ policy: EffectivePolicy) {
        handOverUnderWay = (policy.generation, SystemClock.monotonicMicroseconds())
    }

    private func endHandOver() {
        handOverUnderWay = nil
        let waiters = handOverWaiters.values
        handOverWaiters = [:]
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// A stop's wait for the hand-over under way, at most ``handOverWaitAtStop``: it reaches the driver and
    /// keying before the driver's permit mode and keying's stop. One that takes longer (a hung driver call)
    /// does not hold the stop: the stop goes on, says so in the journal, and that hand-over gives keying
    /// nothing when its driver call returns (``stopWentOn``).
    private func waitForHandOverUnderWay() async {
        guard let underWay = handOverUnderWay else { return }
        let waiter = nextHandOverWaiter
        nextHandOverWaiter += 1
        let limit = handOverWaitAtStop
        // A bound on one wait: the timer resumes the waiter when the hand-over has not.
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.giveUpWaiting(waiter)
        }
        defer { timer.cancel() }
        let ended = await withCheckedContinuation { handOverWaiters[waiter] = $0 }
        guard !ended else { return }
        let milliseconds = (SystemClock.monotonicMicroseconds() - underWay.since) / 1000
        journal.record(
            JournalEntry(
                .policySourceFailed,
                priority: .warning,
                "The IPSec Policy Agent stopped without waiting any longer for the hand-over of policy generation \(underWay.generation), under way for \(milliseconds) ms (the stop waits \(limit) at most): the IPSec driver enters permit mode now, and keying will not receive that policy.",
                fields: ["IPSECSVC_GENERATION": "\(underWay.generation)"]
            )
        )
    }

    private func giveUpWaiting(_ waiter: Int) {
        handOverWaiters.removeValue(forKey: waiter)?.resume(returning: false)
    }

    /// One event per source, when the agent journals them (not the engine).
    private func journalSources(of policy: EffectivePolicy) async {
        guard journalsSources else { return }
        for source in await engine.sourceStatuses() {
            journalSource(source, filters: policy.filters.filter { $0.provenance.source == source.name }.count)
        }
    }

    private func journalSource(_ source: SourceStatus, filters: Int) {
        var fields = ["IPSECSVC_SOURCE": source.name, "IPSECSVC_SOURCE_KIND": source.kind.rawValue]
        if let policy = source.policyName { fields["IPSECSVC_POLICY"] = policy }
        let policy = source.policyName.map { "'\($0)'" } ?? "(unnamed)"
        switch source.state {
        case .inEffect where source.kind == .directoryCache:
            journal.record(
                JournalEntry(
                    .cachedDirectoryPolicyApplied,
                    priority: .warning,
                    "PAStore Engine applied locally cached copy of Active Directory storage IPSec policy \(policy) on the computer (\(filters) filters)\(source.reason.map { ": \($0)" } ?? "").",
                    fields: fields
                )
            )
        case .inEffect:
            journal.record(
                JournalEntry(
                    .policyApplied,
                    "PAStore Engine applied \(Self.storeName(source.kind)) IPSec policy \(policy) on the computer (\(filters) filters).",
                    fields: fields
                )
            )
        case .failed, .unavailable:
            journal.record(
                JournalEntry(
                    .policySourceFailed,
                    priority: .warning,
                    "PAStore Engine failed to apply \(Self.storeName(source.kind)) IPSec policy \(policy) on the computer: \(source.reason ?? source.state.rawValue).",
                    fields: fields
                )
            )
        case .standby, .notConfigured:
            break
        }
    }

    private static func storeName(_ kind: SourceKind) -> String {
        switch kind {
        case .persistent: "persistent storage"
        case .directory: "Active Directory storage"
        case .directoryCache: "locally cached Active Directory storage"
        case .local: "local registry storage"
        case .dynamic: "dynamic"
        case .plugin: "plugin"
        }
    }

    /// A stopped service filters nothing: the driver goes to permit mode (a failure is journaled, and
    /// the stop goes on).
    private func enterPermitModeForStop() async {
        stopWentOn = true
        do {
            // The driver's graceful stop: permit mode, and a driver process the service started exits.
            try await driver.shutdown()
            recordMode(.permit)
        } catch {
            journal.record(
                JournalEntry(
                    .driverModeChanged,
                    priority: .error,
                    "The IPSec driver could not enter permit mode while the service stopped: \(error)."
                )
            )
        }
        await stopKeying()
    }

    private func setMode(_ mode: OperationalMode) async throws {
        try await driver.enterOperationalMode(mode)
        recordMode(mode)
    }

    /// Journals a new mode the driver is in.
    private func recordMode(_ mode: OperationalMode) {
        let next = DriverMode.operational(mode)
        if next != lastMode {
            modeSince = SystemClock.secondsSince1970()
            journal.record(
                JournalEntry(
                    .driverModeChanged,
                    priority: mode == .block ? .warning : .info,
                    "The IPSec driver has entered \(mode.rawValue) mode.",
                    fields: ["IPSECSVC_DRIVER_MODE": mode.rawValue]
                )
            )
        }
        lastMode = next
    }

    private func transition(_ event: ServiceStateMachine.Event) throws(WindowsError) {
        let before = lifecycle.state
        try lifecycle.handle(event, startType: startType)
        if lifecycle.state != before { stateSince = SystemClock.secondsSince1970() }
    }
}
