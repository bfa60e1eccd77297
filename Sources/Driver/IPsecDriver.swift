public import DecisionCore
public import PolicyModel

/// The IPsec driver as the service host sees it: modes, the policy to enforce, settings, status.
///
/// Called by `ServiceHost` only: `ipsecsvc boot` calls ``enterStartupMode(_:exemptions:)`` once and exits;
/// `ipsecsvc run` calls ``apply(_:)`` and ``enterOperationalMode(_:)`` as the lifecycle demands: one
/// ``apply(_:)`` at a time, in generation order (the agent's policy hand-overs); a ``configure(_:)`` of
/// changed settings may come from another task meanwhile. Implementations must make each call take
/// effect completely or throw and leave the previous state in force; a packet is always decided by one
/// complete mode and table.
public protocol IPsecDriver: Sendable {
    /// Puts the driver in a startup mode (before the service starts). Must not need a running process
    /// afterwards: the kernel keeps enforcing it.
    func enterStartupMode(_ mode: StartupMode, exemptions: [BootExemption]) async throws

    /// Puts the driver in an operational mode.
    func enterOperationalMode(_ mode: OperationalMode) async throws

    /// Replaces the enforced filters with those of `policy` atomically.
    func apply(_ policy: EffectivePolicy) async throws

    /// Applies the `set config` settings that concern the driver.
    func configure(_ settings: DriverSettings) async throws

    /// The current mode, table generation and counters.
    func status() async -> DriverStatus

    /// What the driver decides packets with now: its mode, the settings that affect decisions and the
    /// host information its table was compiled against. `explain` runs the decision core on the same
    /// values, so that it says what the driver does.
    func decisionState() async -> DriverDecisionState

    /// Replaces keying's view of the peers (soft associations, negotiations in progress) that the
    /// negotiate action consults. Called by the service host whenever keying publishes one; the
    /// default ignores it (a driver without IKE).
    func updatePeerAssociations(_ peers: PeerAssociations) async

    /// A graceful stop of the service: leave the host in permit mode (no hooks) and release the
    /// queues. Called once, last. The default puts the driver in operational permit mode.
    func shutdown() async throws

    /// The driver's background work as children of this call, until ``shutdown()`` or the calling task's
    /// cancellation; the `run` process runs it as a `Service` of its group. The default has none.
    func run() async
}

extension IPsecDriver {
    public func shutdown() async throws {
        try await enterOperationalMode(.permit)
    }

    public func updatePeerAssociations(_ peers: PeerAssociations) async {}

    public func run() async {}
}

/// The `netsh ipsec dynamic set config` settings the driver uses.
public struct DriverSettings: Hashable, Sendable, Codable {
    /// `ipsecexempt` 0–3 (default 3: only IKE exempt).
    public var exemptionLevel: Int
    /// `ipsecdiagnostics` 0–7.
    public var diagnosticsLevel: Int
    /// `ipsecloginterval` in seconds, 60–86 400.
    public var logIntervalSeconds: Int

    public init(exemptionLevel: Int = 3, diagnosticsLevel: Int = 0, logIntervalSeconds: Int = 3600) {
        self.exemptionLevel = exemptionLevel
        self.diagnosticsLevel = diagnosticsLevel
        self.logIntervalSeconds = logIntervalSeconds
    }
}

/// What the driver reports to `status`.
public struct DriverStatus: Hashable, Sendable, Codable {
    public var mode: DriverMode?
    /// Generation of the filter table in force (of the ``EffectivePolicy`` it was compiled from).
    public var tableGeneration: UInt64
    public var filterCount: Int
    /// The counters (packets and drops per action, reason, ...), encoded under their contract names.
    public var counters: DriverCounters
    /// The driver process, when the driver runs in one of its own (`ipsecsvc driver`).
    public var process: DriverProcessInfo?
    /// Why the driver cannot be reached or did not do what it was last asked, when that is so.
    public var problem: String?

    public init(
        mode: DriverMode? = nil,
        tableGeneration: UInt64 = 0,
        filterCount: Int = 0,
        counters: DriverCounters = DriverCounters(),
        process: DriverProcessInfo? = nil
    ) {
        self.mode = mode
        self.tableGeneration = tableGeneration
        self.filterCount = filterCount
        self.counters = counters
        self.process = process
    }
}

/// The driver process (`ipsecsvc driver`) as `status` shows it beside the agent.
public struct DriverProcessInfo: Hashable, Sendable, Codable {
    public var pid: Int32
    /// Seconds since 1970 UTC when it started.
    public var startedAt: Int64
    /// Its private socket.
    public var socket: String
    /// Whether it found the last accepted table in the runtime directory at start (a restart after a
    /// crash) and enforced it before any agent spoke to it.
    public var restored: Bool
    /// Milliseconds from its start until the restored table was enforced (queues bound).
    public var restoreMilliseconds: Int?
    /// Whether it exits after the service's graceful stop (started by the service, without systemd).
    public var exitsWithService: Bool

    public init(
        pid: Int32,
        startedAt: Int64,
        socket: String,
        restored: Bool = false,
        restoreMilliseconds: Int? = nil,
        exitsWithService: Bool = false
    ) {
        self.pid = pid
        self.startedAt = startedAt
        self.socket = socket
        self.restored = restored
        self.restoreMilliseconds = restoreMilliseconds
        self.exitsWithService = exitsWithService
    }
}

/// The inputs of the driver's packet decision besides the policy (``IPsecDriver/decisionState()``).
public struct DriverDecisionState: Hashable, Sendable, Codable {
    public var settings: DecisionSettings
    public var host: HostInfo

    public init(settings: DecisionSettings, host: HostInfo) {
        self.settings = settings
        self.host = host
    }
}

/// When a restarted driver had its saved table compiled and its queues bound
/// (``NetfilterDriver/restore(settings:policy:mode:exemptions:epoch:)``), in monotonic µs
/// (`SystemClock.monotonicMicroseconds()`): the driver process journals them as its restart's phases.
public struct DriverRestoreTimes: Hashable, Sendable {
    public var compiled: UInt64
    /// `nil` when the mode binds no queue.
    public var queuesBound: UInt64?

    public init(compiled: UInt64, queuesBound: UInt64? = nil) {
        self.compiled = compiled
        self.queuesBound = queuesBound
    }
}
