public import DecisionCore
import IPsecSystem
public import PolicyModel
import Synchronization

/// How a ``NetfilterDriver`` is wired to the host.
public struct NetfilterDriverConfiguration: Sendable {
    public var hooks: HookConfiguration
    public var reader: QueueReaderSettings
    public var securityAssociations: any SecurityAssociations
    public var hostInfo: any HostInfoSource
    /// How often the host's addresses and servers are re-read (`me`, DNS, gateway, DHCP).
    public var hostCheckInterval: Duration
    /// How often the kernel rules are compared with what the mode needs (rules removed by another
    /// program are restored at the next check: within two intervals).
    public var hookCheckInterval: Duration
    /// The fast-path epoch used last; the first table gets the one after it. (A driver process that
    /// restarts from its saved state passes the saved one to `NetfilterDriver.restore`.)
    public var lastEpoch: UInt32
    public var eventSink: any DriverEventSink
    /// Whether the driver installs its own kernel hooks (off when another tool, such as nfq-bench,
    /// installs the queue rules).
    public var installsHooks: Bool
    /// Whether permitted flows bypass user space after their first packet.
    public var fastPath: Bool
    /// Where the readers send negotiation requests and soft-association use (keying); `nil`: no IKE.
    public var keyingRequests: (any KeyingRequestSink)?
    /// Keying's peer view that ``securityAssociations`` reads; the driver replaces its content in
    /// ``NetfilterDriver/updatePeerAssociations(_:)``.
    public var peerAssociations: PeerAssociationsCell?

    public init(
        hooks: HookConfiguration = HookConfiguration(queueCount: NetfilterDriverConfiguration.defaultQueueCount),
        reader: QueueReaderSettings = QueueReaderSettings(),
        securityAssociations: any SecurityAssociations = KernelSecurityAssociations(),
        hostInfo: any HostInfoSource = LinuxHostInfoSource(),
        hostCheckInterval: Duration = .seconds(2),
        hookCheckInterval: Duration = .seconds(1),
        lastEpoch: UInt32 = 0,
        eventSink: any DriverEventSink = LoggingDriverEventSink(),
        installsHooks: Bool = true,
        fastPath: Bool = true,
        keyingRequests: (any KeyingRequestSink)? = nil,
        peerAssociations: PeerAssociationsCell? = nil
    ) {
        self.hooks = hooks
        self.reader = reader
        self.securityAssociations = securityAssociations
        self.hostInfo = hostInfo
        self.hostCheckInterval = hostCheckInterval
        self.hookCheckInterval = hookCheckInterval
        self.lastEpoch = lastEpoch
        self.eventSink = eventSink
        self.installsHooks = installsHooks
        self.fastPath = fastPath
        self.keyingRequests = keyingRequests
        self.peerAssociations = peerAssociations
    }

    /// One queue (and reader thread) per CPU, at most 8.
    public static var defaultQueueCount: Int { max(1, min(8, CurrentProcess.processorCount)) }
}

/// The real IPsec driver: kernel hooks through `iptables-restore`, packet decisions through
/// NFQUEUE reader threads, the connmark fast path, drop events and counters (docs/driver.md).
///
/// Control calls (the ``IPsecDriver`` requirements and the monitor's host and hook checks) run one at
/// a time, each to its end, in the order they arrive: the actor alone would let a stop interleave with
/// a policy change at its `iptables-restore`, and the change could then put the hooks back after the
/// stop, or restore a table over a newer one. Packets are decided on the reader threads against an
/// immutable decision context that each control call replaces as a whole.
public actor NetfilterDriver: IPsecDriver {
    let configuration: NetfilterDriverConfiguration
    let installer: KernelHookInstaller
    let statistics = DriverStatistics()
    let cell: ContextCell
    var mode: DriverMode?
    var policy: EffectivePolicy = .empty
    var settings = DriverSettings()
    var bootExemptions: [BootExemption] = []
    var host: HostInfo
    var table: FilterTable
    var epoch: UInt32
    var operationalMode: OperationalMode?
    var readers: [QueueReader] = []
    /// When the queue readers were last started (monotonic µs).
    var readersBoundAt: UInt64?
    var dropLog: DropLogReader?
    /// What the kernel-only modes dropped (rule counters) and how often the hooks were restored.
    var kernel = KernelRuleCounters()
    let loggedDrops = DropLogCount()
    /// Whether ``monitor()`` checks the host and the hooks (a mode was set and the driver not stopped).
    var monitoring = false
    /// The `ipsecloginterval` in force and when the next summary is due (`nil`: no summaries).
    var summarySchedule: (seconds: Int, due: ContinuousClock.Instant)?
    var lastSummary = DriverCounters()
    /// The secure rules were taken over from the previous driver process by moving their epoch; the
    /// monitor's next check writes them whole.
    var hooksInheritedFromPredecessor = false
    /// Whether a control call is running, and the calls waiting for their turn (oldest first).
    private var controlBusy = false
    private var controlWaiting: [CheckedContinuation<Void, Never>] = []

    public init(configuration: NetfilterDriverConfiguration = NetfilterDriverConfiguration()) {
        self.configuration = configuration
        installer = KernelHookInstaller(configuration: configuration.hooks)
        host = configuration.hostInfo.current()
        table = FilterCompiler.compile(.empty, host: host)
        epoch = configuration.lastEpoch
        cell = ContextCell(
            ReaderContext(
                decision: DecisionContext(
                    table: table,
                    settings: DecisionSettings(mode: nil),
                    host: host,
                    securityAssociations: configuration.securityAssociations
                ),
                epoch: 0,
                marks: configuration.hooks.marks,
                diagnosticsLevel: 0
            )
        )
    }

    // MARK: - IPsecDriver

    public func enterStartupMode(_ mode: StartupMode, exemptions: [BootExemption]) async throws {
        try await oneAtATime { try await setStartupMode(mode, exemptions: exemptions) }
    }

    public func enterOperationalMode(_ mode: OperationalMode) async throws {
        try await oneAtATime { try await setOperationalMode(mode) }
    }

    public func apply(_ policy: EffectivePolicy) async throws {
        try await oneAtATime { try await install(policy) }
    }

    public func configure(_ settings: DriverSettings) async throws {
        try await oneAtATime { try await reconfigure(settings) }
    }

    public func shutdown() async throws {
        try await oneAtATime { try await stop() }
    }

    /// Enforces a state that an earlier driver process saved (this process restarts after a crash), as
    /// the first control call and in one: the settings, the table compiled once, then the mode, with one
    /// context published (one epoch step after `epoch`, the saved one; one set of counters). In secure
    /// mode the queues are bound with the table before the kernel rules move to the new epoch. Separate
    /// `configure`, `apply` and mode calls would publish three contexts, each with its own counters.
    /// - Returns: when the table was compiled and when the queues were bound.
    public func restore(
        settings: DriverSettings,
        policy: EffectivePolicy,
        mode: DriverMode?,
        exemptions: [BootExemption],
        epoch saved: UInt32
    ) async throws -> DriverRestoreTimes {
        try await oneAtATime {
            epoch = saved
            self.settings = settings
            self.policy = policy
            table = FilterCompiler.compile(policy, host: host)
            var times = DriverRestoreTimes(compiled: SystemClock.monotonicMicroseconds())
            switch mode {
            case .operational(let operational)?:
                // Publishes the context with the table (secure: then binds the queues).
                try await setOperationalMode(operational)
                if operational == .secure { times.queuesBound = readersBoundAt }
            case .startup(let startup)?:
                try await publishContext()
                try await setStartupMode(startup, exemptions: exemptions)
            case nil:
                try await publishContext()
            }
            return times
        }
    }

    /// Runs `body` once no other control call runs, in arrival order.
    func oneAtATime<T>(_ body: () async throws -> T) async throws -> T {
        if controlBusy {
            await withCheckedContinuation { controlWaiting.append($0) }
        }
        controlBusy = true
        defer {
            if controlWaiting.isEmpty {
                controlBusy = false
            } else {
                // The turn passes directly to the next caller; `controlBusy` stays set.
                controlWaiting.removeFirst().resume()
            }
        }
        return try await body()
    }

    private func setStartupMode(_ mode: StartupMode, exemptions: [BootExemption]) async throws {
        let state: HookState =
            switch mode {
            case .permit: .removed
            case .stateful: .startupStateful(exemptions)
            case .block: .startupBlock(exemptions)
            }
        try await installHooks(state)
        self.mode = .startup(mode)
        bootExemptions = exemptions
        await stopReaders()
        try await followDropLogging()
        resumeMonitoring()
    }

    private func setOperationalMode(_ mode: OperationalMode) async throws {
        // Idempotent: a restarted agent confirms the mode the driver already enforces, without a gap
        // or a new epoch.
        guard self.mode != .operational(mode) else { return }
        switch mode {
        case .secure:
            // The context first (its epoch's old marks forgotten), then the queues: the readers never
            // decide with an epoch whose marks were not cleared. Then the rules that queue.
            let previousMode = operationalMode
            let old = try await publish(mode: .secure)
            do {
                try await startReaders()
                // A restarted driver process (no mode yet) finds the secure rules its predecessor left
                // (fail-closed): it only moves their epoch, no process, and writes the chains whole at
                // the monitor's first check, off the restart's path (the predecessor may have been an
                // older version, or configured otherwise). Anything else writes the chains now.
                var moved = false
                if self.mode == nil, configuration.installsHooks { moved = await moveFastPathRule(from: nil) }
                if moved {
                    hooksInheritedFromPredecessor = true
                } else {
                    try await installHooks(.secure(epoch: currentEpoch))
                }
            } catch {
                operationalMode = previousMode
                _ = cell.swap(old)
                if self.mode != .operational(.secure) { await stopReaders() }
                throw error
            }
        case .permit:
            try await installHooks(.removed)
            _ = try await publish(mode: .permit)
            await stopReaders()
        case .block:
            try await installHooks(.operationalBlock)
            _ = try await publish(mode: .block)
            await stopReaders()
        }
        self.mode = .operational(mode)
        try await followDropLogging()
        resumeMonitoring()
    }

    private func install(_ policy: EffectivePolicy) async throws {
        // Patched from the table in force when only actions changed (DecisionCore's incremental compile).
        let newTable = FilterCompiler.compile(policy, host: host, previous: table)
        let previousPolicy = self.policy
        let previousTable = table
        self.policy = policy
        table = newTable
        do {
            try await republish()
        } catch {
            self.policy = previousPolicy
            table = previousTable
            _ = try? await publishContext()
            throw error
        }
        Self.releaseLater((previousPolicy, previousTable))
    }

    /// Drops the last references to a replaced policy, table or context on a blocking-pool thread:
    /// freeing a 100,000-filter table takes tens of milliseconds that a change need not wait for.
    static func releaseLater(_ garbage: sending any Sendable) {
        let box = Mutex<(any Sendable)?>(garbage)
        Task.detached { await BlockingPool.shared.run { box.withLock { $0 = nil } } }
    }

    private func reconfigure(_ settings: DriverSettings) async throws {
        let previous = self.settings
        self.settings = settings
        do {
            try await republish()
            if DropLogging(DiagnosticsLevel(previous.diagnosticsLevel))
                != DropLogging(DiagnosticsLevel(settings.diagnosticsLevel)),
                let state = hookState, state.kernelDropMode != nil
            {
                try await installHooks(state)
                try await followDropLogging()
            }
        } catch {
            self.settings = previous
            _ = try? await publishContext()
            throw error
        }
        if previous.logIntervalSeconds != settings.logIntervalSeconds, summarySchedule != nil {
            rescheduleSummary()
        }
    }

    public func status() async -> DriverStatus {
        let context = cell.current
        var counters = DriverCounters(decisions: statistics.snapshot(current: context.table, context.counters))
        let drops = readQueueDrops(queues: configuration.hooks.queues)
        var state = DriverCounters.Table()
        state.queueDroppedFull = drops.queueFull
        state.queueDroppedSocket = drops.socketFull
        state.queuesBound = UInt64(readers.count)
        state.epoch = UInt64(context.epoch)
        state.specificFilters = UInt64(table.filters.count)
        state.shapes = UInt64(table.shapeCount)
        state.unresolvedFilters = UInt64(table.unresolved.count)
        state.hostAddresses = UInt64(host.addresses.count)
        counters.table = state
        kernel.add(to: &counters)
        counters.loggedKernelDrops = loggedDrops.value.load(ordering: .relaxed)
        return DriverStatus(
            mode: mode,
            tableGeneration: table.generation,
            filterCount: policy.filters.count,
            counters: counters
        )
    }

    public func updatePeerAssociations(_ peers: PeerAssociations) async {
        configuration.peerAssociations?.replace(peers)
    }

    public func decisionState() async -> DriverDecisionState {
        DriverDecisionState(
            settings: DecisionSettings(
                mode: mode,
                exemptionLevel: settings.exemptionLevel,
                bootExemptions: bootExemptions
            ),
            host: host
        )
    }

    private func stop() async throws {
        pauseMonitoring()
        try await installHooks(.removed)
        _ = try? await publish(mode: .permit)
        mode = .operational(.permit)
        await stopReaders()
        try await followDropLogging()
    }

    /// The fast-path epoch used last (the driver process saves it, so that a restart goes on from it).
    public var fastPathEpoch: UInt32 { epoch }

    // MARK: - Internals

    var currentEpoch: UInt32 { cell.current.epoch }

    /// The kernel rules the current mode needs; `nil` before any mode (the driver has installed nothing).
    var hookState: HookState? {
        switch mode {
        case nil: nil
        case .startup(.permit), .operational(.permit): .removed
        case .startup(.stateful): .startupStateful(bootExemptions)
        case .startup(.block): .startupBlock(bootExemptions)
        case .operational(.block): .operationalBlock
        case .operational(.secure): .secure(epoch: currentEpoch)
        }
    }

    /// What the kernel-only drop modes log, from `ipsecdiagnostics`.
    var dropLogging: DropLogging {
        DropLogging(DiagnosticsLevel(settings.diagnosticsLevel), perSecond: Int(configuration.reader.eventsPerSecond))
    }

    /// Moves the kernel rules to `state`; the drop counters of the rules it replaces are kept.
    func installHooks(_ state: HookState) async throws {
        guard configuration.installsHooks else { return }
        do {
            let before = try await installer.apply(state, dropLogging: dropLogging)
            kernel.replaced(before, mode: hookState?.kernelDropMode, configuration: configuration.hooks)
        } catch let error as HookCommandError {
            throw DriverError(.rulesRejected, error.description)
        }
    }

    /// Builds and installs a context with a new epoch (so that every fast-path flow is decided again).
    func publish(mode: OperationalMode?) async throws -> ReaderContext {
        operationalMode = mode
        return try await publishContext()
    }

    /// A context for the current table, settings and host with the next epoch. Connections still
    /// marked with that epoch (from before a wrap or a restart) are forgotten first
    /// (``FlowMarkReset``), so that a mark never names a table other than the one that set it; when that
    /// fails the fast path stays off for this context.
    @discardableResult
    func publishContext() async throws -> ReaderContext {
        let modulus = configuration.hooks.marks.epochModulus
        var next: UInt32 = configuration.fastPath && modulus > 0 ? epoch % modulus + 1 : 0
        if next != 0, configuration.installsHooks, operationalMode == .secure {
            let marks = configuration.hooks.marks
            let candidate = next
            do {
                try await BlockingPool.shared.run { () throws(SystemError) in
                    try FlowMarkReset.forget(mark: marks.flowMark(epoch: candidate), mask: marks.flowMask)
                }
            } catch {
                configuration.eventSink.event(
                    "fast path off for table generation \(table.generation): \(error)",
                    priority: 3
                )
                next = 0
            }
        }
        if next != 0 { epoch = next }
        let context = ReaderContext(
            decision: DecisionContext(
                table: table,
                settings: DecisionSettings(
                    mode: operationalMode.map { .operational($0) },
                    exemptionLevel: settings.exemptionLevel,
                    bootExemptions: bootExemptions
                ),
                host: host,
                securityAssociations: configuration.securityAssociations,
                fastPath: next != 0
            ),
            epoch: next,
            marks: configuration.hooks.marks,
            diagnosticsLevel: settings.diagnosticsLevel
        )
        let old = cell.swap(context)
        statistics.fold(old.table, old.counters)
        return old
    }

    /// A new context for the current policy, settings and host; rewrites the fast-path rule when
    /// the queue is in use. The table is swapped first, then the rule: a flow marked by an older
    /// table is queued again at the latest once the rule names the new epoch. The rule moves in place
    /// (``FastPathRule``, no process); when it cannot (no such rule: the fast path was off, or the
    /// rules were changed from outside) the chains are written whole.
    func republish() async throws {
        let old = try await publishContext()
        guard mode == .operational(.secure), configuration.installsHooks else {
            Self.releaseLater(old)
            return
        }
        let next = currentEpoch
        if old.epoch != 0, await moveFastPathRule(from: old.epoch) {
            Self.releaseLater(old)
            return
        }
        do {
            try await installer.apply(.secure(epoch: next), family: .ipv4)
        } catch {
            _ = cell.swap(old)
            throw DriverError(.rulesRejected, "\(error)")
        }
        Self.releaseLater(old)
    }

    /// Moves the fast-path rules of the kernel from epoch `old` (`nil`: any) to the current epoch in
    /// place (``FastPathRule``); `false` when they are not there to move (the caller writes the chains).
    func moveFastPathRule(from old: UInt32?) async -> Bool {
        let next = currentEpoch
        guard next != 0 else { return false }
        let hooks = configuration.hooks
        do {
            try await BlockingPool.shared.run { () throws(SystemError) in
                try FastPathRule.move(
                    inbound: hooks.inboundChain,
                    outbound: hooks.outboundChain,
                    mask: hooks.marks.flowMask,
                    from: old.map { hooks.marks.flowMark(epoch: $0) },
                    to: hooks.marks.flowMark(epoch: next)
                )
            }
            return true
        } catch {
            configuration.eventSink.event("fast-path rule written whole: \(error)", priority: 7)
            return false
        }
    }

    private func startReaders() async throws {
        guard readers.isEmpty else { return }
        var started: [QueueReader] = []
        for queue in configuration.hooks.queues {
            do {
                started.append(
                    try QueueReader(
                        queue: queue,
                        cell: cell,
                        statistics: statistics,
                        sink: configuration.eventSink,
                        keying: configuration.keyingRequests,
                        settings: configuration.reader
                    )
                )
            } catch {
                // Close what was opened (never started): the queues stay unbound.
                for reader in started { reader.closeUnstarted() }
                throw DriverError.queue(queue, error)
            }
        }
        for (index, reader) in started.enumerated() {
            do {
                try reader.start()
            } catch {
                for running in started[..<index] { await running.stop() }
                for unstarted in started[index...] { unstarted.closeUnstarted() }
                throw error
            }
        }
        readers = started
        readersBoundAt = SystemClock.monotonicMicroseconds()
    }

    private func stopReaders() async {
        let current = readers
        readers = []
        for reader in current { await reader.stop() }
    }

    /// Reads the NFLOG group while a kernel-only mode logs its drops; stops reading otherwise.
    private func followDropLogging() async throws {
        let wanted = configuration.installsHooks && hookState?.kernelDropMode != nil && dropLogging.isEnabled
        if wanted, dropLog == nil {
            do {
                let reader = try DropLogReader(
                    group: configuration.hooks.logGroup,
                    sink: configuration.eventSink,
                    logged: loggedDrops
                )
                try reader.start()
                dropLog = reader
            } catch {
                throw DriverError(
                    .logGroupBusy,
                    "the drop log (NFLOG group \(configuration.hooks.logGroup)) cannot be read: \(error)"
                )
            }
        } else if !wanted, let reader = dropLog {
            dropLog = nil
            await reader.stop()
        }
    }
}
