import IPsecSystem
public import PolicyModel

/// The persistent and local stores as providers: the assigned policy of a native-XML store file.
///
/// The persistent store is read once, by ``load()`` at service start, and keeps that content until the
/// service restarts (later changes show as ``pendingRestart()``). The local store is re-read by every
/// ``refresh()``, so an import through the service takes effect at once.
public actor StoreProvider: PolicyProvider {
    public nonisolated let name: String
    public nonisolated let kind: SourceKind
    public nonisolated let file: StoreFile
    /// Whether ``refresh()`` re-reads the file (local) or it is fixed at ``load()`` (persistent).
    public nonisolated let rereadsOnRefresh: Bool
    private var loaded: StoreFile.Loaded?
    /// The bytes' fingerprint at ``load()``, also for a broken file, so that an untouched broken store is
    /// not mistaken for a change.
    private var loadedFingerprint: UInt64 = 0
    /// The file's version when it had ``loadedFingerprint``: while `stat` shows the same version,
    /// ``pendingRestart()`` knows the answer without reading the file (`status`, the `STATUS=` line and
    /// every journaled summary ask, and a 100,000-filter store is 21 MB read and hashed each time).
    private var loadedVersion: FileSystem.Version?
    private let signal = ChangeSignal()
    /// Reads under way, and who waits for one to end: a merge that asks for the policy while the
    /// first read is still running (the engine's change stream fires as soon as the providers
    /// register, while the service's start reads the persistent store) waits for it instead of
    /// reading and parsing the whole store a second time, side by side.
    private var readsInFlight = 0
    private var waitingForRead: [CheckedContinuation<Void, Never>] = []

    public init(kind: SourceKind, file: StoreFile, name: String? = nil) {
        self.kind = kind
        self.name = name ?? kind.rawValue
        self.file = file
        self.rereadsOnRefresh = kind != .persistent
    }

    /// Reads the store now (at service start for the persistent store).
    ///
    /// A read already under way (a merge asked first: the engine's change stream fires as soon as the
    /// providers register, before the service's start asks for the persistent store) is waited for
    /// instead of reading beside it, and its result taken when the file is still the version it read:
    /// two reads of a 100,000-filter store side by side were two 21 MB buffers and two parses at
    /// once, a third of the agent's peak (Benchmarks/README.md §4).
    @discardableResult
    public func load() async -> ProviderReport {
        let file = self.file
        if readsInFlight > 0 {
            await withCheckedContinuation { waitingForRead.append($0) }
            let now = await BlockingPool.shared.run { FileSystem.version(file.path) }
            if let loaded, let loadedVersion, now == loadedVersion { return report(loaded) }
        }
        readsInFlight += 1
        let (result, fingerprint, version) = await BlockingPool.shared.run { file.loadWithVersion() }
        readsInFlight -= 1
        loadedFingerprint = fingerprint
        loadedVersion = version
        if result != loaded {
            loaded = result
            signal.signal()
        }
        let waiting = waitingForRead
        waitingForRead = []
        for waiter in waiting { waiter.resume() }
        return report(result)
    }

    public func currentPolicy() async -> ProviderReport {
        if loaded == nil, readsInFlight > 0 {
            await withCheckedContinuation { waitingForRead.append($0) }
        }
        if let loaded { return report(loaded) }
        return await load()
    }

    public func refresh() async {
        guard rereadsOnRefresh || loaded == nil else { return }
        await load()
    }

    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }

    /// Whether the file changed on disk since ``load()``: a persistent change waiting for a restart.
    public func pendingRestart() async -> Bool {
        guard loaded != nil else { return false }
        let file = self.file
        let loadedVersion = self.loadedVersion
        let (now, version) = await BlockingPool.shared.run { () -> (UInt64?, FileSystem.Version?) in
            let version = FileSystem.version(file.path)
            if let version, version == loadedVersion { return (nil, version) }
            return (file.currentFingerprint(), version)
        }
        guard let now else { return false }
        // Rewritten with the same bytes (a touch, an import of the same policy): not a change; the new
        // version is remembered so that the next question is answered by `stat` again.
        if now == loadedFingerprint, self.loadedVersion == loadedVersion { self.loadedVersion = version }
        return now != loadedFingerprint
    }

    /// The store as loaded (empty when missing, `nil` when broken or not loaded yet).
    public var store: PolicyStore? { loaded?.store }

    private func report(_ loaded: StoreFile.Loaded) -> ProviderReport {
        switch loaded {
        case .missing: return .notConfigured(reason: "\(file.path) does not exist")
        case .broken(let error): return .failed(reason: error.description)
        case .loaded(let store, _):
            guard let policy = SourcePolicy.assigned(in: store, location: file.path) else {
                if let id = store.assignedPolicyID {
                    return .failed(reason: "\(file.path): the assigned policy \(id) is not in the store")
                }
                return .notConfigured(reason: "no policy is assigned in \(file.path)")
            }
            return .policy(policy)
        }
    }
}
