import IPsecSystem
public import PolicyModel

/// The two stores an administrator edits.
public enum EditableStore: String, Hashable, Sendable, Codable, CaseIterable {
    case local
    case persistent

    /// The file of this store in a state directory.
    public func path(in state: StateDirectory) -> String {
        switch self {
        case .local: state.localStore
        case .persistent: state.persistentStore
        }
    }
}

/// Store edits shared by the running service and the offline CLI: each runs under the state directory's
/// lock, refuses to write over a broken store, and writes atomically.
public enum StoreOperations {
    /// Why an operation failed, in one sentence naming the file or the parameter.
    public struct OperationError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String

        public init(_ description: String) {
            self.description = description
        }
    }

    /// Adds (or replaces by GUID) the policies, filter lists and filter actions of `imported` in the store,
    /// then assigns `assign` if given.
    ///
    /// The imported document must pass the model's checks (``PolicyStore/validate()``, as `policy
    /// validate` and plugins apply them) whoever sends it, and the merged store must load again
    /// (``StoreEditing/storableEncoding(of:codec:path:)``); otherwise nothing is written and the error
    /// names every problem.
    /// - Parameter examples: a local store that does not exist yet starts with Windows' example
    ///   policies (``ExamplePolicies``), as on a fresh Windows install.
    /// - Returns: the store as written.
    @discardableResult
    public static func importPolicies(
        _ imported: PolicyStore,
        into store: EditableStore,
        assign: String?,
        state: StateDirectory,
        examples: Bool = false,
        codec: any PolicyStoreCodec = NativeXMLStoreCodec()
    ) throws(OperationError) -> PolicyStore {
        let file = StoreFile(path: store.path(in: state), codec: codec)
        let problems = imported.validate()
        guard problems.isEmpty else {
            throw OperationError(
                "\(file.path) was not changed: the imported policies have \(ValidationProblem.summary(problems))"
            )
        }
        do {
            return try state.withLock { () throws(OperationError) -> PolicyStore in
                if store == .local, examples {
                    do throws(StoreFile.StoreError) {
                        try ExamplePolicies.createLocalStoreIfMissing(in: state, examples: true, codec: codec)
                    } catch {
                        throw OperationError(error.description)
                    }
                }
                let loaded = file.load()
                guard var current = loaded.store else {
                    if case .broken(let error) = loaded {
                        throw OperationError(
                            "\(file.path) is broken (\(error)); repair it or reset the store before importing"
                        )
                    }
                    throw OperationError("\(file.path) cannot be read")
                }
                current.merge(imported)
                if let assign {
                    do throws(StoreEditing.EditError) {
                        current = try StoreEditing.assigning(assign, in: current)
                    } catch {
                        throw OperationError("--assign: \(error.description)")
                    }
                }
                do throws(StoreFile.StoreError) {
                    // Loaded above under the lock and not broken: no need for save's second read.
                    try file.overwrite(with: current)
                } catch {
                    throw OperationError(error.description)
                }
                return current
            }
        } catch let error as OperationError {
            throw error
        } catch {
            throw OperationError(String(describing: error))
        }
    }

    /// The store's content for `policy export`.
    public static func export(
        _ store: EditableStore,
        state: StateDirectory,
        codec: any PolicyStoreCodec = NativeXMLStoreCodec()
    ) throws(OperationError) -> PolicyStore {
        let file = StoreFile(path: store.path(in: state), codec: codec)
        switch file.load() {
        case .missing: return PolicyStore()
        case .loaded(let content, _): return content
        case .broken(let error): throw OperationError(error.description)
        }
    }

    /// Creates the local store with Windows' example policies when it does not exist yet (netsh on a
    /// machine where the service never ran), under the state directory's lock.
    public static func createLocalStoreWithExamplesIfMissing(
        state: StateDirectory,
        codec: any PolicyStoreCodec = NativeXMLStoreCodec()
    ) throws(OperationError) {
        guard !FileSystem.exists(state.localStore) else { return }
        do {
            _ = try state.withLock { () throws(StoreFile.StoreError) -> Bool in
                try ExamplePolicies.createLocalStoreIfMissing(in: state, examples: true, codec: codec)
            }
        } catch {
            throw OperationError(String(describing: error))
        }
    }

    /// Moves a broken store aside so that the next write starts empty.
    /// - Returns: where the old file went.
    public static func reset(
        _ store: EditableStore,
        state: StateDirectory,
        codec: any PolicyStoreCodec = NativeXMLStoreCodec()
    ) throws(OperationError) -> String? {
        let file = StoreFile(path: store.path(in: state), codec: codec)
        do {
            return try state.withLock { () throws(StoreFile.StoreError) -> String? in try file.reset() }
        } catch {
            throw OperationError(String(describing: error))
        }
    }
}
