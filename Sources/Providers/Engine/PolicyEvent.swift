/// An event of the policy sources, worded like the Windows Policy Agent's (PAStore) events. The service
/// host sends them to journald with ``priority``.
public enum PolicyEvent: Hashable, Sendable {
    case appliedPersistent(policy: String, store: String?)
    case persistentFailed(reason: String)
    case appliedDirectory(policy: String, gpo: String?, linkedThrough: String?)
    case failedDirectory(reason: String)
    case appliedCachedDirectory(policy: String, reason: String?)
    case failedCachedDirectory(reason: String)
    case appliedLocal(policy: String, store: String?)
    case failedLocal(reason: String)
    case noStaticPolicy
    case persistentPendingRestart(store: String)
    case sourceFailed(name: String, reason: String)
    /// Each read of the directory: what it decided, from which DC, for which GPO, and why.
    case directoryDecision(DirectoryDecision)

    /// syslog priority: 3 error, 4 warning, 6 info.
    public var priority: Int {
        switch self {
        case .persistentFailed, .failedCachedDirectory, .failedLocal: 3
        case .failedDirectory, .appliedCachedDirectory, .persistentPendingRestart, .sourceFailed: 4
        case .appliedPersistent, .appliedDirectory, .appliedLocal, .noStaticPolicy: 6
        case .directoryDecision(let decision): [.unavailable, .failed].contains(decision.outcome) ? 4 : 6
        }
    }

    /// The message, in the Windows wording.
    public var message: String {
        switch self {
        case .appliedPersistent(let policy, let store):
            "IPsec Policy Agent applied persistent storage IPsec policy \"\(policy)\"\(Self.from(store))."
        case .persistentFailed(let reason):
            "IPsec Policy Agent failed to apply persistent storage IPsec policy: \(reason). "
                + "Its filters were removed and the IPsec driver is in block mode."
        case .appliedDirectory(let policy, let gpo, let link):
            "IPsec Policy Agent applied Active Directory storage IPsec policy \"\(policy)\""
                + (gpo.map { " from group policy object \"\($0)\"" } ?? "")
                + (link.map { " linked to \($0)" } ?? "") + "."
        case .failedDirectory(let reason):
            "IPsec Policy Agent failed to apply Active Directory storage IPsec policy: \(reason)."
        case .appliedCachedDirectory(let policy, let reason):
            "IPsec Policy Agent applied locally cached copy of Active Directory storage IPsec policy \"\(policy)\""
                + (reason.map { " because the directory policy is unavailable: \($0)" } ?? "") + "."
        case .failedCachedDirectory(let reason):
            "IPsec Policy Agent failed to apply locally cached copy of Active Directory storage IPsec policy: "
                + "\(reason)."
        case .appliedLocal(let policy, let store):
            "IPsec Policy Agent applied local registry storage IPsec policy \"\(policy)\"\(Self.from(store))."
        case .failedLocal(let reason):
            "IPsec Policy Agent failed to apply local registry storage IPsec policy: \(reason)."
        case .noStaticPolicy:
            "IPsec Policy Agent found no directory, cached or local IPsec policy to apply."
        case .persistentPendingRestart(let store):
            "The persistent IPsec policy store \(store) changed; the change takes effect when the service restarts."
        case .sourceFailed(let name, let reason):
            "IPsec policy source \"\(name)\" failed: \(reason)."
        case .directoryDecision(let decision):
            decision.message
        }
    }

    private static func from(_ store: String?) -> String { store.map { " from \($0)" } ?? "" }
}

/// Where the engine sends events: journald in the service, a recorder in tests.
public protocol PolicyEventSink: Sendable {
    func record(_ event: PolicyEvent)
}

/// Drops every event: the default where nothing is configured, and the read-only snapshots of a stopped
/// service (`status`, the boot step), which journal nothing.
public struct DiscardingEventSink: PolicyEventSink {
    public init() {}

    public func record(_ event: PolicyEvent) {}
}
