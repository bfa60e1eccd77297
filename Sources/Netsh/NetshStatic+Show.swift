import PolicyModel

/// `show policy|filterlist|filteraction|rule|all|gpoassignedpolicy|store`.
extension NetshStaticSession {
    static let showCommands: [NetshCommand<NetshStaticSession>] = [
        NetshCommand(
            "show",
            "policy",
            summary: "Displays the details of a policy.",
            parameters: [.name("policy"), .all("policies"), .level, .format, .wide],
            required: [["name", "all"]],
            examples: ["show policy Policy1 level=verbose format=table"],
            run: showPolicies
        ),
        NetshCommand(
            "show",
            "filterlist",
            summary: "Displays the details of a filter list.",
            parameters: [
                .name("filter list"),
                NetshParameter("rule", NetshParameter.string, "Name of a rule whose filter lists are shown."),
                .all("filter lists"), .level, .format, .resolvedns, .wide,
            ],
            required: [["name", "rule", "all"]],
            examples: ["show filterlist Filterlist1 level=verbose"],
            run: showFilterLists
        ),
        NetshCommand(
            "show",
            "filteraction",
            summary: "Displays the details of a filter action.",
            parameters: [
                .name("filter action"),
                NetshParameter("rule", NetshParameter.string, "Name of a rule whose filter action is shown."),
                .all("filter actions"), .level, .format, .wide,
            ],
            required: [["name", "rule", "all"]],
            examples: ["show filteraction FilterAction1 level=verbose"],
            run: showFilterActions
        ),
        NetshCommand(
            "show",
            "rule",
            summary: "Displays the details of rules of a policy.",
            parameters: [
                .name("rule"),
                NetshParameter("id", NetshParameter.integer, "Rule number."),
                .all("rules"),
                NetshParameter("default", "", "The default response rule.", flag: true),
                NetshParameter("policy", NetshParameter.string, "Name of the policy."),
                NetshParameter("type", "(tunnel | transport)", "Shows only tunnel or only transport rules."),
                .level, .format, .wide,
            ],
            required: [["name", "id", "all", "default"]],
            examples: ["show rule all policy=Policy1 type=tunnel", "show rule default policy=Policy1"],
            run: showRules
        ),
        NetshCommand(
            "show",
            "all",
            summary: "Displays the details of all policies and related information.",
            parameters: [.format, .wide],
            run: showAll
        ),
        NetshCommand(
            "show",
            "gpoassignedpolicy",
            summary: "Displays the details of the group-policy assigned policy.",
            parameters: [NetshParameter("name", NetshParameter.string, "Name of the group policy object.")],
            run: showGPOAssignedPolicy
        ),
        NetshCommand("show", "store", summary: "Displays the current policy store.", run: showStore),
    ]

    func showStore(_ arguments: NetshArguments) throws(NetshError) -> String {
        storeDescription() + "\n"
    }

    func showAll(_ arguments: NetshArguments) throws(NetshError) -> String {
        try renderer(arguments).all()
    }

    func showPolicies(_ arguments: NetshArguments) throws(NetshError) -> String {
        let renderer = try renderer(arguments)
        let policies = try select(
            arguments,
            renderer.store.policies,
            renderer.indexed.policyNames,
            kind: "Policy"
        )
        return policies.isEmpty ? nothing("policies") : renderer.policies(policies)
    }

    func showFilterLists(_ arguments: NetshArguments) throws(NetshError) -> String {
        let renderer = try renderer(arguments)
        let lists: [FilterList]
        if let ruleName = arguments.string("rule") {
            let ids = rules(named: ruleName, in: renderer.indexed).flatMap(\.filterListIDs)
            guard !ids.isEmpty else { throw NetshError("Rule with name \"\(ruleName)\" does not exist.") }
            lists = ids.compactMap(renderer.indexed.filterList(id:))
        } else {
            lists = try select(
                arguments,
                renderer.store.filterLists,
                renderer.indexed.filterListNames,
                kind: "Filter List"
            )
        }
        return lists.isEmpty ? nothing("filter lists") : renderer.filterLists(lists)
    }

    func showFilterActions(_ arguments: NetshArguments) throws(NetshError) -> String {
        let renderer = try renderer(arguments)
        let actions: [FilterAction]
        if let ruleName = arguments.string("rule") {
            let ids = rules(named: ruleName, in: renderer.indexed).compactMap(\.filterActionID)
            guard !ids.isEmpty else { throw NetshError("Rule with name \"\(ruleName)\" does not exist.") }
            actions = ids.compactMap(renderer.indexed.filterAction(id:))
        } else if arguments.has("all") {
            actions = renderer.store.filterActions.filter { $0.type == .standard }
        } else {
            actions = try select(
                arguments,
                renderer.store.filterActions,
                renderer.indexed.filterActionNames,
                kind: "Filter Action"
            )
        }
        return actions.isEmpty ? nothing("filter actions") : renderer.filterActions(actions)
    }

    /// Every rule named `name` in any letter case (the default response rule too), policy by policy.
    private func rules(named name: String, in indexed: IndexedPolicyStore) -> [Rule] {
        indexed.store.policies.indices.flatMap { position in
            let policy = indexed.store.policies[position]
            let names = indexed.rules(ofPolicyAt: position)
            let defaults = names.defaultPositions.filter { policy.rules[$0].name.caseInsensitiveEquals(name) }
            return (names.positions(named: name) + defaults).sorted().map { policy.rules[$0] }
        }
    }

    /// The renderer for the current store with the output options of `arguments`.
    private func renderer(_ arguments: NetshArguments) throws(NetshError) -> NetshStaticRenderer {
        NetshStaticRenderer(
            indexed: try currentIndexedStore(),
            location: location,
            options: try NetshShowOptions(arguments)
        )
    }

    /// `Store : Local Store` as `show store` prints it.
    func storeDescription() -> String {
        switch location {
        case .domain:
            "The current IPsec policy store is the domain store\(domainName.map { " of \($0)" } ?? "") (read-only)."
        default:
            "The current IPsec policy store is the \(location.displayName.lowercased())."
        }
    }

    /// What `show … all` prints for an empty store, instead of nothing at all.
    private func nothing(_ what: String) -> String {
        "There are no \(what) in the \(location.displayName.lowercased()).\n"
    }

    /// `all`, or every object `name=` names in any letter case (found in the index, not by a scan).
    private func select<T>(
        _ arguments: NetshArguments,
        _ objects: [T],
        _ names: ObjectNameIndex,
        kind: String
    ) throws(NetshError) -> [T] {
        if arguments.has("all") { return objects }
        let wanted = arguments.string("name") ?? ""
        let hits = names.positions(named: wanted).map { objects[$0] }
        guard !hits.isEmpty else { throw .notFound(kind, wanted) }
        return hits
    }

    func showRules(_ arguments: NetshArguments) throws(NetshError) -> String {
        let renderer = try renderer(arguments)
        let indexed = renderer.indexed
        var positions = Array(indexed.store.policies.indices)
        if let policyName = arguments.string("policy") {
            positions = indexed.policyNames.positions(named: policyName)
            guard !positions.isEmpty else { throw .notFound("Policy", policyName) }
        } else if !arguments.has("all") {
            throw .missing(["policy"], command: "show rule")
        }
        let type = try arguments.choice("type", [("tunnel", true), ("transport", false)])
        var selected: [NetshStaticRenderer.RuleRow] = []
        for position in positions {
            let policy = indexed.store.policies[position]
            var rows: [NetshStaticRenderer.RuleRow]
            if arguments.has("default") {
                rows = policy.rules.filter(\.isDefaultResponse).map { (policy, $0, "Default") }
            } else if arguments.has("all") {
                rows = NetshStaticRenderer.numbered(policy)
            } else {
                let names = indexed.rules(ofPolicyAt: position)
                let ruleIndex = try self.ruleIndex(arguments, names, policyName: policy.name)
                rows = [(policy, policy.rules[ruleIndex], names.number(at: ruleIndex).map { String($0) } ?? "Default")]
            }
            if let type { rows = rows.filter { ($0.rule.tunnelEndpoint != nil) == type } }
            selected += rows
        }
        return renderer.rules(selected)
    }

    func showGPOAssignedPolicy(_ arguments: NetshArguments) throws(NetshError) -> String {
        guard let assignment = try backend.gpoAssignment(named: arguments.string("name")) else {
            if let name = arguments.string("name") {
                return "No IPsec policy is assigned by the group policy object \"\(name)\".\n"
            }
            return "No IPsec policy is assigned to this computer by group policy.\n"
        }
        var text = NetshText()
        text.field("GPO Name", assignment.gpoName)
        text.field("Assigned Policy Name", assignment.policyName)
        text.field("Policy Path", assignment.policyPath)
        if let linked = assignment.linkedThrough { text.field("Linked Through", linked) }
        return text.text
    }
}

/// The output options every `show` takes.
struct NetshShowOptions {
    var verbose = false
    var table = false
    var wide = true
    var resolveDNS = false

    init(verbose: Bool = false, table: Bool = false, wide: Bool = true, resolveDNS: Bool = false) {
        self.verbose = verbose
        self.table = table
        self.wide = wide
        self.resolveDNS = resolveDNS
    }

    init(_ arguments: NetshArguments) throws(NetshError) {
        verbose = try arguments.choice("level", [("verbose", true), ("normal", false)]) ?? false
        table = try arguments.choice("format", [("list", false), ("table", true)]) ?? false
        wide = try arguments.bool("wide") ?? true
        resolveDNS = try arguments.bool("resolvedns") ?? false
    }
}
