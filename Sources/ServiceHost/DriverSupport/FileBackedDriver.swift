public import DecisionCore
public import Driver
import FoundationEssentials
import IPsecSystem
public import PolicyModel
import Providers

/// What the memory driver keeps in `driver-state`: the mode in force and how it got there.
public struct DriverStateRecord: Hashable, Sendable, Codable {
    /// One transition, for `status` and tests.
    public struct Transition: Hashable, Sendable, Codable {
        /// Seconds since 1970 UTC.
        public var at: Int64
        /// `startup permit`, `secure`, `apply generation 3 (0 filters)`, `configure ...`.
        public var event: String
    }

    public var mode: DriverMode?
    public var exemptions: [BootExemption] = []
    public var tableGeneration: UInt64 = 0
    public var filterCount: Int = 0
    public var settings = DriverSettings()
    /// When the mode last changed.
    public var modeSince: Int64?
    /// The latest transitions, oldest first (bounded).
    public var history: [Transition] = []
    /// The last call the driver refused, and why (`nil` once a call succeeded again): what `status`
    /// shows after a failed start.
    public var failure: String?

    public init() {}
}

/// Records the driver's observable state in `driver-state` in the state directory: `boot`, `run` and
/// `service query` are different processes, so the mode one of them set must outlive it.
///
/// Without an inner driver this *is* the memory driver: it filters nothing and exists so that every
/// transition is observable. With an inner driver (netfilter) each call goes to the inner driver first
/// and is recorded only when it succeeded.
public actor FileBackedDriver: IPsecDriver {
    public static let historyLimit = 64

    public nonisolated let path: String
    private let inner: (any IPsecDriver)?
    /// Serialises the record's writes (``write(event:_:)``).
    private let writes = TransactionLock()
    private let hostInfo: (any HostInfoSource)?
    private var record: DriverStateRecord

    /// Opens (or starts) the state file at `path`; `inner` is the driver that does the work, if any.
    /// Without one, `hostInfo` is what ``decisionState()`` reports as the host (the memory driver
    /// compiles nothing, but `explain` decides for it as the netfilter driver would).
    public init(path: String, inner: (any IPsecDriver)? = nil, hostInfo: (any HostInfoSource)? = nil) {
        self.path = path
        self.inner = inner
        self.hostInfo = hostInfo
        self.record = Self.read(path) ?? DriverStateRecord()
    }

    /// The state another process left in `path`, if any.
    public static func read(_ path: String) -> DriverStateRecord? {
        guard let bytes = try? FileSystem.readIfPresent(path, limit: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(DriverStateRecord.self, from: Data(bytes))
    }

    public var current: DriverStateRecord { record }

    public func enterStartupMode(_ mode: StartupMode, exemptions: [BootExemption]) async throws {
        try await recordingFailure("startup \(mode.rawValue)") {
            try await inner?.enterStartupMode(mode, exemptions: exemptions)
        }
        let list = exemptions.isEmpty ? "" : " exemptions " + exemptions.map(\.description).joined(separator: " ")
        try await commit(event: "startup \(mode.rawValue)\(list)") { next in
            next.mode = .startup(mode)
            next.exemptions = exemptions
            next.modeSince = SystemClock.secondsSince1970()
        }
    }

    public func enterOperationalMode(_ mode: OperationalMode) async throws {
        try await recordingFailure(mode.rawValue) { try await inner?.enterOperationalMode(mode) }
        try await commit(event: mode.rawValue) { next in
            next.mode = .operational(mode)
            next.exemptions = []
            next.modeSince = SystemClock.secondsSince1970()
        }
    }

    public func apply(_ policy: EffectivePolicy) async throws {
        try await recordingFailure("apply generation \(policy.generation)") { try await inner?.apply(policy) }
        let filters = policy.filters.count
        try await commit(event: "apply generation \(policy.generation) (\(filters) filters)") { next in
            next.tableGeneration = policy.generation
            next.filterCount = filters
        }
    }

    public func configure(_ settings: DriverSettings) async throws {
        try await recordingFailure("configure") { try await inner?.configure(settings) }
        try await commit(
            event:
                "configure ipsecexempt=\(settings.exemptionLevel) ipsecdiagnostics=\(settings.diagnosticsLevel) ipsecloginterval=\(settings.logIntervalSeconds)"
        ) { $0.settings = settings }
    }

    /// The service's graceful stop: permit mode (the driver process started by the service then exits).
    public func shutdown() async throws {
        try await recordingFailure("permit") {
            if let inner { try await inner.shutdown() }
        }
        try await commit(event: "permit (stop)") { next in
            next.mode = .operational(.permit)
            next.exemptions = []
            next.modeSince = SystemClock.secondsSince1970()
        }
    }

    /// The inner driver's background work (the driver process's link).
    public nonisolated func run() async {
        await inner?.run()
    }

    public func updatePeerAssociations(_ peers: PeerAssociations) async {
        await inner?.updatePeerAssociations(peers)
    }

    public func status() async -> DriverStatus {
        if let inner { return await inner.status() }
        return DriverStatus(mode: record.mode, tableGeneration: record.tableGeneration, filterCount: record.filterCount)
    }

    public func decisionState() async -> DriverDecisionState {
        if let inner { return await inner.decisionState() }
        let settings = DecisionSettings(
            mode: record.mode,
            exemptionLevel: record.settings.exemptionLevel,
            bootExemptions: record.exemptions
        )
        guard let hostInfo else { return DriverDecisionState(settings: settings, host: HostInfo()) }
        // Reads files and lists interfaces: off the cooperative pool.
        let host = await BlockingPool.shared.run { hostInfo.current() }
        return DriverDecisionState(settings: settings, host: host)
    }

    /// Runs a call of the inner driver; when it fails, `driver-state` keeps why (for `status` of a
    /// service that could not start), and the error goes on.
    private func recordingFailure(_ what: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
            if record.failure != nil {
                try? await write(event: "\(what) (driver recovered)") { $0.failure = nil }
            }
        } catch {
            try? await write(event: "\(what) failed: \(error)") { $0.failure = "\(what): \(error)" }
            throw error
        }
    }

    /// Writes the record as `change` leaves it durably, then makes it current: a failed write leaves the
    /// previous state. With an inner driver the transition has already happened in the kernel, so a
    /// failed write only loses the record (and is not reported as a failed transition); without one the
    /// record is the state.
    private func commit(event: String, _ change: (inout DriverStateRecord) -> Void) async throws {
        do {
            try await write(event: event, keepOnFailure: inner != nil, change)
        } catch  where inner != nil {
            // The record in memory has the change already (``write(event:keepOnFailure:_:)``).
        }
    }

    /// One write at a time, each changing the record the one before it left: calls of different kinds
    /// overlap (a `set config` while a policy is handed over, a stop during a configure), and a change
    /// made on a copy taken before another's write ended would undo that one.
    /// - Parameter keepOnFailure: when the write fails, make `change` in memory all the same, before the
    ///   next write takes its copy (after it, that write's copy would undo the change).
    private func write(
        event: String,
        keepOnFailure: Bool = false,
        _ change: (inout DriverStateRecord) -> Void
    ) async throws {
        try await writes.run {
            var next = record
            change(&next)
            next.history.append(.init(at: SystemClock.secondsSince1970(), event: event))
            if next.history.count > Self.historyLimit {
                next.history.removeFirst(next.history.count - Self.historyLimit)
            }
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = try encoder.encode(next)
                let path = self.path
                // fsync can take a while: keep it off the cooperative pool.
                try await BlockingPool.shared.run { () throws(SystemError) in
                    try FileSystem.makeDirectories(FileSystem.directory(of: path), mode: 0o750)
                    try DurableFile.write(Array(data), to: path, permissions: 0o640)
                }
            } catch {
                if keepOnFailure { change(&record) }
                throw error
            }
            record = next
        }
    }
}
