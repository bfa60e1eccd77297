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
        filters.reserveCapacity(contributions.count * 64)
        for contribution in contributions {
            appendEffectiveFilters(of: contribution, to: &filters)
        }
        return EffectivePolicy(
            generation: generation,
            filters: filters,
            defaultResponses: contributions.flatMap(defaultResponses(of:))
        )
    }

    /// The active default response rule of an assigned policy, with its action: IKE answers with it.
    public static func defaultResponses(of contribution: Contribution) -> [EffectiveDefaultResponse] {
        guard case .assigned(let store, let policyID) = contribution.policy.content,
            let policy = store.policy(id: policyID)
        else { return [] }
        return policy.rules.compactMap { rule in
            guard rule.isActive, rule.isDefaultResponse, let actionID = rule.filterActionID,
                let action = store.filterActions.first(where: { $0.id == actionID }), action.action == .negotiate
            else { return nil }
            return EffectiveDefaultResponse(
                action: action,
                negotiation: NegotiationSettings(
                    authenticationMethods: rule.authenticationMethods,
                    mainMode: policy.mainMode
                ),
                provenance: Provenance(
                    kind: contribution.kind,
                    source: contribution.sourceName,
                    store: contribution.policy.store,
                    policyName: policy.name,
                    policyID: policy.id,
                    ruleName: rule.name.isEmpty ? "<Dynamic>" : rule.name,
                    ruleID: rule.id,
                    filterActionName: action.name,
                    gpo: contribution.policy.gpo,
                    linkedThrough: contribution.policy.linkedThrough
                )
            )
        }
    }

    /// The filters one contribution adds: for an assigned policy, every filter of every filter list of
    /// every active rule that has a filter action, in stored order. The default response rule adds none
    /// (its filters are made on demand by IKE).
    public static func effectiveFilters(of contribution: Contribution) -> [EffectiveFilter] {
        var result: [EffectiveFilter] = []
        appendEffectiveFilters(of: contribution, to: &result)
        return result
    }

    /// ``effectiveFilters(of:)`` appended in place: a merge of 10,000 rules spends its time copying
    /// filters, so they are built where they stay.
    static func appendEffectiveFilters(of contribution: Contribution, to result: inout [EffectiveFilter]) {
        let source = contribution.policy
        switch source.content {
        case .filters(let filters):
            result.append(contentsOf: filters)
        case .assigned(let store, let policyID):
            guard let policy = store.policy(id: policyID) else { return }
            // Indexes by GUID (two inline integers: cheap to hash).
            var lists: [IPsecGUID: Int] = [:]
            lists.reserveCapacity(store.filterLists.count)
            for (index, list) in store.filterLists.enumerated() { lists[list.id] = index }
            var actions: [IPsecGUID: Int] = [:]
            for (index, action) in store.filterActions.enumerated() { actions[action.id] = index }
            // The filter lists each active rule applies, first: the array is then allocated once at its
            // exact size (at 100,000 filters, growing it by doubling left a third of it unused and held
            // one and a half copies at the moment of the last growth).
            var applied: [(rule: Rule, action: FilterAction, list: FilterList)] = []
            var count = 0
            for rule in policy.rules where rule.isActive && !rule.isDefaultResponse {
                guard let actionID = rule.filterActionID, let actionIndex = actions[actionID] else { continue }
                for listID in rule.filterListIDs {
                    guard let listIndex = lists[listID] else { continue }
                    let list = store.filterLists[listIndex]
                    applied.append((rule, store.filterActions[actionIndex], list))
                    count += list.filters.count
                }
            }
            result.reserveCapacity(result.count + count)
            for (rule, action, list) in applied {
                let negotiation = NegotiationSettings(
                    authenticationMethods: rule.authenticationMethods,
                    mainMode: policy.mainMode
                )
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
                // One context for the whole list, shared by its filters (``EffectiveFilter``).
                guard let first = list.filters.first else { continue }
                let template = EffectiveFilter(
                    filter: first,
                    inboundAction: action,
                    outboundAction: action,
                    interfaceType: rule.interfaceType,
                    tunnelEndpoint: rule.tunnelEndpoint,
                    provenance: provenance,
                    negotiation: negotiation
                )
                for filter in list.filters { result.append(template.with(filter: filter)) }
            }
        }
    }
}
