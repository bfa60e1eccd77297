public import PolicyModel

/// One source's policy as it enters the merge.
public struct Contribution: Sendable, Hashable {
    public var kind: SourceKind
    /// The provider's name (`persistent`, `directory`, `plugin:cmdb`).
    public var sourceName: String
    public var policy: SourcePolicy

    public init(kind: SourceKind, sourceName: String, policy: SourcePolicy) {
        self.kind = kind
        self.sourceName = sourceName
        self.policy = policy
    }
}

/// Turns the selected contributions into one ``EffectivePolicy`` in which every filter carries its
/// provenance. Pure: no I/O, the same input gives the same output.
public enum PolicyMerger {
    /// Every filter of every contribution, in contribution order (the driver orders them by weight).
    public static func merge(_ contributions: [Contribution], generation: UInt64) -> EffectivePolicy {
        var filters: [EffectiveFilter] = []
        for contribution in contributions {
            filters.append(contentsOf: effectiveFilters(of: contribution))
        }
        return EffectivePolicy(generation: generation, filters: filters)
    }

    /// The filters one contribution adds: for an assigned policy, every filter of every filter list of
    /// every active rule that has a filter action, in stored order. The default response rule adds none
    /// (its filters are made on demand by IKE).
    public static func effectiveFilters(of contribution: Contribution) -> [EffectiveFilter] {
        let source = contribution.policy
        switch source.content {
        case .filters(let filters):
            return filters
        case .assigned(let store, let policyID):
            guard let policy = store.policy(id: policyID) else { return [] }
            var lists: [IPsecGUID: FilterList] = [:]
            for list in store.filterLists { lists[list.id] = list }
            var actions: [IPsecGUID: FilterAction] = [:]
            for action in store.filterActions { actions[action.id] = action }
            var result: [EffectiveFilter] = []
            for rule in policy.rules where rule.isActive && !rule.isDefaultResponse {
                guard let actionID = rule.filterActionID, let action = actions[actionID] else { continue }
                for listID in rule.filterListIDs {
                    guard let list = lists[listID] else { continue }
                    let provenance = Provenance(
                        kind: contribution.kind,
                        source: contribution.sourceName,
                        store: source.store,
                        policyName: policy.name,
                        policyID: policy.id,
                        ruleName: rule.name,
                        ruleID: rule.id,
                        filterListName: list.name,
                        filterListID: list.id,
                        filterActionName: action.name,
                        gpo: source.gpo,
                        linkedThrough: source.linkedThrough
                    )
                    for filter in list.filters {
                        result.append(
                            EffectiveFilter(
                                filter: filter,
                                inboundAction: action,
                                interfaceType: rule.interfaceType,
                                tunnelEndpoint: rule.tunnelEndpoint,
                                provenance: provenance
                            )
                        )
                    }
                }
            }
            return result
        }
    }
}
