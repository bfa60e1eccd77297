extension PolicyStore {
    /// The problems that keep a store from being stored: what the store reader enforces beyond syntax
    /// (the schema's identity constraints, references and text limits of `policies-xml/ipsec-policy.xsd`),
    /// every one reported with the objects involved and their GUIDs. Empty means a store file written
    /// from this store loads again.
    ///
    /// A subset of ``validate()``: meaning (ports, masks, offers, …) is left to the importer, so that a
    /// store which already loads can always be written back. Every store write refuses a store with
    /// any of these problems.
    public func storageProblems() -> [ValidationProblem] {
        var report = ValidationReport()
        let index = ValidationIndex(store: self, report: &report, filters: false)
        if let id = assignedPolicyID, index.policy(id, in: self) == nil {
            report.add(ValidationPath(["assignedPolicyID"]), index.missing(id, expected: "policy"))
        }
        for (position, policy) in policies.enumerated() {
            let path = ValidationPath.policy(policy, index: position)
            for (rulePosition, rule) in policy.rules.enumerated() {
                let rulePath = path.appending(ValidationPath.rule(rule, index: rulePosition))
                if let id = rule.filterActionID, index.filterAction(id, in: self) == nil {
                    report.add(rulePath.appending("filter action"), index.missing(id, expected: "filter action"))
                }
                for id in rule.filterListIDs where index.filterList(id, in: self) == nil {
                    report.add(rulePath.appending("filter list"), index.missing(id, expected: "filter list"))
                }
            }
        }
        checkTextLengths(&report)
        return report.problems
    }

    /// Every text field against ``ValidationLimits/Text``.
    func checkTextLengths(_ report: inout ValidationReport) {
        typealias Limit = ValidationLimits.Text
        for (position, policy) in policies.enumerated() {
            let path = ValidationPath.policy(policy, index: position)
            report.checkLength(policy.name, Limit.name, at: path.appending("name"))
            report.checkLength(policy.description, Limit.description, at: path.appending("description"))
            report.checkLength(policy.mainMode.name ?? "", Limit.name, at: path.appending("main mode › name"))
            for (rulePosition, rule) in policy.rules.enumerated() {
                let rulePath = path.appending(ValidationPath.rule(rule, index: rulePosition))
                report.checkLength(rule.name, Limit.name, at: rulePath.appending("name"))
                report.checkLength(rule.description, Limit.description, at: rulePath.appending("description"))
                report.checkLength(rule.interfaceName, Limit.name, at: rulePath.appending("interfaceName"))
                report.checkLength(rule.tunnelEndpointName, Limit.dnsName, at: rulePath.appending("tunnelEndpointName"))
                for (methodPosition, method) in rule.authenticationMethods.enumerated() {
                    let methodPath = rulePath.appending("authentication method \(methodPosition + 1)")
                    switch method {
                    case .kerberos: break
                    case .preSharedKey(let key): report.checkLength(key, Limit.preSharedKey, at: methodPath)
                    case .certificate(let authority):
                        report.checkLength(authority.name, Limit.certificateAuthority, at: methodPath)
                    }
                }
            }
        }
        for (position, list) in filterLists.enumerated() {
            let path = ValidationPath.filterList(list, index: position)
            report.checkLength(list.name, Limit.name, at: path.appending("name"))
            report.checkLength(list.description, Limit.description, at: path.appending("description"))
            for (filterPosition, filter) in list.filters.enumerated() {
                let filterPath = path.appending("filter \(filterPosition + 1)")
                report.checkLength(filter.description, Limit.description, at: filterPath.appending("description"))
                for (side, address) in [("source", filter.source), ("destination", filter.destination)] {
                    if case .dnsName(let name, _) = address {
                        report.checkLength(name, Limit.dnsName, at: filterPath.appending(side))
                    }
                }
            }
        }
        for (position, action) in filterActions.enumerated() {
            let path = ValidationPath.filterAction(action, index: position)
            report.checkLength(action.name, Limit.name, at: path.appending("name"))
            report.checkLength(action.description, Limit.description, at: path.appending("description"))
        }
    }
}

extension ValidationReport {
    /// Adds a problem when `text` has more than `limit` characters (Unicode scalars).
    mutating func checkLength(_ text: String, _ limit: Int, at path: ValidationPath) {
        // Counting stops just past the limit: a ten-million-character name costs no more than a short one.
        let count = text.unicodeScalars.prefix(limit + 1).count
        guard count > limit else { return }
        add(path, "\(text.unicodeScalars.count) characters is longer than the limit of \(limit)")
    }
}
