public import PolicyFormats

/// Where the directory provider gets the directory's objects: a snapshot file (``SnapshotDirectoryReader``)
/// or a domain controller over LDAP (``LDAPDirectoryReader``).
///
/// Readers only read; which GPO decides is the provider's business, with the one ``GroupPolicyResolver``
/// for both. Called by ``DirectoryProvider`` from its actor, one call at a time, and by
/// `ipsecsvc policy export --from-directory`. Each call reads the source now (nothing is kept between
/// calls except which domain controller answered last) and returns within a bounded time: file and
/// network I/O run off the cooperative pool, with a timeout on every operation.
public protocol DirectoryReader: Sendable {
    /// What `status` calls this source: `LDAP, domain example.test`, `snapshot /var/lib/…`.
    var sourceDescription: String { get }

    /// The domain controller (or file) the last successful connection read from.
    var lastServer: String? { get }

    /// Reads what Group Policy needs for this computer: the computer object, the OUs above it, the domain,
    /// the site, the GPOs linked to them with their IPsec assignment objects; then the objects of the
    /// policy that `assignedPolicy` picks from those (the policy and every object it references).
    /// - Parameter assignedPolicy: the resolver's choice, given the Group Policy objects read so far
    ///   (`nil`: no policy objects are needed).
    func read(
        assignedPolicy: @escaping @Sendable (DirectoryRead) -> String?
    ) async throws(DirectoryReadError)
        -> DirectoryRead

    /// The policy at `policyDN` and every object it references, as they are now.
    func readPolicyObjects(_ policyDN: String) async throws(DirectoryReadError) -> [DirectoryEntry]

    /// `whenChanged` of each object, by normalised DN (``DN/normalize(_:)``); an object that is gone
    /// is absent.
    func changeStamps(of dns: [String]) async throws(DirectoryReadError) -> [String: String]
}

extension DirectoryReader {
    /// Reads what Group Policy needs and the objects of the policy the resolver picks from them: what the
    /// directory provider reads at every group-policy refresh (and `policy export --from-directory` writes).
    public func readForGroupPolicy() async throws(DirectoryReadError) -> DirectoryRead {
        try await read { partial in
            GroupPolicyResolver.assignedPolicyDN(in: partial.tree, computerDN: partial.computerDN, site: partial.site)
        }
    }
}

/// What one read found.
public struct DirectoryRead: Sendable {
    /// Every object read, in reading order: Group Policy objects, then the assigned policy's objects.
    public var entries: [DirectoryEntry]
    /// This computer's DN (configured, or found by its account name).
    public var computerDN: String
    /// This computer's site (DN or name), if it has one.
    public var site: String?
    /// Where the objects came from: `ldap://dc1.example.test` or the snapshot file.
    public var server: String
    /// The LDAP requests the read took (bind, each base read, each page of a search); `nil` for a file.
    public var requests: Int?

    public init(entries: [DirectoryEntry], computerDN: String, site: String?, server: String) {
        self.entries = entries
        self.computerDN = computerDN
        self.site = site
        self.server = server
    }

    /// The entries indexed for the resolver and the decoder.
    public var tree: DirectoryTree {
        DirectoryTree(entries: entries.map(DirectoryObject.init), sourceEntries: entries, file: server)
    }

    /// This read with the objects of `oldClosure` (normalised DNs) replaced by `objects`: the Group Policy
    /// part stays, the policy part is what a later read returned.
    public func replacingPolicyObjects(_ oldClosure: Set<String>, with objects: [DirectoryEntry]) -> DirectoryRead {
        let replaced = Set(objects.map { DN.normalize($0.dn) })
        var copy = self
        copy.entries =
            entries.filter {
                let key = DN.normalize($0.dn)
                return !oldClosure.contains(key) && !replaced.contains(key)
            } + objects
        return copy
    }
}

/// Why a read failed. `unavailable` (the directory cannot be reached or does not have what Group Policy
/// needs) and `invalid` (it answered with something that cannot be used) both leave the cached copy in
/// effect; the event and `status` say which.
public struct DirectoryReadError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case unavailable
        case invalid
    }

    public var kind: Kind
    /// The domain controller or file involved, when known.
    public var server: String?
    public var message: String

    public init(_ kind: Kind, server: String? = nil, _ message: String) {
        self.kind = kind
        self.server = server
        self.message = message
    }

    public var description: String { message }
}

/// The references between the IPsec objects of one policy ([MS-GPIPSEC] §2.2.1): policy → ISAKMP and
/// rules (NFA); rule → filter list and filter action.
public enum IPsecObjectReferences {
    /// The attributes every IPsec object is read with.
    public static let attributes = [
        "objectClass", "cn", "ipsecName", "ipsecID", "ipsecDataType", "ipsecData", "description", "whenChanged",
        "ipsecOwnersReference", "ipsecISAKMPReference", "ipsecNFAReference", "ipsecNegotiationPolicyReference",
        "ipsecFilterReference", "iPSECNegotiationPolicyType", "iPSECNegotiationPolicyAction",
    ]

    /// The DNs an object refers to (not its owners).
    public static func references(of entry: DirectoryEntry) -> [String] {
        ["ipsecISAKMPReference", "ipsecNFAReference", "ipsecNegotiationPolicyReference", "ipsecFilterReference"]
            .flatMap { entry.strings($0) }
    }

    /// The policy's DN and the DNs of every object it reaches, each once, in reading order; objects missing
    /// from `lookup` end the walk along their branch.
    public static func closure(of policyDN: String, lookup: (String) -> DirectoryEntry?) -> [String] {
        var seen: Set<String> = []
        var order: [String] = []
        var layer = [policyDN]
        while !layer.isEmpty {
            var next: [String] = []
            for dn in layer where seen.insert(DN.normalize(dn)).inserted {
                order.append(dn)
                if let entry = lookup(dn) { next += references(of: entry) }
            }
            layer = next
        }
        return order
    }

}
