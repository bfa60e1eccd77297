import DecisionCore
import Driver
import IPsecSystem
import PolicyModel

/// The driver process's state: the ``NetfilterDriver`` it runs, the last accepted state it keeps in the
/// runtime directory, and the answers to the agent's requests.
///
/// Each change is saved before it is enforced, so that a driver restarted after a crash enforces at least
/// what it was last told (never an older table); a change the driver refuses is taken back from the file.
/// Changes run one at a time in arrival order; `status` and `decisionState` are answered meanwhile. A
/// table older than the one in force from the same agent process is not enforced (DESIGN.md §1).
actor DriverHost {
    let driver: NetfilterDriver
    let store: DriverRuntimeStore
    let journal: any Journal
    private(set) var info: DriverProcessInfo
    private var record = DriverRuntimeRecord()
    private var table: ArraySlice<UInt8> = []
    /// The last change queued (changes wait for the one before them).
    private var lastChange: Task<Void, Never>?
    /// Yields once when the process should exit (a shutdown of a driver started by the service).
    nonisolated let exitRequests: AsyncStream<Void>
    private let exitSink: AsyncStream<Void>.Continuation

    init(driver: NetfilterDriver, store: DriverRuntimeStore, journal: any Journal, info: DriverProcessInfo) {
        self.driver = driver
        self.store = store
        self.journal = journal
        self.info = info
        (exitRequests, exitSink) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Enforces a state saved by an earlier driver process (this one restarts after a crash): settings,
    /// the table and the mode in one control call of the driver
    /// (``NetfilterDriver/restore(settings:policy:mode:exemptions:epoch:)``). In secure mode the queues are
    /// bound — the table enforced — before the kernel rules are rewritten for the new epoch.
    /// - Returns: when the table was compiled and the queues bound; ``info`` gets the milliseconds from
    ///   `startedAt` (monotonic µs) until the mode was in force.
    func restore(_ saved: SavedDriverState, startedAt: UInt64) async throws -> DriverRestoreTimes {
        record = saved.record
        table = saved.table
        let times = try await driver.restore(
            settings: saved.record.settings,
            policy: saved.policy,
            mode: saved.record.mode,
            exemptions: saved.record.exemptions,
            epoch: saved.record.epoch
        )
        info.restored = true
        info.restoreMilliseconds = Int((SystemClock.monotonicMicroseconds() - startedAt) / 1000)
        return times
    }

    /// Answers one request of an agent.
    func handle(_ request: DriverRequest, tail: [UInt8]) async -> DriverReply {
        switch request {
        case .hello(let hello):
            guard hello.version == DriverLink.version else {
                return .failed(
                    DriverError(
                        .failed,
                        "driver protocol version \(hello.version) is not supported; this driver speaks \(DriverLink.version)"
                    )
                )
            }
            return .hello(info)
        case .status:
            var status = await driver.status()
            status.process = info
            return .status(status)
        case .decisionState:
            return .decisionState(await driver.decisionState())
        case .peerAssociations(let peers):
            await driver.updatePeerAssociations(peers)
            return .done
        default:
            return await inTurn { host in await host.change(request, tail: tail) }
        }
    }

    /// Runs `body` after every change queued before it.
    private func inTurn(_ body: @escaping @Sendable (isolated DriverHost) async -> DriverReply) async -> DriverReply {
        let previous = lastChange
        let task = Task {
            await previous?.value
            return await body(self)
        }
        lastChange = Task { _ = await task.value }
        return await task.value
    }

    private func change(_ request: DriverRequest, tail: [UInt8]) async -> DriverReply {
        var next = record
        var nextTable = table
        let enforce: @Sendable (NetfilterDriver) async throws -> Void
        switch request {
        case .configure(let settings):
            next.settings = settings
            enforce = { try await $0.configure(settings) }
        case .startupMode(let mode, let exemptions):
            next.mode = .startup(mode)
            next.exemptions = exemptions
            enforce = { try await $0.enterStartupMode(mode, exemptions: exemptions) }
        case .operationalMode(let mode):
            next.mode = .operational(mode)
            next.exemptions = []
            enforce = { try await $0.enterOperationalMode(mode) }
        case .apply(let stamp):
            // The same table again (a reconnect replays it): nothing to do.
            if stamp == record.stamp, ArraySlice(tail) == table { return .done }
            // An older generation of the same agent process was overtaken by the one in force (its
            // generations only grow): enforcing it would go back to an older policy.
            if let current = record.stamp, current.agent == stamp.agent, stamp.generation < current.generation {
                return .done
            }
            let policy: EffectivePolicy
            do {
                policy = try PolicyWire.decode(tail)
            } catch {
                return .failed(DriverError(.failed, "the table cannot be read: \(error)"))
            }
            next.stamp = stamp
            nextTable = ArraySlice(tail)
            enforce = { try await $0.apply(policy) }
        case .shutdown:
            next.mode = .operational(.permit)
            next.exemptions = []
            enforce = { try await $0.shutdown() }
        case .hello, .status, .decisionState, .peerAssociations:
            return .done
        }
        let previous = (record, table)
        do {
            try await save(next, nextTable)
        } catch {
            return .failed(DriverError(.failed, "the driver cannot save its state in \(store.path): \(error)"))
        }
        do {
            try await enforce(driver)
        } catch {
            try? await save(previous.0, previous.1)
            if let error = error as? DriverError { return .failed(error) }
            return .failed(DriverError(.failed, "\(error)"))
        }
        if case .shutdown = request, info.exitsWithService { exitSink.yield() }
        return .done
    }

    private func save(_ next: DriverRuntimeRecord, _ nextTable: ArraySlice<UInt8>) async throws {
        var next = next
        next.epoch = await driver.fastPathEpoch
        next.savedAt = SystemClock.secondsSince1970()
        let store = self.store
        let saved = next
        try await BlockingPool.shared.run { try store.save(saved, table: nextTable) }
        record = next
        table = nextTable
    }
}
