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
    /// The snapshot file (`directory = snapshot`); `nil` with ``ldap`` or when this computer uses no
    /// directory.
    public var snapshotPath: String?
    /// The live directory (`directory = ldap`); wins over ``snapshotPath``.
    public var ldap: LDAPDirectoryConfiguration?
    /// This computer's DN: required with a snapshot; with LDAP an override of the account lookup.
    public var computerDN: String?
    /// This computer's site: name or DN (LDAP without it: the site of this computer's subnet).
    public var site: String?
    /// Overrides the policy's own polling interval (default: the policy's, 180 minutes when 0).
    public var pollingInterval: Duration?
    /// How often group policy re-evaluates the assignments (Windows: 90 minutes).
    public var groupPolicyRefreshInterval: Duration
    /// Run before every read; a failure makes the directory unavailable.
    public var reachability: (any DirectoryReachabilityCheck)?

    public init(
        snapshotPath: String?,
        ldap: LDAPDirectoryConfiguration? = nil,
        computerDN: String?,
        site: String? = nil,
        pollingInterval: Duration? = nil,
        groupPolicyRefreshInterval: Duration = .seconds(90 * 60),
        reachability: (any DirectoryReachabilityCheck)? = nil
    ) {
        self.snapshotPath = snapshotPath
        self.ldap = ldap
        self.computerDN = computerDN
        self.site = site
        self.pollingInterval = pollingInterval
        self.groupPolicyRefreshInterval = groupPolicyRefreshInterval
        self.reachability = reachability
    }

    /// The reader this configuration names: LDAP, else the snapshot file (read with `snapshotReader`),
    /// else none.
    public func makeReader(
        snapshotReader: any DirectorySnapshotReader = FormatsSnapshotReader()
    ) -> (any DirectoryReader)? {
        if let ldap { return LDAPDirectoryReader(configuration: ldap, computerDN: computerDN, site: site) }
        guard let snapshotPath else { return nil }
        return SnapshotDirectoryReader(
            path: snapshotPath,
            computerDN: computerDN,
            site: site,
            snapshotReader: snapshotReader
        )
    }
}
