public import PolicyModel

/// Applies `netsh ipsec static` commands to policy stores held in memory.
///
/// Every edit works on a copy of the store and replaces it only when the command succeeded, so a
/// failing command changes nothing. Outside batch mode and scripts each successful edit is saved at
/// once; in batch mode (`set batch mode=enable`) and inside a transaction (a script run with
/// `netsh -f`) edits accumulate and are saved once, by ``flush()`` or ``commit()``.
public final class NetshStaticSession {
    public let backend: any NetshStoreBackend
    public var environment: NetshEnvironment
    public private(set) var location: NetshStoreLocation = .local
    /// The domain named by `set store location=domain domain=...`, for display.
    public private(set) var domainName: String?
    public private(set) var batchMode = false
    private var inTransaction = false
    private var working: [NetshStoreLocation: IndexedPolicyStore] = [:]
    private var dirty: Set<NetshStoreLocation> = []

    public init(backend: any NetshStoreBackend, environment: NetshEnvironment = NetshEnvironment()) {
        self.backend = backend
        self.environment = environment
    }

    /// Whether edits are held back until a flush or commit.
    var isDeferring: Bool { batchMode || inTransaction }

    /// The current store as the commands see it, including unsaved edits.
    public func currentStore() throws(NetshError) -> PolicyStore {
        try currentIndexedStore().store
    }

    /// The current store with its objects indexed by name and GUID: built once when the store is read,
    /// then kept true by every edit, so that a command finds what it names without scanning the store.
    func currentIndexedStore() throws(NetshError) -> IndexedPolicyStore {
        if let store = working[location] { return store }
        let store = IndexedPolicyStore(try backend.load(location))
        working[location] = store
        return store
    }

    /// Runs `body` on a copy of the current store; keeps the copy only when `body` succeeds.
    func edit(_ body: (inout IndexedPolicyStore) throws(NetshError) -> String) throws(NetshError) -> String {
        if backend.isReadOnly(location) {
            throw NetshError(
                "The \(location.displayName.lowercased()) is read-only: ipsecsvc shows the directory policy but does not change it. Edit the policy in its directory source, or use 'set store location=local' or 'location=persistent'."
            )
        }
        if inTransaction {
            // A script is one transaction, and any failure rolls all of it back (``rollback(location:
            // batchMode:)``): its commands edit the working store in place, since copying the store for
            // each command would make a script of n additions cost n².
            var store = try currentIndexedStore()
            working[location] = nil
            defer { working[location] = store }
            dirty.insert(location)
            return try body(&store)
        }
        let before = try currentIndexedStore()
        var copy = before
        let output = try body(&copy)
        working[location] = copy
        dirty.insert(location)
        guard !isDeferring else { return output }
        do {
            try flush()
        } catch {
            // A refused save leaves the session on the store as it is on disk, not on the refused edit.
            working[location] = before
            dirty.remove(location)
            throw error
        }
        return output
    }

    /// Forgets cached stores that have no unsaved edits, so the next command reads them fresh.
    func endCommand() {
        guard !isDeferring else { return }
        working = working.filter { dirty.contains($0.key) }
    }

    /// Saves every store with unsaved edits; when any of them could not be stored (a GUID used twice,
    /// a dangling reference, an over-long name), none is saved.
    public func flush() throws(NetshError) {
        for location in NetshStoreLocation.allCases where dirty.contains(location) {
            guard let problems = working[location]?.store.storageProblems(), !problems.isEmpty else { continue }
            throw NetshError(
                "The \(location.displayName.lowercased()) was not changed: \(ValidationProblem.summary(problems))"
            )
        }
        for location in NetshStoreLocation.allCases where dirty.contains(location) {
            guard let store = working[location] else { continue }
            try backend.save(store.store, to: location)
            dirty.remove(location)
        }
        if !isDeferring { working = [:] }
    }

    // MARK: - Transactions (scripts)

    /// Starts holding edits back: nothing is saved until ``commit()``.
    public func beginTransaction() {
        inTransaction = true
    }

    /// Saves what the transaction changed, once per store.
    public func commit() throws(NetshError) {
        inTransaction = false
        if !batchMode { try flush() }
    }

    /// Drops every unsaved edit and restores the settings the transaction changed.
    public func rollback(location: NetshStoreLocation, batchMode: Bool) {
        inTransaction = false
        working = [:]
        dirty = []
        self.location = location
        self.batchMode = batchMode
    }

    // MARK: - Settings

    func setLocation(_ newLocation: NetshStoreLocation, domain: String?) {
        location = newLocation
        domainName = newLocation == .domain ? domain : nil
    }

    func setBatch(_ enabled: Bool) throws(NetshError) {
        if batchMode && !enabled {
            batchMode = false
            if !inTransaction { try flush() }
        } else {
            batchMode = enabled
        }
    }

    // MARK: - Dispatch

    /// Every command of the `ipsec static` context.
    static let commands: [NetshCommand<NetshStaticSession>] =
        policyCommands + filterListCommands + filterActionCommands + ruleCommands + storeCommands + showCommands

    /// Runs one command; returns what it prints.
    /// The syntax and help of every command, for tests and documentation checks.
    package static var specs: [NetshCommandSpec] { commands.map(\.spec) }

    func run(_ command: NetshCommand<NetshStaticSession>, _ tokens: [NetshToken]) throws(NetshError) -> String {
        defer { endCommand() }
        return try command.run(self, tokens)
    }

    /// A session method that edits the store a command works on.
    typealias Edit =
        @Sendable (NetshStaticSession) -> (NetshArguments, inout IndexedPolicyStore) throws(NetshError) -> String

    /// A handler that edits the current store (``edit(_:)``: on a copy kept only when it succeeds).
    static func edit(_ body: @escaping Edit) -> NetshCommand<NetshStaticSession>.Handler {
        { session in
            { arguments throws(NetshError) in
                try session.edit { store throws(NetshError) in try body(session)(arguments, &store) }
            }
        }
    }

    /// Stamps `whenChanged` on what a command touched.
    var now: Int64 { environment.now() }
}
