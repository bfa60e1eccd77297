import PolicyModel

/// Renders stores in the layout of Windows Server 2003's `netsh ipsec static show`: label/value
/// lists (`format=list`, the default) or tables (`format=table`), normal or verbose.
struct NetshStaticRenderer {
    /// The store with its objects indexed: a rule finds its filter lists and action without a scan.
    var indexed: IndexedPolicyStore
    var location: NetshStoreLocation
    var options: NetshShowOptions

    var store: PolicyStore { indexed.store }

    init(indexed: IndexedPolicyStore, location: NetshStoreLocation, options: NetshShowOptions) {
        self.indexed = indexed
        self.location = location
        self.options = options
    }

    init(store: PolicyStore, location: NetshStoreLocation, options: NetshShowOptions) {
        self.init(indexed: IndexedPolicyStore(store), location: location, options: options)
    }

    /// A rule to show, with its policy and its number (``numbered(_:)``).
    typealias RuleRow = (policy: IPsecPolicy, rule: Rule, number: String)

    /// The rules of `policy` with the numbers `show rule` and `set rule id=` use: position among the
    /// rules other than the default response rule, from 1; "Default" for the default response rule.
    static func numbered(_ policy: IPsecPolicy) -> [RuleRow] {
        var number = 0
        return policy.rules.map { rule -> RuleRow in
            guard !rule.isDefaultResponse else { return (policy, rule, "Default") }
            number += 1
            return (policy, rule, String(number))
        }
    }

    // MARK: - Policies

    func policies(_ policies: [IPsecPolicy]) -> String {
        if options.table {
            var text = NetshText()
            let rows = policies.map { policy in
                [policy.name, NetshText.date(policy.whenChanged), NetshText.yesNo(store.assignedPolicyID == policy.id)]
            }
            text.table([("Policy Name", 30), ("Last Modified", 24), ("Assigned", 8)], rows, wide: options.wide)
            if options.verbose {
                for policy in policies {
                    text.line()
                    text.append(rulesTable(Self.numbered(policy)))
                }
            }
            return text.text
        }
        return policies.map { policyBlock($0).text }.joined(separator: "\n")
    }

    func policyBlock(_ policy: IPsecPolicy) -> NetshText {
        var text = NetshText()
        text.field("Policy Name", policy.name)
        text.field("Description", policy.description)
        text.field("Store", location.displayName)
        text.field("Last Modified", NetshText.date(policy.whenChanged))
        if options.verbose { text.field("GUID", policy.id.braced.uppercased()) }
        text.field("Assigned", NetshText.yesNo(store.assignedPolicyID == policy.id))
        text.field("Master PFS", NetshText.yesNo(policy.mainMode.masterKeyPFS))
        text.field("Polling Interval", "\(policy.effectivePollingIntervalSeconds / 60) minutes")
        guard options.verbose else { return text }
        let lifetime =
            policy.mainMode.lifetimeSeconds == 0
            ? MainModeSettings.defaultLifetimeSeconds : policy.mainMode.lifetimeSeconds
        text.field(
            "Main Mode Life Time",
            "\(lifetime / 60) minutes / \(policy.mainMode.quickModeLimit) Quick Mode sessions"
        )
        text.line("Main Mode Security Methods(\(policy.mainMode.securityMethods.count))")
        let rows = policy.mainMode.securityMethods.map { method in
            [method.encryption.rawValue, method.hash.rawValue, groupName(method.group)]
        }
        text.table([("Encryption", 10), ("Integrity", 9), ("DH Group", 16)], rows, wide: true)
        text.field("No. of Rules", "\(policy.rules.count)")
        text.line()
        text.heading("Rule Details")
        for row in Self.numbered(policy) {
            text.line()
            text.append(ruleBlock(row))
        }
        return text
    }

    // MARK: - Rules

    func rules(_ selected: [RuleRow]) -> String {
        if options.table { return rulesTable(selected).text }
        return selected.map { ruleBlock($0).text }.joined(separator: "\n")
    }

    func ruleBlock(_ row: RuleRow) -> NetshText {
        let (policy, rule) = (row.policy, row.rule)
        var text = NetshText()
        text.field("Rule ID", "\(row.number), GUID = \(rule.id.braced.uppercased())")
        text.field("Rule Name", rule.isDefaultResponse ? "<Default Response Rule>" : rule.name)
        text.field("Description", rule.description)
        text.field("Policy Name", policy.name)
        text.field("Last Modified", NetshText.date(rule.whenChanged))
        text.field("Activated", NetshText.yesNo(rule.isActive))
        text.field("Connection Type", connectionType(rule.interfaceType))
        if let tunnel = rule.tunnelEndpoint {
            let name = rule.tunnelEndpointName.isEmpty ? "" : " (\(rule.tunnelEndpointName))"
            text.field("Tunnel Address", tunnel.description + name)
        } else {
            text.field("Tunnel Address", "<None>")
        }
        text.line("Authentication Methods(\(rule.authenticationMethods.count))")
        for method in rule.authenticationMethods { text.line("  " + authentication(method)) }
        let lists = rule.filterListIDs.compactMap(indexed.filterList(id:))
        let action = rule.filterActionID.flatMap(indexed.filterAction(id:))
        if rule.isDefaultResponse {
            text.field("Filter List Name", "<Dynamic>")
        } else {
            for list in lists { text.field("Filter List Name", list.name) }
        }
        text.field("Filter Action Name", rule.isDefaultResponse ? "<Default Response>" : action?.name ?? "<None>")
        if options.verbose {
            for list in lists {
                text.line()
                text.append(filterListBlock(list))
            }
            if let action {
                text.line()
                text.append(filterActionBlock(action))
            }
        }
        return text
    }

    func rulesTable(_ selected: [RuleRow]) -> NetshText {
        var text = NetshText()
        let rows = selected.map { _, rule, number in
            let list =
                rule.isDefaultResponse
                ? "<Dynamic>"
                : rule.filterListIDs.compactMap(indexed.filterList(id:)).map(\.name).joined(separator: ", ")
            let action =
                rule.isDefaultResponse
                ? "<Default Response>" : rule.filterActionID.flatMap(indexed.filterAction(id:))?.name ?? "<None>"
            return [
                number, list, action, NetshText.yesNo(rule.isActive),
                connectionType(rule.interfaceType), rule.tunnelEndpoint?.description ?? "<None>",
            ]
        }
        text.table(
            [("ID", 7), ("Filter List", 20), ("Filter Action", 20), ("Active", 6), ("Conn", 6), ("Tunnel", 15)],
            rows,
            wide: options.wide
        )
        return text
    }

    // MARK: - Filter lists

    func filterLists(_ lists: [FilterList]) -> String {
        if options.table {
            var text = NetshText()
            for (index, list) in lists.enumerated() {
                if index > 0 { text.line() }
                text.field("FilterList Name", list.name)
                text.field("Last Modified", NetshText.date(list.whenChanged))
                text.field("No. of Filters", "\(list.filters.count)")
                text.line()
                text.append(filtersTable(list.filters))
            }
            return text.text
        }
        return lists.map { filterListBlock($0).text }.joined(separator: "\n")
    }

    func filterListBlock(_ list: FilterList) -> NetshText {
        var text = NetshText()
        text.field("FilterList Name", list.name)
        text.field("Description", list.description)
        text.field("Store", location.displayName)
        text.field("Last Modified", NetshText.date(list.whenChanged))
        if options.verbose { text.field("GUID", list.id.braced.uppercased()) }
        text.field("No. of Filters", "\(list.filters.count)")
        if !list.filters.isEmpty {
            text.heading("Filter(s)")
            for (index, filter) in list.filters.enumerated() {
                if index > 0 { text.line() }
                text.append(filterBlock(filter))
            }
        }
        return text
    }

    func filterBlock(_ filter: Filter) -> NetshText {
        var text = NetshText()
        text.field("Description", filter.description)
        text.field("Mirrored", NetshText.yesNo(filter.mirrored))
        addressFields(&text, "Source", filter.source)
        addressFields(&text, "Destination", filter.destination)
        text.field("Protocol", IPProtocol.name(filter.ipProtocol))
        text.field("Source Port", filter.sourcePort == 0 ? "ANY" : String(filter.sourcePort))
        text.field("Destination Port", filter.destinationPort == 0 ? "ANY" : String(filter.destinationPort))
        return text
    }

    func filtersTable(_ filters: [Filter]) -> NetshText {
        var text = NetshText()
        let rows = filters.map { filter in
            [
                NetshText.yesNo(filter.mirrored), address(filter.source), mask(filter.source),
                address(filter.destination), mask(filter.destination), IPProtocol.name(filter.ipProtocol),
                filter.sourcePort == 0 ? "ANY" : String(filter.sourcePort),
                filter.destinationPort == 0 ? "ANY" : String(filter.destinationPort),
            ]
        }
        text.table(
            [
                ("Mir", 3), ("Source Address", 15), ("Source Mask", 15), ("Dest Address", 15), ("Dest Mask", 15),
                ("Protocol", 8), ("SrcPort", 7), ("DstPort", 7),
            ],
            rows,
            wide: options.wide
        )
        return text
    }

    private func addressFields(_ text: inout NetshText, _ side: String, _ value: FilterAddress) {
        text.field("\(side) IP Address", address(value))
        text.field("\(side) Mask", mask(value))
        if case .dnsName(let name, _) = value { text.field("\(side) DNS Name", name) }
    }

    func address(_ value: FilterAddress) -> String {
        switch value {
        case .me: "<My IP Address>"
        case .any: "<Any IP Address>"
        case .host(let ip): ip.description
        case .subnet(let ip, _): ip.description
        case .dnsName(let name, let ip): options.resolveDNS ? name : ip.description
        case .server(.dns): "<DNS Servers>"
        case .server(.wins): "<WINS Servers>"
        case .server(.dhcp): "<DHCP Server>"
        case .server(.gateway): "<Default Gateway>"
        }
    }

    func mask(_ value: FilterAddress) -> String { NetshAddressing.format(value).mask }

    // MARK: - Filter actions

    func filterActions(_ actions: [FilterAction]) -> String {
        if options.table {
            var text = NetshText()
            let rows = actions.map { [$0.name, actionName($0), NetshText.date($0.whenChanged)] }
            text.table([("Filter Action Name", 34), ("Action", 18), ("Last Modified", 24)], rows, wide: options.wide)
            return text.text
        }
        return actions.map { filterActionBlock($0).text }.joined(separator: "\n")
    }

    func filterActionBlock(_ action: FilterAction) -> NetshText {
        var text = NetshText()
        text.field("FilterAction Name", action.type == .defaultResponse ? "<Default Response>" : action.name)
        text.field("Description", action.description)
        text.field("Store", location.displayName)
        text.field("Last Modified", NetshText.date(action.whenChanged))
        if options.verbose { text.field("GUID", action.id.braced.uppercased()) }
        text.field("Action", actionName(action))
        guard action.action == .negotiate else { return text }
        text.field("QMPFS", NetshText.yesNo(action.quickModePFS))
        text.field("Inbound Passthru", NetshText.yesNo(action.inboundPassThrough))
        text.field("AllowUnsecured(Fallback)", NetshText.yesNo(action.allowFallbackToClear))
        text.line("Security Methods(\(action.offers.count))")
        let rows = action.offers.map { offer -> [String] in
            var ah = "None"
            var encryption = "None"
            var integrity = "None"
            for transform in offer.transforms {
                switch transform {
                case .ah(let hash): ah = hash.rawValue
                case .esp(let conf, let auth):
                    encryption = conf.rawValue
                    integrity = auth?.rawValue ?? "None"
                }
            }
            return [ah, encryption, integrity, "\(offer.lifetimeKilobytes)/\(offer.lifetimeSeconds)"]
        }
        text.table(
            [("AH", 6), ("ESP Encryption", 14), ("ESP Integrity", 13), ("Lifetime (KB/Sec)", 17)],
            rows,
            wide: true
        )
        return text
    }

    func actionName(_ action: FilterAction) -> String {
        switch action.action {
        case .permit: "Permit"
        case .block: "Block"
        case .negotiate: "Negotiate Security"
        }
    }

    // MARK: - Everything

    /// `show all`: every policy in full, then the filter lists and filter actions no rule uses.
    func all() -> String {
        var verbose = self
        verbose.options.verbose = true
        var sections: [String] = []
        if store.policies.isEmpty && store.filterLists.isEmpty && store.filterActions.isEmpty {
            return
                "There are no policies, filter lists or filter actions in the \(location.displayName.lowercased()).\n"
        }
        if !store.policies.isEmpty { sections.append(verbose.policies(store.policies)) }
        let rules = store.policies.flatMap(\.rules)
        let usedLists = Set(rules.flatMap(\.filterListIDs))
        let usedActions = Set(rules.compactMap(\.filterActionID))
        let unusedLists = store.filterLists.filter { !usedLists.contains($0.id) }
        let unusedActions = store.filterActions.filter { $0.type == .standard && !usedActions.contains($0.id) }
        if !unusedLists.isEmpty {
            var text = NetshText()
            text.heading("Filter lists not used by any rule")
            sections.append(text.text + "\n" + verbose.filterLists(unusedLists))
        }
        if !unusedActions.isEmpty {
            var text = NetshText()
            text.heading("Filter actions not used by any rule")
            sections.append(text.text + "\n" + verbose.filterActions(unusedActions))
        }
        return sections.joined(separator: "\n")
    }

    // MARK: - Small words

    func connectionType(_ type: InterfaceType) -> String {
        switch type {
        case .all: "ALL"
        case .lan: "LAN"
        case .dialUp: "DIALUP"
        }
    }

    func groupName(_ group: DiffieHellmanGroup) -> String {
        switch group {
        case .group1: "Low(1)"
        case .group2: "Medium(2)"
        case .group2048: "DH2048(3)"
        }
    }

    func authentication(_ method: AuthenticationMethod) -> String {
        switch method {
        case .kerberos: "Kerberos"
        case .preSharedKey(let key): "Preshared Key: \(key)"
        case .certificate(let ca):
            "Root CA: \(ca.name) (certmap: \(NetshText.yesNo(ca.certificateToAccountMapping)), excludecaname: \(NetshText.yesNo(ca.excludeCAName)))"
        }
    }
}
