import PolicyModel

/// `add|set|delete rule` of the dynamic context.
extension NetshDynamicSession {
    static let identifyingParameters: [NetshParameter] = [
        .address("srcaddr", "Source"),
        .address("dstaddr", "Destination"),
        .protocolParameter,
        .port("srcport", "Source"),
        .port("dstport", "Destination"),
        .mirrored,
        .conntype,
        .mask("srcmask", "Source"),
        .mask("dstmask", "Destination"),
        NetshParameter("tunneldstaddress", "(ip | dns)", "Tunnel destination IP address or DNS name."),
    ]

    static let actionParameters: [NetshParameter] = [
        NetshParameter("mmpolicy", NetshParameter.string, "Main mode policy."),
        NetshParameter("qmpolicy", NetshParameter.string, "Quick mode policy (needed when an action is negotiate)."),
        NetshParameter(
            "actioninbound",
            "(permit | block | negotiate)",
            "Action for inbound packets (default negotiate)."
        ),
        NetshParameter(
            "actionoutbound",
            "(permit | block | negotiate)",
            "Action for outbound packets (default negotiate)."
        ),
        .kerberos,
        .psk,
        .rootca,
    ]

    static let ruleCommands: [NetshCommand<NetshDynamicSession>] = [
        NetshCommand(
            "add",
            "rule",
            summary: "Adds a rule and its main mode and quick mode filters to the SPD.",
            parameters: [.address("srcaddr", "Source"), .address("dstaddr", "Destination")] + actionParameters.prefix(2)
                + identifyingParameters.dropFirst(2) + actionParameters.dropFirst(2),
            required: [["srcaddr"], ["dstaddr"], ["mmpolicy"]],
            remarks: ["The rule takes effect at once and is discarded when the IPsec service stops."]
                + NetshParameter.authenticationRemarks,
            examples: [
                "add rule srcaddr=198.18.1.1 dstaddr=198.18.2.1 mmpolicy=MMPol qmpolicy=QMPol protocol=TCP dstport=3389 actioninbound=negotiate actionoutbound=negotiate"
            ],
            run: edit(addRule)
        ),
        NetshCommand(
            "set",
            "rule",
            summary: "Modifies a rule in the SPD.",
            parameters: identifyingParameters + actionParameters,
            required: [["srcaddr"], ["dstaddr"]],
            remarks: [
                "The identifying parameters (srcaddr through tunneldstaddress) find the rule; only mmpolicy, qmpolicy, the actions and the authentication methods change."
            ],
            examples: ["set rule srcaddr=198.18.1.1 dstaddr=198.18.2.1 protocol=TCP dstport=3389 actioninbound=block"],
            run: edit(setRule)
        ),
        NetshCommand(
            "delete",
            "rule",
            summary: "Deletes a rule from the SPD.",
            parameters: identifyingParameters,
            required: [["srcaddr"], ["dstaddr"]],
            examples: ["delete rule srcaddr=198.18.1.1 dstaddr=198.18.2.1 protocol=TCP dstport=3389"],
            run: edit(deleteRule)
        ),
        NetshCommand(
            "delete",
            "all",
            summary: "Deletes all main mode and quick mode policies and rules from the SPD.",
            run: edit(deleteAll)
        ),
    ]

    func addRule(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        var rule = try identifyingRule(arguments)
        if spd.policy.rules.contains(where: { $0.sameFilter(as: rule) }) {
            throw NetshError("A rule with the same filter already exists in the SPD.")
        }
        try applyActions(arguments, &rule, spd.policy)
        spd.policy.rules.append(rule)
        return ""
    }

    func deleteAll(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        spd.policy = DynamicPolicy()
        return ""
    }

    func setRule(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let probe = try identifyingRule(arguments)
        guard let index = spd.policy.rules.firstIndex(where: { $0.sameFilter(as: probe) }) else {
            throw NetshError("No rule in the SPD matches the given filter parameters.")
        }
        try applyActions(arguments, &spd.policy.rules[index], spd.policy)
        return ""
    }

    func deleteRule(_ arguments: NetshArguments, _ spd: inout NetshSPD) throws(NetshError) -> String {
        let probe = try identifyingRule(arguments)
        guard let index = spd.policy.rules.firstIndex(where: { $0.sameFilter(as: probe) }) else {
            throw NetshError("No rule in the SPD matches the given filter parameters.")
        }
        spd.policy.rules.remove(at: index)
        return ""
    }

    /// A rule with the identifying fields of the command line (defaults for those not given).
    private func identifyingRule(_ arguments: NetshArguments) throws(NetshError) -> DynamicRule {
        let fields = try FilterFields(arguments, resolver: environment.resolver)
        guard let source = fields.sources.first, let destination = fields.destinations.first else {
            throw .missing(["srcaddr", "dstaddr"], command: arguments.command)
        }
        var tunnel: IPv4Address?
        if let text = arguments.string("tunneldstaddress") {
            switch try NetshAddressing.parseAddress(text, tag: "tunneldstaddress") {
            case .ip(let address): tunnel = address
            case .dnsName(let name):
                guard let address = environment.resolver.resolve(name).first else {
                    throw NetshError(
                        "The DNS name \"\(name)\" given for parameter 'tunneldstaddress' could not be resolved."
                    )
                }
                tunnel = address
            default: throw .invalidValue("tunneldstaddress", text, accepted: "an IPv4 address or a DNS name")
            }
        }
        let filter = fields.filter(id: .zero, source: source, destination: destination)
        let type = try arguments.choice("conntype", [("all", InterfaceType.all), ("lan", .lan), ("dialup", .dialUp)])
        return DynamicRule(
            id: environment.newGUID(),
            filter: filter,
            interfaceType: type ?? .all,
            mainModePolicy: "",
            tunnelDestination: tunnel
        )
    }

    private func applyActions(
        _ arguments: NetshArguments,
        _ rule: inout DynamicRule,
        _ policies: DynamicPolicy
    )
        throws(NetshError)
    {
        let actions = [("permit", FilterActionKind.permit), ("block", .block), ("negotiate", .negotiate)]
        if let name = arguments.string("mmpolicy") {
            guard let policy = policies.mainModePolicy(named: name) else { throw .notFound("Main mode policy", name) }
            rule.mainModePolicy = policy.name
        }
        if let name = arguments.string("qmpolicy") {
            guard let policy = policies.quickModePolicy(named: name) else { throw .notFound("Quick mode policy", name) }
            rule.quickModePolicy = policy.name
        }
        if let action = try arguments.choice("actioninbound", actions) { rule.actionInbound = action }
        if let action = try arguments.choice("actionoutbound", actions) { rule.actionOutbound = action }
        if (rule.actionInbound == .negotiate || rule.actionOutbound == .negotiate) && rule.quickModePolicy == nil {
            throw NetshError("The parameter 'qmpolicy' is required when actioninbound or actionoutbound is negotiate.")
        }
        rule.authenticationMethods = try NetshSecurityMethods.authentication(
            arguments,
            current: rule.authenticationMethods
        )
    }
}
