import IPsecSystem
public import PolicyModel

/// The locally cached copy of the last applied directory policy: the policy in native XML beside a small
/// `key=value` file with its directory provenance (GPO, link, snapshot, change time). Written only by
/// the service, after it applied a directory policy; read when the directory is unavailable.
public struct DirectoryCache: Sendable {
    public let file: StoreFile
    public let infoPath: String

    public init(state: StateDirectory, codec: any PolicyStoreCodec = NativeXMLStoreCodec()) {
        self.file = StoreFile(path: state.directoryCache, codec: codec)
        self.infoPath = state.directoryCacheInfo
    }

    /// Replaces the cache with `policy` (a directory policy that was just applied).
    /// A policy that could not be stored (``StoreEditing/storableEncoding(of:codec:path:)``) changes
    /// nothing. Otherwise the info file goes first: a crash between the two leaves new provenance on the
    /// old policy, which the next successful directory read repairs; never a policy without provenance.
    public func save(_ policy: SourcePolicy) throws(StoreFile.StoreError) {
        guard case .assigned(let store, let policyID) = policy.content,
            let trimmed = StoreEditing.extracting(policyID, from: store)
        else { return }
        let bytes = try StoreEditing.storableEncoding(of: trimmed, codec: file.codec, path: file.path)
        var info: [(String, String)] = []
        if let gpo = policy.gpo { info.append(("gpo", gpo)) }
        if let link = policy.linkedThrough { info.append(("linkedThrough", link)) }
        if let snapshot = policy.store { info.append(("snapshot", snapshot)) }
        if let changed = policy.whenChanged { info.append(("whenChanged", String(changed))) }
        let text = info.map { "\($0.0)=\(Self.escape($0.1))\n" }.joined()
        do {
            try DurableFile.write(Array(text.utf8), to: infoPath)
        } catch {
            throw .writeFailed(error.description)
        }
        // The cache is the service's own copy: a broken one is replaced, not kept.
        if case .broken = file.load() { try file.reset() }
        try file.overwrite(checked: bytes)
    }

    /// Deletes the cache (explicit unassignment).
    public func drop() throws(StoreFile.StoreError) {
        try file.remove()
        do {
            try FileSystem.remove(infoPath)
        } catch {
            throw .writeFailed(error.description)
        }
    }

    /// Whether a cached copy exists on disk.
    public var exists: Bool { FileSystem.exists(file.path) }

    /// The cached policy as a report for the cache provider.
    public func load() -> ProviderReport {
        let loaded = file.load()
        switch loaded {
        case .missing:
            return .notConfigured(reason: "no directory policy has been cached")
        case .broken(let error):
            return .failed(reason: error.description)
        case .loaded(let store, _):
            guard var policy = SourcePolicy.assigned(in: store, location: file.path) else {
                return .failed(reason: "\(file.path) holds no assigned policy")
            }
            let info = readInfo()
            policy.gpo = info["gpo"]
            policy.linkedThrough = info["linkedThrough"]
            policy.whenChanged = info["whenChanged"].flatMap { Int64($0) } ?? policy.whenChanged
            return .policy(policy)
        }
    }

    private func readInfo() -> [String: String] {
        guard let bytes = try? FileSystem.readIfPresent(infoPath, limit: 64 << 10) else { return [:] }
        var result: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = Self.unescape(String(line[line.index(after: equals)...]))
        }
        return result
    }

    private static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    private static func unescape(_ text: String) -> String {
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                result.append(character == "n" ? "\n" : character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// The directory cache as a provider: reports the cached copy; the engine consults it only when the
/// directory is unavailable.
public actor DirectoryCacheProvider: PolicyProvider {
    public nonisolated let name = "directory-cache"
    public nonisolated let kind = SourceKind.directoryCache
    public nonisolated let cache: DirectoryCache
    private var last: ProviderReport?
    private let signal = ChangeSignal()

    public init(cache: DirectoryCache) {
        self.cache = cache
    }

    public func currentPolicy() async -> ProviderReport {
        if let last { return last }
        await refresh()
        return last ?? .notConfigured(reason: nil)
    }

    public func refresh() async {
        let cache = self.cache
        let report = await BlockingPool.shared.run { cache.load() }
        if report != last {
            last = report
            signal.signal()
        }
    }

    /// Writes the cache (service only) and re-reads it.
    public func store(_ policy: SourcePolicy) async throws(StoreFile.StoreError) {
        let cache = self.cache
        try await BlockingPool.shared.run { () throws(StoreFile.StoreError) in try cache.save(policy) }
        await refresh()
    }

    /// Deletes the cache and re-reads it.
    public func drop() async throws(StoreFile.StoreError) {
        let cache = self.cache
        try await BlockingPool.shared.run { () throws(StoreFile.StoreError) in try cache.drop() }
        await refresh()
    }

    public nonisolated func changes() -> AsyncStream<Void> { signal.stream() }
}
