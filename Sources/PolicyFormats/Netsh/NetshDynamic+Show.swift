import PolicyModel

/// The `show` commands of the dynamic context.
extension NetshDynamicSession {
    static let filterQueryParameters: [NetshParameter] = [
        NetshParameter(
            "type",
            "(generic | specific)",
            "Generic filters as configured (default) or the specific filters the driver holds."
        ),
        .address("srcaddr", "Source"),
        .address("dstaddr", "Destination"),
        .mask("srcmask", "Source"),
        .mask("dstmask", "Destination"),
        .resolvedns,
    ]

    static let showCommands: [NetshCommandSpec] = [
        NetshCommandSpec("show", "config", summary: "Displays the IPsec configuration."),
        NetshCommandSpec(
            "show",
            "mmpolicy",
            summary: "Displays main mode policies.",
            parameters: [.name("main mode policy"), .all("main mode policies")],
            required: [["name", "all"]]
        ),
        NetshCommandSpec(
            "show",
            "qmpolicy",
            summary: "Displays quick mode policies.",
            parameters: [.name("quick mode policy"), .all("quick mode policies")],
            required: [["name", "all"]]
        ),
        NetshCommandSpec(
            "show",
            "mmfilter",
            summary: "Displays main mode filters.",
            parameters: [NetshParameter("name", NetshParameter.string, "Name of the filter."), .all("filters")]
                + filterQueryParameters,
            remarks: ["Filters are named by the GUID of their rule."]
        ),
        NetshCommandSpec(
            "show",
            "qmfilter",
            summary: "Displays quick mode filters.",
            parameters: [NetshParameter("name", NetshParameter.string, "Name of the filter."), .all("filters")]
                + filterQueryParameters + [
                    .protocolParameter, .port("srcport", "Source"), .port("dstport", "Destination"),
                    NetshParameter(
                        "actioninbound",
                        "(permit | block | negotiate)",
                        "Shows filters with this inbound action."
                    ),
                    NetshParameter(
                        "actionoutbound",
                        "(permit | block | negotiate)",
                        "Shows filters with this outbound action."
                    ),
                ],
            remarks: [
                "type=specific lists one filter per direction and local address, most specific (highest weight) first."
            ]
        ),
        NetshCommandSpec(
            "show",
            "rule",
            summary: "Displays the rules of the SPD.",
            parameters: [
                NetshParameter("type", "(tunnel | transport)", "Shows only tunnel or only transport rules."),
                .address("srcaddr", "Source"), .address("dstaddr", "Destination"), .resolvedns,
            ]
        ),
        NetshCommandSpec(
            "show",
            "stats",
            summary: "Displays IKE and IPsec statistics.",
            parameters: [NetshParameter("type", "(all | ike | ipsec)", "Which statistics (default all).")]
        ),
        NetshCommandSpec(
            "show",
            "mmsas",
            summary: "Displays main mode security associations.",
            parameters: [
                .all("security associations"), .address("srcaddr", "Source"), .address("dstaddr", "Destination"),
                .format, .resolvedns,
            ]
        ),
        NetshCommandSpec(
            "show",
            "qmsas",
            summary: "Displays quick mode security associations.",
            parameters: [
                .all("security associations"), .address("srcaddr", "Source"), .address("dstaddr", "Destination"),
                .protocolParameter, .format, .resolvedns,
            ]
        ),
        NetshCommandSpec("show", "all", summary: "Displays the whole SPD.", parameters: [.resolvedns]),
    ]

    func show(_ spec: NetshCommandSpec, _ arguments: NetshArguments) throws(NetshError) -> String {
        let state = try currentState()
        switch spec.name {
        case "show config": return renderConfig(state.config)
        case "show mmpolicy":
            let indices = try selected(arguments, state.mainModePolicies.map(\.name), kind: "Main mode policy")
            return indices.map { renderMainMode(state.mainModePolicies[$0]) }.joined(separator: "\n")
        case "show qmpolicy":
            let indices = try selected(arguments, state.quickModePolicies.map(\.name), kind: "Quick mode policy")
            return indices.map { renderQuickMode(state.quickModePolicies[$0]) }.joined(separator: "\n")
        case "show mmfilter", "show qmfilter":
            return try showFilters(arguments, state, quickMode: spec.name == "show qmfilter")
        case "show rule":
            let tunnel = try arguments.choice("type", [("tunnel", true), ("transport", false)])
            let rules = state.rules.filter { tunnel == nil || ($0.tunnelDestination != nil) == tunnel }
            return rules.isEmpty ? "There are no rules in the SPD.\n" : rules.map(renderRule).joined(separator: "\n")
        case "show stats":
            let statistics = try backend.statistics()
            let type = try arguments.choice("type", [("all", "all"), ("ike", "ike"), ("ipsec", "ipsec")]) ?? "all"
            var text = NetshText()
            if type != "ipsec" {
                text.heading("IKE Main Mode and Quick Mode Statistics")
                for counter in statistics.ike { text.field(counter.name, "\(counter.value)") }
                if let note = statistics.ikeNote { text.line("Note: \(note)") }
            }
            if type != "ike" {
                if type == "all" { text.line() }
                text.heading("IPsec Statistics")
                for counter in statistics.ipsec { text.field(counter.name, "\(counter.value)") }
            }
            return text.text
        case "show mmsas", "show qmsas":
            return try showSecurityAssociations(quickMode: spec.name == "show qmsas", arguments)
        default:
            var parts = [renderConfig(state.config)]
            parts += state.mainModePolicies.map(renderMainMode)
            parts += state.quickModePolicies.map(renderQuickMode)
            parts.append(try showFilters(NetshArguments(command: "show mmfilter"), state, quickMode: false))
            parts.append(try showFilters(NetshArguments(command: "show qmfilter"), state, quickMode: true))
            return parts.joined(separator: "\n")
        }
    }

    private func showFilters(
        _ arguments: NetshArguments,
        _ state: DynamicState,
        quickMode: Bool
    ) throws(NetshError)
        -> String
    {
        let specific = try arguments.choice("type", [("generic", false), ("specific", true)]) ?? false
        var rules = state.rules
        if let name = arguments.string("name") {
            rules = rules.filter { $0.id.braced.caseInsensitiveEquals(name) || $0.id.plain.caseInsensitiveEquals(name) }
            guard !rules.isEmpty else { throw .notFound("Filter", name) }
        }
        if arguments.has("srcaddr") || arguments.has("dstaddr") {
            let fields = try FilterFields(arguments, resolver: environment.resolver)
            rules = rules.filter { rule in
                (fields.sources.isEmpty || fields.sources.contains(rule.filter.source))
                    && (fields.destinations.isEmpty || fields.destinations.contains(rule.filter.destination))
            }
        }
        if quickMode {
            let actions = [("permit", FilterActionKind.permit), ("block", .block), ("negotiate", .negotiate)]
            if let inbound = try arguments.choice("actioninbound", actions) {
                rules = rules.filter { $0.actionInbound == inbound }
            }
            if let outbound = try arguments.choice("actionoutbound", actions) {
                rules = rules.filter { $0.actionOutbound == outbound }
            }
            if let text = arguments.string("protocol") {
                let number = try NetshAddressing.parseProtocol(text)
                rules = rules.filter { $0.filter.ipProtocol == number }
            }
        }
        let title = quickMode ? "Quick Mode Filters" : "Main Mode Filters"
        var text = NetshText()
        for (tunnel, heading) in [(false, "Transport Filters"), (true, "Tunnel Filters")] {
            let group = rules.filter { ($0.tunnelDestination != nil) == tunnel }
            guard !group.isEmpty else { continue }
            text.heading("\(title) - \(heading)\(specific ? " (specific)" : " (generic)")")
            if specific {
                let expanded = NetshSpecificFilters.expand(group, localAddresses: try backend.localAddresses())
                for filter in expanded {
                    text.line()
                    renderSpecific(&text, filter, group.first { $0.id == filter.ruleID }, quickMode: quickMode)
                }
            } else {
                for rule in group {
                    text.line()
                    renderGeneric(&text, rule, quickMode: quickMode)
                }
            }
            text.line()
        }
        if text.lines.isEmpty { return "There are no \(title.lowercased()) in the SPD.\n" }
        return text.text
    }

    private func renderGeneric(_ text: inout NetshText, _ rule: NetshDynamicRule, quickMode: Bool) {
        let renderer = NetshStaticRenderer(store: PolicyStore(), location: .local, options: NetshShowOptions())
        text.field("Filter Name", rule.id.braced.uppercased())
        text.field("Connection Type", renderer.connectionType(rule.interfaceType))
        text.field("Source Address", "\(renderer.address(rule.filter.source)) (\(renderer.mask(rule.filter.source)))")
        text.field(
            "Destination Address",
            "\(renderer.address(rule.filter.destination)) (\(renderer.mask(rule.filter.destination)))"
        )
        if let tunnel = rule.tunnelDestination { text.field("Tunnel Destination", tunnel.description) }
        text.field("Mirrored", NetshText.yesNo(rule.filter.mirrored))
        text.field(
            "Authentication Methods",
            rule.authenticationMethods.map(renderer.authentication).joined(separator: ", ")
        )
        text.field("Main Mode Policy", rule.mainModePolicy)
        if quickMode {
            text.field("Protocol", IPProtocol.name(rule.filter.ipProtocol))
            text.field("Source Port", rule.filter.sourcePort == 0 ? "ANY" : String(rule.filter.sourcePort))
            text.field(
                "Destination Port",
                rule.filter.destinationPort == 0 ? "ANY" : String(rule.filter.destinationPort)
            )
            text.field("Quick Mode Policy", rule.quickModePolicy ?? "<None>")
            text.field("Inbound Action", actionName(rule.actionInbound))
            text.field("Outbound Action", actionName(rule.actionOutbound))
        }
    }

    private func renderSpecific(
        _ text: inout NetshText,
        _ filter: NetshSpecificFilter,
        _ rule: NetshDynamicRule?,
        quickMode: Bool
    ) {
        let renderer = NetshStaticRenderer(store: PolicyStore(), location: .local, options: NetshShowOptions())
        text.field("Filter Name", filter.ruleID.braced.uppercased())
        text.field("Source Address", "\(renderer.address(filter.source)) (\(renderer.mask(filter.source)))")
        text.field(
            "Destination Address",
            "\(renderer.address(filter.destination)) (\(renderer.mask(filter.destination)))"
        )
        text.field("Direction", filter.outbound ? "Outbound" : "Inbound")
        text.field("Weight", filter.weight.description)
        if quickMode {
            text.field("Protocol", IPProtocol.name(filter.ipProtocol))
            text.field("Source Port", filter.sourcePort == 0 ? "ANY" : String(filter.sourcePort))
            text.field("Destination Port", filter.destinationPort == 0 ? "ANY" : String(filter.destinationPort))
            text.field("Quick Mode Policy", rule?.quickModePolicy ?? "<None>")
            text.field("Action", actionName(filter.action))
        } else {
            text.field("Main Mode Policy", rule?.mainModePolicy ?? "")
        }
    }

    private func renderRule(_ rule: NetshDynamicRule) -> String {
        var text = NetshText()
        renderGeneric(&text, rule, quickMode: true)
        return text.text
    }

    private func renderMainMode(_ policy: DynamicMainModePolicy) -> String {
        var text = NetshText()
        text.heading("Main Mode Policy")
        text.field("Policy Name", policy.name)
        text.field("Soft SA Expiration Time", "\(policy.softSAExpirationSeconds)")
        text.field("No. of Security Methods", "\(policy.securityMethods.count)")
        let rows = policy.securityMethods.map { method in
            [
                method.encryption.rawValue, method.hash.rawValue, String(method.group.netshNumber),
                "\(method.lifetimeKilobytes)/\(policy.lifetimeMinutes * 60)", "\(policy.quickModeLimit)",
            ]
        }
        text.table(
            [("Encryption", 10), ("Integrity", 9), ("DH", 3), ("Lifetime (Kb/secs)", 18), ("QmLimit", 7)],
            rows,
            wide: true
        )
        return text.text
    }

    private func renderQuickMode(_ policy: DynamicQuickModePolicy) -> String {
        var text = NetshText()
        text.heading("Quick Mode Policy")
        text.field("Policy Name", policy.name)
        text.field("Soft", NetshText.yesNo(policy.soft))
        text.field("PFS Group", policy.pfsGroup.rawValue)
        text.field("Security Methods", NetshSecurityMethods.format(policy.offers))
        return text.text
    }

    private func actionName(_ action: FilterActionKind) -> String {
        switch action {
        case .permit: "Permit"
        case .block: "Block"
        case .negotiate: "Negotiate"
        }
    }
}
