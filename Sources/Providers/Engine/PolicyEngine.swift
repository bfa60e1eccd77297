public import PolicyModel

/// The Policy Agent's policy side as the service host drives it: sources, merge, refresh.
///
/// Called by `ServiceHost` only, one call at a time, in this order at service start:
/// ``startPersistent()`` (apply persistent policy first; if it throws, the host removes the
/// persistent filters and puts the driver in block mode), then ``effectivePolicy()`` for the whole
/// merge (persistent + directory, else its cache, else local + dynamic + additive plugins). After that the
/// host calls ``effectivePolicy()`` again whenever ``changes()`` yields, and ``refresh()`` on SIGHUP or
/// `service refresh`. Implementations must never return a partially merged policy and must not block the
/// calling task on I/O for long (read files off the cooperative pool).
public protocol PolicyEngine: Sendable {
    /// Reads and merges the persistent store alone.
    /// - Throws: when the persistent store cannot be read or applied; the error says where.
    func startPersistent() async throws -> EffectivePolicy

    /// The whole effective policy with provenance, merged from every source now available.
    func effectivePolicy() async -> EffectivePolicy

    /// Re-reads the directory (assignments and policy) and the local store now.
    func refresh() async

    /// Where each source stands, for `status` and `STATUS=` lines.
    func sourceStatuses() async -> [SourceStatus]

    /// Yields once for every change of the effective policy that the host must apply.
    func changes() -> AsyncStream<Void>

    /// The dynamic policy source (`netsh ipsec dynamic`): the host's netsh handler replaces its SPD as a
    /// whole, one command or script at a time; the engine merges its rules with the other sources'.
    var dynamic: DynamicStore { get }

    /// Ends the engine's own background work when the service stops, last: timers, change forwarding,
    /// and the work they wait for (a running `directory_check` is killed). ``changes()`` then finishes.
    func shutdown() async
}

extension PolicyEngine {
    /// An engine without background work has nothing to end.
    public func shutdown() async {}
}

/// One policy source as `status` reports it.
public struct SourceStatus: Hashable, Sendable, Codable {
    /// Whether and how a source contributes.
    public enum State: String, Hashable, Sendable, Codable {
        /// Its policy is part of the effective policy.
        case inEffect = "in-effect"
        /// Present but overridden by a higher-precedence source (local when directory applies, ...).
        case standby
        /// Nothing configured or assigned.
        case notConfigured = "not-configured"
        /// Could not be read (directory unreachable, ...); ``SourceStatus/reason`` says why.
        case unavailable
        /// Read but broken (invalid store, crashed plugin); ``SourceStatus/reason`` says why.
        case failed
    }

    public var name: String
    public var kind: SourceKind
    public var state: State
    public var reason: String?
    /// Name of the policy it contributes, if any.
    public var policyName: String?
    /// Seconds since 1970 UTC when the state last changed.
    public var since: Int64
    /// Persistent store only: changed on disk while running; applies at the next service start.
    public var pendingRestart: Bool
    /// Directory only: where it reads, the last successful read, the next poll, the failure if any.
    public var directory: DirectoryStatus?

    public init(
        name: String,
        kind: SourceKind,
        state: State,
        reason: String? = nil,
        policyName: String? = nil,
        since: Int64,
        pendingRestart: Bool = false,
        directory: DirectoryStatus? = nil
    ) {
        self.name = name
        self.kind = kind
        self.state = state
        self.reason = reason
        self.policyName = policyName
        self.since = since
        self.pendingRestart = pendingRestart
        self.directory = directory
    }
}

/// A fixed effective policy: the test double of ``PolicyEngine`` (and the engine of a service with no
/// sources configured).
public actor StaticPolicyEngine: PolicyEngine {
    /// Held for `netsh ipsec dynamic`, not merged: the effective policy is the fixed one.
    public nonisolated let dynamic = DynamicStore()
    private var persistent: EffectivePolicy
    private var full: EffectivePolicy
    private var persistentError: (any Error)?
    private var continuations: [AsyncStream<Void>.Continuation] = []

    public init(
        persistent: EffectivePolicy = .empty,
        full: EffectivePolicy = .empty,
        persistentError: (any Error)? = nil
    ) {
        self.persistent = persistent
        self.full = full
        self.persistentError = persistentError
    }

    public func startPersistent() async throws -> EffectivePolicy {
        if let persistentError { throw persistentError }
        return persistent
    }

    public func effectivePolicy() async -> EffectivePolicy { full }

    public func refresh() async {}

    public func sourceStatuses() async -> [SourceStatus] { [] }

    public nonisolated func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        Task { await self.register(continuation) }
        return stream
    }

    /// Replaces the full policy and signals a change.
    public func update(_ policy: EffectivePolicy) {
        full = policy
        for continuation in continuations { continuation.yield() }
    }

    private func register(_ continuation: AsyncStream<Void>.Continuation) {
        continuations.append(continuation)
    }
}
