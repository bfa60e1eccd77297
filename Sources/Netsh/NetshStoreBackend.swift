public import PolicyModel

/// The policy stores `netsh ipsec static set store location=` chooses between.
public enum NetshStoreLocation: String, Hashable, Sendable, CaseIterable {
    /// The local store (`Policy\Local`); the default.
    case local
    /// The Windows Server 2003 persistent store, applied first at every service start.
    case persistent
    /// The directory (Active Directory) policy: read-only in ipsecsvc.
    case domain

    /// How `show` names the store.
    public var displayName: String {
        switch self {
        case .local: "Local Store"
        case .persistent: "Persistent Store"
        case .domain: "Domain Store"
        }
    }
}

/// A GPO's IPsec assignment, for `show gpoassignedpolicy`.
public struct NetshGPOAssignment: Hashable, Sendable {
    public var gpoName: String
    public var policyName: String
    /// Where the assigned policy lives (a DN for directory policy).
    public var policyPath: String
    /// The OU, domain or site whose link applies the GPO, if known.
    public var linkedThrough: String?

    public init(gpoName: String, policyName: String, policyPath: String, linkedThrough: String? = nil) {
        self.gpoName = gpoName
        self.policyName = policyName
        self.policyPath = policyPath
        self.linkedThrough = linkedThrough
    }
}

/// Where `netsh ipsec static` reads its stores from and writes them to.
///
/// The engine never touches files itself: the CLI implements this on the state directory (or the
/// running service), tests use ``InMemoryNetshStoreBackend``. Called synchronously, one call at a
/// time, from the thread that runs the commands.
public protocol NetshStoreBackend: AnyObject {
    /// Reads the whole store at `location` (an empty store when none exists yet).
    func load(_ location: NetshStoreLocation) throws(NetshError) -> PolicyStore

    /// Replaces the store at `location`, atomically: afterwards the old or the new store is there, never a mix.
    /// Never called for a location that ``isReadOnly(_:)``.
    func save(_ store: PolicyStore, to location: NetshStoreLocation) throws(NetshError)

    /// Whether edits must be refused (the directory policy: ipsecsvc reads it, it does not write it).
    func isReadOnly(_ location: NetshStoreLocation) -> Bool

    /// The GPO assignment in effect (`name` = a GPO name to look for; `nil` = the one that applies).
    func gpoAssignment(named name: String?) throws(NetshError) -> NetshGPOAssignment?

    /// Writes `store` to `file` in the format its extension names (`.xml`/`.ipsec` native XML, `.reg`).
    func exportStore(_ store: PolicyStore, to file: String) throws(NetshError)

    /// Reads a store from `file` (format by extension).
    func importStore(from file: String) throws(NetshError) -> PolicyStore
}

extension NetshStoreBackend {
    public func isReadOnly(_ location: NetshStoreLocation) -> Bool { location == .domain }
    public func gpoAssignment(named name: String?) throws(NetshError) -> NetshGPOAssignment? { nil }
}

/// Stores kept in memory: the backend of the tests and of `netsh` sessions that only explore.
public final class InMemoryNetshStoreBackend: NetshStoreBackend {
    public var stores: [NetshStoreLocation: PolicyStore]
    /// "Files" written by `exportpolicy` and read by `importpolicy`.
    public var files: [String: PolicyStore] = [:]
    public var gpo: NetshGPOAssignment?
    /// How many times each store was saved (batch mode and scripts save once).
    public private(set) var saveCount: [NetshStoreLocation: Int] = [:]

    public init(stores: [NetshStoreLocation: PolicyStore] = [:], gpo: NetshGPOAssignment? = nil) {
        self.stores = stores
        self.gpo = gpo
    }

    public func load(_ location: NetshStoreLocation) throws(NetshError) -> PolicyStore {
        stores[location] ?? PolicyStore()
    }

    public func save(_ store: PolicyStore, to location: NetshStoreLocation) throws(NetshError) {
        stores[location] = store
        saveCount[location, default: 0] += 1
    }

    public func gpoAssignment(named name: String?) throws(NetshError) -> NetshGPOAssignment? {
        guard let gpo else { return nil }
        if let name, !gpo.gpoName.caseInsensitiveEquals(name) { return nil }
        return gpo
    }

    public func exportStore(_ store: PolicyStore, to file: String) throws(NetshError) {
        files[file] = store
    }

    public func importStore(from file: String) throws(NetshError) -> PolicyStore {
        guard let store = files[file] else { throw NetshError("The file \"\(file)\" cannot be opened.") }
        return store
    }
}

/// What the engine needs from the outside world besides the stores: new GUIDs, the time, DNS.
/// Tests inject deterministic ones so that expected stores can be written down.
public struct NetshEnvironment {
    public var newGUID: () -> IPsecGUID
    /// Seconds since 1970 UTC, for `whenChanged`.
    public var now: () -> Int64
    public var resolver: any NetshNameResolver

    public init(
        newGUID: @escaping () -> IPsecGUID = { IPsecGUID.random() },
        now: @escaping () -> Int64 = { 0 },
        resolver: any NetshNameResolver = NoNameResolver()
    ) {
        self.newGUID = newGUID
        self.now = now
        self.resolver = resolver
    }

    /// GUIDs 00000000-0000-4000-8000-000000000001, …-0002, …: stable across runs.
    public static func deterministic(
        now: Int64 = 1_795_000_000,
        resolver: any NetshNameResolver = NoNameResolver()
    )
        -> NetshEnvironment
    {
        final class Counter { var value: UInt64 = 0 }
        let counter = Counter()
        return NetshEnvironment(
            newGUID: {
                counter.value += 1
                var bytes = [UInt8](repeating: 0, count: 16)
                bytes[6] = 0x40
                bytes[8] = 0x80
                for index in 0..<4 {
                    bytes[15 - index] = UInt8(truncatingIfNeeded: counter.value >> (8 * UInt64(index)))
                }
                return IPsecGUID(bytes: bytes)!
            },
            now: { now },
            resolver: resolver
        )
    }
}
