import IPsecSystem
public import PolicyFormats
public import PolicyModel

/// One policy store on disk (persistent, local or the directory cache): load, save atomically, reset.
///
/// A store that fails to load stays as it is: ``save(_:)`` refuses to replace it until someone repairs
/// the file or calls ``reset()``, so a bad file is never silently lost.
public struct StoreFile: Sendable {
    /// What loading found.
    public enum Loaded: Sendable, Hashable {
        /// No file: an empty store.
        case missing
        /// The store and a fingerprint of the bytes it came from.
        case loaded(PolicyStore, fingerprint: UInt64)
        /// The file exists but cannot be used; the error names file and line.
        case broken(StoreError)

        /// The store, empty when missing, `nil` when broken.
        public var store: PolicyStore? {
            switch self {
            case .missing: PolicyStore()
            case .loaded(let store, _): store
            case .broken: nil
            }
        }

        /// Fingerprint of the bytes on disk (0 when missing or unreadable).
        public var fingerprint: UInt64 {
            if case .loaded(_, let fingerprint) = self { return fingerprint }
            return 0
        }
    }

    /// Why a store could not be loaded or written.
    public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The file does not parse or validate; the format error names file, line and field.
        case invalid(PolicyFormatError)
        /// The file cannot be read.
        case unreadable(path: String, reason: String)
        /// Writing failed.
        case writeFailed(String)
        /// The store on disk is broken and must be repaired or reset before it can be written.
        case refusingToOverwriteBroken(path: String, problem: String)
        /// The new store would not load (GUIDs used twice, dangling references, over-long texts):
        /// nothing was written. Every problem is named.
        case refused(path: String, problems: [ValidationProblem])
        /// The store reader refuses the encoded new store for a reason the model checks did not
        /// foresee; nothing was written.
        case wouldNotLoad(path: String, error: PolicyFormatError)

        public var description: String {
            switch self {
            case .invalid(let error): error.description
            case .unreadable(let path, let reason): "\(path): cannot read the store: \(reason)"
            case .writeFailed(let reason): reason
            case .refusingToOverwriteBroken(let path, let problem):
                "\(path) is broken (\(problem)); repair it or reset the store before writing to it"
            case .refused(let path, let problems):
                "\(path) was not changed: the new store would not load: \(ValidationProblem.summary(problems))"
            case .wouldNotLoad(let path, let error):
                "\(path) was not changed: the store reader refuses the new store: \(error)"
            }
        }
    }

    public let path: String
    public let codec: any PolicyStoreCodec

    public init(path: String, codec: any PolicyStoreCodec = NativeXMLStoreCodec()) {
        self.path = path
        self.codec = codec
    }

    /// Reads the store from disk (and removes temporaries that dead writers left beside it).
    public func load() -> Loaded { loadWithVersion().loaded }

    /// ``load()``, the fingerprint of the bytes it read (as ``currentFingerprint()`` would give, also
    /// for a file that does not decode), from a single read, and the file's version as `stat` saw it
    /// just before the read (`nil` when missing): as long as the version is the same, the file holds
    /// the bytes that were read.
    func loadWithVersion() -> (loaded: Loaded, fingerprint: UInt64, version: FileSystem.Version?) {
        DurableFile.removeStaleTemporaries(of: path)
        // Before the read: a write between the two shows as another version, never as the old one.
        let version = FileSystem.version(path)
        let bytes: [UInt8]?
        do {
            bytes = try FileSystem.readIfPresent(path, limit: Self.maximumSize, accept: .regularFiles)
        } catch {
            return (.broken(.unreadable(path: path, reason: error.description)), 0, version)
        }
        guard let bytes else { return (.missing, 0, nil) }
        let fingerprint = Self.fingerprint(bytes)
        do {
            let store = try codec.decode(bytes, file: path)
            return (.loaded(store, fingerprint: fingerprint), fingerprint, version)
        } catch {
            return (.broken(.invalid(error)), fingerprint, version)
        }
    }

    /// The fingerprint of the bytes on disk now (0 when missing): cheap change detection.
    public func currentFingerprint() -> UInt64 {
        guard let bytes = try? FileSystem.readIfPresent(path, limit: Self.maximumSize, accept: .regularFiles) else {
            return 0
        }
        return Self.fingerprint(bytes)
    }

    /// The largest store file read: the native XML reader's own limit.
    public static let maximumSize = NativePolicyXML.Limits.default.maxBytes

    /// Tells whether a store file changed since it was loaded (compared in this process only, never
    /// stored): FNV-1a's step over eight bytes at a time, each step followed by a shift-xor, then the
    /// last bytes one by one. Every step is a bijection of the running value, so a file that differs
    /// in a single word always gets another fingerprint. (Byte by byte, it showed in the profile of a
    /// service start with a 10,000-filter store.)
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        let prime: UInt64 = 0x100_0000_01b3
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        bytes.withUnsafeBytes { raw in
            let words = raw.count / 8
            for index in 0..<words {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) &* prime
                hash ^= hash >> 29
            }
            for index in (words * 8)..<raw.count {
                hash = (hash ^ UInt64(raw[index])) &* prime
            }
        }
        return hash
    }

    /// Replaces the store atomically and durably.
    /// - Throws: ``StoreError/refusingToOverwriteBroken(path:problem:)`` when the file on disk is
    ///   broken, ``StoreError/writeFailed(_:)`` when a system call fails.
    public func save(_ store: PolicyStore) throws(StoreError) {
        if case .broken(let error) = load() {
            throw .refusingToOverwriteBroken(path: path, problem: error.description)
        }
        try overwrite(with: store)
    }

    /// ``save(_:)`` without its check of the file on disk, for callers that have just loaded the file
    /// and know it is not broken: that check would read and decode the whole store again. The new store
    /// itself is always checked (``StoreEditing/storableEncoding(of:codec:path:)``).
    func overwrite(with store: PolicyStore) throws(StoreError) {
        try overwrite(checked: StoreEditing.storableEncoding(of: store, codec: codec, path: path))
    }

    /// Writes bytes that ``StoreEditing/storableEncoding(of:codec:path:)`` returned for this file, for a
    /// caller that must know the store is storable before it changes anything else.
    func overwrite(checked bytes: [UInt8]) throws(StoreError) {
        do {
            try DurableFile.write(bytes, to: path)
        } catch {
            throw .writeFailed(error.description)
        }
    }

    /// Moves a broken (or any) store aside to `<path>.reset-<n>` so that the next write starts empty.
    /// - Returns: where the old file went, or `nil` when there was none.
    @discardableResult
    public func reset() throws(StoreError) -> String? {
        guard FileSystem.exists(path) else { return nil }
        var attempt = 1
        while FileSystem.exists("\(path).reset-\(attempt)") { attempt += 1 }
        let target = "\(path).reset-\(attempt)"
        do {
            try FileSystem.rename(path, to: target)
        } catch {
            throw .writeFailed(error.description)
        }
        return target
    }

    /// Removes the store file (the directory cache when the directory policy is unassigned).
    public func remove() throws(StoreError) {
        do {
            try FileSystem.remove(path)
        } catch {
            throw .writeFailed(error.description)
        }
    }
}
