public import PolicyModel

/// A readable text rendering of a store in the spirit of `netsh ipsec static show all`: policies
/// with their main-mode settings and rules, then filter lists with their filters, then filter
/// actions with their offers.
///
/// Each object renders on its own (the `lines(for:…)` functions), so netsh's `show policy`,
/// `show filterlist` and `show filteraction` can print single objects with the same layout.
public enum PolicyListing {
    /// The whole store; ends with a newline.
    public static func text(_ store: PolicyStore) -> String {
        var sections: [[String]] = []
        sections.append(
            ["Policies: \(store.policies.count)"] + store.policies.flatMap { [""] + lines(for: $0, in: store) }
        )
        sections.append(
            ["Filter lists: \(store.filterLists.count)"] + store.filterLists.flatMap { [""] + lines(for: $0) }
        )
        sections.append(
            ["Filter actions: \(store.filterActions.count)"] + store.filterActions.flatMap { [""] + lines(for: $0) }
        )
        return sections.map { $0.joined(separator: "\n") }.joined(separator: "\n\n") + "\n"
    }

    /// A policy, its main-mode settings and its rules.
    public static func lines(for policy: IPsecPolicy, in store: PolicyStore) -> [String] {
        let mainMode = policy.mainMode
        var out = [
            "Policy \(ListingFormat.name(policy.name))",
            ListingFormat.field("GUID", policy.id.braced, indent: 2),
            ListingFormat.field("Description", policy.description, indent: 2),
            ListingFormat.field("Assigned", ListingFormat.yesNo(store.assignedPolicyID == policy.id), indent: 2),
            ListingFormat.field(
                "Last Modified",
                policy.whenChanged.map(ListingFormat.timestamp) ?? "unknown",
                indent: 2
            ),
            ListingFormat.field(
                "Polling Interval",
                ListingFormat.minutes(
                    seconds: policy.pollingIntervalSeconds,
                    defaultSeconds: IPsecPolicy.defaultPollingIntervalSeconds
                ),
                indent: 2
            ),
            ListingFormat.field(
                "Main Mode Lifetime",
                ListingFormat.minutes(
                    seconds: mainMode.lifetimeSeconds,
                    defaultSeconds: MainModeSettings.defaultLifetimeSeconds
                ),
                indent: 2
            ),
            ListingFormat.field(
                "Quick Modes per Main Mode",
                ListingFormat.quickModeLimit(mainMode.quickModeLimit),
                indent: 2
            ),
            ListingFormat.field("Master PFS", ListingFormat.yesNo(mainMode.masterKeyPFS), indent: 2),
            ListingFormat.field(
                "Main Mode Methods",
                mainMode.securityMethods.map(ListingFormat.mainModeMethod).joined(separator: " "),
                indent: 2
            ),
        ]
        if mainMode.certificateToAccountMapping {
            out.append(ListingFormat.field("Certificate Mapping", "YES", indent: 2))
        }
        if mainMode.omitCertificateRequest {
            out.append(ListingFormat.field("Certificate Request", "NOT SENT", indent: 2))
        }
        out.append(ListingFormat.field("Rules", String(policy.rules.count), indent: 2))
        for (position, rule) in policy.rules.enumerated() {
            out.append("")
            out += lines(for: rule, number: position + 1, in: store, indent: 2)
        }
        return out
    }

    /// One rule: filter lists, filter action, authentication, tunnel and connection type; `indent`
    /// shifts the block right while its colons stay in ``ListingFormat/labelWidth``.
    public static func lines(for rule: Rule, number: Int, in store: PolicyStore, indent: Int = 0) -> [String] {
        let title = rule.isDefaultResponse ? "Default Response Rule" : "Rule \(number) \(ListingFormat.name(rule.name))"
        var out = [
            String(repeating: " ", count: indent) + title,
            ListingFormat.field("GUID", rule.id.braced, indent: indent + 2),
            ListingFormat.field("Description", rule.description, indent: indent + 2),
            ListingFormat.field("Active", ListingFormat.yesNo(rule.isActive), indent: indent + 2),
        ]
        let listNames =
            rule.filterListIDs.map { id in
                store.filterList(id: id).map { ListingFormat.name($0.name) } ?? "missing \(id)"
            }
        out.append(
            ListingFormat.field(
                "Filter Lists",
                rule.isDefaultResponse && listNames.isEmpty ? "<Dynamic>" : listNames.joined(separator: ", "),
                indent: indent + 2
            )
        )
        out.append(
            ListingFormat.field("Filter Action", filterActionText(rule.filterActionID, in: store), indent: indent + 2)
        )
        for (position, method) in rule.authenticationMethods.enumerated() {
            let label = position == 0 ? "Authentication" : ""
            out.append(
                ListingFormat.field(
                    label,
                    "\(position + 1). " + ListingFormat.authentication(method),
                    indent: indent + 2
                )
            )
        }
        out.append(ListingFormat.field("Tunnel Endpoint", tunnelText(rule), indent: indent + 2))
        out.append(
            ListingFormat.field("Connection Type", ListingFormat.connectionType(rule.interfaceType), indent: indent + 2)
        )
        return out
    }

    /// A filter list and each of its filters.
    public static func lines(for list: FilterList) -> [String] {
        var out = [
            "Filter List \(ListingFormat.name(list.name))",
            ListingFormat.field("GUID", list.id.braced, indent: 2),
            ListingFormat.field("Description", list.description, indent: 2),
            ListingFormat.field("Last Modified", list.whenChanged.map(ListingFormat.timestamp) ?? "unknown", indent: 2),
            ListingFormat.field("Filters", String(list.filters.count), indent: 2),
        ]
        for (position, filter) in list.filters.enumerated() {
            out.append("")
            out += lines(for: filter, number: position + 1, indent: 2)
        }
        return out
    }

    /// One filter: addresses and masks, protocol, ports, mirroring and its weight.
    public static func lines(for filter: Filter, number: Int, indent: Int = 0) -> [String] {
        var out = [String(repeating: " ", count: indent) + "Filter \(number)"]
        if !filter.description.isEmpty {
            out.append(ListingFormat.field("Description", filter.description, indent: indent + 2))
        }
        out += [
            ListingFormat.field("Mirrored", ListingFormat.yesNo(filter.mirrored), indent: indent + 2),
            ListingFormat.field("Source IP Address", ListingFormat.address(filter.source), indent: indent + 2),
            ListingFormat.field("Source Mask", ListingFormat.mask(filter.source), indent: indent + 2),
            ListingFormat.field(
                "Destination IP Address",
                ListingFormat.address(filter.destination),
                indent: indent + 2
            ),
            ListingFormat.field("Destination Mask", ListingFormat.mask(filter.destination), indent: indent + 2),
            ListingFormat.field("Protocol", ListingFormat.ipProtocol(filter.ipProtocol), indent: indent + 2),
            ListingFormat.field("Source Port", ListingFormat.port(filter.sourcePort), indent: indent + 2),
            ListingFormat.field("Destination Port", ListingFormat.port(filter.destinationPort), indent: indent + 2),
            ListingFormat.field("Weight", FilterWeight(filter).description, indent: indent + 2),
        ]
        return out
    }

    /// A filter action and its offers.
    public static func lines(for action: FilterAction) -> [String] {
        var out = [
            "Filter Action \(ListingFormat.name(action.name))",
            ListingFormat.field("GUID", action.id.braced, indent: 2),
            ListingFormat.field("Description", action.description, indent: 2),
            ListingFormat.field("Type", action.type == .defaultResponse ? "DEFAULT RESPONSE" : "STANDARD", indent: 2),
            ListingFormat.field("Action", ListingFormat.action(action.action), indent: 2),
        ]
        if action.action == .negotiate {
            out += [
                ListingFormat.field("Inbound Pass-through", ListingFormat.yesNo(action.inboundPassThrough), indent: 2),
                ListingFormat.field(
                    "Fallback to Clear (soft)",
                    ListingFormat.yesNo(action.allowFallbackToClear),
                    indent: 2
                ),
                ListingFormat.field("Session Key PFS", ListingFormat.yesNo(action.quickModePFS), indent: 2),
            ]
        }
        for (position, offer) in action.offers.enumerated() {
            let label = position == 0 ? "Security Methods" : ""
            out.append(ListingFormat.field(label, "\(position + 1). " + ListingFormat.offer(offer), indent: 2))
        }
        return out
    }

    private static func filterActionText(_ id: IPsecGUID?, in store: PolicyStore) -> String {
        guard let id else { return "NONE" }
        guard let action = store.filterAction(id: id) else { return "missing \(id)" }
        return "\(ListingFormat.name(action.name)) (\(ListingFormat.action(action.action)))"
    }

    private static func tunnelText(_ rule: Rule) -> String {
        switch (rule.tunnelEndpoint, rule.tunnelEndpointName.isEmpty) {
        case (nil, true): "NONE"
        case (nil, false): rule.tunnelEndpointName
        case (let address?, true): address.description
        case (let address?, false): "\(rule.tunnelEndpointName) (\(address))"
        }
    }
}
