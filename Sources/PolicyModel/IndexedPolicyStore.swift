/// A store being edited command by command (a netsh session, a script of 100,000 lines), with its
/// policies, filter lists, filter actions and each policy's rules indexed by GUID and by name in any
/// letter case, so that a command finds the objects it names in constant time instead of scanning the
/// store (which made a script of n commands take n² time).
///
/// Every change goes through this type, which keeps the indexes true: adding an object or editing one
/// in place patches them at the cost of that object; removing one, or any other change (``modify(_:)``),
/// rebuilds the indexes it may have touched, in time linear in the store, as the removal from the
/// store's arrays already is. Lookups agree with ``PolicyStore/policyMatch(_:)`` and its siblings.
public struct IndexedPolicyStore: Sendable {
    public private(set) var store: PolicyStore
    public private(set) var policyNames: ObjectNameIndex
    public private(set) var filterListNames: ObjectNameIndex
    /// Standard filter actions by name and GUID (default-response actions only by ``filterActionPosition(id:)``).
    public private(set) var filterActionNames: ObjectNameIndex
    /// One per policy, at the policy's position.
    private var ruleIndexes: [RuleNameIndex]

    public init(_ store: PolicyStore) {
        self.store = store
        policyNames = Self.policyIndex(store)
        filterListNames = Self.filterListIndex(store)
        filterActionNames = Self.filterActionIndex(store)
        ruleIndexes = store.policies.map { RuleNameIndex($0.rules) }
    }

    // MARK: - Lookups

    /// The policy `reference` (a name or a GUID in braces) names.
    public func policyMatch(_ reference: String) -> ObjectMatch {
        policyNames.match(reference) { store.policies[$0].id }
    }

    /// The filter list `reference` names.
    public func filterListMatch(_ reference: String) -> ObjectMatch {
        filterListNames.match(reference) { store.filterLists[$0].id }
    }

    /// The standard filter action `reference` names.
    public func filterActionMatch(_ reference: String) -> ObjectMatch {
        filterActionNames.match(reference) { store.filterActions[$0].id }
    }

    public func policyPosition(id: IPsecGUID) -> Int? { policyNames.firstPosition(id: id) }
    public func filterListPosition(id: IPsecGUID) -> Int? { filterListNames.firstPosition(id: id) }
    /// Any filter action, default-response ones included.
    public func filterActionPosition(id: IPsecGUID) -> Int? { filterActionNames.firstPosition(id: id) }

    public func filterList(id: IPsecGUID) -> FilterList? { filterListPosition(id: id).map { store.filterLists[$0] } }
    public func filterAction(id: IPsecGUID) -> FilterAction? {
        filterActionPosition(id: id).map { store.filterActions[$0] }
    }

    /// The rules of the policy at `position` other than its default response rule, by name and number.
    public func rules(ofPolicyAt position: Int) -> RuleNameIndex { ruleIndexes[position] }

    // MARK: - Changes

    /// The store's assigned policy (no index depends on it).
    public var assignedPolicyID: IPsecGUID? {
        get { store.assignedPolicyID }
        set { store.assignedPolicyID = newValue }
    }

    public mutating func appendPolicy(_ policy: IPsecPolicy) {
        store.policies.append(policy)
        policyNames.append(id: policy.id, name: policy.name)
        ruleIndexes.append(RuleNameIndex(policy.rules))
    }

    public mutating func appendFilterList(_ list: FilterList) {
        store.filterLists.append(list)
        filterListNames.append(id: list.id, name: list.name)
    }

    public mutating func appendFilterAction(_ action: FilterAction) {
        store.filterActions.append(action)
        filterActionNames.append(id: action.id, name: action.name, eligible: action.type == .standard)
    }

    /// Edits the policy at `position` in place. Its rules may change too (then they are indexed again).
    public mutating func modifyPolicy<Result, Failure: Error>(
        at position: Int,
        _ body: (inout IPsecPolicy) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let old = store.policies[position]
        // `old` holds the rules' storage: a body that changes them gets a copy, which is how we know.
        let oldRules = Self.storage(old.rules)
        defer {
            let new = store.policies[position]
            policyNames.replace(at: position, old: (old.id, old.name, true), new: (new.id, new.name, true))
            if Self.storage(new.rules) != oldRules { ruleIndexes[position] = RuleNameIndex(new.rules) }
            withExtendedLifetime(old) {}
        }
        return try body(&store.policies[position])
    }

    public mutating func modifyFilterList<Result, Failure: Error>(
        at position: Int,
        _ body: (inout FilterList) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let old = (id: store.filterLists[position].id, name: store.filterLists[position].name, eligible: true)
        defer {
            let new = store.filterLists[position]
            filterListNames.replace(at: position, old: old, new: (new.id, new.name, true))
        }
        return try body(&store.filterLists[position])
    }

    public mutating func modifyFilterAction<Result, Failure: Error>(
        at position: Int,
        _ body: (inout FilterAction) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let action = store.filterActions[position]
        let old = (id: action.id, name: action.name, eligible: action.type == .standard)
        defer {
            let new = store.filterActions[position]
            filterActionNames.replace(at: position, old: old, new: (new.id, new.name, new.type == .standard))
        }
        return try body(&store.filterActions[position])
    }

    /// Inserts `rule` at `ruleIndex` among the rules of the policy at `position`.
    public mutating func insertRule(_ rule: Rule, at ruleIndex: Int, inPolicyAt position: Int) {
        store.policies[position].rules.insert(rule, at: ruleIndex)
        ruleIndexes[position].inserted(at: ruleIndex, in: store.policies[position].rules)
    }

    /// Edits rule `ruleIndex` of the policy at `position` in place.
    public mutating func modifyRule<Result, Failure: Error>(
        at ruleIndex: Int,
        inPolicyAt position: Int,
        _ body: (inout Rule) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let old = store.policies[position].rules[ruleIndex]
        defer { ruleIndexes[position].replace(at: ruleIndex, old: old, new: store.policies[position].rules[ruleIndex]) }
        return try body(&store.policies[position].rules[ruleIndex])
    }

    public mutating func removeFilterList(at position: Int) {
        store.filterLists.remove(at: position)
        filterListNames = Self.filterListIndex(store)
    }

    public mutating func removeFilterAction(at position: Int) {
        store.filterActions.remove(at: position)
        filterActionNames = Self.filterActionIndex(store)
    }

    /// Any other change to the store; every index is built again afterwards.
    public mutating func modify<Result, Failure: Error>(
        _ body: (inout PolicyStore) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        defer { self = IndexedPolicyStore(store) }
        return try body(&store)
    }

    // MARK: - Building

    private static func policyIndex(_ store: PolicyStore) -> ObjectNameIndex {
        ObjectNameIndex(store.policies, id: \.id, name: \.name)
    }

    private static func filterListIndex(_ store: PolicyStore) -> ObjectNameIndex {
        ObjectNameIndex(store.filterLists, id: \.id, name: \.name)
    }

    private static func filterActionIndex(_ store: PolicyStore) -> ObjectNameIndex {
        ObjectNameIndex(store.filterActions, id: \.id, name: \.name) { $0.type == .standard }
    }

    /// The identity of an array's storage (`nil` for an empty one).
    private static func storage(_ rules: [Rule]) -> UnsafeRawPointer? {
        rules.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }
}
