public import PolicyModel

/// The edits `policy import` makes to a store: add or replace objects by GUID, assign a policy by name.
public enum StoreEditing {
    /// Why an edit was refused.
    public enum EditError: Error, Hashable, Sendable, CustomStringConvertible {
        case noSuchPolicy(String)

        public var description: String {
            switch self {
            case .noSuchPolicy(let name): "no policy named \"\(name)\" in the store"
            }
        }
    }

    /// `imported` merged into `store`: objects with a GUID already present are replaced, the others
    /// added in their imported order. The store's assignment is kept.
    public static func merging(_ imported: PolicyStore, into store: PolicyStore) -> PolicyStore {
        var result = store
        result.policies = upsert(imported.policies, into: store.policies, id: \.id)
        result.filterLists = upsert(imported.filterLists, into: store.filterLists, id: \.id)
        result.filterActions = upsert(imported.filterActions, into: store.filterActions, id: \.id)
        return result
    }

    /// Assigns the policy named `name` (case-insensitive), unassigning any other: at most one policy of a
    /// store is assigned.
    /// - Throws: ``EditError/noSuchPolicy(_:)``.
    public static func assigning(_ name: String, in store: PolicyStore) throws(EditError) -> PolicyStore {
        guard let policy = store.policy(named: name) else { throw .noSuchPolicy(name) }
        var result = store
        result.assignedPolicyID = policy.id
        return result
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

    private static func upsert<T>(_ new: [T], into old: [T], id: (T) -> IPsecGUID) -> [T] {
        var result = old
        var index: [IPsecGUID: Int] = [:]
        for (position, element) in old.enumerated() { index[id(element)] = position }
        for element in new {
            if let position = index[id(element)] {
                result[position] = element
            } else {
                index[id(element)] = result.count
                result.append(element)
            }
        }
        return result
    }
}
