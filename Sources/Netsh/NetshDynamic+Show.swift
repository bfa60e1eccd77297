import DecisionCore
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

    static let showCommands: [NetshCommand<NetshDynamicSession>] = [
        NetshCommand("show", "config", summary: "Displays the IPsec configuration.", run: showConfig),
        NetshCommand(
            "show",
            "mmpolicy",
            summary: "Displays main mode policies.",
            parameters: [.name("main mode policy"), .all("main mode policies")],
            required: [["name", "all"]],
            run: showMainModePolicies
        ),
        NetshCommand(
            "show",
            "qmpolicy",
            summary: "Displays quick mode policies.",
            parameters: [.name("quick mode policy"), .all("quick mode policies")],
            required: [["name", "all"]],
            reads: .filters,
            run: showQuickModePolicies
        ),
        NetshCommand(
            "show",
            "mmfilter",
            summary: "Displays main mode filters.",
            parameters: [NetshParameter("name", NetshParameter.string, "Name of the filter."), .all("filters")]
                + filterQueryParameters,
            remarks: ["Filters are named by the GUID of their rule."],
            reads: .filters,
            run: showMainModeFilters
        ),
        NetshCommand(
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
            ],
            reads: .filters,
            run: showQuickModeFilters
        ),
        NetshCommand(
            "show",
            "rule",
            summary: "Displays the rules of the SPD.",
            parameters: [
                NetshParameter("type", "(tunnel | transport)", "Shows only tunnel or only transport rules."),
                .address("srcaddr", "Source"), .address("dstaddr", "Destination"), .resolvedns,
            ],
            reads: .filters,
            run: showRules
        ),
        NetshCommand(
            "show",
            "stats",
            summary: "Displays IKE and IPsec statistics.",
            parameters: [NetshParameter("type", "(all | ike | ipsec)", "Which statistics (default all).")],
            reads: .statistics,
            run: showStatistics
        ),
        NetshCommand(
            "show",
            "mmsas",
            summary: "Displays main mode security associations.",
            parameters: [
                .all("security associations"), .address("srcaddr", "Source"), .address("dstaddr", "Destination"),
                .format, .resolvedns,
            ],
            reads: .securityAssociations,
            run: showMainModeSecurityAssociations
        ),
        NetshCommand(
            "show",
            "qmsas",
            summary: "Displays quick mode security associations.",
            parameters: [
                .all("security associations"), .address("srcaddr", "Source"), .address("dstaddr", "Destination"),
                .protocolParameter, .format, .resolvedns,
            ],
            reads: .securityAssociations,
            run: showQuickModeSecurityAssociations
        ),
        NetshCommand(
            "show",
            "all",
            summary: "Displays the whole SPD.",
            parameters: [.resolvedns],
            reads: .filters,
            run: showAll
        ),
    ]

    func showConfig(_ arguments: NetshArguments) throws(NetshError) -> String {
        renderConfig(spd.settingsState)
    }

    /// The dynamic main-mode policies and the main-mode (ISAKMP) settings of the static policies in
    /// force from the other sources, each with where it comes from.
    func showMainModePolicies(_ arguments: NetshArguments) throws(NetshError) -> String {
        let policies = mainModePoliciesInForce()
        let indices = try selected(arguments, policies.map(\.name), kind: "Main mode policy")
        return indices.map { renderMainMode(policies[$0]) }.joined(separator: "\n")
    }

    /// The dynamic quick-mode policies and the negotiating filter actions in force from the other
    /// sources, each with where it comes from.
    func showQuickModePolicies(_ arguments: NetshArguments) throws(NetshError) -> String {
        let policies = quickModePoliciesInForce()
        let indices = try selected(arguments, policies.map(\.name), kind: "Quick mode policy")
        return indices.map { renderQuickMode(policies[$0]) }.joined(separator: "\n")
    }

    func showMainModeFilters(_ arguments: NetshArguments) throws(NetshError) -> String {
        modeNote() + (try showFilters(arguments, quickMode: false))
    }

    func showQuickModeFilters(_ arguments: NetshArguments) throws(NetshError) -> String {
        modeNote() + (try showFilters(arguments, quickMode: true))
    }

    func showStatistics(_ arguments: NetshArguments) throws(NetshError) -> String {
        let statistics = spd.statistics
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
    }

    func showAll(_ arguments: NetshArguments) throws(NetshError) -> String {
        var parts = [renderConfig(spd.settingsState)]
        parts += mainModePoliciesInForce().map(renderMainMode)
        parts += quickModePoliciesInForce().map(renderQuickMode)
        parts.append(modeNote() + (try showFilters(NetshArguments(command: "show mmfilter"), quickMode: false)))
        parts.append(try showFilters(NetshArguments(command: "show qmfilter"), quickMode: true))
        return parts.joined(separator: "\n")
    }

    /// A quick-mode policy as `show qmpolicy` lists it, with the source it comes from: a dynamic
    /// `qmpolicy`, or the negotiating filter action of a static rule in force.
    struct QuickModePolicyInForce {
        var name: String
        var soft: Bool
        var pfsGroup: String
        var offers: [SecurityOffer]
        var source: String
    }

    private func quickModePoliciesInForce() -> [QuickModePolicyInForce] {
        var result = spd.policy.quickModePolicies.map { policy in
            QuickModePolicyInForce(
                name: policy.name,
                soft: policy.soft,
                pfsGroup: policy.pfsGroup.rawValue,
                offers: policy.offers,
                source: "dynamic"
            )
        }
        var seen: Set<IPsecGUID> = []
        for filter in NetshFiltersInForce(spd).policy.filters where filter.provenance.kind != .dynamic {
            for action in [filter.inboundAction, filter.outboundAction]
            where action.action == .negotiate && seen.insert(action.id).inserted {
                result.append(
                    QuickModePolicyInForce(
                        name: action.name,
                        soft: action.allowFallbackToClear,
                        // Session-key PFS of a static action uses the main mode's group.
                        pfsGroup: action.quickModePFS
                            ? DynamicPFSGroup.mainMode.rawValue : DynamicPFSGroup.none.rawValue,
                        offers: action.offers,
                        source: filter.provenance.sourceDescription
                    )
                )
            }
        }
        return result
    }

    /// A main-mode policy as `show mmpolicy` lists it, with the source it comes from: a dynamic
    /// `mmpolicy`, or the main-mode settings of a static policy whose negotiating rules are in force.
    struct MainModePolicyInForce {
        var name: String
        var softSAExpirationSeconds: UInt32
        var lifetimeSeconds: UInt32
        var quickModeLimit: UInt32
        var securityMethods: [MainModeSecurityMethod]
        var source: String
    }

    private func mainModePoliciesInForce() -> [MainModePolicyInForce] {
        var result = spd.policy.mainModePolicies.map { policy in
            MainModePolicyInForce(
                name: policy.name,
                softSAExpirationSeconds: policy.softSAExpirationSeconds,
                lifetimeSeconds: policy.lifetimeMinutes * 60,
                quickModeLimit: policy.quickModeLimit,
                securityMethods: policy.securityMethods,
                source: "dynamic"
            )
        }
        // One entry per policy and source: every negotiating rule of a policy carries its main mode.
        var seen: Set<String> = []
        for filter in NetshFiltersInForce(spd).policy.filters where filter.provenance.kind != .dynamic {
            guard filter.inboundAction.action == .negotiate || filter.outboundAction.action == .negotiate else {
                continue
            }
            // No settings: Windows' default main mode, as IKE negotiates it (the keying planner's rule).
            let mainMode = filter.negotiation?.mainMode ?? MainModeSettings(id: .zero)
            let source = filter.provenance.sourceDescription
            guard seen.insert("\(source)\u{0}\(mainMode.id)").inserted else { continue }
            result.append(
                MainModePolicyInForce(
                    name: mainMode.name ?? filter.provenance.policyName,
                    softSAExpirationSeconds: filter.negotiation?.softAssociationIdleSeconds ?? 300,
                    lifetimeSeconds: mainMode.lifetimeSeconds == 0
                        ? MainModeSettings.defaultLifetimeSeconds : mainMode.lifetimeSeconds,
                    // Master key PFS allows one quick mode per main mode.
                    quickModeLimit: mainMode.masterKeyPFS ? 1 : mainMode.quickModeLimit,
                    securityMethods: mainMode.securityMethods,
                    source: source
                )
            )
        }
        return result
    }

    /// When the driver is not in secure mode, the filters decide nothing: say so first.
    func modeNote() -> String {
        guard let mode = spd.driverMode, mode != .operational(.secure) else { return "" }
        return "Note: the IPsec driver is in \(mode) mode; the filters below take effect in secure mode only.\n\n"
    }

    private func renderMainMode(_ policy: MainModePolicyInForce) -> String {
        var text = NetshText()
        text.heading("Main Mode Policy")
        text.field("Policy Name", policy.name)
        text.field("Policy Source", policy.source)
        text.field("Soft SA Expiration Time", "\(policy.softSAExpirationSeconds)")
        text.field("No. of Security Methods", "\(policy.securityMethods.count)")
        let rows = policy.securityMethods.map { method in
            [
                method.encryption.rawValue, method.hash.rawValue, String(method.group.netshNumber),
                "\(method.lifetimeKilobytes)/\(policy.lifetimeSeconds)", "\(policy.quickModeLimit)",
            ]
        }
        text.table(
            [("Encryption", 10), ("Integrity", 9), ("DH", 3), ("Lifetime (Kb/secs)", 18), ("QmLimit", 7)],
            rows,
            wide: true
        )
        return text.text
    }

    private func renderQuickMode(_ policy: QuickModePolicyInForce) -> String {
        var text = NetshText()
        text.heading("Quick Mode Policy")
        text.field("Policy Name", policy.name)
        text.field("Policy Source", policy.source)
        text.field("Soft", NetshText.yesNo(policy.soft))
        text.field("PFS Group", policy.pfsGroup)
        text.field("Security Methods", NetshSecurityMethods.format(policy.offers))
        return text.text
    }

    func actionName(_ action: FilterActionKind) -> String {
        switch action {
        case .permit: "Permit"
        case .block: "Block"
        case .negotiate: "Negotiate"
        }
    }
}
