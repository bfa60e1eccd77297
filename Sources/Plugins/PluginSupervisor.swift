import IPsecSystem
public import PolicyModel
import Providers

#if canImport(Glibc)
import Glibc
#endif

/// Where one plugin source stands: its health, and the policy from its last valid document.
public struct PluginSourceState: Hashable, Sendable {
    public enum Health: Hashable, Sendable {
        /// Loading, opening, or waiting for the first document.
        case starting
        /// The last fetch gave a valid document.
        case running
        /// Crashed, hung, refused to load, or delivered an unusable document; restarts with backoff.
        case failed(reason: String)
        /// Stopped by the service.
        case stopped
    }

    /// The provider name, `plugin:<name>`.
    public var source: String
    public var health: Health
    /// The plugin's table, once a host has loaded it.
    public var info: PluginInfo?
    /// The configuration's rank, else the plugin's default rank (once known).
    public var rank: Int?
    /// The policy of the last valid document, kept while the plugin is failed (for `--check` and
    /// diagnostics). ``PluginProvider`` does not merge it while failed: a failed source contributes
    /// nothing, as `status` says.
    public var store: PolicyStore?
    /// Size of the last valid document.
    public var documentSize: Int?
    /// Seconds since 1970 UTC of the last valid document.
    public var documentTime: Int64?
    /// Seconds since 1970 UTC of the last health change.
    public var since: Int64
    /// How many times the plugin host was restarted after a failure.
    public var restarts: Int

    /// The failure reason, when failed.
    public var failureReason: String? {
        if case .failed(let reason) = health { return reason }
        return nil
    }
}

/// Something the journal should record about a plugin (the service writes it with `PLUGIN=` fields).
public struct PluginEvent: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable {
        case info
        case warning
        case error
    }

    public var severity: Severity
    /// `plugin:<name>`.
    public var source: String
    public var message: String
    /// For failures: the reason alone (also inside ``message``).
    public var reason: String?

    public var description: String { "\(source): \(message)" }

    /// Structured journal fields for this event (`IPSECSVC_SOURCE`, and `IPSECSVC_REASON` for failures),
    /// in the naming the service's journal uses.
    public var journalFields: [String: String] {
        var fields = ["IPSECSVC_SOURCE": source]
        if let reason { fields["IPSECSVC_REASON"] = reason }
        return fields
    }
}

/// How the supervisor starts plugin hosts.
public struct PluginLauncher: Hashable, Sendable {
    /// The `ipsecsvc` executable whose `plugin-host` subcommand serves a plugin.
    public var executable: String

    /// - Parameter executable: defaults to this process's own executable.
    public init(executable: String = "/proc/self/exe") {
        self.executable = executable
    }

    func connect(_ configuration: PluginConfiguration) throws(PluginCallError) -> PluginConnection {
        let frameLimit = max(configuration.maxDocumentSize, 1 << 16)
        switch configuration.isolation {
        case .process:
            return try PluginConnection.spawn(
                executable: executable,
                arguments: [
                    "plugin-host", "--fd", "3", "--max-document-size", String(configuration.maxDocumentSize),
                    "--memory-limit", String(configuration.memoryLimit), configuration.path,
                ],
                frameLimit: frameLimit
            )
        case .inProcess:
            return try PluginConnection.inProcess(
                pluginPath: configuration.path,
                maxDocumentSize: configuration.maxDocumentSize,
                frameLimit: frameLimit
            )
        }
    }
}

/// Runs one plugin for the service: starts its host, opens it, fetches its document when it signals a
/// change or its poll interval elapses, validates every document, and turns every kind of breakage
/// into a `failed` state with a reason, followed by a restart with exponential backoff.
///
/// What it guarantees: nothing a plugin does (crash, abort, hang, memory exhaustion, huge or invalid
/// documents) reaches the service beyond a state change; ``state`` always holds the last valid policy
/// or none. All waits are bounded by the configuration's `timeout`.
///
/// Its background work — the host's events, the call timeout, the poll, the coalesced fetch, the
/// restart after a failure — runs as children of ``run()``; a timer that is no longer wanted is disarmed
/// (its number is no longer the current one), and ``stop()`` ends them all.
public actor PluginSupervisor {
    public nonisolated let configuration: PluginConfiguration
    private let launcher: PluginLauncher
    private let validator: PluginDocumentValidator
    private let log: @Sendable (PluginEvent) -> Void

    private var current: PluginSourceState
    private var connection: PluginConnection?
    /// Increases with every host started or abandoned; events of older hosts are ignored.
    private var generation = 0
    private var phase = Phase.idle
    /// A change arrived during a fetch: fetch again afterwards.
    private var fetchAgain = false
    private var wanted = false
    /// Set by ``stop()``: a stopped supervisor does not start again.
    private var ended = false
    private var backoff: Duration
    private var lastDocument: [UInt8]?
    /// The armed call timeout, poll, restart and deferred fetch, by number: a timer whose number is no
    /// longer the current one was disarmed and does nothing when it fires.
    private var timeoutArm = 0
    private var pollArm = 0
    private var restartArm = 0
    private var deferredArm = 0
    /// A fetch a change signal asked for while the last one was too recent (see
    /// ``minimumFetchInterval``) is pending; one at most, whatever the number of signals.
    private var fetchDeferred = false
    /// The work ``run()`` runs as its children.
    private nonisolated let jobs: AsyncStream<@Sendable () async -> Void>
    private nonisolated let jobSink: AsyncStream<@Sendable () async -> Void>.Continuation
    private var lastFetch: ContinuousClock.Instant?
    private var subscribers: [Int: AsyncStream<PluginSourceState>.Continuation] = [:]
    private var nextSubscriber = 0
    /// Signals every change of ``state`` to ``changes()``, without the state.
    private nonisolated let changed = ChangeSignal()

    private enum Phase: String {
        case idle
        case loading = "load"
        case opening = "open"
        case ready
        case fetching = "fetch"
    }

    /// The least time between two fetches that change signals, the poll interval or a refresh ask for:
    /// the signals in between are coalesced into one fetch at the end of it, so a plugin that signals
    /// in a loop costs at most two fetches (and policy changes) a second, and its last change still
    /// applies.
    public static let minimumFetchInterval: Duration = .milliseconds(500)

    /// - Parameters:
    ///   - configuration: the plugin's plugins.d file.
    ///   - launcher: where the `ipsecsvc` executable is (tests point it at the built one).
    ///   - validator: how documents are checked; ``PluginDocumentValidator/native`` in the service.
    ///   - log: receives journal events; called on the supervisor's executor, must not block.
    public init(
        configuration: PluginConfiguration,
        launcher: PluginLauncher = PluginLauncher(),
        validator: PluginDocumentValidator = .native,
        log: @escaping @Sendable (PluginEvent) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.launcher = launcher
        self.validator = validator
        self.log = log
        self.backoff = configuration.restartDelay
        self.current = PluginSourceState(
            source: configuration.sourceName,
            health: .stopped,
            rank: configuration.rank,
            since: Self.now(),
            restarts: 0
        )
        (jobs, jobSink) = AsyncStream.makeStream()
    }

    /// Runs the supervisor's background work as children of this call, until ``stop()`` (or the
    /// cancellation of the calling task). Whoever starts the supervisor runs this beside it (the plugin
    /// manager, `ipsecsvc plugin-host --check`); the work of ``start()`` waits for it. Call it once.
    public nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            for await job in jobs { group.addTask { await job() } }
            group.cancelAll()
        }
    }

    /// Hands `job` to ``run()``.
    private func spawn(_ job: @escaping @Sendable () async -> Void) {
        jobSink.yield(job)
    }

    /// The current state: health, reason, and the last valid policy.
    public var state: PluginSourceState { current }

    /// The current state now, then every change of it until ``stop()`` (after it: the stopped state alone).
    public func updates() -> AsyncStream<PluginSourceState> {
        let (stream, continuation) = AsyncStream<PluginSourceState>.makeStream(bufferingPolicy: .bufferingNewest(16))
        guard !ended else {
            continuation.yield(current)
            continuation.finish()
            return stream
        }
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[id] = continuation
        continuation.yield(current)
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        return stream
    }

    /// Yields whenever ``state`` changed, until ``stop()``: what ``PluginProvider/changes()`` hands the
    /// engine (no task of its own between the two).
    public nonisolated func changes() -> AsyncStream<Void> { changed.stream() }

    /// How many ``updates()`` streams are open (for tests: a waiter that ended has let go of its stream).
    var subscriberCount: Int { subscribers.count }

    /// Starts the plugin host. Returns at once; watch ``updates()`` or ``state``. Does nothing after
    /// ``stop()``.
    public func start() {
        guard !wanted, !ended else { return }
        wanted = true
        setHealth(.starting)
        launch()
    }

    /// Fetches now; a failed plugin waiting for its restart is restarted now.
    public func refresh() {
        guard wanted else { return }
        if connection == nil {
            restartArm &+= 1
            current.restarts += 1
            launch()
        } else {
            changeSignalled()
        }
    }

    /// Closes the plugin and ends its host: a `close` request, then SIGKILL after 2 seconds. ``run()``
    /// ends; a stopped supervisor does not start again.
    public func stop() async {
        wanted = false
        ended = true
        timeoutArm &+= 1
        pollArm &+= 1
        restartArm &+= 1
        deferredArm &+= 1
        fetchDeferred = false
        generation &+= 1
        phase = .idle
        if let host = connection {
            connection = nil
            host.send(PluginFrame(.close))
            if !(await Self.waitForEnd(of: host, milliseconds: 2000)) {
                host.terminate()
                _ = await Self.waitForEnd(of: host, milliseconds: 5000)
            }
        }
        setHealth(.stopped)
        for continuation in subscribers.values { continuation.finish() }
        subscribers = [:]
        changed.finish()
        jobSink.finish()
    }

    // MARK: - Host lifecycle

    private func launch() {
        generation &+= 1
        let generation = generation
        phase = .loading
        fetchAgain = false
        let host: PluginConnection
        do {
            host = try launcher.connect(configuration)
        } catch {
            fail(error.message)
            return
        }
        connection = host
        spawn { [self] in
            for await event in host.events {
                await self.handle(event, generation: generation)
            }
        }
        armTimeout()
    }

    private func handle(_ event: PluginConnection.Event, generation: Int) {
        guard generation == self.generation, connection != nil else { return }
        switch event {
        case .frame(let frame):
            handle(frame)
        case .broken(let message):
            fail(message)
        case .ended(let exit):
            var reason = "plugin host \(exit)"
            if phase != .ready && phase != .idle { reason += " during \(phase.rawValue)" }
            if case .signaled = exit.status, let peak = exit.peakMemoryKiB {
                // A leak ends in a signal once the address-space limit makes allocations fail.
                reason += "; peak memory \(peak >> 10) MiB"
                if configuration.memoryLimit > 0 { reason += " of the \(configuration.memoryLimit >> 20) MiB limit" }
            }
            fail(reason)
        }
    }

    private func handle(_ frame: PluginFrame) {
        switch (phase, frame.kind) {
        case (.loading, .hello):
            timeoutArm &+= 1
            guard let info = PluginInfo(encoded: frame.payload) else {
                fail("protocol error: unreadable hello from the plugin host")
                return
            }
            current.info = info
            current.rank = configuration.rank ?? info.defaultRank
            publish()
            phase = .opening
            connection?.send(PluginFrame(.open, text: configuration.configurationString))
            armTimeout()
        case (.opening, .opened):
            timeoutArm &+= 1
            phase = .ready
            startPolling()
            fetch()
        case (.fetching, .document):
            timeoutArm &+= 1
            phase = .ready
            accept(frame.payload)
            if phase == .ready, fetchAgain {
                fetchAgain = false
                fetchSoon()
            }
        case (.loading, .error):
            fail("cannot load: " + frame.text)
        case (.opening, .error):
            fail("open failed: " + frame.text)
        case (.fetching, .error):
            fail("fetch failed: " + frame.text)
        case (_, .changed):
            changeSignalled()
        default:
            fail("protocol error: unexpected \(frame.kind) frame during \(phase.rawValue)")
        }
    }

    private func changeSignalled() {
        switch phase {
        case .ready: fetchSoon()
        case .fetching: fetchAgain = true
        default: break
        }
    }

    /// Fetches now, or once ``minimumFetchInterval`` has passed since the last fetch.
    private func fetchSoon() {
        guard !fetchDeferred else { return }
        guard let last = lastFetch, ContinuousClock.now < last + Self.minimumFetchInterval else {
            fetch()
            return
        }
        let generation = generation
        fetchDeferred = true
        deferredArm &+= 1
        let arm = deferredArm
        let due = last + Self.minimumFetchInterval
        spawn { [self] in
            guard (try? await Task.sleep(until: due)) != nil else { return }
            await self.deferredFetchDue(arm: arm, generation: generation)
        }
    }

    private func deferredFetchDue(arm: Int, generation: Int) {
        guard arm == deferredArm else { return }
        fetchDeferred = false
        guard generation == self.generation else { return }
        changeSignalled()
    }

    private func fetch() {
        guard phase == .ready, let connection else { return }
        phase = .fetching
        lastFetch = ContinuousClock.now
        connection.send(PluginFrame(.fetch))
        armTimeout()
    }

    private func accept(_ bytes: [UInt8]) {
        guard bytes.count <= configuration.maxDocumentSize else {
            fail("document of \(bytes.count) bytes exceeds the limit of \(configuration.maxDocumentSize) bytes")
            return
        }
        if bytes == lastDocument, current.store != nil {
            // Same bytes as the last valid document: nothing to parse, nothing changed.
            if current.health != .running { setHealth(.running) }
            backoff = configuration.restartDelay
            return
        }
        let store: PolicyStore
        do {
            store = try validator.validate(bytes, configuration.sourceName)
        } catch {
            fail("invalid document: \(error)")
            return
        }
        lastDocument = bytes
        backoff = configuration.restartDelay
        current.store = store
        current.documentSize = bytes.count
        current.documentTime = Self.now()
        let wasRunning = current.health == .running
        if wasRunning {
            publish()
        } else {
            setHealth(.running)
        }
        log(
            PluginEvent(
                severity: .info,
                source: configuration.sourceName,
                message: "delivered a valid policy document (\(bytes.count) bytes, \(store.policies.count) policies)"
            )
        )
    }

    /// Marks the source failed, ends the host and schedules a restart.
    private func fail(_ reason: String) {
        let host = connection
        connection = nil
        generation &+= 1
        phase = .idle
        timeoutArm &+= 1
        pollArm &+= 1
        deferredArm &+= 1
        fetchDeferred = false
        host?.terminate()
        setHealth(.failed(reason: reason))
        log(
            PluginEvent(
                severity: .error,
                source: configuration.sourceName,
                message: "plugin failed: \(reason); restarting in \(Self.seconds(backoff))",
                reason: reason
            )
        )
        scheduleRestart()
    }

    private func scheduleRestart() {
        guard wanted else { return }
        let delay = backoff
        backoff = min(backoff * 2, configuration.restartDelayMax)
        let generation = generation
        restartArm &+= 1
        let arm = restartArm
        spawn { [self] in
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            await self.restart(arm: arm, generation: generation)
        }
    }

    private func restart(arm: Int, generation: Int) {
        guard arm == restartArm, wanted, generation == self.generation, connection == nil else { return }
        current.restarts += 1
        launch()
    }

    private func armTimeout() {
        timeoutArm &+= 1
        let arm = timeoutArm
        let generation = generation
        let timeout = configuration.timeout
        spawn { [self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self.timedOut(arm: arm, generation: generation)
        }
    }

    private func timedOut(arm: Int, generation: Int) {
        guard arm == timeoutArm, generation == self.generation, [.loading, .opening, .fetching].contains(phase)
        else { return }
        fail("did not answer \(phase.rawValue) within \(Self.seconds(configuration.timeout)); plugin host killed")
    }

    private func startPolling() {
        pollArm &+= 1
        let interval = configuration.pollInterval ?? .seconds(Int64(current.info?.pollIntervalSeconds ?? 0))
        guard interval > .zero else { return }
        let arm = pollArm
        let generation = generation
        spawn { [self] in
            while (try? await Task.sleep(for: interval)) != nil {
                guard await self.pollElapsed(arm: arm, generation: generation) else { return }
            }
        }
    }

    /// Whether the poll is still wanted (it asked for a fetch then).
    private func pollElapsed(arm: Int, generation: Int) -> Bool {
        guard arm == pollArm, generation == self.generation else { return false }
        changeSignalled()
        return true
    }

    // MARK: - State

    private func setHealth(_ health: PluginSourceState.Health) {
        current.health = health
        current.since = Self.now()
        publish()
    }

    private func publish() {
        for continuation in subscribers.values { continuation.yield(current) }
        changed.signal()
    }

    private func unsubscribe(_ id: Int) {
        subscribers[id] = nil
    }

    private static func waitForEnd(of host: PluginConnection, milliseconds: Int) async -> Bool {
        var waited = 0
        while !host.hasEnded && waited < milliseconds {
            try? await Task.sleep(for: .milliseconds(20))
            waited += 20
        }
        return host.hasEnded
    }

    private static func now() -> Int64 { SystemClock.secondsSince1970() }

    private static func seconds(_ duration: Duration) -> String {
        let components = duration.components
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}
