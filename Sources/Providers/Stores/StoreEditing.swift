import PolicyFormats
public import PolicyModel

/// The edits made to stores, and the one check every store write passes.
///
/// Identity follows Windows: an object is its GUID. An import adds objects and replaces those whose
/// GUID is already in the store; an object with the name of another but its own GUID is kept beside it
/// (`--assign` and netsh then ask for the GUID when a name is ambiguous). What can never happen is a
/// store that does not load: ``storableEncoding(of:codec:path:)`` refuses it, naming every conflict.
public enum StoreEditing {
    /// Why an edit was refused.
    public enum EditError: Error, Hashable, Sendable, CustomStringConvertible {
        case noSuchPolicy(String)
        case ambiguousPolicy(String)

        public var description: String {
            switch self {
            case .noSuchPolicy(let name): "no policy named \"\(name)\" in the store"
            case .ambiguousPolicy(let message): message
            }
        }
    }

    /// Assigns the policy named `name` (any letter case; or its GUID in braces), unassigning any other:
    /// at most one policy of a store is assigned.
    /// - Throws: ``EditError/noSuchPolicy(_:)``, ``EditError/ambiguousPolicy(_:)`` when several
    ///   policies carry the name.
    public static func assigning(_ name: String, in store: PolicyStore) throws(EditError) -> PolicyStore {
        let match = store.policyMatch(name)
        if let message = match.ambiguityMessage(kinds: "policies", name: name, parameter: "--assign") {
            throw .ambiguousPolicy(message)
        }
        guard let index = match.index else { throw .noSuchPolicy(name) }
        var result = store
        result.assignedPolicyID = store.policies[index].id
        return result
    }

    /// The bytes of `store` as the store file at `path` holds it, once the store has passed the store
    /// reader's own rules: first the model's account of them (``PolicyStore/storageProblems()``, which
    /// names every conflicting object), then the reader itself on the encoded bytes. Every store write
    /// (imports through the CLI or the control socket, netsh, the directory cache) goes through here, so
    /// none can leave a store that does not load.
    /// - Throws: ``StoreFile/StoreError/refused(path:problems:)`` or
    ///   ``StoreFile/StoreError/wouldNotLoad(path:error:)``; nothing is written then.
    public static func storableEncoding(
        of store: PolicyStore,
        codec: any PolicyStoreCodec,
        path: String
    ) throws(StoreFile.StoreError) -> [UInt8] {
        let problems = store.storageProblems()
        guard problems.isEmpty else { throw .refused(path: path, problems: problems) }
        let bytes = codec.encode(store)
        do {
            _ = try codec.decode(bytes, file: path)
        } catch {
            throw .wouldNotLoad(path: path, error: error)
        }
        return bytes
    }

    /// A store holding only `policyID` and the filter lists and actions its rules use: what the
    /// directory cache keeps of a directory's IP Security container.
    public static func extracting(_ policyID: IPsecGUID, from store: PolicyStore) -> PolicyStore? {
        guard let policy = store.policy(id: policyID) else { return nil }
        let listIDs = Set(policy.rules.flatMap(\.filterListIDs))
        let actionIDs = Set(policy.rules.compactMap(\.filterActionID))
        return PolicyStore(
            policies: [policy],
            filterLists: store.filterLists.filter { listIDs.contains($0.id) },
            filterActions: store.filterActions.filter { actionIDs.contains($0.id) },
            assignedPolicyID: policy.id
        )
    }
}
