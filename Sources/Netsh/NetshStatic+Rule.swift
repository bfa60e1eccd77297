import PolicyModel

/// `add|set|delete rule` and `set defaultrule`.
extension NetshStaticSession {
    static let ruleSettings: [NetshParameter] = [
        NetshParameter(
            "tunnel",
            "(ip | dns)",
            "Tunnel end point IP address or DNS name; none or 0.0.0.0 for transport mode."
        ),
        .conntype,
        NetshParameter(
            "activate",
            NetshParameter.yesNo,
            "Activates the rule in the policy if 'yes' is specified (default yes)."
        ),
        .description("rule"),
        .kerberos,
        .psk,
        .rootca,
    ]

    static let ruleCommands: [NetshCommand<NetshStaticSession>] = [
        NetshCommand(
            "add",
            "rule",
            summary: "Creates a rule with the specified filter list and filter action.",
            parameters: [
                .name("rule"),
                NetshParameter("policy", NetshParameter.string, "Name of the policy the rule belongs to."),
                NetshParameter("filterlist", NetshParameter.string, "Name of the filter list to be used."),
                NetshParameter("filteraction", NetshParameter.string, "Name of the filter action to be used."),
            ] + ruleSettings,
            required: [["name"], ["policy"], ["filterlist"], ["filteraction"]],
            remarks: NetshParameter.authenticationRemarks,
            examples: [
                "add rule name=Rule policy=Policy filterlist=Filterlist filteraction=FilterAction kerberos=yes psk=\"my key\" rootca=\"C=US,O=MSFT,CN=Microsoft Authenticode(tm) Root Authority certmap:yes excludecaname:no\""
            ],
            run: edit(addRule)
        ),
        NetshCommand(
            "set",
            "rule",
            summary: "Modifies a rule in a policy.",
            parameters: [
                .name("rule"),
                NetshParameter("id", NetshParameter.integer, "Rule number as 'show rule' lists it."),
                NetshParameter("policy", NetshParameter.string, "Name of the policy the rule belongs to."),
                .newName("rule"),
                NetshParameter("filterlist", NetshParameter.string, "Name of the filter list to be used."),
                NetshParameter("filteraction", NetshParameter.string, "Name of the filter action to be used."),
            ] + ruleSettings,
            required: [["name", "id"], ["policy"]],
            remarks: ["Giving any of kerberos, psk or rootca replaces the rule's authentication methods."]
                + NetshParameter.authenticationRemarks,
            examples: ["set rule name=Rule policy=Policy activate=no"],
            run: edit(setRule)
        ),
        NetshCommand(
            "delete",
            "rule",
            summary: "Deletes a rule from a policy.",
            parameters: [
                .name("rule"),
                NetshParameter("id", NetshParameter.integer, "Rule number as 'show rule' lists it."),
                .all("rules of the policy except the default response rule"),
                NetshParameter("policy", NetshParameter.string, "Name of the policy the rule belongs to."),
            ],
            required: [["name", "id", "all"], ["policy"]],
            remarks: ["The default response rule cannot be deleted; deactivate it with 'set defaultrule activate=no'."],
            examples: ["delete rule id=1 policy=Policy", "delete rule all Policy"],
            run: edit(deleteRule)
        ),
        NetshCommand(
            "set",
            "defaultrule",
            summary: "Modifies the default response rule of a policy.",
            parameters: [
                NetshParameter(
                    "policy",
                    NetshParameter.string,
                    "Name of the policy whose default response rule is modified."
                ),
                NetshParameter("qmpfs", NetshParameter.yesNo, "Option to set quick mode perfect forward secrecy."),
                NetshParameter(
                    "activate",
                    NetshParameter.yesNo,
                    "Activates the default response rule if 'yes' is specified."
                ),
                .qmsecmethods,
                .kerberos,
                .psk,
                .rootca,
            ],
            required: [["policy"]],
            remarks: NetshParameter.authenticationRemarks,
            examples: ["set defaultrule policy=Policy1 qmpfs=yes activate=yes qmsec=\"ESP[3DES,SHA1]\" kerberos=yes"],
            run: edit(setDefaultRule)
        ),
    ]

    func addRule(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let policyIndex = try policyIndex(arguments, store, tag: "policy")
        let name = arguments.string("name") ?? ""
        // Rules made in the Windows console have no name; a dump of them adds them with `name=""`.
        if !name.isEmpty, store.rules(ofPolicyAt: policyIndex).firstPosition(named: name) != nil {
            throw NetshError(
                "Rule with name \"\(name)\" already exists in policy \"\(store.store.policies[policyIndex].name)\"."
            )
        }
        var rule = Rule(id: environment.newGUID(), name: name, whenChanged: now)
        rule.filterListIDs = [try filterListID(arguments, store)]
        rule.filterActionID = try namedFilterActionID(arguments, store)
        try applyRuleSettings(arguments, to: &rule)
        rule.authenticationMethods = try NetshSecurityMethods.authentication(arguments, current: nil)
        // The default response rule stays last, where Windows keeps it. (Found in the index: a copy of
        // the rules held here would make the insertion copy them all.)
        let rules = store.rules(ofPolicyAt: policyIndex)
        let position = rules.defaultPositions.last == rules.count - 1 ? rules.count - 1 : rules.count
        store.insertRule(rule, at: position, inPolicyAt: policyIndex)
        store.modifyPolicy(at: policyIndex) { $0.whenChanged = now }
        return ""
    }

    func setRule(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let policyIndex = try policyIndex(arguments, store, tag: "policy")
        let ruleIndex: Int
        var rule: Rule
        // In a scope of its own: the policy and the index held past it would be copied by the edit below.
        do {
            let policy = store.store.policies[policyIndex]
            let names = store.rules(ofPolicyAt: policyIndex)
            ruleIndex = try self.ruleIndex(arguments, names, policyName: policy.name)
            rule = policy.rules[ruleIndex]
            if let newName = arguments.string("newname"), !newName.caseInsensitiveEquals(rule.name) {
                // Any rule's name, the default response rule's too.
                if names.firstPosition(named: newName) != nil
                    || names.defaultPositions.contains(where: { policy.rules[$0].name.caseInsensitiveEquals(newName) })
                {
                    throw NetshError("Rule with name \"\(newName)\" already exists in policy \"\(policy.name)\".")
                }
                rule.name = newName
            }
        }
        if arguments.has("filterlist") { rule.filterListIDs = [try filterListID(arguments, store)] }
        if arguments.has("filteraction") { rule.filterActionID = try namedFilterActionID(arguments, store) }
        try applyRuleSettings(arguments, to: &rule)
        rule.authenticationMethods = try NetshSecurityMethods.authentication(
            arguments,
            current: rule.authenticationMethods
        )
        rule.whenChanged = now
        store.modifyRule(at: ruleIndex, inPolicyAt: policyIndex) { $0 = rule }
        store.modifyPolicy(at: policyIndex) { $0.whenChanged = now }
        return ""
    }

    func deleteRule(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let policyIndex = try policyIndex(arguments, store, tag: "policy")
        let ruleIndex =
            arguments.has("all")
            ? nil
            : try self.ruleIndex(
                arguments,
                store.rules(ofPolicyAt: policyIndex),
                policyName: store.store.policies[policyIndex].name
            )
        store.modifyPolicy(at: policyIndex) { policy in
            if let ruleIndex {
                policy.rules.remove(at: ruleIndex)
            } else {
                policy.rules.removeAll { !$0.isDefaultResponse }
            }
            policy.whenChanged = now
        }
        return ""
    }

    func setDefaultRule(_ arguments: NetshArguments, _ store: inout IndexedPolicyStore) throws(NetshError) -> String {
        let policyIndex = try policyIndex(arguments, store, tag: "policy")
        guard let ruleIndex = store.rules(ofPolicyAt: policyIndex).defaultPositions.first else {
            throw NetshError("Policy \"\(store.store.policies[policyIndex].name)\" has no default response rule.")
        }
        var rule = store.store.policies[policyIndex].rules[ruleIndex]
        if let active = try arguments.bool("activate") { rule.isActive = active }
        rule.authenticationMethods = try NetshSecurityMethods.authentication(
            arguments,
            current: rule.authenticationMethods
        )
        rule.whenChanged = now
        if arguments.has("qmpfs") || arguments.has("qmsecmethods"),
            let actionIndex = rule.filterActionID.flatMap(store.filterActionPosition(id:))
        {
            var action = store.store.filterActions[actionIndex]
            let pfs = try arguments.bool("qmpfs") ?? action.quickModePFS
            if let methods = arguments.string("qmsecmethods") {
                action.offers = try NetshSecurityMethods.parseQuickMode(methods, pfs: pfs)
            }
            for index in action.offers.indices { action.offers[index].perfectForwardSecrecy = pfs }
            action.whenChanged = now
            store.modifyFilterAction(at: actionIndex) { $0 = action }
        }
        store.modifyRule(at: ruleIndex, inPolicyAt: policyIndex) { $0 = rule }
        store.modifyPolicy(at: policyIndex) { $0.whenChanged = now }
        return ""
    }

    // MARK: - Helpers

    /// The rule named by `name=` or numbered by `id=` (the numbering of `show rule`: rules other than
    /// the default response rule, from 1, in stored order).
    func ruleIndex(_ arguments: NetshArguments, _ rules: RuleNameIndex, policyName: String) throws(NetshError) -> Int {
        if let id = try arguments.integer("id", in: 1...Int(Int32.max)) {
            guard let index = rules.position(number: id) else {
                throw NetshError("Rule with ID \(id) does not exist in policy \"\(policyName)\".")
            }
            return index
        }
        let name = arguments.string("name") ?? ""
        guard let index = rules.firstPosition(named: name) else {
            throw NetshError("Rule with name \"\(name)\" does not exist in policy \"\(policyName)\".")
        }
        return index
    }

    private func filterListID(_ arguments: NetshArguments, _ store: IndexedPolicyStore) throws(NetshError) -> IPsecGUID
    {
        let name = arguments.string("filterlist") ?? ""
        let index = try store.filterListMatch(name)
            .required("Filter List", plural: "filter lists", name: name, parameter: "filterlist")
        return store.store.filterLists[index].id
    }

    private func namedFilterActionID(
        _ arguments: NetshArguments,
        _ store: IndexedPolicyStore
    ) throws(NetshError) -> IPsecGUID {
        let name = arguments.string("filteraction") ?? ""
        let index = try store.filterActionMatch(name)
            .required("Filter Action", plural: "filter actions", name: name, parameter: "filteraction")
        return store.store.filterActions[index].id
    }

    private func applyRuleSettings(_ arguments: NetshArguments, to rule: inout Rule) throws(NetshError) {
        if let description = arguments.string("description") { rule.description = description }
        if let active = try arguments.bool("activate") { rule.isActive = active }
        if let type = try arguments.choice(
            "conntype",
            [("all", InterfaceType.all), ("lan", .lan), ("dialup", .dialUp)]
        ) {
            rule.interfaceType = type
        }
        if let text = arguments.string("tunnel") {
            if ["", "none", "0.0.0.0", "0"].contains(text.lowercased()) {
                rule.tunnelEndpoint = nil
                rule.tunnelEndpointName = ""
            } else {
                switch try NetshAddressing.parseAddress(text, tag: "tunnel") {
                case .ip(let address):
                    rule.tunnelEndpoint = address
                    rule.tunnelEndpointName = ""
                case .dnsName(let name):
                    guard let address = environment.resolver.resolve(name).first else {
                        throw NetshError("The DNS name \"\(name)\" given for parameter 'tunnel' could not be resolved.")
                    }
                    rule.tunnelEndpoint = address
                    rule.tunnelEndpointName = name
                default:
                    throw .invalidValue("tunnel", text, accepted: "an IPv4 address or a DNS name")
                }
            }
        }
    }
}
