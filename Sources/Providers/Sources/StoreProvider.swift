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
    private let signal = ChangeSignal()

    public init(kind: SourceKind, file: StoreFile, name: String? = nil) {
        self.kind = kind
        self.name = name ?? kind.rawValue
        self.file = file
        self.rereadsOnRefresh = kind != .persistent
    }

    /// Reads the store now (at service start for the persistent store).
    @discardableResult
    public func load() async -> ProviderReport {
        let file = self.file
        let (result, fingerprint) = await BlockingPool.shared.run { file.loadWithFingerprint() }
        loadedFingerprint = fingerprint
        if result != loaded {
            loaded = result
            signal.signal()
        }
        return report(result)
    }

    public func currentPolicy() async -> ProviderReport {
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
        let now = await BlockingPool.shared.run { file.currentFingerprint() }
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
