/// A whole policy store as Windows keeps it (Local, Persistent, a directory's IP Security container):
/// many policies, the filter lists and filter actions that their rules share, and at most one assigned
/// policy.
///
/// This is the unit every reader returns and every writer takes: one native XML document, one registry
/// store, one directory dump. Rules refer to filter lists and filter actions by GUID, as Windows objects
/// refer to each other; ``PolicyStore/validate()`` reports dangling references.
public struct PolicyStore: Hashable, Sendable, Codable {
    public var policies: [IPsecPolicy]
    public var filterLists: [FilterList]
    public var filterActions: [FilterAction]
    /// The policy that is assigned (active) in this store, if any (`ActivePolicy` in the registry).
    public var assignedPolicyID: IPsecGUID?

    public init(
        policies: [IPsecPolicy] = [],
        filterLists: [FilterList] = [],
        filterActions: [FilterAction] = [],
        assignedPolicyID: IPsecGUID? = nil
    ) {
        self.policies = policies
        self.filterLists = filterLists
        self.filterActions = filterActions
        self.assignedPolicyID = assignedPolicyID
    }

    /// The assigned policy, if one is assigned and present.
    public var assignedPolicy: IPsecPolicy? {
        guard let id = assignedPolicyID else { return nil }
        return policy(id: id)
    }

    public func policy(id: IPsecGUID) -> IPsecPolicy? { policies.first { $0.id == id } }
    public func policy(named name: String) -> IPsecPolicy? {
        policies.first { $0.name.caseInsensitiveEquals(name) }
    }
    public func filterList(id: IPsecGUID) -> FilterList? { filterLists.first { $0.id == id } }
    public func filterList(named name: String) -> FilterList? {
        filterLists.first { $0.name.caseInsensitiveEquals(name) }
    }
    public func filterAction(id: IPsecGUID) -> FilterAction? { filterActions.first { $0.id == id } }
    public func filterAction(named name: String) -> FilterAction? {
        filterActions.first { $0.name.caseInsensitiveEquals(name) }
    }

    /// True when nothing at all is stored.
    public var isEmpty: Bool { policies.isEmpty && filterLists.isEmpty && filterActions.isEmpty }
}

extension String {
    /// Windows object names compare without regard to letter case.
    package func caseInsensitiveEquals(_ other: String) -> Bool {
        lowercased() == other.lowercased()
    }
}
