extension PolicyStore {
    /// Checks the whole store and returns every problem found, each with its location; empty means
    /// valid.
    ///
    /// Readers check syntax; this checks meaning, the way netsh and the console refuse such input:
    /// - identity: GUIDs unique across the store, no object id is the zero GUID, rule names unique per
    ///   policy, policies named. Objects of one kind may share a name: as in Windows an object is its
    ///   GUID (``ObjectMatch`` asks for the GUID where a name is ambiguous);
    /// - references: rules name existing filter lists and filter actions, the assigned policy
    ///   exists, and a GUID used where another kind of object is expected is reported as such;
    /// - ownership: a rule (NFA) and a main-mode object belong to exactly one policy, so the same id
    ///   in two policies is a problem (in Windows' reference graph that is a cycle or a shared child);
    /// - rules: at most one default response rule per policy, with no filter lists and a negotiate
    ///   action of the default-response type; other rules need filter lists and a standard action;
    ///   authentication methods present and complete; tunnel rules have an endpoint and no mirrored
    ///   filters;
    /// - filters: ports only with TCP or UDP, contiguous masks, no host bits in subnet addresses,
    ///   special servers only against `me`, different source and destination;
    /// - values in the ranges of ``ValidationLimits``, texts within ``ValidationLimits/Text``; offers
    ///   with 1…3 transforms and no ESP without both encryption and integrity.
    ///
    /// Protocol numbers (0–255), Diffie-Hellman groups and algorithms cannot be out of range: the
    /// model's types only hold valid values.
    public func validate() -> [ValidationProblem] {
        var report = ValidationReport()
        let index = ValidationIndex(store: self, report: &report)
        for (position, policy) in policies.enumerated() where policy.name.isEmpty {
            report.add(ValidationPath.policy(policy, index: position).appending("name"), "a policy needs a name")
        }
        if let id = assignedPolicyID, index.policy(id, in: self) == nil {
            report.add(ValidationPath(["assignedPolicyID"]), index.missing(id, expected: "policy"))
        }
        for (position, policy) in policies.enumerated() {
            policy.validate(at: .policy(policy, index: position), in: self, index: index, into: &report)
        }
        for (position, list) in filterLists.enumerated() {
            list.validate(at: .filterList(list, index: position), into: &report)
        }
        for (position, action) in filterActions.enumerated() {
            action.validate(at: .filterAction(action, index: position), into: &report)
        }
        checkTextLengths(&report)
        return report.problems
    }
}

/// Every object id in the store with the kind and place of its first use.
///
/// Building it reports ids used twice; afterwards it explains dangling or mistyped references.
struct ValidationIndex {
    struct Entry {
        var kind: String
        var location: String
        /// The position in the store's array of that kind (policies, filter lists, filter actions).
        var position: Int
    }

    private(set) var entries: [IPsecGUID: Entry] = [:]

    /// - Parameter filters: also require filter GUIDs to be unique (``PolicyStore/validate()`` does; the
    ///   store reader does not, since Windows keeps them inside the filter list's blob).
    init(store: PolicyStore, report: inout ValidationReport, filters: Bool = true) {
        for (position, policy) in store.policies.enumerated() {
            let path = ValidationPath.policy(policy, index: position)
            register(policy.id, kind: "policy", at: path, position: position, report: &report)
            register(
                policy.mainMode.id,
                kind: "main-mode settings",
                at: path.appending("main mode"),
                position: position,
                report: &report
            )
            for (rulePosition, rule) in policy.rules.enumerated() {
                let rulePath = path.appending(ValidationPath.rule(rule, index: rulePosition))
                register(rule.id, kind: "rule", at: rulePath, position: position, report: &report)
            }
        }
        for (position, list) in store.filterLists.enumerated() {
            let path = ValidationPath.filterList(list, index: position)
            register(list.id, kind: "filter list", at: path, position: position, report: &report)
            guard filters else { continue }
            for (filterPosition, filter) in list.filters.enumerated() where filter.id != .zero {
                // Some writers leave filter GUIDs zero; only real ones must be unique.
                register(
                    filter.id,
                    kind: "filter",
                    at: path.appending("filter \(filterPosition + 1)"),
                    position: position,
                    report: &report
                )
            }
        }
        for (position, action) in store.filterActions.enumerated() {
            register(
                action.id,
                kind: "filter action",
                at: .filterAction(action, index: position),
                position: position,
                report: &report
            )
        }
    }

    private mutating func register(
        _ id: IPsecGUID,
        kind: String,
        at path: ValidationPath,
        position: Int,
        report: inout ValidationReport
    ) {
        let idPath = path.appending("id")
        if id == .zero {
            report.add(idPath, "the zero GUID is not a valid \(kind) id")
            return
        }
        if let first = entries[id] {
            report.add(idPath, Self.duplicateMessage(id, kind: kind, first: first))
        } else {
            entries[id] = Entry(kind: kind, location: path.description, position: position)
        }
    }

    private static func duplicateMessage(_ id: IPsecGUID, kind: String, first: Entry) -> String {
        switch (kind, first.kind) {
        case ("rule", "rule"):
            "rule \(id) is also in \(first.location); a rule belongs to exactly one policy"
        case ("main-mode settings", "main-mode settings"):
            "main-mode settings \(id) are also used by \(first.location); they belong to exactly one policy"
        default:
            "GUID \(id) is already the id of \(first.location); ids must be unique across the store"
        }
    }

    /// The policy with GUID `id`, found through the index (references are checked in constant time).
    func policy(_ id: IPsecGUID, in store: PolicyStore) -> IPsecPolicy? {
        guard let entry = entries[id], entry.kind == "policy" else { return nil }
        return store.policies[entry.position]
    }

    /// The filter list with GUID `id`.
    func filterList(_ id: IPsecGUID, in store: PolicyStore) -> FilterList? {
        guard let entry = entries[id], entry.kind == "filter list" else { return nil }
        return store.filterLists[entry.position]
    }

    /// The filter action with GUID `id`.
    func filterAction(_ id: IPsecGUID, in store: PolicyStore) -> FilterAction? {
        guard let entry = entries[id], entry.kind == "filter action" else { return nil }
        return store.filterActions[entry.position]
    }

    /// The message for a reference to `id` that finds no object of the `expected` kind.
    func missing(_ id: IPsecGUID, expected: String) -> String {
        if let entry = entries[id], entry.kind != expected {
            return "refers to \(id), which is \(entry.location), not a \(expected)"
        }
        return "refers to \(expected) \(id), which is not in the store"
    }
}
