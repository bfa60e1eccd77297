public import PolicyModel

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
