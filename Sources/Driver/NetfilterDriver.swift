public import DecisionCore
import IPsecSystem
public import PolicyModel

/// How a ``NetfilterDriver`` is wired to the host.
public struct NetfilterDriverConfiguration: Sendable {
    public var hooks: HookConfiguration
    public var reader: QueueReaderSettings
    public var securityAssociations: any SecurityAssociations
    public var hostInfo: any HostInfoSource
    /// How often the host's addresses and servers are re-read (`me`, DNS, gateway, DHCP).
    public var hostCheckInterval: Duration
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
        eventSink: any DriverEventSink = StandardErrorEventSink(),
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
/// Control calls (the ``IPsecDriver`` requirements and the host monitor's re-check) run one at a time,
/// each to its end, in the order they arrive: the actor alone would let a stop interleave with a policy
/// change at its `iptables-restore`, and the change could then put the hooks back after the stop.
/// Packets are decided on the reader threads against an immutable decision context that each control
/// call replaces as a whole.
public actor NetfilterDriver: IPsecDriver {
    private let configuration: NetfilterDriverConfiguration
    private let installer: KernelHookInstaller
    private let statistics = DriverStatistics()
    private let cell: ContextCell
    private var mode: DriverMode?
    private var policy: EffectivePolicy = .empty
    private var settings = DriverSettings()
    private var bootExemptions: [BootExemption] = []
    private var host: HostInfo
    private var table: FilterTable
    private var epoch: UInt32 = 0
    private var readers: [QueueReader] = []
    private var monitor: Task<Void, Never>?
    private var summary: Task<Void, Never>?
    /// Whether a control call is running, and the calls waiting for their turn (oldest first).
    private var controlBusy = false
    private var controlWaiting: [CheckedContinuation<Void, Never>] = []

    public init(configuration: NetfilterDriverConfiguration = NetfilterDriverConfiguration()) {
        self.configuration = configuration
        installer = KernelHookInstaller(configuration: configuration.hooks)
        host = configuration.hostInfo.current()
        table = FilterCompiler.compile(.empty, host: host)
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

    /// Runs `body` once no other control call runs, in arrival order.
    private func oneAtATime<T>(_ body: () async throws -> T) async throws -> T {
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
        if configuration.installsHooks { try await installer.apply(state) }
        self.mode = .startup(mode)
        bootExemptions = exemptions
        await stopReaders()
    }

    private func setOperationalMode(_ mode: OperationalMode) async throws {
        switch mode {
        case .secure:
            try await startReaders()
            startTasks()
            let old = publish(mode: .secure)
            do {
                if configuration.installsHooks { try await installer.apply(.secure(epoch: currentEpoch)) }
            } catch {
                _ = cell.swap(old)
                throw error
            }
        case .permit:
            if configuration.installsHooks { try await installer.apply(.removed) }
            _ = publish(mode: .permit)
            await stopReaders()
        case .block:
            if configuration.installsHooks { try await installer.apply(.operationalBlock) }
            _ = publish(mode: .block)
            await stopReaders()
        }
        self.mode = .operational(mode)
    }

    private func install(_ policy: EffectivePolicy) async throws {
        let newTable = FilterCompiler.compile(policy, host: host)
        let previousPolicy = self.policy
        let previousTable = table
        self.policy = policy
        table = newTable
        do {
            try await republish()
        } catch {
            self.policy = previousPolicy
            table = previousTable
            _ = publishContext()
            throw error
        }
    }

    private func reconfigure(_ settings: DriverSettings) async throws {
        let previous = self.settings
        self.settings = settings
        do {
            try await republish()
        } catch {
            self.settings = previous
            _ = publishContext()
            throw error
        }
        if previous.logIntervalSeconds != settings.logIntervalSeconds, summary != nil {
            summary?.cancel()
            summary = nil
            startTasks()
        }
    }

    public func status() async -> DriverStatus {
        let context = cell.current
        var counters = statistics.snapshot(current: context.table, context.counters)
        let drops = readQueueDrops(queues: configuration.hooks.queues)
        counters["queue.dropped.full"] = drops.queueFull
        counters["queue.dropped.socket"] = drops.socketFull
        counters["queues.bound"] = UInt64(readers.count)
        counters["table.epoch"] = UInt64(context.epoch)
        counters["table.specific-filters"] = UInt64(table.filters.count)
        counters["table.shapes"] = UInt64(table.shapeCount)
        counters["table.unresolved-filters"] = UInt64(table.unresolved.count)
        counters["host.addresses"] = UInt64(host.addresses.count)
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
        monitor?.cancel()
        summary?.cancel()
        monitor = nil
        summary = nil
        if configuration.installsHooks { try await installer.apply(.removed) }
        _ = publish(mode: .permit)
        mode = .operational(.permit)
        await stopReaders()
    }

    // MARK: - Internals

    private var currentEpoch: UInt32 { cell.current.epoch }

    /// Builds and installs a context with a new epoch (so that every fast-path flow is decided again).
    @discardableResult
    private func publish(mode: OperationalMode?) -> ReaderContext {
        operationalMode = mode
        return publishContext()
    }

    private var operationalMode: OperationalMode?

    @discardableResult
    private func publishContext() -> ReaderContext {
        let modulus = configuration.hooks.marks.epochModulus
        epoch = configuration.fastPath && modulus > 0 ? epoch % modulus + 1 : 0
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
                fastPath: epoch != 0
            ),
            epoch: epoch,
            marks: configuration.hooks.marks,
            diagnosticsLevel: settings.diagnosticsLevel
        )
        let old = cell.swap(context)
        statistics.fold(old.table, old.counters)
        return old
    }

    /// A new context for the current policy, settings and host; rewrites the fast-path rule when
    /// the queue is in use. The table is swapped first, then the rule: a flow marked by an older
    /// table is queued again at the latest once the rule names the new epoch.
    private func republish() async throws {
        let old = publishContext()
        guard mode == .operational(.secure), configuration.installsHooks else { return }
        do {
            try await installer.apply(.secure(epoch: currentEpoch), family: .ipv4)
        } catch {
            _ = cell.swap(old)
            throw error
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
                throw error
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
    }

    private func stopReaders() async {
        let current = readers
        readers = []
        for reader in current { await reader.stop() }
    }

    private func startTasks() {
        if monitor == nil {
            let interval = configuration.hostCheckInterval
            monitor = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    await self.checkHost()
                }
            }
        }
        if summary == nil {
            let seconds = max(1, settings.logIntervalSeconds)
            summary = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(seconds))
                    guard !Task.isCancelled, let self else { return }
                    await self.emitSummary()
                }
            }
        }
    }

    /// Re-resolves `me` and special servers; recompiles when the host's configuration changed.
    func checkHost() async {
        try? await oneAtATime { await recheckHost() }
    }

    private func recheckHost() async {
        // The reader blocks on files: off the actor, so that packets' control calls are not held up.
        let source = configuration.hostInfo
        let current = await BlockingPool.shared.run { source.current() }
        guard current != host else { return }
        host = current
        table = FilterCompiler.compile(policy, host: host)
        do {
            try await republish()
        } catch {
            configuration.eventSink.event(
                "could not update the fast-path rule after an address change: \(error)",
                priority: 3
            )
        }
    }

    private var lastSummary: [String: UInt64] = [:]

    /// The periodic summary event (`ipsecloginterval`).
    func emitSummary() async {
        let counters = await status().counters
        func delta(_ name: String) -> UInt64 { (counters[name] ?? 0) &- (lastSummary[name] ?? 0) }
        let text =
            "summary: \(delta("packets")) packets decided, \(delta("drops")) dropped "
            + "(blocked \(delta("drops.blocked")), negotiation required \(delta("drops.negotiation-required")), "
            + "malformed \(delta("drops.malformed"))), queue drops \(delta("queue.dropped.full") &+ delta("queue.dropped.socket")), "
            + "suppressed events \(delta("events.suppressed")); table generation \(table.generation), "
            + "\(table.filters.count) specific filters"
        lastSummary = counters
        configuration.eventSink.event(text, priority: 6)
    }
}
