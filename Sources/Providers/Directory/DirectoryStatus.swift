/// The directory source's reading state, for `ipsecsvc status`: where it reads, when it last read,
/// when it reads next and what failed.
public struct DirectoryStatus: Hashable, Sendable, Codable {
    /// `LDAP, domain example.test` or `snapshot /var/lib/ipsecsvc/directory-snapshot`.
    public var source: String
    /// The domain controller (or snapshot file) of the last read attempt that got that far.
    public var server: String?
    /// This computer's DN as last found.
    public var computerDN: String?
    /// The GPO whose assignment decided, at the last successful read.
    public var gpo: String?
    /// The GPOs that apply to this computer, highest precedence first (as `gpresult` lists them), at
    /// the last read that got that far.
    public var appliedGPOs: [String] = []
    /// Seconds since 1970 UTC.
    public var lastAttempt: Int64?
    public var lastSuccess: Int64?
    /// When the policy poll and the group-policy refresh run next (the service's timers).
    public var nextPoll: Int64?
    public var nextRefresh: Int64?
    /// Why the last read failed; `nil` after a successful one.
    public var failure: String?
    /// The objects the last full read (start, refresh) returned, and the LDAP requests it took (`nil`
    /// for a snapshot): what one read costs the DC.
    public var lastReadObjects: Int?
    public var lastReadRequests: Int?

    public init(source: String) {
        self.source = source
    }
}

/// What started a directory read.
public enum DirectoryTrigger: String, Hashable, Sendable {
    /// The first read (service start, or the first `status` / merge).
    case start = "first read"
    /// `ipsecsvc service refresh` or SIGHUP.
    case refresh = "refresh"
    /// The group-policy refresh interval.
    case groupPolicyRefresh = "group policy refresh"
    /// The policy's polling interval.
    case poll = "policy poll"
}

/// One decision of the directory source, journaled with the DC, the GPO and the reason.
public struct DirectoryDecision: Hashable, Sendable {
    public enum Outcome: String, Hashable, Sendable {
        /// A policy was read and applies (new or changed).
        case applied
        /// The policy was read (or its change times polled) and is what already applies.
        case unchanged
        /// No applying GPO assigns a policy: the cache is deleted, the local policy applies.
        case unassigned
        /// The directory or the deciding GPO or policy cannot be reached or found: the cache applies.
        case unavailable
        /// What the directory returned cannot be used: the cache applies.
        case failed
    }

    public var outcome: Outcome
    public var trigger: DirectoryTrigger
    public var server: String?
    public var gpo: String?
    public var policy: String?
    public var reason: String

    public init(
        _ outcome: Outcome,
        trigger: DirectoryTrigger,
        server: String?,
        gpo: String?,
        policy: String?,
        reason: String
    ) {
        self.outcome = outcome
        self.trigger = trigger
        self.server = server
        self.gpo = gpo
        self.policy = policy
        self.reason = reason
    }

    /// The journal sentence.
    public var message: String {
        let source = server.map { " from \($0)" } ?? ""
        let subject =
            switch outcome {
            case .applied, .unchanged:
                "IPsec policy \"\(policy ?? "?")\" assigned by group policy object \"\(gpo ?? "?")\""
                    + (outcome == .applied ? " applies" : " is unchanged")
            case .unassigned: "no group policy object that applies to this computer assigns an IPsec policy"
            case .unavailable, .failed: "the directory policy is unavailable"
            }
        let consequence =
            switch outcome {
            case .applied, .unchanged: ""
            case .unassigned: "; the cached copy is deleted and the local policy applies"
            case .unavailable, .failed: "; the cached copy applies"
            }
        return
            "IPsec Policy Agent read the directory\(source) (\(trigger.rawValue)): \(subject): \(reason)\(consequence)."
    }
}
