public import PolicyFormats
public import PolicyModel

/// Reads a directory snapshot file (DSMLv2 or LDIF) into a ``DirectoryTree``.
public protocol DirectorySnapshotReader: Sendable {
    /// - Returns: `nil` when the file does not exist.
    /// - Throws: ``PolicyFormatError`` when it cannot be read or parsed.
    func read(path: String) throws(PolicyFormatError) -> DirectoryTree?
}

/// Decodes the IP Security container objects of one assigned policy into the model.
public protocol DirectoryPolicyDecoder: Sendable {
    /// The policy at `policyDN` with its ISAKMP object, rules, filter lists and filter actions, as a store
    /// in which that policy is assigned.
    /// - Throws: ``PolicyFormatError`` naming the object and field that do not decode.
    func decodePolicy(at policyDN: String, in tree: DirectoryTree) throws(PolicyFormatError) -> PolicyStore
}

/// The configured reachability check ("can the directory be reached?"), run before every read.
public protocol DirectoryReachabilityCheck: Sendable {
    /// `nil` when reachable, else why not.
    func unreachableReason() async -> String?
}

/// The directory provider's configuration (from `ipsecsvc.conf`).
public struct DirectoryConfiguration: Sendable {
    /// The snapshot file; `nil` when this computer uses no directory.
    public var snapshotPath: String?
    /// This computer's DN.
    public var computerDN: String
    /// This computer's site: name or DN.
    public var site: String?
    /// Overrides the policy's own polling interval (default: the policy's, 180 minutes when 0).
    public var pollingInterval: Duration?
    /// How often group policy re-evaluates the assignments (Windows: 90 minutes).
    public var groupPolicyRefreshInterval: Duration
    public var reachability: (any DirectoryReachabilityCheck)?

    public init(
        snapshotPath: String?,
        computerDN: String,
        site: String? = nil,
        pollingInterval: Duration? = nil,
        groupPolicyRefreshInterval: Duration = .seconds(90 * 60),
        reachability: (any DirectoryReachabilityCheck)? = nil
    ) {
        self.snapshotPath = snapshotPath
        self.computerDN = computerDN
        self.site = site
        self.pollingInterval = pollingInterval
        self.groupPolicyRefreshInterval = groupPolicyRefreshInterval
        self.reachability = reachability
    }
}
