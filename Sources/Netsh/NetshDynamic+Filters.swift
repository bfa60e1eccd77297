import PolicyModel

/// `show mmfilter`, `show qmfilter` and `show rule`: the SPD in force from every source, as the driver
/// holds it (``NetshFiltersInForce``), each filter with the source it comes from.
extension NetshDynamicSession {
    func showRules(_ arguments: NetshArguments) throws(NetshError) -> String {
        let tunnel = try arguments.choice("type", [("tunnel", true), ("transport", false)])
        var filters = try selectedByAddress(arguments, NetshFiltersInForce(spd).policy.filters)
        if let tunnel { filters = filters.filter { ($0.tunnelEndpoint != nil) == tunnel } }
        // One rule per source rule: a static rule with several filters (and filter lists) shows once.
        var order: [String] = []
        var groups: [String: [EffectiveFilter]] = [:]
        for filter in filters {
            let key = [
                filter.provenance.source, filter.provenance.policyID?.plain ?? filter.provenance.policyName,
                filter.provenance.ruleID?.plain ?? filter.provenance.ruleName,
            ].joined(separator: "|")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(filter)
        }
        guard !order.isEmpty else { return modeNote() + "There are no rules in the SPD.\n" }
        let blocks = order.compactMap { groups[$0] }.map(renderRule)
        return modeNote() + blocks.joined(separator: "\n") + "\nNo. of Rules            : \(order.count)\n"
    }

    /// `show mmfilter` (`quickMode` false) and `show qmfilter`, without the mode note.
    func showFilters(_ arguments: NetshArguments, quickMode: Bool) throws(NetshError) -> String {
        let specific = try arguments.choice("type", [("generic", false), ("specific", true)]) ?? false
        let view = NetshFiltersInForce(spd)
        var filters = view.policy.filters
        // Main mode (IKE) filters exist for dynamic rules and for static rules that negotiate.
        if !quickMode {
            filters = filters.filter { filter in
                filter.provenance.kind == .dynamic
                    || filter.inboundAction.action == .negotiate || filter.outboundAction.action == .negotiate
            }
        }
        if let name = arguments.string("name") {
            filters = filters.filter { filterNames($0).contains { $0.caseInsensitiveEquals(name) } }
            guard !filters.isEmpty else { throw .notFound("Filter", name) }
        }
        filters = try selectedByAddress(arguments, filters)
        if quickMode { filters = try selectedByTraffic(arguments, filters) }
        let title = quickMode ? "Quick Mode Filters" : "Main Mode Filters"
        var text = NetshText()
        for (tunnel, heading) in [(false, "Transport Filters"), (true, "Tunnel Filters")] {
            let group = filters.filter { ($0.tunnelEndpoint != nil) == tunnel }
            guard !group.isEmpty else { continue }
            text.heading("\(title) - \(heading)\(specific ? " (specific)" : " (generic)")")
            var count = 0
            if specific {
                let expanded = view.specific(of: Set(group))
                for filter in expanded.filters {
                    text.line()
                    renderSpecific(&text, filter, quickMode: quickMode)
                }
                count = expanded.filters.count
                for filter in expanded.unresolved {
                    text.line()
                    text.line(
                        "Filter \(filterName(filter)) (\(source(filter))) resolves to no address on this computer now and matches nothing."
                    )
                }
            } else {
                for filter in group {
                    text.line()
                    renderGeneric(&text, filter, quickMode: quickMode)
                }
                count = group.count
            }
            text.line()
            text.field("No. of Filters", "\(count)")
            text.line()
        }
        if text.lines.isEmpty { return "There are no \(title.lowercased()) in the SPD.\n" }
        return text.text
    }

    /// The filters whose generic source and destination are the ones `srcaddr`/`dstaddr` give.
    private func selectedByAddress(
        _ arguments: NetshArguments,
        _ filters: [EffectiveFilter]
    ) throws(NetshError) -> [EffectiveFilter] {
        guard arguments.has("srcaddr") || arguments.has("dstaddr") else { return filters }
        let fields = try FilterFields(arguments, resolver: environment.resolver)
        return filters.filter { effective in
            (fields.sources.isEmpty || fields.sources.contains(effective.filter.source))
                && (fields.destinations.isEmpty || fields.destinations.contains(effective.filter.destination))
        }
    }

    /// The quick-mode filters with the actions and protocol `actioninbound`, `actionoutbound` and
    /// `protocol` give.
    private func selectedByTraffic(
        _ arguments: NetshArguments,
        _ filters: [EffectiveFilter]
    ) throws(NetshError) -> [EffectiveFilter] {
        var filters = filters
        let actions = [("permit", FilterActionKind.permit), ("block", .block), ("negotiate", .negotiate)]
        if let inbound = try arguments.choice("actioninbound", actions) {
            filters = filters.filter { $0.inboundAction.action == inbound }
        }
        if let outbound = try arguments.choice("actionoutbound", actions) {
            filters = filters.filter { $0.outboundAction.action == outbound }
        }
        if let text = arguments.string("protocol") {
            let number = try NetshAddressing.parseProtocol(text)
            filters = filters.filter { $0.filter.ipProtocol == number }
        }
        return filters
    }

    /// The names a filter answers to in `name=`: a dynamic rule's GUID; a static filter's filter list,
    /// rule and description.
    private func filterNames(_ filter: EffectiveFilter) -> [String] {
        var names = [filterName(filter)]
        if let id = filter.provenance.ruleID { names += [id.braced, id.plain] }
        names += [filter.provenance.ruleName, filter.provenance.filterListName, filter.filter.description]
        return names.filter { !$0.isEmpty }
    }

    /// A dynamic rule's filters are named by the rule's GUID; a static filter by its filter list.
    private func filterName(_ filter: EffectiveFilter) -> String {
        if filter.provenance.kind == .dynamic { return filter.provenance.ruleID?.braced.uppercased() ?? "" }
        return filter.provenance.filterListName.isEmpty ? filter.provenance.ruleName : filter.provenance.filterListName
    }

    /// The dynamic rule a filter comes from, if it is one.
    private func dynamicRule(_ filter: EffectiveFilter) -> DynamicRule? {
        guard filter.provenance.kind == .dynamic, let id = filter.provenance.ruleID else { return nil }
        return spd.policy.rules.first { $0.id == id }
    }

    private func source(_ filter: EffectiveFilter) -> String {
        filter.provenance.kind == .dynamic ? "dynamic" : filter.provenance.sourceDescription
    }

    private func renderGeneric(_ text: inout NetshText, _ filter: EffectiveFilter, quickMode: Bool) {
        let renderer = NetshStaticRenderer(store: PolicyStore(), location: .local, options: NetshShowOptions())
        let rule = dynamicRule(filter)
        text.field("Filter Name", filterName(filter))
        text.field("Policy Source", source(filter))
        if rule == nil { text.field("Rule", filter.provenance.ruleName) }
        text.field("Connection Type", renderer.connectionType(filter.interfaceType))
        text.field("Source Address", side(renderer, filter.filter.source))
        text.field("Destination Address", side(renderer, filter.filter.destination))
        if let tunnel = filter.tunnelEndpoint { text.field("Tunnel Destination", tunnel.description) }
        text.field("Mirrored", NetshText.yesNo(filter.filter.mirrored))
        if let rule {
            text.field(
                "Authentication Methods",
                rule.authenticationMethods.map(renderer.authentication).joined(separator: ", ")
            )
        }
        text.field("Main Mode Policy", rule?.mainModePolicy ?? filter.provenance.policyName)
        if quickMode {
            text.field("Protocol", IPProtocol.name(filter.filter.ipProtocol))
            text.field("Source Port", port(filter.filter.sourcePort))
            text.field("Destination Port", port(filter.filter.destinationPort))
            text.field("Quick Mode Policy", quickModePolicyName(filter, rule))
            text.field("Inbound Action", actionName(filter.inboundAction.action))
            text.field("Outbound Action", actionName(filter.outboundAction.action))
        }
    }

    private func renderSpecific(_ text: inout NetshText, _ filter: NetshSpecificFilter, quickMode: Bool) {
        let renderer = NetshStaticRenderer(store: PolicyStore(), location: .local, options: NetshShowOptions())
        let rule = dynamicRule(filter.origin)
        text.field("Filter Name", filterName(filter.origin))
        text.field("Policy Source", source(filter.origin))
        text.field("Connection Type", renderer.connectionType(filter.origin.interfaceType))
        text.field("Source Address", side(renderer, filter.source))
        text.field("Destination Address", side(renderer, filter.destination))
        if let tunnel = filter.origin.tunnelEndpoint { text.field("Tunnel Destination", tunnel.description) }
        text.field("Direction", filter.direction == .outbound ? "Outbound" : "Inbound")
        text.field("Weight", filter.weight.description)
        if quickMode {
            text.field("Protocol", IPProtocol.name(filter.ipProtocol))
            text.field("Source Port", port(filter.sourcePort))
            text.field("Destination Port", port(filter.destinationPort))
            text.field("Quick Mode Policy", quickModePolicyName(filter.origin, rule))
            text.field("Action", actionName(filter.action))
        } else {
            text.field("Main Mode Policy", rule?.mainModePolicy ?? filter.origin.provenance.policyName)
        }
    }

    /// One rule: a dynamic rule, or a static rule with its filters (all from one source rule).
    private func renderRule(_ filters: [EffectiveFilter]) -> String {
        var text = NetshText()
        guard let first = filters.first else { return "" }
        if dynamicRule(first) != nil {
            text.field("Dynamic", "YES")
            renderGeneric(&text, first, quickMode: true)
            return text.text
        }
        let renderer = NetshStaticRenderer(store: PolicyStore(), location: .local, options: NetshShowOptions())
        text.field("Rule Name", first.provenance.ruleName.isEmpty ? "<None>" : first.provenance.ruleName)
        text.field("Dynamic", "NO")
        text.field("Policy Source", source(first))
        var lists: [String] = []
        for filter in filters where !lists.contains(filter.provenance.filterListName) {
            lists.append(filter.provenance.filterListName)
        }
        text.field("Filter Lists", lists.joined(separator: ", "))
        text.field("Filter Action", first.provenance.filterActionName)
        text.field("Connection Type", renderer.connectionType(first.interfaceType))
        if let tunnel = first.tunnelEndpoint { text.field("Tunnel Destination", tunnel.description) }
        text.field("Inbound Action", actionName(first.inboundAction.action))
        text.field("Outbound Action", actionName(first.outboundAction.action))
        text.field("No. of Filters", "\(filters.count)")
        for filter in filters {
            var line = "  \(side(renderer, filter.filter.source)) -> \(side(renderer, filter.filter.destination))"
            line += " \(IPProtocol.name(filter.filter.ipProtocol))"
            if filter.filter.sourcePort != 0 || filter.filter.destinationPort != 0 {
                line += " \(port(filter.filter.sourcePort)) -> \(port(filter.filter.destinationPort))"
            }
            if filter.filter.mirrored { line += " mirrored" }
            text.line(line)
        }
        return text.text
    }

    private func quickModePolicyName(_ filter: EffectiveFilter, _ rule: DynamicRule?) -> String {
        if let rule { return rule.quickModePolicy ?? "<None>" }
        let negotiates = filter.inboundAction.action == .negotiate || filter.outboundAction.action == .negotiate
        return negotiates ? filter.provenance.filterActionName : "<None>"
    }

    /// An address with its mask, as Windows lists a filter's side: `198.18.0.1 (255.255.255.255)`.
    private func side(_ renderer: NetshStaticRenderer, _ address: FilterAddress) -> String {
        "\(renderer.address(address)) (\(renderer.mask(address)))"
    }

    private func port(_ value: UInt16) -> String { value == 0 ? "ANY" : String(value) }
}
